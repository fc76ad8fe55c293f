package tlshost

import (
	"context"
	"sync"

	"github.com/wasitls/wasitls/backends"
	ioerror "github.com/wasitls/wasitls/bindings/wasi/io/error"
	"github.com/wasitls/wasitls/bindings/wasi/io/poll"
	"github.com/wasitls/wasitls/bindings/wasi/tls/types"
	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// draftHost serves the upstream draft, wasi:tls/types@0.2.0-draft: a client
// handshake built from a server name and the raw streams, finished in one
// step, and a connection whose only method sends close_notify. It runs on
// the same client session as the proposal, with every optional step
// skipped, so the same defaults and validation apply.
type draftHost struct{ h *Host }

var _ types.Host = draftHost{}

// NewClientHandshake creates the handshake; nothing is sent before finish.
func (d draftHost) NewClientHandshake(ctx context.Context, serverName string, in types.InputStream, out types.OutputStream) types.ClientHandshake {
	const fn = "wasi:tls/types#[constructor]client-handshake"
	// The checks of the proposal's constructor and connect, which trap a
	// guest the host does not serve, and the count of its connections,
	// before the streams are the host's.
	var pending *pendingSet
	var counted func()
	dropOnTrap(in, out, func() {
		pending = d.h.pending(ctx, fn)
		counted = d.h.holdConnection(ctx, fn)
	})
	// No session cache: the draft has no call to turn resumption off or
	// to ask whether a connection resumed, so it never resumes.
	t, held := d.h.transport(ctx, in, out)
	s := newClientSession(d.h.backend, d.h.cfg.clientBase(), t)
	s.counted = counted
	// The draft has no last error: the future carries the reason.
	d.h.limit(ctx, &s.ending, held, nil, nil)
	hs := &draftHandshake{s: s}
	if err := pending.admit(s); err != nil {
		hs.err = err // reported by the future
		d.h.logFailure("client-handshake constructor", err)
	} else if err := s.Connect(serverName); err != nil {
		pending.forget(s)
		hs.err = err
	} else {
		d.h.countPeer(ctx, "wasi:tls/types#[constructor]client-handshake", &s.ending)
	}
	return hs
}

// ClientHandshakeFinish runs the handshake. The future owns the session
// until the guest takes the connection out of it.
func (d draftHost) ClientHandshakeFinish(_ context.Context, this types.ClientHandshake) types.FutureClientStreams {
	hs := this.(*draftHandshake)
	hs.finished = true
	f := hs.s.Finish()
	if hs.err != nil {
		f = newFuture[backends.Conn]()
		f.resolve(nil, hs.err)
	}
	r := &hs.fut
	r.h, r.s, r.f = d.h, hs.s, f
	return r
}

// draftHandshake is the draft's client-handshake resource. It holds the
// future its finish makes, and the future the connection its get makes,
// so that a connection costs one allocation for the three: finish
// consumes the handshake, once, and the future hands out one connection.
type draftHandshake struct {
	s        *clientSession
	err      error
	finished bool
	fut      draftFuture
}

// Drop closes a handshake that was never finished.
func (hs *draftHandshake) Drop() {
	if !hs.finished {
		hs.s.Close()
	}
}

// draftFuture is future-client-streams.
type draftFuture struct {
	h *Host
	s *clientSession
	f *future[backends.Conn]

	mu     sync.Mutex
	handed bool // the connection resource took the session
	conn   draftConnection
}

var _ types.FutureClientStreams = (*draftFuture)(nil)

func (r *draftFuture) Subscribe(context.Context) poll.Pollable {
	return newPollable(r.f.source(), r)
}

type draftTriple = cabi.Tuple3[types.ClientConnection, types.InputStream, types.OutputStream]

func (r *draftFuture) Get(context.Context) (cabi.Result[cabi.Result[draftTriple, types.IOError], unit], bool) {
	c, err, st := r.f.take()
	switch {
	case st == futurePending:
		return cabi.Result[cabi.Result[draftTriple, types.IOError], unit]{}, false
	case st == futureTaken:
		return cabi.Err[cabi.Result[draftTriple, types.IOError], unit](unit{}), true
	case err != nil:
		// The draft carries the reason: a wasi:io/error whose debug string
		// is the backend's message.
		r.h.logFailure("client handshake (draft)", err)
		var e ioerror.Error = wasiio.NewError(err)
		return cabi.OK[cabi.Result[draftTriple, types.IOError], unit](cabi.Err[draftTriple, types.IOError](e)), true
	}
	r.mu.Lock()
	r.handed = true
	r.mu.Unlock()
	conn := &r.conn
	conn.s = r.s
	in, out := openStreams(c, &r.s.ending, conn)
	conn.out = out
	return cabi.OK[cabi.Result[draftTriple, types.IOError], unit](cabi.OK[draftTriple, types.IOError](draftTriple{F0: conn, F1: in, F2: out})), true
}

// Drop closes the session unless the guest took the connection.
func (r *draftFuture) Drop() {
	r.mu.Lock()
	handed := r.handed
	r.mu.Unlock()
	if !handed {
		r.s.Close()
	}
}

// draftConnection is the draft's client-connection resource; the streams
// are its children.
type draftConnection struct {
	s   *clientSession
	out *cleartextOutput
}

var _ types.ClientConnection = (*draftConnection)(nil)

// CloseOutput flushes the cleartext output and sends close_notify. The
// draft gives it no result: failures show on the streams.
func (c *draftConnection) CloseOutput(ctx context.Context) {
	closeOutput(ctx, c.out)
}

func (c *draftConnection) Drop() { c.s.Close() }
