package conformance

import (
	"context"
	"net"
	"slices"
	"sync"

	"github.com/wasitls/wasitls/backends"
)

// testWrapperKeepsTransportCounters checks a backend that wraps another:
// over a transport with the optional interfaces of the host's
// ([backends.PeerHeapCounter], [backends.PeerBacklogCounter],
// [backends.ReadAheadCounter]), its connections tell the counters at
// least what the wrapped backend's tell in the same handshake and
// exchange. A wrapper that hands the wrapped backend a transport of its
// own hides them, and with them the host's bounds on what a peer makes
// the backend hold. The wrapped backend is the one Unwrap returns, else
// the first field of the backend's struct (or of a struct it embeds) that
// holds a backends.Backend. A backend that holds none is no wrapper, and
// the case is skipped. Only what the wrapped backend tells in every such
// exchange is compared (stdtls: the server's chain, on the client side).
func testWrapperKeepsTransportCounters(e *env) {
	inner := heldBackend(e.b)
	if inner == nil {
		e.t.Skipf("conformance: %s holds no backends.Backend: not a wrapper", e.b.Name())
	}
	want := e.counterCalls(inner)
	got := e.counterCalls(e.b)
	for side := range want {
		for _, m := range want[side] {
			if !slices.Contains(got[side], m) {
				e.t.Errorf("%s: %s wraps %s, whose connections call the transport's %s, but its own do not: "+
					"it gives the wrapped backend a transport of its own, which hides the host's bounds (wrap the Conn, not the transport)",
					sideName[side], e.b.Name(), inner.Name(), m)
			}
		}
	}
	if len(want[0])+len(want[1]) == 0 {
		e.t.Logf("conformance: %s tells no transport counter in a handshake: nothing to compare", inner.Name())
	}
}

var sideName = [2]string{"client", "server"}

// counterCalls runs a handshake and an exchange of b with itself over
// counting transports and returns the counter methods each side called.
func (e *env) counterCalls(b backends.Backend) [2][]string {
	e.t.Helper()
	cRaw, sRaw := tcpPair(e.t)
	ct, st := &countingTransport{Conn: cRaw}, &countingTransport{Conn: sRaw}
	c, err := b.Client(ct, e.pki.clientConfig("a.test"))
	if err != nil {
		e.t.Fatalf("%s: Client: %v", b.Name(), err)
	}
	s, err := b.Server(st, e.pki.serverConfig(e.pki.serverA))
	if err != nil {
		c.Close()
		e.t.Fatalf("%s: Server: %v", b.Name(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	errs := make(chan error, 1)
	go func() { errs <- s.Handshake(ctx) }()
	cerr := c.Handshake(ctx)
	if serr := <-errs; cerr != nil || serr != nil {
		c.Close()
		s.Close()
		e.t.Fatalf("%s: handshake failed: client: %v; server: %v", b.Name(), cerr, serr)
	}
	e.exchange(&pair{client: c, server: s, clientRaw: cRaw, serverRaw: sRaw})
	c.Close()
	s.Close()
	return [2][]string{ct.called(), st.called()}
}

// countingTransport is a transport with the counters of the host's,
// which records what was called and refuses nothing.
type countingTransport struct {
	net.Conn
	mu    sync.Mutex
	calls []string
}

var (
	_ backends.PeerHeapCounter    = (*countingTransport)(nil)
	_ backends.PeerBacklogCounter = (*countingTransport)(nil)
	_ backends.ReadAheadCounter   = (*countingTransport)(nil)
	_ backends.ReadAheadNotifier  = (*countingTransport)(nil)
)

func (t *countingTransport) record(m string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !slices.Contains(t.calls, m) {
		t.calls = append(t.calls, m)
	}
}

func (t *countingTransport) called() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.calls)
}

func (t *countingTransport) CountPeerHeap(int64) error   { t.record("CountPeerHeap"); return nil }
func (t *countingTransport) HoldPeerBacklog(int64) error { t.record("HoldPeerBacklog"); return nil }
func (t *countingTransport) HoldReadAhead(int64) error   { t.record("HoldReadAhead"); return nil }

// ReadAheadFreed refuses nothing, so there is nothing to wait for.
func (t *countingTransport) ReadAheadFreed() <-chan struct{} { return nil }
