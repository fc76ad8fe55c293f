package circlpq

import (
	"context"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// deafConn is a transport that stops reading once deaf is set: its Reads
// wait until it is closed, and the socket's bytes stay unread.
type deafConn struct {
	net.Conn
	deaf   atomic.Bool
	closed chan struct{}
	once   sync.Once
	sent   atomic.Int64 // bytes written since deaf was set
}

func (c *deafConn) Write(p []byte) (int, error) {
	if c.deaf.Load() {
		c.sent.Add(int64(len(p)))
	}
	return c.Conn.Write(p)
}

func (c *deafConn) Read(p []byte) (int, error) {
	if c.deaf.Load() {
		<-c.closed
		return 0, net.ErrClosed
	}
	return c.Conn.Read(p)
}

func (c *deafConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// TestCertificateRequestAnswersInBlockingRead: a client over the host's
// socket transport, its send queue near wasiio.MaxUnsent for a server
// that reads nothing, waits in a blocking read (the wasi:tls host's read
// when the guest waits on its input stream) while the server asks for
// its certificate again and again. The client writes each answer from
// within that read. Once they no longer fit, the read fails naming the
// peer that does not read, and the queue never held more than
// MaxUnsent. Before, the answer waited for room in the queue, a wait the
// read's deadline does not end, so the guest's call waited for as long
// as the peer did.
func TestCertificateRequestAnswersInBlockingRead(t *testing.T) {
	p := pki(t)
	before := runtime.NumGoroutine()
	craw, sraw := testnet.TCPPair(t)
	craw.SetWriteBuffer(4096)
	sraw.SetReadBuffer(4096)
	sraw.SetDeadline(time.Now().Add(30 * time.Second))
	tr, nb := socketTransport(t, craw)
	deaf := &deafConn{Conn: sraw, closed: make(chan struct{})}
	client, server := phaPairOver(t, tr, deaf, offer(p.clientEd.Identity()), nil)
	deaf.deaf.Store(true)
	// Within 200 bytes of MaxUnsent for a peer that reads nothing, so
	// that a single answer (its certificate alone is longer) overflows:
	// the server's requests after its first may wait for it. The writes
	// never wait.
	const near = wasiio.MaxUnsent - 200
	fillUnsent(t, nb, client, near, near)
	// The hang guard: the client's socket closed under its read ends
	// the wait in the queue, which a read deadline does not.
	guard := time.AfterFunc(20*time.Second, func() { craw.Close() })
	defer guard.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	var requests sync.WaitGroup
	for range maxAuthAnswers {
		requests.Add(1)
		go func() {
			defer requests.Done()
			server.RequestClientIdentity(ctx)
		}()
	}
	most := 0
	buf := make([]byte, 100)
	var err error
	for {
		tr.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err = nb.ReadWait(client, buf) // as the wasi:tls host reads when the guest waits
		if n, _ := nb.Backlog().Unsent(); n > most {
			most = n
		}
		if err != nil {
			break
		}
	}
	n, _ := nb.Backlog().Unsent()
	t.Logf("%v (the server sent %d bytes of requests; %d unsent, at most %d)", err, deaf.sent.Load(), n, most)
	if !strings.Contains(err.Error(), "the peer is not reading") {
		t.Errorf("client read: %v; want the peer that is not reading named", err)
	}
	if most > wasiio.MaxUnsent {
		t.Errorf("the send queue held %d bytes unsent, more than MaxUnsent (%d)", most, wasiio.MaxUnsent)
	}
	client.Close()
	cancel()
	server.Close()
	requests.Wait()
	// Nothing of the connection is left: the queue's flusher, ended by
	// the failure, and the server's requests.
	awaitGoroutines(t, before)
}
