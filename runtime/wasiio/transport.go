package wasiio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wasitls/wasitls/bindings/wasi/io/streams"
)

// Transport turns a stream pair into a net.Conn, for code that needs a
// connection rather than streams (a TLS backend). The streams must have
// been moved out of the guest's table: the returned connection owns them,
// and its Close drops both.
//
// When the input stream never started reading ahead, reads go straight to
// its reader, and when the reader is a net.Conn (a TCP socket's streams)
// deadlines and addresses are those of that connection: the fast path,
// with no goroutine and no copy between the connection and its user.
// Otherwise bytes already read ahead are delivered first and reading
// continues through the stream's reader goroutine. A write in flight is
// completed before the first write through the connection.
//
// On the fast path, where the platform allows, the connection is also a
// [NonblockingTransport].
func Transport(input streams.InputStream, output streams.OutputStream) (net.Conn, error) {
	in, ok1 := input.(Input)
	out, ok2 := output.(*OutputStream)
	if !ok1 || !ok2 || in == nil || out == nil {
		return nil, fmt.Errorf("wasiio: transport over streams of another implementation (%T, %T)", input, output)
	}
	if il, ok := in.(*InlineInputStream); ok {
		if src, ok := il.src.(*socketSource); ok {
			return socketTransport(il, out, src)
		}
	}
	// One allocation whichever the connection turns out to be.
	nc := &nonblockingConn{}
	c := &nc.streamConn
	c.in, c.out = in, out
	c.conn, _ = in.reader().(net.Conn)
	if oc, ok := out.w.(net.Conn); !ok || oc != c.conn {
		c.conn = nil
	}
	c.direct = in.untouched()
	if sc, ok := c.conn.(syscall.Conn); ok && c.direct && nonblockingCapable {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
			c.q = newSendQueue(c.conn, raw, 0)
			c.ownQueue = true
			return nc, nil
		}
	}
	return c, nil
}

// A NonblockingTransport is a transport over a socket that never blocks its
// caller unless asked to:
//
//   - Write hands the bytes to the socket with a non-blocking system call
//     and queues what the socket did not take, for a goroutine that exists
//     only while something is unsent. It blocks only while more than
//     MaxUnsent bytes are unsent, and inside ReadNow never (see
//     MaxUnsent). Bytes accepted are delivered even after Close (for up
//     to the socket's linger, DefaultSendLinger unless its streams were
//     made with SocketStreamsLinger), so close_notify is not lost. A write deadline only
//     stops further Writes.
//   - Read blocks as usual, except inside ReadNow.
//
// The wasi:tls host uses it to run a backend's Read and Write on the
// guest's own calls (see backends.NonblockingConn).
type NonblockingTransport interface {
	net.Conn
	// ReadNow returns r.Read(p), during which this transport's Read
	// returns ErrWouldBlock instead of blocking: r is what reads the
	// transport (a TLS connection over it). Nothing else may read the
	// transport meanwhile.
	ReadNow(r io.Reader, p []byte) (int, error)
	// ReadWait returns r.Read(p), which may block in this transport's
	// Read as usual; but a Write meanwhile, the engine's own from within
	// r.Read (a KeyUpdate answer, an alert), does not wait for room
	// either, as inside ReadNow: it fails the connection instead, since
	// the read's deadline would not end that wait (see MaxUnsent).
	ReadWait(r io.Reader, p []byte) (int, error)
	// Backlog is what Write accepted and the socket has not taken yet.
	Backlog() Backlog
	// CloseWrite half-closes the socket once the backlog is out.
	CloseWrite() error
}

// nonblockingConn is a streamConn in non-blocking mode. It holds the
// streamConn, so that either is one allocation.
type nonblockingConn struct{ streamConn }

func (c *nonblockingConn) ReadNow(r io.Reader, p []byte) (int, error) {
	c.q.now.Store(true)
	defer c.q.now.Store(false)
	return r.Read(p)
}

