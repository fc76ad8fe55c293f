//go:build unix

package wasiio

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// deadlineCounter is a TCP socket that counts the future read deadlines
// put on it: each is a runtime timer armed.
type deadlineCounter struct {
	*net.TCPConn
	future atomic.Int32
}

func (c *deadlineCounter) SetReadDeadline(t time.Time) error {
	if t.After(time.Now()) {
		c.future.Add(1)
	}
	return c.TCPConn.SetReadDeadline(t)
}

// lazyTransport returns a non-blocking transport over a counted socket.
func lazyTransport(t *testing.T) (*nonblockingConn, *deadlineCounter, *net.TCPConn) {
	t.Helper()
	a, b := tcpPair(t)
	dc := &deadlineCounter{TCPConn: a}
	nb := nonblocking(t, dc)
	t.Cleanup(func() { nb.Close() })
	return nb.(*nonblockingConn), dc, b
}

// readWithin runs c.Read(p) and fails the test if it has not returned
// within a generous bound (a hang guard, not a timing).
func readWithin(t *testing.T, c io.Reader, p []byte) (n int, err error) {
	t.Helper()
	returns(t, "Read", func() { n, err = c.Read(p) })
	return n, err
}

// A read deadline of a transport over a socket is put on the socket by
// the Read that waits for it, not by SetReadDeadline: a Read whose bytes
// are there arms no timer (the wasi:tls host sets a deadline before every
// read of a Go guest's waits, whose bytes are mostly there already).
// Before, every future deadline was put on the socket at once.
func TestTransportReadDeadlineArmedByWait(t *testing.T) {
	c, dc, peer := lazyTransport(t)
	peer.Write([]byte("xhello"))
	buf := make([]byte, 16)
	// The first byte read, the rest is in the socket.
	if n, err := readWithin(t, c, buf[:1]); n != 1 || err != nil {
		t.Fatalf("first Read: %d, %v", n, err)
	}
	c.SetReadDeadline(time.Now().Add(time.Minute))
	n, err := readWithin(t, c, buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Read with the bytes there: %q, %v", buf[:n], err)
	}
	c.SetReadDeadline(time.Time{})
	if got := dc.future.Load(); got != 0 {
		t.Fatalf("a Read whose bytes were there put %d deadlines on the socket, want 0", got)
	}

	// Nothing there: the Read puts the deadline on the socket and ends
	// at it (the peer is silent).
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if n, err := readWithin(t, c, buf); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read from a silent peer: %d, %v; want %v", n, err, os.ErrDeadlineExceeded)
	}
	if got := dc.future.Load(); got != 1 {
		t.Fatalf("a Read that waited put %d deadlines on the socket, want 1", got)
	}

	// A deadline that passed before the Read is reported, bytes there
	// or not, as the socket does.
	c.SetReadDeadline(time.Time{})
	peer.Write([]byte("late"))
	// The first byte read, the rest is in the socket.
	if n, err := readWithin(t, c, buf[:1]); n != 1 || err != nil {
		t.Fatalf("Read without a deadline: %d, %v", n, err)
	}
	at := time.Now().Add(time.Millisecond)
	c.SetReadDeadline(at)
	for !time.Now().After(at) {
		time.Sleep(time.Millisecond)
	}
	if n, err := readWithin(t, c, buf); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past its deadline: %d, %v; want %v", n, err, os.ErrDeadlineExceeded)
	}
	c.SetReadDeadline(time.Time{})
	if n, err := readWithin(t, c, buf); err != nil || string(buf[:n]) != "ate" {
		t.Fatalf("Read after the deadline was lifted: %q, %v", buf[:n], err)
	}
}

// A future deadline set while a Read waits (without one) ends that Read
// at it, as on a socket.
func TestTransportReadDeadlineDuringRead(t *testing.T) {
	c, _, _ := lazyTransport(t)
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 16))
		done <- err
	}()
	waitFor(t, func() bool {
		c.dmu.Lock()
		defer c.dmu.Unlock()
		return c.reading > 0
	}, func() string { return "the Read never began" })
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read: %v, want %v", err, os.ErrDeadlineExceeded)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a deadline set during a Read did not end it")
	}
}

// A peer's reset reaches a Read that has a deadline waiting for it, as it
// reaches one without: the reset is reported once by the socket, to the
// look that found nothing else there. Before, that look dropped it and
// the socket's own Read then found the end of the stream: a reset read
// as a clean end.
func TestTransportLazyReadReportsReset(t *testing.T) {
	c, _, peer := lazyTransport(t)
	peer.SetLinger(0)
	peer.Close() // a reset
	waitFor(t, func() bool { return resetArrived(t, c.conn.(*deadlineCounter).TCPConn) }, func() string {
		return "the peer's reset never arrived"
	})
	c.SetReadDeadline(time.Now().Add(time.Minute))
	if n, err := readWithin(t, c, make([]byte, 16)); n != 0 || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read after the peer's reset: %d, %v; want %v", n, err, syscall.ECONNRESET)
	}
}

