package tlshost

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/capreport"
	"github.com/wasitls/wasitls/runtime"
)

// TLS connections.
//
// A guest holds at most Config.Connections TLS connections at once: the
// client-connection and server-connection resources, and the draft's
// client-handshake (with the future and the connection its session
// becomes), from the constructor until the guest drops the last of them
// (ending.Close). Each holds its session, 1.7 to 2.1 KiB before a
// handshake and 4.2 KiB once one failed, whatever its streams carry.
// Before, only the handle limit bounded them: streams that cannot carry
// TLS (a handle on standard input and one on standard output, which
// get-stdin and get-stdout hand out without end) make a connection all
// the same, and a connection whose handshake failed gives its socket
// back when the host closes its transport, so that neither counted
// against the sockets; 262,144 such connections made the host hold 0.45
// to 1.1 GiB.
//
// The constructors have no error case: past the limit they trap, naming
// the limit, as a call past the handle limit does. The count is per
// guest: each guest's connectionCount lives in its runtime.Guest.

// DefaultConnections is the default of Config.Connections: the default
// socket limit, one TLS connection per socket.
const DefaultConnections = 4096

// A connectionCount is one guest's count of TLS connections.
type connectionCount struct {
	limit int64
	caps  *capreport.Reporter // told of each refusal; may be nil
	n     atomic.Int64
}

// hold counts one more connection, or traps as fn past the limit.
// release gives it back, once.
func (c *connectionCount) hold(fn string) (release func()) {
	for {
		n := c.n.Load()
		if n >= c.limit {
			c.caps.Refused(capreport.Connections, c.limit)
			cabi.Trapf(fn, "the guest holds %d TLS connections, the most allowed (tlshost.Config.Connections, wasitls run --max-tls-connections); drop one first", c.limit)
		}
		if c.n.CompareAndSwap(n, n+1) {
			break
		}
	}
	var once sync.Once
	return func() { once.Do(func() { c.n.Add(-1) }) }
}

// connectionsKey is the key of a host's connectionCount in a
// runtime.Guest.
type connectionsKey struct{ h *Host }

func (h *Host) connectionsLimit() int64 {
	if h.cfg.Connections > 0 {
		return int64(h.cfg.Connections)
	}
	return DefaultConnections
}

// newConnectionCount is a guest's count of TLS connections.
func (h *Host) newConnectionCount(g *runtime.Guest) *connectionCount {
	return &connectionCount{limit: h.connectionsLimit(), caps: capreport.From(g)}
}

// holdConnection counts a new connection of the guest of ctx, or traps
// as fn past the limit (see hold). A call outside any runtime.Guest
// counts nothing and gets a nil release. Its callers, the constructors,
// run it under dropOnTrap with their other checks.
func (h *Host) holdConnection(ctx context.Context, fn string) (release func()) {
	g := runtime.GuestFrom(ctx)
	if g == nil {
		return nil
	}
	return guestValue(g, connectionsKey{h}, h.newConnectionCount).hold(fn)
}

// admitConnection runs the checks of the proposal's constructor fn, to
// which the guest gave its streams in and out: the guest is one h serves
// (admitCaller), and the connection fits its count (holdConnection),
// whose release it returns. On a trap it drops the streams first (see
// dropOnTrap).
func (h *Host) admitConnection(ctx context.Context, fn string, in, out cabi.Resource) (release func()) {
	dropOnTrap(in, out, func() {
		h.admitCaller(ctx, fn)
		release = h.holdConnection(ctx, fn)
	})
	return release
}
