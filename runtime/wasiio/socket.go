package wasiio

import (
	"errors"
	"io"
	"net"
	"syscall"
	"time"
)

// SocketStreams returns the input and output streams of a connected
// socket. closeIn and closeOut release what each stream holds of the
// socket; closeWrite is the socket's half-close (wasi:sockets shutdown of
// the send side), which must go through the streams because they may hold
// unsent bytes.
//
// Where the platform allows it (a syscall.Conn on unix), the streams are
// inline: reads and writes are non-blocking system calls on the guest's
// own calls, what the socket does not take is queued for a goroutine that
// lives only while something is unsent, and closeOut runs once that is out
// (or failed, or DefaultSendLinger after the drop). Elsewhere they are
// goroutine streams over conn, whose output stream, dropped with a write
// in flight, runs closeOut once that write is out (or failed, or
// DefaultSendLinger after the drop).
func SocketStreams(conn net.Conn, closeIn io.Closer, closeOut func() error) (in Input, out *OutputStream, closeWrite func() error) {
	return SocketStreamsLinger(conn, closeIn, closeOut, 0)
}

// SocketStreamsLinger is SocketStreams whose output stream, once dropped
// (or a transport over it closed), tries to deliver what it holds for at
// most linger, inline or goroutine stream alike; zero means
// DefaultSendLinger.
func SocketStreamsLinger(conn net.Conn, closeIn io.Closer, closeOut func() error, linger time.Duration) (in Input, out *OutputStream, closeWrite func() error) {
	return SocketStreamsBudget(conn, closeIn, closeOut, linger, nil)
}

// SocketStreamsBudget is SocketStreamsLinger whose inline streams' send
// queue counts what it holds beyond UnsentFloor against budget (nil:
// none), the guest's every socket together (see UnsentBudget). A
// goroutine stream, where sockets cannot be non-blocking, holds at most
// its write in flight (WriteBudget) and is not counted.
func SocketStreamsBudget(conn net.Conn, closeIn io.Closer, closeOut func() error, linger time.Duration, budget *UnsentBudget) (in Input, out *OutputStream, closeWrite func() error) {
	if sc, ok := conn.(syscall.Conn); ok && nonblockingCapable {
		if raw, err := sc.SyscallConn(); err == nil {
			ss := &socketStreams{}
			q := &ss.q
			q.init(conn, raw, linger)
			q.budget = budget
			ss.src = socketSource{conn: conn, raw: raw, q: q}
			ss.in.init(&ss.src, closeIn)
			ss.in.endOnDrop = true
			ss.out.init(q, func() error {
				q.Close(func() { closeOut() })
				return nil
			})
			ss.out.backlog = q
			return &ss.in, &ss.out, q.CloseWrite
		}
	}
	closeWrite = func() error {
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			return cw.CloseWrite()
		}
		return errNoCloseWrite
	}
	out = NewOutputStream(conn, closeOut)
	// A write in flight when the stream is dropped keeps the socket for
	// the same linger as an inline stream's queue.
	out.conn, out.linger = conn, linger
	if linger <= 0 {
		out.linger = DefaultSendLinger
	}
	return newSocketInputStream(conn, closeIn), out, closeWrite
}

// newSocketInputStream is the goroutine input stream of a socket: dropping
// it ends its goroutine's read in flight (see InputStream.Close).
func newSocketInputStream(conn net.Conn, closeIn io.Closer) *InputStream {
	in := NewInputStream(conn, closeIn)
	in.deadline = conn
	return in
}

var (
	errNoCloseWrite      = errors.New("wasiio: the connection cannot close its write side alone")
	errMismatchedStreams = errors.New("wasiio: transport over the input stream of one socket and the output stream of another")
)

// socketStreams is what a socket's inline streams are made of, in one
// allocation rather than four: they are made together and live about as
// long as each other (a transport over them holds both, and the queue
// outlives the output stream's drop while it lingers), so the few hundred
// bytes of one stream dropped before the other stay a little longer.
type socketStreams struct {
	src socketSource
	q   sendQueue
	in  InlineInputStream
	out OutputStream
}

// socketSource is a socket as an inline stream reads it.
type socketSource struct {
	conn net.Conn
	raw  syscall.RawConn
	q    *sendQueue // the socket's output, shared with a transport
}

func (s *socketSource) Read(p []byte) (int, error)        { return s.conn.Read(p) }
func (s *socketSource) ReadNow(p []byte) (int, error)     { return readNow(s.raw, p) }
func (s *socketSource) SetReadDeadline(t time.Time) error { return s.conn.SetReadDeadline(t) }

// socketTransport is Transport over a socket's inline streams. The
// transport writes through the output stream's queue, after anything the
// guest wrote. It reads the socket directly unless the input stream holds
// bytes (or is reading), which it delivers first through the stream.
func socketTransport(in *InlineInputStream, out *OutputStream, src *socketSource) (net.Conn, error) {
	if out.backlog != Backlog(src.q) {
		return nil, errMismatchedStreams
	}
	nc := &nonblockingConn{streamConn{in: in, out: out, conn: src.conn, raw: src.raw, q: src.q}}
	c := &nc.streamConn
	c.direct = in.untouched()
	if c.direct {
		return nc, nil
	}
	return c, nil
}