// resetArrived reports whether c's socket has an error or a hang-up
// pending, without taking it.
func resetArrived(t *testing.T, c *net.TCPConn) bool {
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var revents int16
	raw.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, 0); err == nil {
			revents = fds[0].Revents
		}
	})
	return revents&(unix.POLLERR|unix.POLLHUP) != 0
}

// A future deadline set after one a Read put on the socket takes that one
// off the socket: ReadNow, which looks at the socket whatever deadline
// waits, then gets the bytes there rather than the old deadline's
// timeout (the wasi:tls host reads a guest's cleartext inside ReadNow
// between its waits, each of which sets a deadline).
func TestTransportLazyDeadlineLiftsArmed(t *testing.T) {
	c, _, peer := lazyTransport(t)
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	buf := make([]byte, 16)
	if n, err := readWithin(t, c, buf); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read from a silent peer: %d, %v; want %v", n, err, os.ErrDeadlineExceeded)
	}
	c.SetReadDeadline(time.Now().Add(time.Minute))
	peer.Write([]byte("x"))
	var n int
	var err error
	waitFor(t, func() bool {
		n, err = c.ReadNow(c, buf)
		return !errors.Is(err, ErrWouldBlock)
	}, func() string { return "the peer's byte never arrived" })
	if n != 1 || err != nil {
		t.Fatalf("ReadNow with a byte there: %d, %v", n, err)
	}
}

// A zero-length Read with a future deadline waiting puts nothing on the
// socket: it would not wait (the socket's Read returns at once for an
// empty buffer), so a timer armed for it is for nothing. The deadline
// stays lazy, for the next Read that waits.
func TestTransportZeroReadArmsNoDeadline(t *testing.T) {
	c, dc, _ := lazyTransport(t)
	c.SetReadDeadline(time.Now().Add(time.Minute))
	for range 3 {
		if n, err := readWithin(t, c, nil); n != 0 || err != nil {
			t.Fatalf("zero-length Read: %d, %v", n, err)
		}
	}
	if got := dc.future.Load(); got != 0 {
		t.Fatalf("zero-length Reads put %d deadlines on the socket, want 0", got)
	}
	// The next Read that waits still ends at the deadline.
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if n, err := readWithin(t, c, make([]byte, 4)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read from a silent peer: %d, %v; want %v", n, err, os.ErrDeadlineExceeded)
	}
	if got := dc.future.Load(); got != 1 {
		t.Fatalf("a Read that waited put %d deadlines on the socket, want 1", got)
	}
}

// writeWhenReading writes b to peer once a Read of c waits (a Read in
// progress that found nothing), so that the Read puts its deadline on
// the socket.
func writeWhenReading(t *testing.T, c *nonblockingConn, peer *net.TCPConn, b string) {
	t.Helper()
	go func() {
		for range 10000 {
			c.dmu.Lock()
			armed := c.reading > 0 && !c.rlazy
			c.dmu.Unlock()
			if armed {
				break
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(5 * time.Millisecond) // the Read is in the socket's wait
		peer.Write([]byte(b))
	}()
}

// A read deadline the socket already has is not armed again: a Go guest's
// waits set the same deadline (their timer's) over and over, and each
// Read that waited for it armed it anew, after SetReadDeadline had
// cleared it. Cleared or moved, it leaves the socket as before: a Read
// with no deadline waits past it, for the peer.
func TestTransportReadDeadlineKeptWhenSetAgain(t *testing.T) {
	c, dc, peer := lazyTransport(t)
	buf := make([]byte, 16)
	d := time.Now().Add(time.Minute)
	for i, b := range []string{"one", "two", "three"} {
		c.SetReadDeadline(d)
		writeWhenReading(t, c, peer, b)
		if n, err := readWithin(t, c, buf); err != nil || string(buf[:n]) != b {
			t.Fatalf("Read %d: %q, %v", i, buf[:n], err)
		}
	}
	if got := dc.future.Load(); got != 1 {
		t.Fatalf("the same deadline, set before three Reads that waited, was put on the socket %d times, want 1", got)
	}
	// Room for the Read below to get "four" before it on a loaded machine.
	soon := time.Now().Add(200 * time.Millisecond)
	c.SetReadDeadline(soon)
	writeWhenReading(t, c, peer, "four")
	if n, err := readWithin(t, c, buf); err != nil || string(buf[:n]) != "four" {
		t.Fatalf("Read with a near deadline: %q, %v", buf[:n], err)
	}
	c.SetReadDeadline(soon)
	c.SetReadDeadline(time.Time{})
	for !time.Now().After(soon.Add(10 * time.Millisecond)) {
		time.Sleep(time.Millisecond)
	}
	writeWhenReading(t, c, peer, "five")
	if n, err := readWithin(t, c, buf); err != nil || string(buf[:n]) != "five" {
		t.Fatalf("Read without a deadline, past the one it had: %q, %v", buf[:n], err)
	}
}
