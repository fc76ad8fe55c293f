//go:build unix

package tlshost_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// TestGuestTinyWritesUnsentBudgetSpent: a wasm guest whose budget of
// unsent bytes is spent (runtime.Limits.UnsentBytes of 1 byte, the least
// --max-unsent-bytes takes) writes a TLS connection's cleartext a byte at
// a time, as many writes as each check-write permits, to a peer that
// reads nothing. It is held back by check-write, which grants nothing
// once its connection holds bytes unsent, rather than failed; once the
// peer reads, it gets every byte in order, and the guest's blocking-flush
// returns. Both backends. Before, each write was a TLS record of its own
// (23 bytes on the wire for 1 of the permit) and the connection failed
// with last-operation-failed once its queue passed its floor.
func TestGuestTinyWritesUnsentBudgetSpent(t *testing.T) {
	p := newGuestPKI(t)
	const pkg = "./testdata/tinywrites"
	guestbuild.MustBuild(t, pkg)
	for _, backend := range []string{"stdtls", "circl-pq"} {
		t.Run(backend, func(t *testing.T) {
			ln := smallWindowListener(t)
			gr := newGuestRuntime(t, tlshost.Config{BackendName: backend}, p)
			_, port, _ := net.SplitHostPort(ln.Addr().String())
			g := gr.startWith(t, pkg, 60*time.Second, runtime.ModuleConfig{Limits: runtime.Limits{UnsentBytes: 1}}, "127.0.0.1", port)

			raw, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			raw.SetDeadline(time.Now().Add(60 * time.Second))
			srv := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}})
			if err := srv.Handshake(); err != nil {
				t.Fatal(err)
			}
			// Read nothing until the guest is held back.
			written := heldBack(t, g)
			got := make([]byte, written)
			if _, err := io.ReadFull(srv, got); err != nil {
				t.Fatalf("the peer read: %v", err)
			}
			for i, c := range got {
				if c != byte(i) {
					t.Fatalf("byte %d is %d, want %d", i, c, byte(i))
				}
			}
			out, err := g.wait(t)
			if err != nil || !strings.HasSuffix(out, "ok\n") {
				t.Fatalf("guest: %v\n%s", err, out)
			}
			t.Logf("%d one-byte writes before check-write held the guest back", written)
		})
	}
}

// heldBack waits until the tinywrites guest g is held back by
// check-write and returns how many bytes it wrote before.
func heldBack(t *testing.T, g *guest) int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out := g.out.String()
		if _, rest, ok := strings.Cut(out, "held back after "); ok {
			var written int
			if _, err := fmt.Sscanf(rest, "%d", &written); err != nil {
				t.Fatalf("guest output %q", out)
			}
			return written
		}
		select {
		case err := <-g.done:
			g.done <- err
			t.Fatalf("the guest ended before it was held back: %v\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) { // a hang guard only
			t.Fatalf("the guest was not held back within 60 s\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// smallWindowListener listens on loopback with a small receive buffer
// (4 KiB), so that the kernel of a peer that reads nothing takes little
// of what a guest sends it. It closes when the test ends.
func smallWindowListener(t *testing.T) net.Listener {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return nil
	}}
	ln, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}
