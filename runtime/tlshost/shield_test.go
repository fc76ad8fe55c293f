package tlshost

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// handshakePanicBackend wraps a backend whose connections block only in
// their transport; its Handshake panics.
type handshakePanicBackend struct{ backends.Backend }

func (b handshakePanicBackend) Client(transport net.Conn, cfg *backends.ClientConfig) (backends.Conn, error) {
	conn, err := b.Backend.Client(transport, cfg)
	if err != nil {
		return nil, err
	}
	return handshakePanicConn{conn.(backends.NonblockingConn)}, nil
}

type handshakePanicConn struct{ backends.NonblockingConn }

func (handshakePanicConn) Handshake(context.Context) error { panic("boom\nin the handshake") }

// TestInlineHandshakePanics: a handshake that runs on the guest's call
// (finish, then a lone wait) over a backend that panics fails that
// handshake, on the caller's goroutine, with the panic as its one-line
// error; the stack goes to the log; the connection lets go of its socket
// (the peer sees the end) and leaves nothing behind. It runs on the call
// itself for a wait without a deadline, and as a pausable coroutine for
// one with a deadline (a Go guest's wait).
func TestInlineHandshakePanics(t *testing.T) {
	waits := []struct {
		name     string
		deadline time.Duration // from the wait, none if zero
		frame    string        // on the logged stack
	}{
		{"on-the-call", 0, "(*driver).await"},
		{"paused", time.Minute, "(*driver).newPausableLocked.func"},
	}
	for _, name := range []string{"stdtls", "circl-pq"} {
		b, err := backends.ByName(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range waits {
			t.Run(name+"/"+w.name, func(t *testing.T) {
				checkNoLeak(t)
				p := newPKI(t)
				ours, peer, _ := silentServer(t)
				tr, _ := heldTransport(t, ours)
				s := newClientSession(handshakePanicBackend{b}, p.clientBase(), tr)
				defer s.Close()
				var mu sync.Mutex
				var logged []string
				s.setLogPanic(func(err error, stack []byte) {
					mu.Lock()
					logged = append(logged, err.Error()+"\n"+string(stack))
					mu.Unlock()
				})
				if err := s.Connect("localhost"); err != nil {
					t.Fatal(err)
				}
				a, ok := s.Finish().source().(wasiio.Awaiter)
				if !ok {
					t.Fatal("the finish future cannot run the handshake on the guest's wait")
				}
				var deadline time.Time
				if w.deadline > 0 {
					deadline = time.Now().Add(w.deadline)
				}
				if !a.Await(context.Background(), deadline) {
					t.Fatal("Await did not run the handshake")
				}
				err := futureErr(t, waitLimit, s.streamsFut, "finish")
				want := "tlshost: the " + name + " backend panicked in Handshake: boom in the handshake"
				if err == nil || err.Error() != want {
					t.Fatalf("error %v, want %q", err, want)
				}
				mu.Lock()
				if len(logged) != 1 || !strings.Contains(logged[0], w.frame) {
					t.Errorf("the panic was not logged once, with %s on the stack of the caller's goroutine: %q", w.frame, logged)
				}
				mu.Unlock()
				peerSeesEnd(t, waitLimit, peer)
				closeWithin(t, giveUpBound, s)
			})
		}
	}
}

// TestShieldedConnBroken: after a panic, nothing enters the backend
// again, every call fails with the panic (Close closes the transport
// only), and the transport was closed at once.
func TestShieldedConnBroken(t *testing.T) {
	inner := &countingConn{}
	closed := 0
	c := shieldConn(inner, "test", breakFunc(func(*BackendPanicError) { closed++ }), nil)
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("a panic in Read is no error")
	}
	var p *BackendPanicError
	if _, err := c.Write([]byte("x")); !errors.As(err, &p) || p.Op != "Read" {
		t.Fatalf("Write after the panic: %v", err)
	}
	if err := c.Handshake(context.Background()); !errors.As(err, &p) {
		t.Fatalf("Handshake after the panic: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close after the panic: %v", err)
	}
	if st := c.State(); st.Version != 0 {
		t.Fatalf("State after the panic: %+v", st)
	}
	if inner.calls != 1 || closed != 1 {
		t.Fatalf("backend entered %d times, transport closed %d times; want 1 and 1", inner.calls, closed)
	}
	if _, ok := c.(backends.NonblockingConn); !ok {
		t.Fatal("a shielded connection hides NonblockingTransport")
	}
	if c.(backends.NonblockingConn).NonblockingTransport() {
		t.Fatal("a shielded connection claims a NonblockingTransport its backend lacks")
	}
}

