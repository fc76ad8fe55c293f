package tlshost_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// nestedTLSServer serves, on a loopback listener, TLS connections each
// inside the one before, as many as its client makes, until the test
// ends.
func nestedTLSServer(t *testing.T, cert tls.Certificate) (port string) {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	addr := testnet.Serve(t, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		var cur net.Conn = c
		for {
			s := tls.Server(cur, cfg)
			if s.Handshake() != nil {
				break
			}
			cur = s
		}
		io.Copy(io.Discard, cur)
	})
	return strconv.Itoa(addr.Port)
}

// runTunnel runs the tunnel guest with limits, making up to n connections
// each inside the one before to a nested server; it returns the guest's
// report, then calls holding while the guest holds them, and ends it.
func runTunnel(t *testing.T, cfg tlshost.Config, limits runtime.Limits, port string, n int, holding func()) string {
	t.Helper()
	setup := context.Background()
	r := wazero.NewRuntimeWithConfig(setup, runtime.NewRuntimeConfig().WithCompilationCache(compilationCache))
	defer r.Close(context.Background())
	policy := new(sockets.Policy)
	policy.AllowConnect("localhost:*")
	rt, err := runtime.New(setup, r, runtime.Config{Network: policy, Limits: limits, Extensions: []runtime.Extension{tlshost.New(cfg)}})
	if err != nil {
		t.Fatal(err)
	}
	compiled := compileGuest(t, stoppable(r), "./testdata/tunnel")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	stdin, tell := io.Pipe()
	out, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
			Args: []string{"tunnel", "localhost", port, fmt.Sprint(n)}, Stdin: stdin, Stdout: pw, Stderr: os.Stderr,
		})
		pw.CloseWithError(fmt.Errorf("guest exited: %v", err))
		done <- err
	}()
	lines := bufio.NewScanner(out)
	var report string
	for lines.Scan() {
		if strings.HasPrefix(lines.Text(), "tunnelled") {
			report = lines.Text()
		}
		if lines.Text() == "holding" {
			break
		}
	}
	holding()
	tell.Close()
	go func() {
		for lines.Scan() {
		}
	}()
	if err := <-done; err != nil {
		t.Errorf("guest: %v", err)
	}
	return report
}

// TestGuestTunnelCountsSockets: TLS connections each tunnelled through
// the cleartext of the one before count as sockets of the guest: under
// --max-sockets 4, a wasm guest dialing one socket gets the connection
// over it and three tunnelled, and the fifth fails at its handshake with
// a reason naming the limit and the flag; both backends. Before, nothing
// bounded them but the guest's handles: 300 over one socket made the host
// hold 8 (circl-pq) to 17 (stdtls) MiB more, some 27 to 58 KiB each, in
// 1.5 s, and the 262,144 handles allow tens of thousands. The guest ends
// leaving no goroutine behind.
func TestGuestTunnelCountsSockets(t *testing.T) {
	cert := bigCertificate(t, 0)
	port := nestedTLSServer(t, cert)
	for _, backend := range []string{"stdtls", "circl-pq"} {
		t.Run(backend, func(t *testing.T) {
			g0 := goruntime.NumGoroutine()
			report := runTunnel(t, tlshost.Config{BackendName: backend, RootCAs: pool(t, cert)}, runtime.Limits{Sockets: 4}, port, 300, func() {})
			t.Log(report)
			if !strings.HasPrefix(report, "tunnelled 4: ") || !strings.Contains(report, "counts as a socket") ||
				!strings.Contains(report, "--max-sockets") {
				t.Errorf("guest: %q, want 4 connections, then the fifth refused naming --max-sockets", report)
			}
			waitGoroutines(t, g0)
		})
	}
}
