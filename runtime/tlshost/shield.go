package tlshost

import (
	"context"
	"fmt"
	"net"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/safelog"
)

// This file is the host's shield against a backend that panics. A backend
// is code the embedder may have written; a peer or a guest that finds a
// bug in it must cost at most that connection. A panic on a goroutine the
// host started (the handshake, a stream's reader or writer, a bounded
// Close or CloseWrite, post-handshake authentication) would end the whole
// process, every guest of every runtime; one on the guest's own call would
// become a trap of the guest's instance. So every call the host makes into
// a backend goes through a shield: the backend's connection is a
// shieldedConn from the moment the backend made it, and the Backend's
// own methods a guest can reach (Client, Server, ParseIdentity) run under
// shield.catch. A panic becomes a *BackendPanicError, the failure of that
// call, which the host reports as it reports the backend's errors (a
// failed handshake, a stream error, an error result); the connection is
// broken from then on.

// A BackendPanicError is the failure of a call into a backend that
// panicked. Its message is one line naming the backend, the operation and
// the panic's value; the stack goes to the host's log (Config.Logger),
// never to the guest.
type BackendPanicError struct {
	Backend string // the backend's name
	Op      string // what the host called, such as "Handshake" or "Read"
	Value   string // the panic's value, on one line, at most 200 bytes (safelog.PanicValue)
}

func (e *BackendPanicError) Error() string {
	return "tlshost: the " + e.Backend + " backend panicked in " + e.Op + ": " + e.Value
}

// A shield turns a panic in a backend's code into an error. The zero
// shield logs nothing.
type shield struct {
	backend string
	// log, if not nil, logs a panic with its stack.
	log func(err error, stack []byte)
	// broken, if not nil, is told after a panic was recovered.
	broken breaker
}

// A breaker is told of the panic that broke a connection (see
// shieldConn). An interface rather than a func: the connection and the
// session it reports to are told without a closure per connection.
type breaker interface{ broke(p *BackendPanicError) }

// breakFunc is a func as a breaker.
type breakFunc func(p *BackendPanicError)

func (f breakFunc) broke(p *BackendPanicError) { f(p) }

// catch is deferred around a call into the backend: it recovers a panic
// of the call, for op, logs it and sets *err to its BackendPanicError.
// It must be deferred directly (recover works in the deferred call only).
// The connection breaks (broken) even when the log itself panics (the
// host's log recovers a Config.Logger's panic; any other goes on): its
// transport is closed whatever the logger does.
func (s *shield) catch(op string, err *error) {
	v := recover()
	if v == nil {
		return
	}
	s.fail(&BackendPanicError{Backend: s.backend, Op: op, Value: safelog.PanicValue(v)}, err)
}

// fail is the failure of a call into the backend by p, as catch makes it
// of a panic: *err (when err is not nil) is p, p is logged and breaks
// the connection.
func (s *shield) fail(p *BackendPanicError, err *error) {
	if err != nil {
		*err = p
	}
	if s.broken != nil {
		defer s.broken.broke(p)
	}
	if s.log != nil {
		s.log(p, debug.Stack())
	}
}

// A shieldedConn is a backend's connection as the host holds it: each
// method runs the backend's under the shield. After a panic the
// connection is broken: the transport is closed (so that a Read or Write
// of the backend in progress on another goroutine returns) and every
// later call fails with the panic's error without entering the backend,
// whose state is unknown (it may hold a lock for ever); Close closes no
// more than the transport. A call in progress that fails meanwhile (its
// transport closed under it) fails with the panic too: that is the
// reason the guest reads. The optional interfaces of backends are
// forwarded: NonblockingTransport reports what the backend's does,
// ExportKeyingMaterial fails with backends.ErrNotSupported when it has
// none, ApplicationDataRead reports 0 when it has none.
type shieldedConn struct {
	inner  backends.Conn
	shield shield
	failed atomic.Pointer[BackendPanicError]
	// onBroke, if not nil, is told of the first panic (see shieldConn).
	onBroke breaker
}

var (
	_ backends.NonblockingConn            = (*shieldedConn)(nil)
	_ backends.KeyingMaterialExporter     = (*shieldedConn)(nil)
	_ backends.ApplicationDataCounter     = (*shieldedConn)(nil)
	_ interface{ Unwrap() backends.Conn } = (*shieldedConn)(nil)
)

// shieldConn shields conn; broke, told once, of the first panic,
// closes what it reads and writes (its guard) and records the break (see
// ending.broke), and log logs a panic. conn may be nil.
func shieldConn(conn backends.Conn, backend string, broke breaker, log func(error, []byte)) backends.Conn {
	if conn == nil {
		return nil
	}
	c := &shieldedConn{inner: conn, onBroke: broke}
	c.shield = shield{backend: backend, log: log, broken: c}
	if nc, ok := conn.(net.Conn); ok {
		return &shieldedNetConn{c, nc}
	}
	return c
}

// A shieldedNetConn is the shieldedConn of a backend's connection that is
// a net.Conn (circl-pq's): TLS tunnelled in its cleartext (see
// wasiio.Transport) sets its deadlines, which fail with the panic, without
// entering the backend, once the connection is broken.
type shieldedNetConn struct {
	*shieldedConn
	nc net.Conn
}

var _ net.Conn = (*shieldedNetConn)(nil)