// countingConn panics in Read and counts every call.
type countingConn struct{ calls int }

func (c *countingConn) Handshake(context.Context) error { c.calls++; return nil }
func (c *countingConn) Read([]byte) (int, error)        { c.calls++; panic(errors.New("read failed")) }
func (c *countingConn) Write(p []byte) (int, error)     { c.calls++; return len(p), nil }
func (c *countingConn) CloseWrite() error               { c.calls++; return nil }
func (c *countingConn) Close() error                    { c.calls++; return nil }
func (c *countingConn) State() backends.State {
	c.calls++
	return backends.State{Version: 0x0304}
}
func (c *countingConn) RequestClientIdentity(context.Context) ([][]byte, error) {
	c.calls++
	return nil, nil
}

// BenchmarkShield is what the shield adds to each call into a backend (a
// deferred recover and an atomic load), over a connection whose Write
// does nothing: compare shielded with bare, alternated,
//
//	go test ./runtime/tlshost -run '^$' -bench Shield -count 5
//
// against the microseconds a backend spends on a record.
func BenchmarkShield(b *testing.B) {
	p := []byte("x")
	for _, name := range []string{"bare", "shielded", "bare", "shielded"} {
		var c backends.Conn = nopConn{}
		if name == "shielded" {
			c = shieldConn(c, "nop", nil, nil)
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				c.Write(p)
			}
		})
	}
}

type nopConn struct{}

func (nopConn) Handshake(context.Context) error                         { return nil }
func (nopConn) Read(p []byte) (int, error)                              { return len(p), nil }
func (nopConn) Write(p []byte) (int, error)                             { return len(p), nil }
func (nopConn) CloseWrite() error                                       { return nil }
func (nopConn) Close() error                                            { return nil }
func (nopConn) State() backends.State                                   { return backends.State{} }
func (nopConn) RequestClientIdentity(context.Context) ([][]byte, error) { return nil, nil }

// TestShieldedNetConnBroken: the deadlines of a broken connection that
// is a net.Conn (a tunnel's transport sets them) fail with the panic
// without entering the backend, as every other call does.
func TestShieldedNetConnBroken(t *testing.T) {
	inner := &countingNetConn{}
	c := shieldConn(inner, "test", breakFunc(func(*BackendPanicError) {}), nil)
	nc, ok := c.(net.Conn)
	if !ok {
		t.Fatal("the shield hides the backend's net.Conn")
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("a panic in Read is no error")
	}
	var p *BackendPanicError
	for name, set := range map[string]func(time.Time) error{
		"SetDeadline": nc.SetDeadline, "SetReadDeadline": nc.SetReadDeadline, "SetWriteDeadline": nc.SetWriteDeadline,
	} {
		if err := set(time.Now()); !errors.As(err, &p) || p.Op != "Read" {
			t.Errorf("%s after the panic: %v", name, err)
		}
	}
	if inner.calls != 1 {
		t.Fatalf("backend entered %d times; want 1", inner.calls)
	}
}

// countingNetConn is a countingConn that is a net.Conn.
type countingNetConn struct{ countingConn }

func (c *countingNetConn) LocalAddr() net.Addr  { return &net.TCPAddr{} }
func (c *countingNetConn) RemoteAddr() net.Addr { return &net.TCPAddr{} }
func (c *countingNetConn) SetDeadline(time.Time) error {
	c.calls++
	return nil
}
func (c *countingNetConn) SetReadDeadline(time.Time) error {
	c.calls++
	return nil
}
func (c *countingNetConn) SetWriteDeadline(time.Time) error {
	c.calls++
	return nil
}

