package circlpq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// TestHostileReadAheadCopies: a client that never answers its server's
// post-handshake certificate request and streams data, while the server
// reads it 16 KiB at a time, each Read waking the request, which reads
// ahead again up to its bound (1 MiB), as awaitAuth does. The data the
// server holds read ahead must not be copied again for each Read: bytes
// copied (moved to the buffer's front, or into a larger buffer) stay
// within twice the bytes Read took, plus the growth to 1 MiB. Moving the
// data left to the front at each call copied up to 1 MiB per Read, 64
// bytes per byte the peer sent at this read size (256 at 4 KiB), for as
// long as the request waits (30 s by default in the host). The data must
// come out intact, in order.
func TestHostileReadAheadCopies(t *testing.T) {
	const size, chunk = 8 << 20, 16 << 10
	craw, sraw := tcpPair(t)
	client, server := phaPairOver(t, craw, sraw, nil, nil)
	pattern := func(i int) byte { return byte(i % 251) }
	wrote := make(chan error, 1)
	go func() {
		data := make([]byte, size)
		for i := range data {
			data[i] = pattern(i)
		}
		_, err := client.Write(data)
		wrote <- err
	}()
	first := func(b []byte) uintptr {
		if len(b) == 0 {
			return 0
		}
		return uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	}
	req := &authRequest{done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var delivered, copied int
	buf := make([]byte, chunk)
	check := func(n int) error {
		for i, b := range buf[:n] {
			if b != pattern(delivered+i) {
				return fmt.Errorf("byte %d read is %d, want %d", delivered+i, b, pattern(delivered+i))
			}
		}
		delivered += n
		return nil
	}
	// readForAuth is called only while the client has enough left to
	// send to fill its bound: it blocks for more otherwise.
	for delivered+len(server.input)+maxAuthBufferedInput+maxPlaintext <= size {
		server.in.Lock()
		at, kept := first(server.input), len(server.input)
		how, err := server.readForAuth(ctx, req)
		if kept > 0 && first(server.input) != at {
			copied += kept
		}
		server.in.Unlock()
		if err != nil {
			t.Fatalf("readForAuth: %v", err)
		}
		if how != authFull {
			t.Fatalf("readForAuth stopped with %d, want authFull", how)
		}
		n, err := server.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if err := check(n); err != nil {
			t.Fatal(err)
		}
	}
	for delivered < size {
		n, err := server.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if err := check(n); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d bytes read, %d bytes read ahead copied again (%.2f a byte)", delivered, copied, float64(copied)/float64(delivered))
	if most := 2*delivered + 2*maxAuthBufferedInput; copied > most {
		t.Errorf("reading %d bytes copied %d bytes read ahead again, want %d at most", delivered, copied, most)
	}
}

// TestReadDuringSilentRequest: a server's RequestClientIdentity reading
// ahead for its answer over a blocking transport, the client having sent
// some data and then nothing (no answer, no more data): a Read of the
// server's returns that data, not wait with it for the request's
// context, which a silent peer leaves to run out.
func TestReadDuringSilentRequest(t *testing.T) {
	craw, sraw := tcpPair(t)
	client, server := phaPairOver(t, craw, sraw, offer(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	requested := make(chan error, 1)
	go func() {
		_, err := server.RequestClientIdentity(ctx)
		requested <- err
	}()
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	// The request read the data ahead (a hang guard only), and reads on.
	for deadline := time.Now().Add(10 * time.Second); server.ApplicationDataRead() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the request read nothing ahead")
		}
	}
	awaitReadingAhead(t, server)
	read := readAsync(server, "hello")
	if err := readResult(t, read, "the server's Read waited for the request reading ahead of it"); err != nil {
		t.Fatalf("the server's Read: %v", err)
	}
	select {
	case err := <-requested:
		t.Fatalf("RequestClientIdentity returned %v without an answer", err)
	default:
	}
}

// TestReadDeadlineDuringRequest: a Read with a read deadline of its own,
// set through the connection, that cuts short a server's request reading
// ahead (see TestReadDuringSilentRequest), the client sending nothing,
// fails at its deadline: the deadline put back as the request's read
// stops is the Read's, not none.
func TestReadDeadlineDuringRequest(t *testing.T) {
	craw, sraw := tcpPair(t)
	_, server := phaPairOver(t, craw, sraw, offer(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go server.RequestClientIdentity(ctx)
	awaitReadingAhead(t, server)
	server.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	read := make(chan error, 1)
	go func() {
		_, err := server.Read(make([]byte, 10))
		read <- err
	}()
	if err := readResult(t, read, "the server's Read waited past its deadline"); !isTimeout(err) {
		t.Fatalf("the server's Read returned %v, want a timeout", err)
	}
}

// readResult waits for the error of a Read started on a goroutine, failing
// with hang if it has not returned after 10 s (a hang guard only).
func readResult(t *testing.T, read <-chan error, hang string) error {
	t.Helper()
	select {
	case err := <-read:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal(hang)
		return nil
	}
}

// readAsync reads once from c on a goroutine; the channel has the Read's
// error, or one if it returned other than want.
func readAsync(c *Conn, want string) <-chan error {
	read := make(chan error, 1)
	go func() {
		b := make([]byte, 10)
		n, err := c.Read(b)
		if err == nil && string(b[:n]) != want {
			err = fmt.Errorf("read %q, want %q", b[:n], want)
		}
		read <- err
	}()
	return read
}

// awaitReadingAhead waits until a request of s reads the transport ahead
// of Read (a hang guard only).
func awaitReadingAhead(t *testing.T, s *Conn) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		s.deadlineMu.Lock()
		reading := s.aheadReading
		s.deadlineMu.Unlock()
		if reading {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the request does not read ahead")
		}
	}
}

// TestReadAfterRequestStoppedAtKeyUpdate: a server's RequestClientIdentity
// reading ahead takes in a record that holds a whole KeyUpdate, and stops
// for a Read that waits before it handles it (readForAuth stops for a Read
// between records). The Read handles the KeyUpdate before it reads the
// next record, which the client protected with its new keys. Before, the
// Read read that record first and opened it with the old keys: "record
// authentication failed" (a TLS peer that packs messages into one record
// left one after the answer's Finished so too; the answer's Finished left
// so made a request wait for data that was there).
func TestReadAfterRequestStoppedAtKeyUpdate(t *testing.T) {
	craw, sraw := tcpPair(t)
	gate := &gatedConn{Conn: sraw, got: make(chan struct{}), release: make(chan struct{})}
	client, server := phaPairOver(t, craw, gate, offer(), nil)
	// The KeyUpdate's record: header, message (4 + 1 bytes), inner
	// content type and tag.
	gate.n = recordHeaderLen + 5 + 1 + aeadMaxOverhead
	gate.armed.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	requested := make(chan error, 1)
	go func() {
		_, err := server.RequestClientIdentity(ctx)
		requested <- err
	}()
	if err := client.KeyUpdate(false); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gate.got:
	case <-time.After(10 * time.Second): // a hang guard only
		t.Fatal("the request did not read the KeyUpdate")
	}
	read := readAsync(server, "hello")
	// The Read waits for the read side, then the request's transport
	// Read returns the KeyUpdate's record.
	for deadline := time.Now().Add(10 * time.Second); server.readers.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server's Read does not wait for the request")
		}
	}
	close(gate.release)
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := readResult(t, read, "the server's Read did not return"); err != nil {
		t.Fatalf("the server's Read: %v", err)
	}
	cancel()
	if err := <-requested; !errors.Is(err, context.Canceled) {
		t.Fatalf("RequestClientIdentity returned %v, want its context's end", err)
	}
}

// A gatedConn, once armed, makes its next Read read n bytes at least,
// close got, and return them only once release is closed.
type gatedConn struct {
	net.Conn
	armed        atomic.Bool
	n            int
	got, release chan struct{}
}

func (g *gatedConn) Read(p []byte) (int, error) {
	if !g.armed.CompareAndSwap(true, false) {
		return g.Conn.Read(p)
	}
	n, err := io.ReadAtLeast(g.Conn, p, g.n)
	close(g.got)
	<-g.release
	return n, err
}