func (c *nonblockingConn) ReadWait(r io.Reader, p []byte) (int, error) {
	c.q.reads.Add(1)
	defer c.q.reads.Add(-1)
	return r.Read(p)
}

func (c *nonblockingConn) Backlog() Backlog { return c.q }

// streamConn is the net.Conn of Transport.
type streamConn struct {
	in     Input
	out    *OutputStream
	conn   net.Conn // the common underlying connection, if any
	direct bool     // reads go to in.r

	// Non-blocking mode (a socket on a platform that allows it). Inside
	// ReadNow (q.now) reads fail with ErrWouldBlock instead of blocking.
	raw      syscall.RawConn
	q        *sendQueue // writes, when not nil
	ownQueue bool       // q is the transport's, not the output stream's

	wmu       sync.Mutex
	wready    bool // the stream's last write completed
	dmu       sync.Mutex
	rdeadline time.Time
	dchanged  *Signal // fired when rdeadline changes, for a Read waiting
	wdeadline time.Time
	wchanged  *Signal // fired when wdeadline changes, for a Write waiting
	// A future read deadline of a direct transport with raw I/O is put
	// on the socket by the first Read that would wait for it (lazyRead):
	// a deadline on the socket is a runtime timer, and arming one wakes
	// the network poller or starts a thread, for nothing when the read
	// finds its bytes there; a deadline the socket already has stays
	// (a Go guest's waits set their timer's over and over). rlazy:
	// rdeadline waits for such a Read, and the socket has none; rarmed:
	// the deadline the socket has; reading: Reads in progress, which
	// take a new deadline at once. Under dmu.
	rlazy   bool
	rarmed  time.Time
	reading int
	// rclosed is set, under dmu, once Close ended reads (endReads):
	// Reads fail with net.ErrClosed, and the read deadline stays in the
	// past.
	rclosed atomic.Bool

	closeOnce sync.Once
	closeErr  error
}

func (c *streamConn) Read(p []byte) (int, error) {
	if c.rclosed.Load() {
		return 0, net.ErrClosed
	}
	n, err := c.read(p)
	if err != nil && c.rclosed.Load() {
		return n, net.ErrClosed
	}
	return n, err
}