// TestShieldLoggerPanics: a Config.Logger that panics while the shield
// logs a backend's panic does not keep the connection from breaking:
// its transport is closed and the backend is not entered again; the
// logger's own panic goes on (the embedder's bug, not the backend's).
func TestShieldLoggerPanics(t *testing.T) {
	inner := &countingConn{}
	closed := 0
	c := shieldConn(inner, "test", breakFunc(func(*BackendPanicError) { closed++ }), func(error, []byte) { panic("the logger failed") })
	func() {
		defer func() {
			if v := recover(); v != "the logger failed" {
				t.Errorf("the logger's panic: %v", v)
			}
		}()
		c.Read(make([]byte, 1))
	}()
	if closed != 1 {
		t.Fatalf("transport closed %d times, want 1", closed)
	}
	var p *BackendPanicError
	if _, err := c.Write([]byte("x")); !errors.As(err, &p) || p.Op != "Read" {
		t.Fatalf("Write after the panic: %v", err)
	}
	if inner.calls != 1 {
		t.Fatalf("backend entered %d times; want 1", inner.calls)
	}
}

// TestInlineHandshakeLoggerPanics: a handshake run on the caller's
// goroutine over a backend that panics, with a logger that panics too,
// still lets go of its socket (the peer sees the end) and leaves nothing
// behind, over a real loopback socket.
func TestInlineHandshakeLoggerPanics(t *testing.T) {
	checkNoLeak(t)
	b, err := backends.ByName("stdtls")
	if err != nil {
		t.Fatal(err)
	}
	p := newPKI(t)
	ours, peer, _ := silentServer(t)
	tr, _ := heldTransport(t, ours)
	s := newClientSession(handshakePanicBackend{b}, p.clientBase(), tr)
	defer s.Close()
	s.setLogPanic(func(error, []byte) { panic("the logger failed") })
	if err := s.Connect("localhost"); err != nil {
		t.Fatal(err)
	}
	a, ok := s.Finish().source().(wasiio.Awaiter)
	if !ok {
		t.Fatal("the finish future cannot run the handshake on the guest's wait")
	}
	func() {
		defer func() {
			if v := recover(); v != "the logger failed" {
				t.Errorf("the logger's panic: %v", v)
			}
		}()
		a.Await(context.Background(), time.Time{})
	}()
	peerSeesEnd(t, waitLimit, peer)
	closeWithin(t, giveUpBound, s)
}

// readPanicBackend wraps a backend whose connections panic in Read.
type readPanicBackend struct{ backends.Backend }

func (b readPanicBackend) Client(transport net.Conn, cfg *backends.ClientConfig) (backends.Conn, error) {
	conn, err := b.Backend.Client(transport, cfg)
	if err != nil {
		return nil, err
	}
	return readPanicConn{conn}, nil
}

func (b readPanicBackend) Server(transport net.Conn, cfg *backends.ServerConfig) (backends.Conn, error) {
	conn, err := b.Backend.Server(transport, cfg)
	if err != nil {
		return nil, err
	}
	return readPanicConn{conn}, nil
}

type readPanicConn struct{ backends.Conn }

func (readPanicConn) Read([]byte) (int, error) { panic("boom in Read") }

