package tlshost

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// cutSocket is a socket whose streams are goroutine streams, as where a
// socket cannot be non-blocking (it hides syscall.Conn), and which runs
// onCut, once armed, in the Read that the first read deadline that has
// passed ends, before that Read returns.
type cutSocket struct {
	net.Conn
	reading atomic.Int32 // Reads in progress
	mu      sync.Mutex
	onCut   func()
}

func (c *cutSocket) Read(p []byte) (int, error) {
	c.reading.Add(1)
	n, err := c.Conn.Read(p)
	c.reading.Add(-1)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.mu.Lock()
		f := c.onCut
		c.onCut = nil
		c.mu.Unlock()
		if f != nil {
			f()
		}
	}
	return n, err
}

func (c *cutSocket) armCut(f func()) {
	c.mu.Lock()
	c.onCut = f
	c.mu.Unlock()
}

// streamReaders counts the goroutines of input streams reading ahead
// (wasiio's goroutine mode) for a TLS connection's cleartext.
func streamReaders() int {
	buf := make([]byte, 1<<20)
	n := 0
	for _, g := range strings.Split(string(buf[:goruntime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "wasiio.(*InputStream).run") && strings.Contains(g, "circl-pq.(*Conn).Read") {
			n++
		}
	}
	return n
}

// TestDropEndsReadBehindRequest: over goroutine streams (a socket that
// cannot be non-blocking), a circl-pq server's post-handshake certificate
// request reads the socket ahead of the guest, the client silent; the
// cleartext input stream's goroutine reads, which cuts the request's read
// short (a read deadline that has passed), and the guest drops the stream
// just then, as the request's read ends. The goroutine's read ends: the
// drop's deadline is the one the engine puts back as the cut read stops.
// Before, the drop set its deadline on the transport, beneath the engine,
// which put back the deadline last set through it (none), and the
// goroutine read the silent client until the connection closed.
func TestDropEndsReadBehindRequest(t *testing.T) {
	checkNoLeak(t)
	ours, peer, _ := silentPair(t)
	sock := &cutSocket{Conn: struct{ net.Conn }{ours}}
	sin, sout, _ := wasiio.SocketStreams(sock, io.NopCloser(nil), func() error { return nil })
	tr, err := wasiio.Transport(sin, sout)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tr.(wasiio.NonblockingTransport); ok {
		t.Fatal("the transport is non-blocking: this test needs goroutine streams")
	}
	s, conn, _ := authPair(t, tr, peer, time.Minute, func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
		return nil, nil
	})
	in, out := openStreams(conn, &s.ending, nil)
	defer out.Close()
	if _, ok := in.Input.(*wasiio.InputStream); !ok {
		t.Fatalf("the input stream is %T, want a goroutine stream", in.Input)
	}
	before := streamReaders()
	if _, err := s.RequestClientIdentityPost(); err != nil {
		t.Fatal(err)
	}
	// The request reads the socket (a hang guard only): past its look for
	// a Read waiting, so that the Read's cut ends the socket's read.
	for deadline := time.Now().Add(waitLimit); sock.reading.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the request does not read the socket")
		}
	}
	dropped := make(chan struct{})
	sock.armCut(func() {
		in.Close()
		close(dropped)
	})
	// The stream's goroutine starts reading: its Read cuts the request's.
	if _, err := in.Read(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	select {
	case <-dropped:
	case <-time.After(waitLimit): // a hang guard only
		t.Fatal("the stream's read did not cut the request's read short")
	}
	deadline := time.Now().Add(waitLimit) // a hang guard only
	for streamReaders() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("the dropped stream's goroutine still reads\n%s", buf[:goruntime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}