func (c *shieldedNetConn) LocalAddr() net.Addr  { return c.nc.LocalAddr() }
func (c *shieldedNetConn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

func (c *shieldedNetConn) SetDeadline(t time.Time) error {
	return c.do("SetDeadline", func() error { return c.nc.SetDeadline(t) })
}

func (c *shieldedNetConn) SetReadDeadline(t time.Time) error {
	return c.do("SetReadDeadline", func() error { return c.nc.SetReadDeadline(t) })
}

func (c *shieldedNetConn) SetWriteDeadline(t time.Time) error {
	return c.do("SetWriteDeadline", func() error { return c.nc.SetWriteDeadline(t) })
}

// Unwrap returns the backend's connection.
func (c *shieldedConn) Unwrap() backends.Conn { return c.inner }

// broke records p as the panic that broke the connection, if it is the
// first, and tells onBroke of it.
func (c *shieldedConn) broke(p *BackendPanicError) {
	if c.failed.CompareAndSwap(nil, p) && c.onBroke != nil {
		c.onBroke.broke(p)
	}
}

// broken returns the panic that broke the connection, as an error, or nil.
func (c *shieldedConn) broken() error {
	if p := c.failed.Load(); p != nil {
		return p
	}
	return nil
}

// cause is err, the failure of a call into the backend, or the panic that
// broke the connection meanwhile (on another goroutine: its transport
// was closed under this call), which is the reason.
func (c *shieldedConn) cause(err error) error {
	if err != nil {
		if p := c.broken(); p != nil {
			return p
		}
	}
	return err
}

// call is f, the backend's method op, as every method that returns an
// error calls it: on a broken connection it fails with the panic without
// entering the backend; a panic of f breaks the connection and is its
// error; f's error is the panic when one broke the connection meanwhile
// (see cause).
func call[T any](c *shieldedConn, op string, f func() (T, error)) (v T, err error) {
	if err := c.broken(); err != nil {
		return v, err
	}
	defer c.shield.catch(op, &err)
	v, err = f()
	return v, c.cause(err)
}

// do is call for a method whose result is an error alone.
func (c *shieldedConn) do(op string, f func() error) (err error) {
	if err := c.broken(); err != nil {
		return err
	}
	defer c.shield.catch(op, &err)
	return c.cause(f())
}

func (c *shieldedConn) Handshake(ctx context.Context) error {
	return c.do("Handshake", func() error { return c.inner.Handshake(ctx) })
}

// Read and Write, called for every record, are call written out: through
// call, the closure's call added 2 ns to the 6.5 the shield costs a call
// (BenchmarkShield's nopConn, both shapes alternated in one process).
//
// A count outside p is the backend's bug as a panic is (the host's
// streams slice their buffers by it, on goroutines of their own): it
// fails the call and breaks the connection as one (badCount).
func (c *shieldedConn) Read(p []byte) (n int, err error) {
	if err := c.broken(); err != nil {
		return 0, err
	}
	defer c.shield.catch("Read", &err)
	if n, err = c.inner.Read(p); uint(n) > uint(len(p)) {
		return 0, c.badCount("Read", n, len(p))
	}
	return n, c.cause(err)
}

func (c *shieldedConn) Write(p []byte) (n int, err error) {
	if err := c.broken(); err != nil {
		return 0, err
	}
	defer c.shield.catch("Write", &err)
	if n, err = c.inner.Write(p); uint(n) > uint(len(p)) {
		return 0, c.badCount("Write", n, len(p))
	}
	return n, c.cause(err)
}

// badCount fails op, a Read or Write whose count n lies outside its
// buffer of size bytes, as a panic of it would (shield.fail), and
// returns its error.
func (c *shieldedConn) badCount(op string, n, size int) (err error) {
	value := fmt.Sprintf("%s returned %d for a buffer of %d bytes", op, n, size)
	c.shield.fail(&BackendPanicError{Backend: c.shield.backend, Op: op, Value: value}, &err)
	return err
}

func (c *shieldedConn) CloseWrite() error { return c.do("CloseWrite", c.inner.CloseWrite) }

// Close closes the backend's connection; a broken one's transport was
// closed already.
func (c *shieldedConn) Close() (err error) {
	if c.broken() != nil {
		return nil
	}
	defer c.shield.catch("Close", &err)
	return c.inner.Close()
}

// State is the backend's; a broken connection's is the zero State (see
// ending.State).
func (c *shieldedConn) State() (st backends.State) {
	if c.broken() != nil {
		return st
	}
	defer c.shield.catch("State", nil)
	return c.inner.State()
}

func (c *shieldedConn) RequestClientIdentity(ctx context.Context) ([][]byte, error) {
	return call(c, "RequestClientIdentity", func() ([][]byte, error) { return c.inner.RequestClientIdentity(ctx) })
}

func (c *shieldedConn) NonblockingTransport() (ok bool) {
	nc, is := c.inner.(backends.NonblockingConn)
	if !is || c.broken() != nil {
		return false
	}
	defer c.shield.catch("NonblockingTransport", nil)
	return nc.NonblockingTransport()
}

func (c *shieldedConn) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	x, ok := c.inner.(backends.KeyingMaterialExporter)
	if !ok {
		return nil, fmt.Errorf("%s: %w", c.shield.backend, backends.ErrNotSupported)
	}
	return call(c, "ExportKeyingMaterial", func() ([]byte, error) { return x.ExportKeyingMaterial(label, context, length) })
}

// ApplicationDataRead is the backend's count, 0 when it keeps none.
func (c *shieldedConn) ApplicationDataRead() (n int64) {
	ac, ok := c.inner.(backends.ApplicationDataCounter)
	if !ok || c.broken() != nil {
		return 0
	}
	defer c.shield.catch("ApplicationDataRead", nil)
	return ac.ApplicationDataRead()
}
