package bench

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The kinds of connection the soak's clients make. The fast kinds run on
// the workers in turn; the slow kinds (silent and half-ClientHello peers)
// hold their connection for SlowHold on two clients of their own.
const (
	kindHandshake = "handshake" // full handshake, one byte each way, close
	kindBulk      = "bulk"      // BulkBytes echoed, checked, close
	kindEcho      = "echo"      // 50 one-byte round trips
	kindAbort     = "abort"     // the client leaves mid-handshake, after the server's first flight arrives
	kindReset     = "reset"     // a TCP reset right after the handshake
	kindSilent    = "silent"    // connect, send nothing
	kindHalfHello = "half-hello"
)

var (
	fastKinds = []string{kindHandshake, kindEcho, kindBulk, kindHandshake, kindAbort, kindEcho, kindReset}
	soakKinds = []string{kindHandshake, kindBulk, kindEcho, kindAbort, kindReset, kindSilent, kindHalfHello}
)

// recordTypeAlert is the TLS record type of an alert.
const recordTypeAlert = 21

// clientTimeout bounds every step of a client that expects an answer.
const clientTimeout = 30 * time.Second

// soakLoad is the native clients of a soak.
type soakLoad struct {
	opts      SoakOptions
	addrs     []string
	cfg       *tls.Config
	halfHello []byte
	stats     *soakStats
	// gate: each connection holds it for reading; a sample takes it for
	// writing, which waits for the connections in flight and holds new
	// ones back.
	gate sync.RWMutex
	next atomic.Uint64
	// quiet closes when a sample wants the load to pause: the slow peers
	// leave at once instead of holding on for SlowHold.
	mu    sync.Mutex
	quiet chan struct{}
}

// pause takes the gate for a sample once the connections in flight ended;
// resume lets the load go on.
func (l *soakLoad) pause() {
	l.mu.Lock()
	close(l.quiet)
	l.mu.Unlock()
	l.gate.Lock()
}

func (l *soakLoad) resume() {
	l.mu.Lock()
	l.quiet = make(chan struct{})
	l.mu.Unlock()
	l.gate.Unlock()
}

func (l *soakLoad) quietCh() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.quiet
}

// start runs the workers until stop closes.
func (l *soakLoad) start(wg *sync.WaitGroup, stop <-chan struct{}) {
	run := func(kinds []string, offset int) {
		defer wg.Done()
		for i := offset; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			l.gate.RLock()
			kind := kinds[i%len(kinds)]
			addr := l.addrs[l.next.Add(1)%uint64(len(l.addrs))]
			l.stats.add(kind, l.connect(kind, addr))
			l.gate.RUnlock()
		}
	}
	for w := range l.opts.Workers {
		wg.Add(1)
		go run(fastKinds, w)
	}
	wg.Add(2)
	go run([]string{kindSilent}, 0)
	go run([]string{kindHalfHello}, 0)
}

// connect makes one connection of kind to addr. A nil error is the
// expected outcome, provoked failures included.
func (l *soakLoad) connect(kind, addr string) error {
	raw, err := net.DialTimeout("tcp4", addr, clientTimeout)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(clientTimeout))
	switch kind {
	case kindSilent, kindHalfHello:
		return l.slowPeer(kind, raw)
	case kindAbort:
		return l.abort(raw)
	}
	c := tls.Client(raw, l.cfg)
	if err := c.Handshake(); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	switch kind {
	case kindHandshake, kindReset:
		if err := roundTrips(c, 1); err != nil {
			return err
		}
		if kind == kindReset {
			raw.(*net.TCPConn).SetLinger(0) // Close sends a reset
		}
		return nil
	case kindEcho:
		return roundTrips(c, 50)
	case kindBulk:
		return bulkEcho(c, l.opts.BulkBytes)
	}
	return fmt.Errorf("unknown kind %q", kind)
}

// roundTrips writes one byte and reads it back, n times.
func roundTrips(c io.ReadWriter, n int) error {
	b := []byte{0}
	for i := range n {
		b[0] = byte(i)
		if _, err := c.Write(b); err != nil {
			return fmt.Errorf("echo write: %w", err)
		}
		if _, err := io.ReadFull(c, b); err != nil {
			return fmt.Errorf("echo read: %w", err)
		}
		if b[0] != byte(i) {
			return fmt.Errorf("echo: got %d, want %d", b[0], byte(i))
		}
	}
	return nil
}