// TestBrokenConnectionState: once a panic broke a connection whose
// handshake completed (ALPN, version and suite negotiated), its State
// reports nothing, not what was negotiated before (ok false, the zero
// State), and the failure is reported once, as the connection's reason
// (the last error the guest reads); the peer sees the end; nothing is
// left behind. Over real loopback sockets, every backend.
func TestBrokenConnectionState(t *testing.T) {
	p := newPKI(t)
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		checkNoLeak(t)
		addr, res := goServer(t, &tls.Config{Certificates: []tls.Certificate{p.server.TLSCertificate()}, NextProtos: []string{"h2"}})
		s := newClientSession(readPanicBackend{b}, p.clientBase(), dial(t, addr))
		defer s.Close()
		var mu sync.Mutex
		var reported []string
		s.setReportBroken(func(what string, err error) {
			mu.Lock()
			reported = append(reported, what+": "+err.Error())
			mu.Unlock()
		})
		if err := s.Connect("localhost"); err != nil {
			t.Fatal(err)
		}
		if err := s.ConfigureALPN([][]byte{[]byte("h2")}); err != nil {
			t.Fatal(err)
		}
		conn, err := await(t, s.Finish())
		if err != nil {
			t.Fatal(err)
		}
		if st, ok := s.State(); !ok || st.ALPN != "h2" || st.Version == 0 || st.CipherSuite == 0 || !st.HandshakeComplete {
			t.Fatalf("State before the panic: %+v, %v", st, ok)
		}
		var pe *BackendPanicError
		if _, err := conn.Read(make([]byte, 10)); !errors.As(err, &pe) || pe.Op != "Read" {
			t.Fatalf("Read: %v", err)
		}
		if st, ok := s.State(); ok || !reflect.DeepEqual(st, backends.State{}) {
			t.Errorf("State after the panic: %+v, %v; want the zero State, false", st, ok)
		}
		want := "connection: tlshost: the " + b.Name() + " backend panicked in Read: boom in Read"
		mu.Lock()
		if len(reported) != 1 || reported[0] != want {
			t.Errorf("reported %q, want once %q", reported, want)
		}
		mu.Unlock()
		select {
		case err := <-res:
			if err == nil {
				t.Error("the peer read the client's data from a connection that broke")
			}
		case <-time.After(waitLimit):
			t.Fatal("the peer did not see the end")
		}
		closeWithin(t, giveUpBound, s)
	})
}

// TestBrokenServerConnectionState: TestBrokenConnectionState's promise
// on the server side, whose client's verified chain the host keeps
// itself: once a panic broke the connection, the chain is not reported
// either.
func TestBrokenServerConnectionState(t *testing.T) {
	p := newPKI(t)
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		checkNoLeak(t)
		addr, conns := accept(t)
		_, errs := goClient(t, addr, &tls.Config{ServerName: "localhost", RootCAs: p.ca.Pool(),
			NextProtos: []string{"h2"}, Certificates: []tls.Certificate{p.client.TLSCertificate()}})
		s := newServerSession(readPanicBackend{b}, backends.ServerConfig{ClientCAs: p.ca.Pool()}, <-conns)
		defer s.Close()
		var reported []string
		var mu sync.Mutex
		s.setReportBroken(func(what string, err error) {
			mu.Lock()
			reported = append(reported, what+": "+err.Error())
			mu.Unlock()
		})
		s.Accept()
		s.ConfigureIdentities([]*backends.Identity{p.server.Identity()})
		s.ConfigureALPN([][]byte{[]byte("h2")})
		cf, err := s.RequestClientIdentity()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := await(t, cf); err != nil {
			t.Fatal(err)
		}
		conn, err := await(t, s.Finish())
		if err != nil {
			t.Fatal(err)
		}
		if st, ok := s.State(); !ok || st.ALPN != "h2" || st.LocalIdentity == nil || len(s.ClientChain().certs()) == 0 {
			t.Fatalf("before the panic: %+v, %v, client chain %v", st, ok, s.ClientChain())
		}
		var pe *BackendPanicError
		if _, err := conn.Read(make([]byte, 10)); !errors.As(err, &pe) || pe.Op != "Read" {
			t.Fatalf("Read: %v", err)
		}
		if st, ok := s.State(); ok || !reflect.DeepEqual(st, backends.State{}) {
			t.Errorf("State after the panic: %+v, %v; want the zero State, false", st, ok)
		}
		if c := s.ClientChain(); c != nil {
			t.Errorf("the client's chain after the panic: %d certificates", len(c.certs()))
		}
		mu.Lock()
		if len(reported) != 1 || !strings.Contains(reported[0], "panicked in Read") {
			t.Errorf("reported %q, want the panic once", reported)
		}
		mu.Unlock()
		select {
		case err := <-errs:
			if err == nil {
				t.Error("the client's exchange succeeded over a connection that broke")
			}
		case <-time.After(waitLimit):
			t.Fatal("the client did not see the end")
		}
		closeWithin(t, giveUpBound, s)
	})
}
