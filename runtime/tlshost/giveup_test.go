package tlshost

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	custombackend "github.com/wasitls/wasitls/examples/custom-backend"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// These tests give up on handshakes stuck on a silent peer, the way a
// guest does: abort, drop (Close) and the host's handshake timeout, over
// real loopback sockets and real backends, with the transport the runtime
// makes for a guest's socket: one whose Close only drops the streams'
// references while the guest's tcp-socket keeps the socket open.

// giveUpBound is how long ending a handshake may take, whatever the backend
// does, from the moment the host or the guest gives up on it (the abort,
// the drop, the handshake timeout's expiry) or closes it: the host's own
// bounds are abandonGrace for a backend that does not return and
// 2*closeGrace for a Close, both 500 ms, and the rest is for timers that
// fire late on a loaded machine. It is the property the tests check, so
// its clock starts at that moment, never before the setup (keys,
// sockets, the backend reaching its read) that precedes it.
//
// What follows from such an end at once (the future the end resolved, the
// peer seeing its transport closed, the handshake goroutine's exit, the
// ClientHello of a handshake that has started) is awaited for waitLimit:
// there the bound is only a margin, against a wait that would never end.
const giveUpBound = time.Second

// realBackends are the registered backends and a backend that only wraps
// one (examples/custom-backend), over each of them.
func realBackends(t *testing.T) []backends.Backend {
	var out []backends.Backend
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, name := range []string{"stdtls", "circl-pq"} {
		b, err := backends.ByName(name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b, &namedBackend{custombackend.New(b.(backends.Describer), []string{"localhost"}, quiet), "allowlist(" + name + ")"})
	}
	return out
}

// BlockingBackend hides its connections' optional interfaces, leaving plain
// backends.Conn values whose streams the host runs on goroutines. It is
// exported for the package's external tests.
type BlockingBackend struct{ backends.Backend }

func (b BlockingBackend) Client(transport net.Conn, cfg *backends.ClientConfig) (backends.Conn, error) {
	c, err := b.Backend.Client(transport, cfg)
	return struct{ backends.Conn }{c}, err
}

func (b BlockingBackend) Server(transport net.Conn, cfg *backends.ServerConfig) (backends.Conn, error) {
	c, err := b.Backend.Server(transport, cfg)
	return struct{ backends.Conn }{c}, err
}

type namedBackend struct {
	backends.Backend
	name string
}

func (b *namedBackend) Name() string { return b.name }

// readSignal is a socket that reports when a Read of it was entered: the
// backend is then in (or right at) its blocking read of the silent peer.
type readSignal struct {
	*net.TCPConn
	once    sync.Once
	entered chan struct{}
}

func (c *readSignal) Read(p []byte) (int, error) {
	c.once.Do(func() { close(c.entered) })
	return c.TCPConn.Read(p)
}

// heldTransport is the transport wasiio.Transport makes for a guest's
// socket streams (see runtime/sockets): the socket stays open until the
// test ends, as the guest's tcp-socket holds it. reading is closed once
// the backend reads the socket.
func heldTransport(t *testing.T, c net.Conn) (transport net.Conn, reading <-chan struct{}) {
	t.Helper()
	rs := &readSignal{TCPConn: c.(*net.TCPConn), entered: make(chan struct{})}
	in, out, _ := wasiio.SocketStreams(rs, io.NopCloser(nil), func() error { return nil })
	tr, err := wasiio.Transport(in, out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return tr, rs.entered
}

// silentPair returns our end of a loopback connection whose other end
// never sends anything, and that other end. The peer's helloed channel is
// closed once it received the first bytes from us (the ClientHello).
func silentPair(t *testing.T) (ours, peer net.Conn, helloed <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dialed, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	accepted, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dialed.Close(); accepted.Close() })
	return dialed, accepted, nil
}

// silentServer is a peer that accepts, reads the ClientHello and never
// answers. helloed is closed once some of the ClientHello arrived.
func silentServer(t *testing.T) (ours, peer net.Conn, helloed <-chan struct{}) {
	t.Helper()
	ours, peer, _ = silentPair(t)
	ch := make(chan struct{})
	go func() {
		buf := make([]byte, 1)
		if n, _ := io.ReadAtLeast(peer, buf, 1); n > 0 {
			close(ch)
		}
	}()
	return ours, peer, ch
}

// within fails t unless c is closed within d.
func within(t *testing.T, d time.Duration, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(d):
		t.Fatalf("%s: not within %v", what, d)
	}
}