func (c *streamConn) read(p []byte) (int, error) {
	if c.q != nil {
		// Reading is waiting for the peer, who may wait for the end of
		// the stream first (see CloseWriteLater).
		c.q.completeCloseWrite()
	}
	if c.direct {
		if c.q != nil && c.q.now.Load() {
			return readNow(c.raw, p)
		}
		if c.lazyCapable() {
			return c.lazyRead(p)
		}
		return c.in.reader().Read(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if c.rclosed.Load() {
			return 0, net.ErrClosed
		}
		if err := c.awaitBefore(c.in, &c.rdeadline, &c.dchanged); err != nil {
			return 0, err
		}
		if n, err, ok := c.in.readPending(p); ok {
			return n, err
		}
	}
}

// lazyCapable reports whether the transport reads its socket directly and
// can look without waiting, so that a future read deadline waits for a
// Read that would wait (see rlazy).
func (c *streamConn) lazyCapable() bool {
	return c.direct && c.conn != nil && c.raw != nil && nonblockingCapable
}

// lazyRead is Read on a lazyCapable transport: with a deadline waiting
// for it, it takes what the socket has without waiting, and puts the
// deadline on the socket only when it would wait (or the deadline has
// passed, which it then reports as the socket would).
func (c *streamConn) lazyRead(p []byte) (int, error) {
	c.dmu.Lock()
	lazy := c.rlazy
	passed := lazy && !time.Now().Before(c.rdeadline)
	c.reading++
	c.dmu.Unlock()
	defer func() {
		c.dmu.Lock()
		c.reading--
		c.dmu.Unlock()
	}()
	// An empty p does not wait (the socket's Read returns at once): the
	// deadline stays for a Read that does.
	if lazy && len(p) > 0 {
		if !passed {
			n, err := readNow(c.raw, p)
			switch {
			case err == nil, err == errEOF:
				return n, err
			case errors.Is(err, ErrWouldBlock):
			default:
				if errno, ok := socketError(err); ok {
					// The socket reports an error (a reset) once:
					// to this look, not to a Read after it, which
					// would find the end of the stream.
					return 0, &net.OpError{Op: "read", Net: c.conn.LocalAddr().Network(), Source: c.conn.LocalAddr(), Addr: c.conn.RemoteAddr(), Err: os.NewSyscallError("read", errno)}
				}
			}
			// Nothing there (or the descriptor's own error): the
			// socket's Read waits or reports it.
		}
		c.dmu.Lock()
		if c.rlazy {
			c.rlazy = false
			c.rarmed = c.rdeadline
			c.conn.SetReadDeadline(c.rdeadline)
		}
		c.dmu.Unlock()
	}
	return c.in.reader().Read(p)
}

// socketError returns the system's error in err, a failed read(2). Its
// own function, so that errors.As's target moves to the heap only for an
// error, not on every read.
func socketError(err error) (syscall.Errno, bool) {
	var errno syscall.Errno
	return errno, errors.As(err, &errno)
}

// awaitBefore waits until src may be ready or the deadline *dl passed
// (os.ErrDeadlineExceeded). A new deadline (SetReadDeadline,
// SetWriteDeadline) fires *changed, made here, and wakes the wait, which
// the caller starts over with it: a deadline moved into the past ends a
// Read or Write in progress, as it does on a socket (the wasi:tls host
// interrupts a backend that way).
func (c *streamConn) awaitBefore(src Source, dl *time.Time, changed **Signal) error {
	c.dmu.Lock()
	t := *dl
	if *changed == nil {
		*changed = NewSignal()
	}
	ch := *changed
	c.dmu.Unlock()
	if !t.IsZero() && !time.Now().Before(t) {
		return os.ErrDeadlineExceeded
	}
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if !t.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, t)
	}
	defer cancel()
	if _, err := Wait(ctx, []Source{src, ch}); err != nil {
		return os.ErrDeadlineExceeded
	}
	return nil
}

func (c *streamConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.wready {
		if err := c.waitWritable(); err != nil {
			return 0, err
		}
		if err := c.out.waitIdle(); err != nil {
			if IsClosed(err) {
				return 0, net.ErrClosed
			}
			return 0, Cause(err)
		}
		c.wready = true
	}
	if c.q != nil {
		return c.q.Write(p)
	}
	return c.out.w.Write(p)
}

// waitWritable waits until the output stream takes a write (what it
// accepted before is out), or the write deadline passed (awaitBefore).
func (c *streamConn) waitWritable() error {
	for !c.out.Ready() {
		if err := c.awaitBefore(c.out, &c.wdeadline, &c.wchanged); err != nil {
			return err
		}
	}
	return nil
}

// CloseWrite closes the write side when the underlying connection can.
func (c *streamConn) CloseWrite() error {
	if c.q != nil {
		return c.q.CloseWrite()
	}
	if cw, ok := c.conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("wasiio: the transport cannot close its write side alone")
}

// CloseWriteLater is CloseWrite for a caller that closes the connection
// and the socket soon after, usually: when the transport writes through a
// send queue (a socket's, on unix), writes stop now and the socket's
// shutdown(2) is deferred until CompleteCloseWrite or the transport's next
// Read, and is not made at all if the socket is closed first, whose
// close(2) sends the end of the stream anyway. A peer sees the end while
// the socket stays open only once one of those runs: the caller must call
// CompleteCloseWrite within a bound. Otherwise it is CloseWrite.
func (c *streamConn) CloseWriteLater() error {
	if c.q == nil {
		return c.CloseWrite()
	}
	c.q.closeWriteLater()
	return nil
}

