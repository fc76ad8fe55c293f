package tlshost_test

import (
	"context"
	"io"
	"net"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// closeBound is how long a guest may take to stop once its wazero runtime
// is closed: it stops at once; the bound is a margin for a loaded machine.
const closeBound = 5 * time.Second

// TestWazeroCloseEndsHandshakes: closing the wazero.Runtime while a guest
// client's handshake waits on a server that never answers
// (examples/client-minimal, blocked in wasi:io's poll) stops the guest at
// once on both backends, closes the connection (the server sees EOF) and
// leaves no goroutine of the handshake behind. Before, the guest waited
// on, its connection open, until the host's handshake timeout (30 s).
func TestWazeroCloseEndsHandshakes(t *testing.T) {
	p := newGuestPKI(t)
	const client = "github.com/wasitls/wasitls/examples/client-minimal"
	guestbuild.MustBuild(t, client)
	for _, backend := range []string{"stdtls", "circl-pq"} {
		t.Run(backend, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			hello, ended := make(chan struct{}), make(chan struct{})
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				// The ClientHello's first bytes: the handshake then waits
				// for the server; never an answer.
				if _, err := c.Read(make([]byte, 1)); err == nil {
					close(hello)
				}
				io.Copy(io.Discard, c)
				close(ended)
			}()
			goroutines := goruntime.NumGoroutine()
			gr := newGuestRuntime(t, tlshost.Config{BackendName: backend}, p)
			_, port, _ := net.SplitHostPort(ln.Addr().String())
			g := gr.start(t, client, nil, "localhost", port, "/")
			select {
			case <-hello:
			case err := <-g.done:
				t.Fatalf("guest ended early: %v\n%s", err, g.out.String())
			case <-time.After(30 * time.Second):
				t.Fatalf("the guest sent no ClientHello within 30 s\n%s", g.out.String())
			}
			if err := gr.r.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-g.done:
				g.done <- err
				if err == nil {
					t.Errorf("the guest returned no error\n%s", g.out.String())
				}
			case <-time.After(closeBound):
				t.Fatalf("the guest still runs %v after the wazero runtime's Close\n%s", closeBound, g.out.String())
			}
			select {
			case <-ended:
			case <-time.After(closeBound):
				t.Fatalf("the connection still open %v after the wazero runtime's Close", closeBound)
			}
			waitGoroutines(t, goroutines)
		})
	}
}