// withinSignal fails t unless s fires within d.
func withinSignal(t *testing.T, d time.Duration, s *wasiio.Signal, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if _, err := wasiio.Wait(ctx, []wasiio.Source{s}); err != nil {
		t.Fatalf("%s: not within %v", what, d)
	}
}

// closeWithin calls s.Close and fails t unless it returns within d.
func closeWithin(t *testing.T, d time.Duration, s interface{ Close() error }) {
	t.Helper()
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	within(t, d, done, "Close")
}

// futureErr waits up to d for f and returns its error.
func futureErr[T any](t *testing.T, d time.Duration, f *future[T], what string) error {
	t.Helper()
	within(t, d, f.Done(), what+" resolved")
	_, err, _ := f.peek()
	return err
}

// peerSeesEnd fails t unless peer reads the end of the connection (EOF or
// an error) within d.
func peerSeesEnd(t *testing.T, d time.Duration, peer net.Conn) {
	t.Helper()
	peer.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4096)
	for {
		_, err := peer.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the peer did not see the connection end within %v", d)
		}
		return
	}
}

// giveUpCase starts a handshake against a silent peer on side ("client" or
// "server"), waits until the backend blocks reading the peer, and returns
// the session and the future the guest would wait on.
type giveUpCase struct {
	session interface {
		Close() error
		Abort() *wasiio.Signal
	}
	end  *ending
	wait func(d time.Duration) error // the pending future's error
	peer net.Conn
	// started is taken right before the call that starts the handshake,
	// after the setup: the handshake timeout counts from a moment after it.
	started time.Time
}

func startSilent(t *testing.T, b backends.Backend, side string, timeout time.Duration) *giveUpCase {
	t.Helper()
	p := newPKI(t)
	switch side {
	case "client":
		ours, peer, helloed := silentServer(t)
		tr, reading := heldTransport(t, ours)
		s := newClientSession(b, p.clientBase(), tr)
		s.setHandshakeTimeout(timeout, nil)
		started := time.Now()
		if err := s.Connect("localhost"); err != nil {
			t.Fatal(err)
		}
		vf, err := s.VerifyServerIdentity()
		if err != nil {
			t.Fatal(err)
		}
		within(t, waitLimit, helloed, "ClientHello at the peer")
		within(t, waitLimit, reading, "the backend reading the peer")
		return &giveUpCase{session: s, end: &s.ending, peer: peer, started: started,
			wait: func(d time.Duration) error { return futureErr(t, d, vf, "verify-server-identity") }}
	default:
		ours, peer, _ := silentPair(t)
		tr, reading := heldTransport(t, ours)
		s := newServerSession(b, backends.ServerConfig{}, tr)
		s.setHandshakeTimeout(timeout, nil)
		started := time.Now()
		if err := s.Accept(); err != nil {
			t.Fatal(err)
		}
		if err := s.ConfigureIdentities([]*backends.Identity{p.server.Identity()}); err != nil {
			t.Fatal(err)
		}
		hf, err := s.ReceiveClientHello()
		if err != nil {
			t.Fatal(err)
		}
		within(t, waitLimit, reading, "the backend reading the peer")
		return &giveUpCase{session: s, end: &s.ending, peer: peer, started: started,
			wait: func(d time.Duration) error { return futureErr(t, d, hf, "receive-client-hello") }}
	}
}

// TestGiveUpSilentPeer aborts, drops and times out handshakes blocked
// reading a silent peer, on both sides and every real backend: each ends
// within giveUpBound of the abort, the drop or the handshake timeout (and
// not before the timeout), with the reason, and the handshake goroutine
// with it.
func TestGiveUpSilentPeer(t *testing.T) {
	for _, b := range realBackends(t) {
		t.Run(b.Name(), func(t *testing.T) {
			for _, side := range []string{"client", "server"} {
				t.Run(side, func(t *testing.T) {
					t.Run("abort", func(t *testing.T) {
						checkNoLeak(t)
						c := startSilent(t, b, side, -1)
						withinSignal(t, giveUpBound, c.session.Abort(), "abort pollable ready")
						wantErr(t, c.wait(waitLimit), "aborted")
						closeWithin(t, giveUpBound, c.session)
					})
					t.Run("drop", func(t *testing.T) {
						checkNoLeak(t)
						c := startSilent(t, b, side, -1)
						closeWithin(t, giveUpBound, c.session)
						wantErr(t, c.wait(giveUpBound), "aborted")
						withinSignal(t, waitLimit, &c.end.d.doneSig, "handshake goroutine ended")
					})
					t.Run("timeout", func(t *testing.T) {
						checkNoLeak(t)
						const timeout = 300 * time.Millisecond
						// The timeout counts from the handshake's start,
						// not from the setup before it (the keys, the
						// sockets), which startSilent leaves out of
						// c.started.
						c := startSilent(t, b, side, timeout)
						err := c.wait(timeout + giveUpBound - time.Since(c.started))
						if took := time.Since(c.started); took < timeout {
							t.Errorf("the handshake failed %v after it started, before the timeout of %v", took, timeout)
						}
						wantErr(t, err, "did not complete within 300ms")
						if !errors.Is(err, ErrHandshakeTimeout) {
							t.Errorf("%v does not wrap ErrHandshakeTimeout", err)
						}
						// The transport is closed: the peer sees the end
						// although the guest still holds the socket.
						peerSeesEnd(t, waitLimit, c.peer)
						closeWithin(t, giveUpBound, c.session)
					})
				})
			}
		})
	}
}

