package tlshost_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// TestGuestCancelInTLSStream: after the handshake nothing in the host
// bounds a guest's own blocking read or write on a TLS stream (the guest
// chose to wait), so the embedder must be able to stop it. A guest client
// blocked reading from a server that went silent, and one blocked writing
// to a server that never reads, each stop within seconds of the
// embedder cancelling their context, on both backends; the silent
// server sees its connection end, and nothing of the first guest is left
// behind. (The second guest's connection keeps its unsent bytes for the
// socket's linger bound, 30 s, as close(2) would.)
func TestGuestCancelInTLSStream(t *testing.T) {
	p := newGuestPKI(t)
	wasm := guestbuild.MustBuild(t, "./testdata/stream")
	eachBackend(t, func(t *testing.T, backend string) {
		for _, blockedIn := range []string{"read", "write"} {
			t.Run(blockedIn, func(t *testing.T) {
				before, fds := goroutines(), openFDs(t)
				// The server answers the handshake; the read case waits for
				// the guest's close_notify, after which the guest reads.
				// Then it neither writes nor reads until the test ends.
				ready := make(chan *tls.Conn, 1)
				hold := make(chan struct{})
				addr := hostileServer(t, func(raw net.Conn) {
					s := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}})
					if s.Handshake() != nil {
						return
					}
					if blockedIn == "read" {
						if _, err := io.Copy(io.Discard, s); err != nil {
							return
						}
					}
					ready <- s
					<-hold
				})
				defer close(hold)
				gr := newGuestRuntime(t, tlshost.Config{BackendName: backend}, p)
				compiled, err := runtime.CompileModule(context.Background(), gr.r, wasm)
				if err != nil {
					t.Fatal(err)
				}
				n := "0" // read: close_notify at once, then read
				if blockedIn == "write" {
					n = "100000000" // more than the sockets buffer
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				g := &guest{done: make(chan error, 1)}
				go func() {
					_, err := gr.rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
						Args: []string{"stream", addr, n}, Stdout: &g.out, Stderr: &g.out,
					})
					g.done <- err
				}()
				var s *tls.Conn
				select {
				case s = <-ready:
				case err := <-g.done:
					t.Fatalf("guest ended early: %v\n%s", err, g.out.String())
				case <-time.After(20 * time.Second):
					t.Fatalf("the guest did not reach its %s; output:\n%s", blockedIn, g.out.String())
				}
				// Long enough for the guest to block: a write fills the
				// sockets' buffers and the host's unsent bound first.
				select {
				case err := <-g.done:
					t.Fatalf("guest ended early: %v\n%s", err, g.out.String())
				case <-time.After(time.Second):
				}
				cancel()
				select {
				case err := <-g.done:
					var ee *sys.ExitError
					if !errors.As(err, &ee) || ee.ExitCode() != sys.ExitCodeContextCanceled {
						t.Fatalf("guest: %v; want a context-cancelled exit\n%s", err, g.out.String())
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("cancelling the context did not stop the guest blocked in its %s", blockedIn)
				}
				if blockedIn == "write" {
					return
				}
				raw := s.NetConn()
				raw.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := raw.Read(make([]byte, 1)); errors.Is(err, os.ErrDeadlineExceeded) || err == nil {
					t.Fatalf("server read %v; want the end of the connection", err)
				}
				raw.Close()
				waitSettled(t, before+1, fds+1) // the listener and the server goroutine stay until the test ends
			})
		}
	})
}
