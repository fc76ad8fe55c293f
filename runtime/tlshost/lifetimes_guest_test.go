package tlshost_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/syncbuf"
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

// stuckTLSServer completes TLS handshakes on a loopback listener and
// then reads nothing until release is called (the sockets the guest
// dropped with bytes unsent linger until their peer reads them).
func stuckTLSServer(t *testing.T, cert tls.Certificate) (port string, release func()) {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	released := make(chan struct{})
	addr := testnet.Serve(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(60 * time.Second))
		if tls.Server(c, cfg).Handshake() != nil {
			return
		}
		<-released
		io.Copy(io.Discard, c)
	})
	var once sync.Once
	release = func() { once.Do(func() { close(released) }) }
	t.Cleanup(release)
	return strconv.Itoa(addr.Port), release
}

// ctxlessBackend is a backend whose handshakes ignore their context, as
// the host allows (backends.Conn.Handshake): giving up on one is the
// interruption of its transport alone. Its connections hide the backend's
// optional interfaces, so their streams run on goroutines.
type ctxlessBackend struct{ backends.Backend }

type ctxlessConn struct{ backends.Conn }

func (c ctxlessConn) Handshake(context.Context) error { return c.Conn.Handshake(context.Background()) }

func (b ctxlessBackend) Client(transport net.Conn, cfg *backends.ClientConfig) (backends.Conn, error) {
	c, err := b.Backend.Client(transport, cfg)
	if err != nil {
		return nil, err
	}
	return ctxlessConn{c}, nil
}

func (b ctxlessBackend) Server(transport net.Conn, cfg *backends.ServerConfig) (backends.Conn, error) {
	c, err := b.Backend.Server(transport, cfg)
	if err != nil {
		return nil, err
	}
	return ctxlessConn{c}, nil
}

// TestGuestLifetimes runs a hostile guest (testdata/lifetimes) that drops
// and reuses wasi:tls resources in the orders the WIT permits, each
// scenario many times, against a silent peer, real TLS servers and
// itself (its server connections over its own listener, for which the
// host's handshake timeout is short in the timeout-* scenarios): no
// trap, no panic, no round past 10 s, every pending-handshake slot back (the guest then holds
// the limit's worth at once), the host's goroutines back to what they
// were before the scenarios while the guest still runs, and no backend
// left behind (the host logs one that did not return once it interrupted
// its transport). The tunnel scenarios run on a backend that ignores its
// handshake's context too (ctxless): there only the interruption of the
// transport ends a handshake the host gives up on. tunnel-stuck-abort
// left it behind before the transport over another connection's
// cleartext watched its write deadline. The host's graces before it
// leaves a backend behind are 30 s longer here, a hang guard: at their
// own (half a second, a quarter), a loaded machine may not schedule a
// backend its interruption ended in time, and the host would log it as
// left behind.
func TestGuestLifetimes(t *testing.T) {
	const limit, rounds = 4, 12
	tlshost.SlackGraces(t, 30*time.Second)
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
		"tunnel-stuck-abort",
		"draft-pause-drop", "draft-two-drop", "timeout-draft-get", "draft-orders", "draft-socket-first", "tunnel-drop-outer-draft",
	}
	for _, backend := range []string{"stdtls", "circl-pq", "ctxless"} {
		for _, mode := range modes {
			if backend == "ctxless" && !strings.HasPrefix(mode, "tunnel") {
				continue
			}
			t.Run(backend+"/"+mode, func(t *testing.T) {
				tlsPort, release := echo, func() {}
				switch {
				case strings.HasPrefix(mode, "tunnel-drop"):
					tlsPort = nested
				case strings.HasPrefix(mode, "tunnel-stuck"):
					tlsPort, release = stuckTLSServer(t, p.local.TLSCertificate())
				}
				runLifetimes(t, backend, p, wasm, mode, silent, tlsPort, rounds, limit, release)
			})
		}
	}
}