// CompleteCloseWrite does the half-close CloseWriteLater deferred, if it
// is not done yet; after the socket was closed it makes no system call.
func (c *streamConn) CompleteCloseWrite() {
	if c.q != nil {
		c.q.completeCloseWrite()
	}
}

func (c *streamConn) Close() error {
	c.closeOnce.Do(func() {
		c.endReads()
		err1 := c.in.Close()
		if c.ownQueue {
			// The output stream holds the socket until what was
			// accepted is out.
			c.q.Close(func() { c.out.Close() })
			c.closeErr = err1
			return
		}
		err2 := c.out.Close()
		c.closeErr = errors.Join(err1, err2)
	})
	return c.closeErr
}

// endReads makes Reads fail from now on and ends one in progress: a
// direct transport's with a read deadline in the past on the socket (or
// the stream's reader), which no later deadline replaces, since closing
// the streams leaves open a socket the guest's tcp-socket holds, and a
// read of a silent peer would go on; another's by waking its wait.
func (c *streamConn) endReads() {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.rclosed.Store(true)
	if c.dchanged != nil {
		c.dchanged.Fire()
		c.dchanged = nil
	}
	if !c.direct {
		return
	}
	c.rlazy, c.rarmed = false, longAgo
	if c.conn != nil {
		c.conn.SetReadDeadline(longAgo)
	} else if dr, ok := c.in.reader().(interface{ SetReadDeadline(time.Time) error }); ok {
		dr.SetReadDeadline(longAgo)
	}
}

type streamAddr struct{}

func (streamAddr) Network() string { return "wasi-stream" }
func (streamAddr) String() string  { return "wasi-stream" }

func (c *streamConn) LocalAddr() net.Addr {
	if c.conn != nil {
		return c.conn.LocalAddr()
	}
	return streamAddr{}
}

func (c *streamConn) RemoteAddr() net.Addr {
	if c.conn != nil {
		return c.conn.RemoteAddr()
	}
	return streamAddr{}
}

func (c *streamConn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

// setDeadline sets *dl, the read or write deadline, to t and fires
// *changed, which wakes a wait of awaitBefore on it.
func (c *streamConn) setDeadline(dl *time.Time, changed **Signal, t time.Time) {
	c.dmu.Lock()
	*dl = t
	if *changed != nil {
		(*changed).Fire()
		*changed = nil
	}
	c.dmu.Unlock()
}

func (c *streamConn) SetReadDeadline(t time.Time) error {
	c.setDeadline(&c.rdeadline, &c.dchanged, t)
	if !c.direct {
		return nil
	}
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if c.rclosed.Load() {
		return nil // closed: the deadline stays in the past (endReads)
	}
	if c.lazyCapable() {
		t := c.rdeadline // the last set, whichever call set it
		if c.reading == 0 && t.After(time.Now()) {
			if t.Equal(c.rarmed) {
				// The socket has it: clearing it would make
				// the next Read that waits arm it again.
				c.rlazy = false
				return nil
			}
			// Put on the socket by a Read that would wait for it.
			c.rlazy = true
			if !c.rarmed.IsZero() {
				c.rarmed = time.Time{}
				return c.conn.SetReadDeadline(time.Time{})
			}
			return nil
		}
		c.rlazy = false
		c.rarmed = t
		return c.conn.SetReadDeadline(t)
	}
	if c.conn == nil {
		if dr, ok := c.in.reader().(interface{ SetReadDeadline(time.Time) error }); ok {
			return dr.SetReadDeadline(t)
		}
		return os.ErrNoDeadline
	}
	return c.conn.SetReadDeadline(t)
}

func (c *streamConn) SetWriteDeadline(t time.Time) error {
	c.setDeadline(&c.wdeadline, &c.wchanged, t)
	if c.q != nil {
		c.q.SetDeadline(t)
		return nil
	}
	if dw, ok := c.out.w.(interface{ SetWriteDeadline(time.Time) error }); ok {
		return dw.SetWriteDeadline(t)
	}
	return os.ErrNoDeadline
}
