package wasiio

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	circlpq "github.com/wasitls/wasitls/backends/circl-pq"
)

// gateWriter holds its next Write, once armed, until released: it stands
// for a TLS engine's write lock, which the guest's write waits for while
// the engine answers the peer on another goroutine.
type gateWriter struct {
	w       io.Writer
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (g *gateWriter) Write(p []byte) (int, error) {
	if g.armed.CompareAndSwap(true, false) {
		close(g.entered)
		<-g.release
	}
	return g.w.Write(p)
}

// TestGatheredFlushEngineWrites: while the gathered writes of a guest
// (tiny writes behind unsent bytes, the guest's budget spent) go out on
// their own goroutine, the TLS engine answers the peer's KeyUpdates
// (update_requested) from a read on another goroutine, as the wasi:tls
// host's blocking read does while the guest is not writing. Those
// answers, past the queue's floor, are not the guest's write: they must
// not fail the connection. Before, the queue took every write made while
// the guest's was in progress for the guest's, and failed it ("the
// guest's connections together hold the most unsent bytes they may"):
// crypto/tls then answered no further KeyUpdate and its reads failed with
// bad_record_mac. Once the peer reads, it gets every byte, in order.
func TestGatheredFlushEngineWrites(t *testing.T) {
	tc, peer, _, ca, leaf := spentTLSPair(t)
	srv, err := circlpq.Server(peer, &backends.ServerConfig{Identities: []*backends.Identity{leaf.Identity()}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := make(chan error, 1)
	go func() { hs <- srv.Handshake(context.Background()) }()
	cl := tls.Client(tc, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS13})
	defer cl.Close()
	if err := cl.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-hs; err != nil {
		t.Fatal(err)
	}
	q := tc.(NonblockingTransport).Backlog().(*sendQueue)
	gate := &gateWriter{w: cl, entered: make(chan struct{}), release: make(chan struct{})}
	s := NewInlineOutputStream(gate, q, nil)
	defer s.Close()
	released := false
	defer func() {
		if !released { // before Close, which waits for the gathered write
			close(gate.release)
		}
	}()

	// The engine reads on a goroutine of its own, outside ReadNow.
	var dataRead atomic.Int64
	readErr := make(chan error, 1)
	go func() {
		buf := make([]byte, 512)
		for {
			n, err := cl.Read(buf)
			dataRead.Add(int64(n))
			if err != nil {
				readErr <- err
				return
			}
		}
	}()
	failed := func(when string) {
		t.Helper()
		if _, err := q.Unsent(); err != nil {
			t.Fatalf("%s: the connection failed: %v", when, err)
		}
		select {
		case err := <-readErr:
			t.Fatalf("%s: the engine's read failed: %v", when, err)
		default:
		}
	}

	// A permit, then bytes unsent (the peer reads nothing), so that the
	// guest's next write is gathered.
	if n, err := s.CheckWrite(bg); n == 0 || err != nil {
		t.Fatalf("check-write: %d, %v", n, err)
	}
	var want bytes.Buffer
	chunk := bytes.Repeat([]byte("a"), 1024)
	for gathered := false; !gathered; {
		for {
			if _, err := cl.Write(chunk); err != nil {
				t.Fatal(err)
			}
			want.Write(chunk)
			if n, _ := q.Unsent(); n > 0 {
				break
			}
			if want.Len() > 16<<20 {
				t.Fatal("the socket never filled")
			}
		}
		if err := s.Write(bg, []byte("G")); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		gathered = s.gathered != nil
		s.mu.Unlock()
		if !gathered {
			// The socket took what was unsent before the write looked
			// (a loopback socket's buffer moves to its peer's a moment
			// after a write it refused): written at once, in order.
			want.WriteString("G")
		}
	}

	// The peer reads what is unsent: the queue empties, and the gathered
	// byte goes out on its goroutine, held at the gate.
	gate.armed.Store(true)
	srv.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(srv, got); err != nil {
		t.Fatalf("the peer read: %v", err)
	}
	select {
	case <-gate.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the gathered write never went out once the queue emptied")
	}
	want.Reset()

	// The peer reads nothing again. The socket fills, and the queue up to
	// within 700 bytes of its floor (a 256-byte write is a 278-byte
	// record, so it stops short of the floor). The
	// peer's socket may announce the room its read made a while later:
	// the queue is full once it stays so.
	fill := bytes.Repeat([]byte("f"), 256)
	for settled := 0; settled < 3; {
		if n, _ := q.Unsent(); n >= UnsentFloor-700 {
			settled++
			time.Sleep(50 * time.Millisecond)
			continue
		}
		settled = 0
		if _, err := cl.Write(fill); err != nil {
			t.Fatal(err)
		}
		want.Write(fill)
		if want.Len() > 16<<20 {
			t.Fatal("the queue never filled")
		}
	}
	failed("filling the queue")

	// KeyUpdates asking for one, each followed by a byte of data (crypto/tls
	// takes only so many KeyUpdates without data); the engine's answers, 27
	// bytes each, pass the floor. They reach the peer without data between
	// them, so there are no more than the 32 in a row circl-pq (as
	// BoringSSL) takes.
	const updates = 32
	for range updates {
		if err := srv.KeyUpdate(true); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Write([]byte("k")); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for dataRead.Load() < updates {
		failed("answering KeyUpdates")
		if time.Now().After(deadline) {
			t.Fatalf("the engine read %d of %d bytes after KeyUpdates", dataRead.Load(), updates)
		}
		time.Sleep(5 * time.Millisecond)
	}
	failed("answering KeyUpdates")
	if n, err := q.Unsent(); err != nil {
		t.Fatalf("answering KeyUpdates: the connection failed: %v", err)
	} else if n <= UnsentFloor {
		t.Fatalf("%d bytes unsent after the answers: they did not pass the floor (%d), the case is not reached", n, UnsentFloor)
	}

	// The gathered byte goes out; the peer reads everything, in order,
	// and the stream goes on.
	close(gate.release)
	released = true
	want.WriteString("G")
	got = make([]byte, want.Len())
	srv.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(srv, got); err != nil {
		t.Fatalf("the peer read: %v", err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("the peer got %d bytes not in order (last %q)", len(got), got[len(got)-1:])
	}
	writableAgain(t, s)
	if err := s.Write(bg, []byte("end")); err != nil {
		t.Fatal(err)
	}
	end := make([]byte, 3)
	if _, err := io.ReadFull(srv, end); err != nil || string(end) != "end" {
		t.Fatalf("the peer read %q, %v; want \"end\"", end, err)
	}
	failed("at the end")
}