// runLifetimes runs mode; release is called at the checkpoint, before
// the goroutines are counted.
func runLifetimes(t *testing.T, backend string, p *guestPKI, wasm []byte, mode, silent, tlsPort string, rounds, limit int, release func()) {
	setup := context.Background()
	r := wazero.NewRuntimeWithConfig(setup, runtime.NewRuntimeConfig().WithCompilationCache(compilationCache))
	defer r.Close(context.Background())
	policy := new(sockets.Policy)
	policy.AllowConnect("localhost:*", "127.0.0.1:*")
	policy.AllowListen("127.0.0.1:*")
	cfg := tlshost.Config{BackendName: backend, PendingHandshakes: limit, RootCAs: p.ca.Pool(), ClientCAs: p.ca.Pool()}
	if backend == "ctxless" {
		b, err := backends.ByName("stdtls")
		if err != nil {
			t.Fatal(err)
		}
		cfg.BackendName, cfg.Backend = "", ctxlessBackend{b}
	}
	if strings.HasPrefix(mode, "timeout") {
		cfg.HandshakeTimeout = 200 * time.Millisecond
	}
	var log syncbuf.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
	rt, err := runtime.New(setup, r, runtime.Config{Network: policy, Extensions: []runtime.Extension{tlshost.New(cfg)}})
	if err != nil {
		t.Fatal(err)
	}
	// The clock starts once the guest is compiled: on a loaded machine
	// compiling it takes seconds of the budget.
	compiled, err := r.CompileModule(setup, wasm)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pipeR, stdinW := io.Pipe()
	stdinR := &readStarts{r: pipeR, began: make(chan struct{}, 1)}
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
	// The baseline once the guest waits on its standard input, as it will
	// at the checkpoint: the host's reader goroutine, which the wait
	// starts, then counts in both. The guest prints "ready" before it
	// waits; a baseline taken right after the line (once, after a fixed
	// 50ms) missed that goroutine whenever the guest was slower than
	// that, and the checkpoint then seemed to hold one goroutine too many.
	select {
	case <-stdinR.began:
	case <-time.After(30 * time.Second):
		t.Fatalf("the guest did not read its standard input after \"ready\"\n%s", out.String())
	}
	base := goruntime.NumGoroutine()
	io.WriteString(stdinW, "\n")
	until("checkpoint")
	if !strings.Contains(out.String(), "slots ok\n") {
		t.Errorf("pending-handshake slots not all back:\n%s", out.String())
	}
	if got := strings.TrimSuffix(strings.TrimPrefix(out.String(), "ready\n"), "slots ok\ncheckpoint\n"); got != "" {
		t.Errorf("guest reported:\n%s", got)
	}
	release()
	waitGoroutines(t, base)
	// Each backend returns once the host interrupts its transport: the
	// host never has to leave one behind.
	if l := log.String(); strings.Contains(l, "did not return within") {
		t.Errorf("the host left a backend behind:\n%s", l)
	}
	stdinW.Close()
	if err := <-done; err != nil {
		t.Errorf("guest: %v\n%s", err, out.String())
	}
}

// readStarts is a reader that reports on began (without blocking) when a
// Read begins.
type readStarts struct {
	r     io.Reader
	began chan struct{}
}

func (r *readStarts) Read(p []byte) (int, error) {
	select {
	case r.began <- struct{}{}:
	default:
	}
	return r.r.Read(p)
}

// TestGuestDraftFullTableGet: a guest whose handle table has room for one
// handle more takes a completed draft handshake's result, a connection
// and its two streams. The connection enters the table, the input stream
// does not fit: the call traps naming the handle limit, the streams are
// dropped with it (the guest dropped its socket: the streams hold the
// connection), and the peer sees its connection end once the guest is
// gone, with no goroutine or descriptor left. Before, the output stream,
// after the one that failed, was neither handed to the guest nor dropped
// but left to the garbage collector (cabi's TestTableLimitMidResult); the
// connection ended with the guest all the same, its network stack
// closing every socket it had.
func TestGuestDraftFullTableGet(t *testing.T) {
	p := newGuestPKI(t)
	guestbuild.MustBuild(t, draftHostile)
	eachBackend(t, func(t *testing.T, backend string) {
		leftBehind(t, func(t *testing.T) {
			cfg := &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}}
			ended := make(chan error, 1)
			addr := testnet.Serve(t, func(c net.Conn) {
				c.SetDeadline(time.Now().Add(60 * time.Second))
				tc := tls.Server(c, cfg)
				if err := tc.Handshake(); err != nil {
					ended <- err
					return
				}
				_, err := io.Copy(io.Discard, tc)
				ended <- err
			})
			gr := newGuestRuntime(t, tlshost.Config{BackendName: backend}, p)
			// The future held, 6 pollables: 7 handles of 8.
			g := gr.startWith(t, draftHostile, 30*time.Second, runtime.ModuleConfig{
				Limits: runtime.Limits{Handles: 8},
				Dirs:   []runtime.Dir{{Host: p.dir, Guest: "/certs", ReadOnly: true}}},
				"full-get", "localhost", strconv.Itoa(addr.Port), "6")
			out, err := g.wait(t)
			var trap *cabi.Trap
			if !errors.As(err, &trap) || !strings.Contains(trap.Msg, "cannot hold another") || !strings.Contains(trap.Msg, "input-stream") {
				t.Fatalf("err %v, want a trap for the input stream that does not fit\n%s", err, out)
			}
			mustContain(t, out, "getting\n")
			select {
			case err := <-ended:
				if err != nil && !errors.Is(err, io.EOF) {
					t.Logf("the peer's connection ended with %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the peer's connection did not end after the guest trapped")
			}
		})
	})
}