// bulkEcho writes n bytes while reading them back, and checks them.
func bulkEcho(c io.ReadWriter, n int) error {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i * 7)
	}
	werr := make(chan error, 1)
	go func() {
		for off := 0; off < n; off += 16 << 10 {
			if _, err := c.Write(data[off:min(n, off+16<<10)]); err != nil {
				werr <- fmt.Errorf("bulk write: %w", err)
				return
			}
		}
		werr <- nil
	}()
	got := make([]byte, n)
	_, rerr := io.ReadFull(c, got)
	if err := <-werr; err != nil {
		return err
	}
	if rerr != nil {
		return fmt.Errorf("bulk read: %w", rerr)
	}
	if !bytes.Equal(got, data) {
		return errors.New("bulk: the echo differs from what was sent")
	}
	return nil
}

// abort starts a handshake and closes the connection as soon as the
// server's first flight arrives: the server is then waiting for the
// client's Finished.
func (l *soakLoad) abort(raw net.Conn) error {
	c := tls.Client(&closeAfterRead{Conn: raw}, l.cfg)
	if err := c.Handshake(); err == nil {
		return errors.New("abort: the handshake completed over a closed connection")
	}
	return nil
}

// closeAfterRead closes the connection after its first successful read.
type closeAfterRead struct {
	net.Conn
	read bool
}

func (c *closeAfterRead) Read(b []byte) (int, error) {
	if c.read {
		c.Conn.Close()
		return 0, io.ErrUnexpectedEOF
	}
	n, err := c.Conn.Read(b)
	c.read = n > 0
	return n, err
}

// slowPeer sends nothing (silent) or half a ClientHello and waits for the
// server to give up on the handshake and close the connection (an alert
// first is allowed), which the host's handshake timeout must do within
// SlowHold. A sample that wants the
// load to pause ends the wait early; that is no failure either.
func (l *soakLoad) slowPeer(kind string, raw net.Conn) error {
	if kind == kindHalfHello {
		if _, err := raw.Write(l.halfHello); err != nil {
			return fmt.Errorf("%s: write: %w", kind, err)
		}
	}
	start := time.Now()
	raw.SetReadDeadline(start.Add(l.opts.SlowHold))
	done := make(chan struct{})
	defer close(done)
	var paused atomic.Bool
	go func(quiet <-chan struct{}) {
		select {
		case <-quiet:
			paused.Store(true)
			raw.SetReadDeadline(time.Now()) // a sample waits: leave now
		case <-done:
		}
	}(l.quietCh())
	buf := make([]byte, 64)
	for {
		n, err := raw.Read(buf)
		switch {
		case errors.Is(err, io.EOF), isReset(err):
			return nil // the server gave up
		case errors.Is(err, os.ErrDeadlineExceeded) && paused.Load():
			return nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			return fmt.Errorf("%s: the server still held the connection after %v (handshake timeout %v)",
				kind, time.Since(start).Round(time.Millisecond), l.opts.HandshakeTimeout)
		case err != nil:
			return fmt.Errorf("%s: %w", kind, err)
		case n > 0 && buf[0] != recordTypeAlert:
			// Giving up, a server may send an alert; nothing else.
			return fmt.Errorf("%s: the server sent %d bytes that are not an alert: % x", kind, n, buf[:min(n, 8)])
		}
	}
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

// soakStats counts the connections of each kind and keeps the first
// unexpected errors.
type soakStats struct {
	mu     sync.Mutex
	kinds  map[string]*KindStats
	totalN int
}

// KindStats are the connections of one kind.
type KindStats struct {
	Name        string
	Done        int      // connections made
	Unexpected  int      // outcomes other than the expected one
	FirstErrors []string // the first few unexpected errors
}

func newSoakStats() *soakStats {
	s := &soakStats{kinds: map[string]*KindStats{}}
	for _, k := range soakKinds {
		s.kinds[k] = &KindStats{Name: k}
	}
	return s
}

func (s *soakStats) add(kind string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.kinds[kind]
	k.Done++
	s.totalN++
	if err != nil {
		k.Unexpected++
		if len(k.FirstErrors) < 5 {
			k.FirstErrors = append(k.FirstErrors, err.Error())
		}
	}
}

func (s *soakStats) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.totalN
}

func (s *soakStats) snapshot() []KindStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []KindStats
	for _, k := range soakKinds {
		c := *s.kinds[k]
		c.FirstErrors = append([]string(nil), c.FirstErrors...)
		out = append(out, c)
	}
	return out
}

// fakeConn is a net.Conn that does nothing, for embedding.
type fakeConn struct{ net.Conn }

func (fakeConn) Close() error                     { return nil }
func (fakeConn) SetDeadline(time.Time) error      { return nil }
func (fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (fakeConn) SetWriteDeadline(time.Time) error { return nil }
func (fakeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (fakeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
