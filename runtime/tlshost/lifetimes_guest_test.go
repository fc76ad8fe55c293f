package tlshost_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// echoTLSServer serves TLS on a loopback listener, asking for a client
// certificate, and echoes what each client sends.
func echoTLSServer(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert}
	addr := testnet.Serve(t, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		s := tls.Server(c, cfg)
		if s.Handshake() != nil {
			return
		}
		io.Copy(s, s)
	})
	return strconv.Itoa(addr.Port)
}

// TestGuestLifetimes runs a hostile guest (testdata/lifetimes) that drops
// and reuses wasi:tls resources in the orders the WIT permits, each
// scenario many times, against a silent peer, real TLS servers and
// itself (its server connections over its own listener, for which the
// host's handshake timeout is short in the timeout-* scenarios): no
// trap, no panic, no round past 10 s, every pending-handshake slot back (the guest then holds
// the limit's worth at once), and the host's goroutines back to what they
// were before the scenarios while the guest still runs.
func TestGuestLifetimes(t *testing.T) {
	const limit, rounds = 4, 12
	p := newGuestPKI(t)
	silent := strconv.Itoa(silentServer(t))
	echo := echoTLSServer(t, p.local.TLSCertificate())
	nested := nestedTLSServer(t, p.local.TLSCertificate())
	wasm := guestbuild.MustBuild(t, "./testdata/lifetimes")
	modes := []string{
		"verify-drop", "finish-drop-socket-first", "abort-nowait", "never-started",
		"complete", "complete-close-output", "draft-drop", "draft-complete", "tunnel-drop-outer",
		"server-hello-drop", "server-identity-dropped", "pha-drop",
		"verify-hook-drop", "respond-drop-identity", "timeout-get", "pause-drop", "tunnel-echo-drop-inner",
	}
	for _, backend := range []string{"stdtls", "circl-pq"} {
		for _, mode := range modes {
			t.Run(backend+"/"+mode, func(t *testing.T) {
				tlsPort := echo
				if strings.HasPrefix(mode, "tunnel-drop") {
					tlsPort = nested
				}
				runLifetimes(t, backend, p, wasm, mode, silent, tlsPort, rounds, limit)
			})
		}
	}
}

func runLifetimes(t *testing.T, backend string, p *guestPKI, wasm []byte, mode, silent, tlsPort string, rounds, limit int) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	r := wazero.NewRuntimeWithConfig(ctx, runtime.NewRuntimeConfig().WithCompilationCache(compilationCache))
	defer r.Close(context.Background())
	policy := new(sockets.Policy)
	policy.AllowConnect("localhost:*", "127.0.0.1:*")
	policy.AllowListen("127.0.0.1:*")
	cfg := tlshost.Config{BackendName: backend, PendingHandshakes: limit, RootCAs: p.ca.Pool(), ClientCAs: p.ca.Pool()}
	if strings.HasPrefix(mode, "timeout") {
		cfg.HandshakeTimeout = 200 * time.Millisecond
	}
	rt, err := runtime.New(ctx, r, runtime.Config{Network: policy, Extensions: []runtime.Extension{tlshost.New(cfg)}})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	stdinR, stdinW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
			Args: []string{"lifetimes", mode, "localhost", silent, tlsPort, fmt.Sprint(rounds), fmt.Sprint(limit),
				"/certs/localhost.key", "/certs/localhost.pem"},
			Stdin: stdinR, Stdout: outW, Stderr: outW,
			Dirs: []runtime.Dir{{Host: p.dir, Guest: "/certs", ReadOnly: true}},
		})
		outW.CloseWithError(fmt.Errorf("guest exited: %v", err))
		done <- err
	}()
	lines := bufio.NewScanner(outR)
	var out strings.Builder
	until := func(want string) {
		t.Helper()
		for lines.Scan() {
			out.WriteString(lines.Text() + "\n")
			if lines.Text() == want {
				return
			}
		}
		t.Fatalf("no %q: %v\n%s", want, lines.Err(), out.String())
	}
	until("ready")
	time.Sleep(50 * time.Millisecond)
	base := goruntime.NumGoroutine()
	io.WriteString(stdinW, "\n")
	until("checkpoint")
	if !strings.Contains(out.String(), "slots ok\n") {
		t.Errorf("pending-handshake slots not all back:\n%s", out.String())
	}
	if got := strings.TrimSuffix(strings.TrimPrefix(out.String(), "ready\n"), "slots ok\ncheckpoint\n"); got != "" {
		t.Errorf("guest reported:\n%s", got)
	}
	waitGoroutines(t, base)
	stdinW.Close()
	if err := <-done; err != nil {
		t.Errorf("guest: %v\n%s", err, out.String())
	}
}
