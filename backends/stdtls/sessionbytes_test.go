package stdtls

import (
	"crypto/tls"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/internal/testpki"
)

// capturedSessions is a tls.ClientSessionCache keeping what it is given.
type capturedSessions struct {
	mu   sync.Mutex
	last *tls.ClientSessionState
}

func (c *capturedSessions) Get(string) (*tls.ClientSessionState, bool) { return nil, false }
func (c *capturedSessions) Put(_ string, cs *tls.ClientSessionState) {
	c.mu.Lock()
	c.last = cs
	c.mu.Unlock()
}

// TestSessionHeapPerTicket: the sessions of one connection are measured
// by walking the first one and adding each one's ticket (heapBytes), and
// that decides as a walk of each session would: sessions of one
// connection's state, with tickets around the size that takes them past
// maxSessionHeap, are stored exactly when their whole walk is within it.
func TestSessionHeapPerTicket(t *testing.T) {
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}})
	if err != nil {
		t.Fatal(err)
	}
	craw, sraw := testnet.TCPPairWithin(t, 10*time.Second)
	go func() {
		s := tls.Server(sraw, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}})
		if s.Handshake() == nil {
			s.Write([]byte{1})
		}
	}()
	captured := &capturedSessions{}
	c := tls.Client(craw, &tls.Config{ServerName: "a.test", RootCAs: ca.Pool(), ClientSessionCache: captured})
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil { // past the ticket
		t.Fatal(err)
	}
	captured.mu.Lock()
	first := captured.last
	captured.mu.Unlock()
	if first == nil {
		t.Fatal("no session stored")
	}
	_, state, err := first.ResumptionState()
	if err != nil || state == nil {
		t.Fatalf("ResumptionState: %v, %v", state, err)
	}
	room := maxSessionHeap - backends.HeapBytes(first)
	conn := newConn(craw, true)
	cache := backends.NewLRUSessionCache(4)
	sc := &sessionCache{c: cache, conn: conn}
	var stored, refused int
	for _, n := range []int64{16, room - 4096, room - 512, room, room + 512, room + 4096, 16} {
		ticket := make([]byte, n)
		cs, err := tls.NewResumptionState(ticket, state)
		if err != nil {
			t.Fatal(err)
		}
		want := backends.HeapBytes(cs) <= maxSessionHeap
		sc.Put("a.test", cs)
		if got := cache.Len() == 1; got != want {
			t.Errorf("ticket of %d bytes: stored %v, want %v (the session walked holds %d bytes, the bound is %d)", n, got, want, backends.HeapBytes(cs), maxSessionHeap)
		}
		if want {
			stored++
		} else {
			refused++
		}
	}
	if stored == 0 || refused == 0 {
		t.Errorf("%d stored, %d refused: the tickets do not straddle the bound", stored, refused)
	}
}
