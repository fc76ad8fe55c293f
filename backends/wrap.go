package backends

import "fmt"

// WrappedConn is the base of a Conn that wraps another one: embed it
// instead of a bare Conn, override the methods to decorate, and the
// optional interfaces of a Conn stay forwarded to the wrapped one.
//
//	type loggedConn struct {
//		backends.WrappedConn
//		log *slog.Logger
//	}
//
//	c, err := inner.Client(transport, cfg)
//	...
//	return &loggedConn{WrappedConn: backends.WrappedConn{Conn: c}, log: log}, nil
//
// A struct embedding a bare Conn has only Conn's methods, whatever the
// connection it holds has beyond them, and the host finds what a
// connection can do by type assertion: such a wrapper silently loses
// [ApplicationDataCounter] (a client's data during a post-handshake
// authentication then counts as its chain against the guest's limit on
// its peers' chains), [NonblockingConn] (a goroutine per stream instead
// of the guest's own calls, several times slower) and
// [KeyingMaterialExporter] (the guest's exporter fails).
//
// WrappedConn implements each of them, answering what the wrapped Conn
// answers, or, when it lacks one, what the host assumes of a Conn that
// lacks it: NonblockingTransport false, ApplicationDataRead 0,
// ExportKeyingMaterial an error wrapping [ErrNotSupported]. A wrapper that
// overrides Read, Write, Handshake, CloseWrite or Close so that they may
// block on anything but the transport breaks the NonblockingConn promise,
// and overrides NonblockingTransport to report false.
//
// The transport side is the wrapped backend's: a wrapper that hands it a
// transport of its own instead of the host's loses the transport's
// counters ([PeerHeapCounter], [PeerBacklogCounter], [ReadAheadCounter],
// [ReadAheadNotifier]), the bounds on what a peer makes the backend hold.
// Decorate the connection, not the transport.
//
// backends/conformance checks that a wrapper's connections answer what
// the connections they hold answer, and that they tell the transport's
// counters what the wrapped backend's tell.
type WrappedConn struct {
	Conn
}

var (
	_ NonblockingConn        = WrappedConn{}
	_ ApplicationDataCounter = WrappedConn{}
	_ KeyingMaterialExporter = WrappedConn{}
)

// Unwrap returns the wrapped Conn.
func (w WrappedConn) Unwrap() Conn { return w.Conn }

// NonblockingTransport implements [NonblockingConn]: what the wrapped
// Conn reports, false if it is no NonblockingConn.
func (w WrappedConn) NonblockingTransport() bool {
	nc, ok := w.Conn.(NonblockingConn)
	return ok && nc.NonblockingTransport()
}

// ApplicationDataRead implements [ApplicationDataCounter]: the wrapped
// Conn's count, 0 if it keeps none.
func (w WrappedConn) ApplicationDataRead() int64 {
	if ac, ok := w.Conn.(ApplicationDataCounter); ok {
		return ac.ApplicationDataRead()
	}
	return 0
}

// ExportKeyingMaterial implements [KeyingMaterialExporter] with the
// wrapped Conn's exporter; without one it fails with an error wrapping
// [ErrNotSupported].
func (w WrappedConn) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	x, ok := w.Conn.(KeyingMaterialExporter)
	if !ok {
		return nil, fmt.Errorf("backends: the wrapped connection has no exporter: %w", ErrNotSupported)
	}
	return x.ExportKeyingMaterial(label, context, length)
}