// stuckBackend is a misbehaving backend: its Handshake and Close ignore
// their context and the transport and return only when the test releases
// them.
type stuckBackend struct {
	release chan struct{} // closed when the test ends
}

// NewStuckBackend is newStuckBackend for the package's external tests.
func NewStuckBackend(t *testing.T) backends.Backend { return newStuckBackend(t) }

func newStuckBackend(t *testing.T) *stuckBackend {
	b := &stuckBackend{release: make(chan struct{})}
	t.Cleanup(func() { close(b.release) })
	return b
}

func (b *stuckBackend) Name() string { return "stuck" }
func (b *stuckBackend) ParseIdentity([]byte, [][]byte) (*backends.Identity, error) {
	return &backends.Identity{}, nil
}
func (b *stuckBackend) Client(net.Conn, *backends.ClientConfig) (backends.Conn, error) {
	return &stuckConn{b}, nil
}
func (b *stuckBackend) Server(net.Conn, *backends.ServerConfig) (backends.Conn, error) {
	return &stuckConn{b}, nil
}

type stuckConn struct{ b *stuckBackend }

func (c *stuckConn) block()                          { <-c.b.release }
func (c *stuckConn) Handshake(context.Context) error { c.block(); return errors.New("stuck: released") }
func (c *stuckConn) Read([]byte) (int, error)        { return 0, io.EOF }
func (c *stuckConn) Write(p []byte) (int, error)     { return len(p), nil }
func (c *stuckConn) CloseWrite() error               { return nil }
func (c *stuckConn) Close() error                    { c.block(); return nil }
func (c *stuckConn) State() backends.State           { return backends.State{} }
func (c *stuckConn) RequestClientIdentity(context.Context) ([][]byte, error) {
	c.block()
	return nil, errors.New("stuck: released")
}

// TestGiveUpStuckBackend: a backend that ignores cancellation and never
// returns cannot hold the guest: abort, drop and the handshake timeout
// still end the handshake, for the guest, within giveUpBound of giving
// up, by leaving the backend behind.
func TestGiveUpStuckBackend(t *testing.T) {
	start := func(t *testing.T, timeout time.Duration) (*clientSession, *future[*peerChain]) {
		b := newStuckBackend(t)
		s := newClientSession(b, backends.ClientConfig{}, newPipe(t))
		s.setHandshakeTimeout(timeout, nil)
		s.Connect("example.com")
		vf, err := s.VerifyServerIdentity()
		if err != nil {
			t.Fatal(err)
		}
		return s, vf
	}
	t.Run("abort", func(t *testing.T) {
		s, vf := start(t, -1)
		withinSignal(t, giveUpBound, s.Abort(), "abort pollable ready")
		wantErr(t, futureErr(t, waitLimit, vf, "verify-server-identity"), "aborted")
		closeWithin(t, giveUpBound, s)
	})
	t.Run("drop", func(t *testing.T) {
		s, vf := start(t, -1)
		closeWithin(t, giveUpBound, s)
		wantErr(t, futureErr(t, giveUpBound, vf, "verify-server-identity"), "aborted")
	})
	t.Run("timeout", func(t *testing.T) {
		s, vf := start(t, 200*time.Millisecond)
		err := futureErr(t, 200*time.Millisecond+giveUpBound, vf, "verify-server-identity")
		if !errors.Is(err, ErrHandshakeTimeout) {
			t.Fatalf("error %v, want ErrHandshakeTimeout", err)
		}
		s.d.mu.Lock()
		abandoned := s.d.abandoned
		s.d.mu.Unlock()
		if !abandoned {
			t.Error("the handshake ended, but not by leaving the stuck backend behind")
		}
		closeWithin(t, giveUpBound, s)
	})
	t.Run("finished-close", func(t *testing.T) {
		// A completed handshake whose Close never returns.
		b := newStuckBackend(t)
		s := newServerSession(b, backends.ServerConfig{}, newPipe(t))
		s.d.mu.Lock()
		s.ending.conn = &stuckConn{b}
		s.d.neverRunLocked()
		s.d.mu.Unlock()
		closeWithin(t, giveUpBound, s)
	})
}

