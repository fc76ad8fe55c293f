//go:build unix

package tlshost_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	circlpq "github.com/wasitls/wasitls/backends/circl-pq"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// TestGuestBlockingReadEngineWrites: a wasm guest's TLS client writes to
// a peer that reads nothing until check-write holds it back (its budget
// of unsent bytes spent: runtime.Limits.UnsentBytes of 1 byte), then
// waits in blocking-read. The peer, a circl-pq server, sends KeyUpdates
// asking for an answer, a byte of data after each: the guest's backend
// writes each answer from within the host's blocking read, which must not
// wait for room in the connection's send queue (a wait the read's
// deadline does not end, for as long as the peer reads nothing). Once
// the answers no longer fit, the guest's read fails, its error naming the
// peer that is not reading, well within the guest's 60 s; the guest ends,
// the host closes the socket (the peer reads to its end) and no
// goroutine is left. The guest's backend is stdtls, whose crypto/tls
// answers each KeyUpdate from within Read; circl-pq writes nothing there
// for a KeyUpdate (its answer, one for any number, goes before the next
// Write's data), and its answers to certificate requests written from
// within a read are checked by TestCertificateRequestAnswersInBlockingRead
// (backends/circl-pq).
func TestGuestBlockingReadEngineWrites(t *testing.T) {
	p := newGuestPKI(t)
	const pkg = "./testdata/tinywrites"
	guestbuild.MustBuild(t, pkg)
	ln := smallWindowListener(t)
	gr := newGuestRuntime(t, tlshost.Config{BackendName: "stdtls"}, p)
	goroutines := goruntime.NumGoroutine()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	g := gr.startWith(t, pkg, 60*time.Second, runtime.ModuleConfig{Limits: runtime.Limits{UnsentBytes: 1}}, "127.0.0.1", port, "read")

	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(60 * time.Second)) // a hang guard only
	srv, err := circlpq.Server(raw, &backends.ServerConfig{Identities: []*backends.Identity{p.local.Identity()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Handshake(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Read nothing; once the guest is held back, ask for key updates
	// until the connection fails.
	heldBack(t, g)
	// Each request goes out once the guest's read waits in the transport
	// (ReadWait), so that the backend's answer is written from within a
	// blocking read, not a read that takes what is there (ReadNow), which
	// fails such a write as well.
	asked := 0
ask:
	for ; asked < 1<<20; asked++ {
		for deadline := time.Now().Add(20 * time.Second); !waitsInTransport(); time.Sleep(time.Millisecond) {
			if strings.Contains(g.out.String(), "read ended") {
				break ask
			}
			if time.Now().After(deadline) { // a hang guard only
				t.Fatalf("the guest's read does not wait in the transport\n%s", g.out.String())
			}
		}
		if srv.KeyUpdate(true) != nil {
			break
		}
		if _, err := srv.Write([]byte("x")); err != nil {
			break
		}
	}
	out, err := g.wait(t)
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, out)
	}
	if !strings.Contains(out, "read ended after") || !strings.Contains(out, "the peer is not reading") {
		t.Fatalf("the guest's read did not fail naming the peer that is not reading:\n%s", out)
	}
	t.Logf("%d key updates asked for; guest: %s", asked, strings.TrimSpace(out[strings.LastIndex(out, "read ended"):]))
	// The host closed the socket: the peer reads to its end (or a
	// reset), not to its deadline.
	if _, err := io.Copy(io.Discard, raw); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the guest's socket is still open once the guest ended")
	}
	srv.Close()
	waitGoroutines(t, goroutines)
}

// waitsInTransport reports whether a guest's read waits in its TLS
// connection's transport (wasiio.NonblockingTransport.ReadWait).
func waitsInTransport() bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:goruntime.Stack(buf, true)]), "wasiio.(*nonblockingConn).ReadWait")
}