// TestHandshakeTimeoutReported: the expiry reaches the connection's
// last-error (through its owner's expired, see driverOwner) without the
// guest calling anything.
func TestHandshakeTimeoutReported(t *testing.T) {
	checkNoLeak(t)
	b := &fakeBackend{silentPeer: true}
	s := newClientSession(b, backends.ClientConfig{}, newPipe(t))
	defer s.Close()
	reported := make(chan string, 1)
	s.setHandshakeTimeout(100*time.Millisecond, func(what string, err error) { reported <- what + ": " + err.Error() })
	s.Connect("example.com")
	vf, _ := s.VerifyServerIdentity()
	select {
	case msg := <-reported:
		if !strings.Contains(msg, "did not complete within 100ms") {
			t.Fatalf("reported %q", msg)
		}
	case <-time.After(giveUpBound + 100*time.Millisecond):
		t.Fatal("expiry not reported")
	}
	if err := futureErr(t, giveUpBound, vf, "verify-server-identity"); !errors.Is(err, ErrHandshakeTimeout) {
		t.Fatalf("error %v, want ErrHandshakeTimeout", err)
	}
}

// authPair completes a handshake between a circl-pq server session over
// tr, its handshake timeout timeout, and a circl-pq client over peer whose
// ClientIdentity is identity. It returns the session, its connection and
// the client, which close when the test ends, the client first.
func authPair(t *testing.T, tr, peer net.Conn, timeout time.Duration, identity func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error)) (*serverSession, backends.Conn, backends.Conn) {
	t.Helper()
	p := newPKI(t)
	b, err := backends.ByName("circl-pq")
	if err != nil {
		t.Fatal(err)
	}
	s := newServerSession(b, backends.ServerConfig{ClientCAs: p.ca.Pool()}, tr)
	t.Cleanup(func() { s.Close() })
	s.setHandshakeTimeout(timeout, nil)
	s.Accept()
	s.ConfigureIdentities([]*backends.Identity{p.server.Identity()})
	client, err := b.Client(peer, &backends.ClientConfig{
		ServerName:     "localhost",
		RootCAs:        p.ca.Pool(),
		ClientIdentity: identity,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	cerr := make(chan error, 1)
	go func() { cerr <- client.Handshake(context.Background()) }()
	conn, err := await(t, s.Finish())
	if err != nil {
		t.Fatal(err)
	}
	if err := <-cerr; err != nil {
		t.Fatal(err)
	}
	return s, conn, client
}

// TestPostHandshakeAuthTimeout: a client that never answers a
// post-handshake certificate request (its hook never returns, so it sends
// nothing) fails the request with the host's handshake timeout, and the
// connection is closed: the guest's reads end at once.
func TestPostHandshakeAuthTimeout(t *testing.T) {
	checkNoLeak(t)
	const timeout = time.Second
	ours, peer, _ := silentPair(t)
	tr, _ := heldTransport(t, ours)
	never := make(chan struct{})
	t.Cleanup(func() { close(never) })
	s, conn, client := authPair(t, tr, peer, timeout, func(ctx context.Context, req *backends.IdentityRequest) ([]*backends.Identity, error) {
		if req.PostHandshake {
			<-never
		}
		return nil, nil
	})
	// The client reads, so that it receives the request.
	go io.Copy(io.Discard, client)

	start := time.Now()
	pf, err := s.RequestClientIdentityPost()
	if err != nil {
		t.Fatal(err)
	}
	err = futureErr(t, timeout+giveUpBound, pf, "post-handshake client authentication")
	if !errors.Is(err, ErrHandshakeTimeout) {
		t.Fatalf("error %v, want ErrHandshakeTimeout", err)
	}
	wantErr(t, err, "post-handshake client authentication did not complete within 1s")
	t.Logf("failed after %v", time.Since(start).Round(time.Millisecond))
	// The connection is closed: a read ends at once.
	read := make(chan error, 1)
	go func() {
		_, err := conn.Read(make([]byte, 1))
		read <- err
	}()
	select {
	case err := <-read:
		if err == nil {
			t.Fatal("read succeeded on a connection closed by the timeout")
		}
	case <-time.After(waitLimit):
		t.Fatal("read still blocked after the timeout closed the connection")
	}
}

// TestCloseOutputToPeerNotReading: over a backend whose streams run on
// goroutines (the custom backend, its inline fast path hidden), dropping the cleartext output (or the
// connection) while a write is stuck on a peer that does not read returns
// within a second: the backend's CloseWrite and Close wait for the stuck
// write, so the host bounds them.
func TestCloseOutputToPeerNotReading(t *testing.T) {
	checkNoLeak(t)
	stdtls, err := backends.ByName("stdtls")
	if err != nil {
		t.Fatal(err)
	}
	b := BlockingBackend{custombackend.New(stdtls.(backends.Describer), []string{"localhost"}, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	s, conn := connectToPeerNotReading(t, b)
	defer closeWithin(t, giveUpBound, s)
	in, out := openStreams(conn, &s.ending, nil)
	defer in.Close()
	if nc, ok := conn.(backends.NonblockingConn); ok && nc.NonblockingTransport() {
		t.Fatal("the streams are inline: this test needs goroutine streams")
	}
	// Write until the writer goroutine is stuck on the peer.
	fillUntilStuck(t, out)
	closeWithin(t, giveUpBound, out)
}

// TestCloseInlineToPeerNotReading: over a backend that blocks only in its
// transport (stdtls over a socket's), close_notify and Close run on the
// caller's goroutine; with the socket's send queue full on a peer that
// does not read, dropping the output and the connection still returns
// within a second.
func TestCloseInlineToPeerNotReading(t *testing.T) {
	checkNoLeak(t)
	b, err := backends.ByName("stdtls")
	if err != nil {
		t.Fatal(err)
	}
	s, conn := connectToPeerNotReading(t, b)
	if !blocksOnlyInTransport(conn, s.transport) {
		t.Fatal("stdtls over a socket's transport does not close inline")
	}
	in, out := openStreams(conn, &s.ending, nil)
	defer in.Close()
	if n := fillUntilStuck(t, out); n < 1<<20 {
		t.Fatalf("the output took %d bytes before it stopped, want the socket's buffers full", n)
	}
	closeWithin(t, giveUpBound, out)
	closeWithin(t, giveUpBound, s)
}

// connectToPeerNotReading completes a client handshake of b over a
// socket's transport with a crypto/tls server that never reads again.
func connectToPeerNotReading(t *testing.T, b backends.Backend) (*clientSession, backends.Conn) {
	t.Helper()
	p := newPKI(t)
	ours, peer, _ := silentPair(t)
	tr, _ := heldTransport(t, ours)
	s := newClientSession(b, p.clientBase(), tr)
	s.Connect("localhost")
	go func() {
		srv := tls.Server(peer, &tls.Config{Certificates: []tls.Certificate{p.server.TLSCertificate()}})
		srv.Handshake() // and never reads again
	}()
	conn, err := await(t, s.Finish())
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	return s, conn
}

// fillUntilStuck writes to out until it accepts nothing more for a while:
// the peer does not read. It returns how many bytes out took.
func fillUntilStuck(t *testing.T, out *cleartextOutput) (written int) {
	t.Helper()
	ctx := context.Background()
	chunk := make([]byte, 64<<10)
	stuck := time.Now().Add(waitLimit)
	for {
		n, err := out.CheckWrite(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			if time.Now().After(stuck) {
				break
			}
			time.Sleep(10 * time.Millisecond)
			if n, _ := out.CheckWrite(ctx); n == 0 {
				// Still nothing after a while: stuck.
				stuck = time.Now()
			}
			continue
		}
		k := min(n, uint64(len(chunk)))
		if err := out.Write(ctx, chunk[:k]); err != nil {
			t.Fatal(err)
		}
		written += int(k)
		stuck = time.Now().Add(200 * time.Millisecond)
	}
	return written
}

// TestGuardKeepsNonblocking: the guard over a socket's transport is still a
// wasiio.NonblockingTransport, so that streams stay inline.
func TestGuardKeepsNonblocking(t *testing.T) {
	ours, _, _ := silentPair(t)
	tr, _ := heldTransport(t, ours)
	if _, ok := tr.(wasiio.NonblockingTransport); !ok {
		t.Skip("no non-blocking transport on this platform")
	}
	s := newClientSession(&fakeBackend{}, backends.ClientConfig{}, tr)
	defer s.Close()
	if _, ok := s.transport.(wasiio.NonblockingTransport); !ok {
		t.Fatalf("the guarded transport %T is not a NonblockingTransport", s.transport)
	}
}

// TestInlineHandshakeGivesUp: a handshake that runs on the guest's wait
// (finish, then a wait on its future alone, over a backend that blocks
// only in its transport) against a silent peer still ends within its
// bounds, on every registered backend: the handshake timeout ends the
// wait with the reason, and so does the end of the instance (the wait's
// context). Either way the peer sees the connection end.
func TestInlineHandshakeGivesUp(t *testing.T) {
	for _, name := range []string{"stdtls", "circl-pq"} {
		b, err := backends.ByName(name)
		if err != nil {
			t.Fatal(err)
		}
		start := func(t *testing.T, timeout time.Duration) (*clientSession, wasiio.Awaiter, net.Conn) {
			s, a, peer, helloed := deferredToSilent(t, b, timeout)
			select {
			case <-helloed:
				t.Fatal("the handshake started before the guest waited for it")
			case <-time.After(50 * time.Millisecond):
			}
			return s, a, peer
		}
		t.Run(name, func(t *testing.T) {
			t.Run("timeout", func(t *testing.T) {
				checkNoLeak(t)
				const timeout = 300 * time.Millisecond
				s, a, peer := start(t, timeout)
				begin := time.Now()
				if !a.Await(context.Background(), time.Time{}) {
					t.Fatal("Await did not run the handshake")
				}
				if d := time.Since(begin); d > timeout+giveUpBound {
					t.Fatalf("the wait took %v", d)
				}
				// The wait ran the handshake to its end: the rest is
				// at once.
				err := futureErr(t, waitLimit, s.streamsFut, "finish")
				if !errors.Is(err, ErrHandshakeTimeout) {
					t.Fatalf("error %v, want ErrHandshakeTimeout", err)
				}
				peerSeesEnd(t, waitLimit, peer)
				closeWithin(t, giveUpBound, s)
			})
			t.Run("instance-closed", func(t *testing.T) {
				checkNoLeak(t)
				s, a, peer := start(t, -1)
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				defer cancel()
				begin := time.Now()
				if !a.Await(ctx, time.Time{}) {
					t.Fatal("Await did not run the handshake")
				}
				if d := time.Since(begin); d > 200*time.Millisecond+giveUpBound {
					t.Fatalf("the wait took %v", d)
				}
				if err := futureErr(t, waitLimit, s.streamsFut, "finish"); err == nil {
					t.Fatal("the handshake succeeded against a silent peer")
				}
				closeWithin(t, giveUpBound, s)
				peerSeesEnd(t, waitLimit, peer)
			})
		})
	}
}

// deferredToSilent starts a client session on b whose finish is deferred
// until the guest waits for it, against a silent peer, with the handshake
// timeout (-1: none). It returns the session, its finish future's source,
// the peer, and a channel closed once the ClientHello reached the peer.
func deferredToSilent(t *testing.T, b backends.Backend, timeout time.Duration) (*clientSession, wasiio.Awaiter, net.Conn, <-chan struct{}) {
	t.Helper()
	ours, peer, helloed := silentServer(t)
	s, a := deferredSession(t, b, newPKI(t), ours, timeout, nil)
	return s, a, peer, helloed
}

// deferredSession starts a deferred client handshake of b over the
// transport a guest's socket conn makes, with the handshake timeout
// (-1: none) and the guest's coroutines workers (nil: none), and returns
// the session and its finish future's source. The session is closed when
// the test ends.
func deferredSession(t *testing.T, b backends.Backend, p *pki, conn net.Conn, timeout time.Duration, workers *coWorkers) (*clientSession, wasiio.Awaiter) {
	t.Helper()
	tr, _ := heldTransport(t, conn)
	s := newClientSession(b, p.clientBase(), tr)
	t.Cleanup(func() { s.Close() })
	s.setHandshakeTimeout(timeout, nil)
	s.setWorkers(workers)
	if err := s.Connect("localhost"); err != nil {
		t.Fatal(err)
	}
	f := s.Finish()
	a, ok := f.source().(wasiio.Awaiter)
	if !ok {
		t.Fatalf("the future's source %T cannot run the handshake on the guest's wait", f.source())
	}
	return s, a
}
