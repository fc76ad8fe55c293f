package tlshost

import (
	"context"
	"errors"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

const waitLimit = 5 * time.Second

func await[T any](t *testing.T, f *future[T]) (T, error) {
	t.Helper()
	select {
	case <-f.Done():
	case <-time.After(waitLimit):
		t.Fatal("future not resolved in time")
	}
	v, err, st := f.take()
	if st != futureReady {
		t.Fatalf("take: state %d, want ready", st)
	}
	return v, err
}

func pending[T any](t *testing.T, f *future[T]) {
	t.Helper()
	time.Sleep(20 * time.Millisecond)
	if f.Ready() {
		_, err, _ := f.peek()
		t.Fatalf("future resolved too early (err %v)", err)
	}
}

func waitChan(t *testing.T, c <-chan struct{}) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(waitLimit):
		t.Fatal("channel not closed in time")
	}
}

func waitSignal(t *testing.T, s *wasiio.Signal) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if _, err := wasiio.Wait(ctx, []wasiio.Source{s}); err != nil {
		t.Fatal("signal not fired in time")
	}
}

func newPipe(t *testing.T) net.Conn {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return a
}

func wantErr(t *testing.T, err error, substr string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), substr) {
		t.Fatalf("error %v, want one containing %q", err, substr)
	}
}

// checkNoLeak fails if goroutines outlive the test body.
func checkNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(waitLimit)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Fatalf("goroutines leaked: %d > %d\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

func TestClientFullFlow(t *testing.T) {
	checkNoLeak(t)
	b := &fakeBackend{serverChain: [][]byte{[]byte("leaf"), []byte("ca")}, certRequest: true}
	s := newClientSession(b, backends.ClientConfig{}, newPipe(t))
	defer s.Close()

	if err := s.Connect("example.com"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.Connect("example.com"), "at most once")
	if err := s.ConfigureALPN([][]byte{[]byte("h2")}); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfigureGroups([]uint16{0x11ec, 0x001d}, 1); err != nil {
		t.Fatal(err)
	}
	if ev := b.Events(); len(ev) != 0 {
		t.Fatalf("I/O before the handshake was resumed: %v", ev)
	}

	vf, err := s.VerifyServerIdentity()
	if err != nil {
		t.Fatal(err)
	}
	pc, err := await(t, vf)
	chain := pc.certs()
	if err != nil || !slices.EqualFunc(chain, b.serverChain, slices.Equal) {
		t.Fatalf("verify future: %q, %v", chain, err)
	}
	// Suspended at the certificate: nothing after it happened.
	if ev := b.Events(); slices.Contains(ev, "server verified") {
		t.Fatalf("handshake went past verification while suspended: %v", ev)
	}
	wantErr(t, s.ConfigureALPN([][]byte{[]byte("h2")}), "already started")
	_, err = s.VerifyServerIdentity()
	wantErr(t, err, "at most once")

	rf, err := s.ReceiveClientIdentityRequest()
	if err != nil {
		t.Fatal(err)
	}
	req, err := await(t, rf)
	if err != nil || req == nil {
		t.Fatalf("request future: %v, %v", req, err)
	}
	if req.req.SignatureSchemes[0] != 0x0804 {
		t.Fatalf("request: %+v", req.req)
	}
	id := &backends.Identity{Chain: [][]byte{[]byte("client")}}
	req.Respond([]*backends.Identity{id})

	sf := s.Finish()
	conn, err := await(t, sf)
	if err != nil || conn == nil {
		t.Fatalf("finish: %v, %v", conn, err)
	}
	st := conn.State()
	if st.LocalIdentity != id || st.ALPN != "h2" || st.Group != 0x11ec {
		t.Fatalf("state: %+v", st)
	}
	want := []string{"client hello sni=example.com alpn=[h2] groups=[4588 29]", "server verified", "client certificates 1", "client finished"}
	if ev := b.Events(); !slices.Equal(ev, want) {
		t.Fatalf("events:\n got %q\nwant %q", ev, want)
	}
	if _, _, st := sf.take(); st != futureTaken {
		t.Fatal("second get did not report the result as taken")
	}
}

// TestClientRequestBeforeVerify: a backend whose certificate request
// comes before the server's certificate (TLS 1.3's message order) calls
// ClientIdentity while the guest waits at verify-server-identity; the
// guest may still call receive-client-identity-request then, and gets
// the request as the server sent it. Before, the host copied the
// request only for a guest that had asked already: this one got a
// request without its contents, and reading them panicked.
func TestClientRequestBeforeVerify(t *testing.T) {
	checkNoLeak(t)
	b := &fakeBackend{serverChain: [][]byte{[]byte("leaf")}, certRequest: true, requestFirst: true}
	s := newClientSession(b, backends.ClientConfig{}, newPipe(t))
	defer s.Close()
	s.Connect("example.com")
	vf, err := s.VerifyServerIdentity()
	if err != nil {
		t.Fatal(err)
	}
	// The request arrived before the guest asked for it.
	select {
	case <-s.requestFut.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("no certificate request within 5 s")
	}
	rf, err := s.ReceiveClientIdentityRequest()
	if err != nil {
		t.Fatal(err)
	}
	req, err := await(t, rf)
	if err != nil || req == nil || req.req == nil {
		t.Fatalf("request future: %+v, %v", req, err)
	}
	if !slices.Equal(req.req.SignatureSchemes, []uint16{0x0804}) {
		t.Fatalf("request: %+v", req.req)
	}
	req.Respond(nil)
	if _, err := await(t, vf); err != nil {
		t.Fatal(err)
	}
	if _, err := await(t, s.Finish()); err != nil {
		t.Fatal(err)
	}
	if ev := b.Events(); !slices.Contains(ev, "client certificates 0") || !slices.Contains(ev, "client finished") {
		t.Fatalf("events: %q", ev)
	}
}

func TestClientFinishOnly(t *testing.T) {
	checkNoLeak(t)
	b := &fakeBackend{serverChain: [][]byte{[]byte("leaf")}, certRequest: true}
	s := newClientSession(b, backends.ClientConfig{}, newPipe(t))
	defer s.Close()
	s.Connect("example.com")
	if _, err := await(t, s.Finish()); err != nil {
		t.Fatal(err)
	}
	// Nobody asked to see the certificate request: no certificate is sent.
	if ev := b.Events(); !slices.Contains(ev, "client certificates 0") {
		t.Fatalf("events: %q", ev)
	}
}

func TestClientNoRequestResolvesNone(t *testing.T) {
	checkNoLeak(t)
	b := &fakeBackend{serverChain: [][]byte{[]byte("leaf")}}
	s := newClientSession(b, backends.ClientConfig{}, newPipe(t))
	defer s.Close()
	s.Connect("example.com")
	rf, err := s.ReceiveClientIdentityRequest()
	if err != nil {
		t.Fatal(err)
	}
	req, err := await(t, rf)
	if err != nil || req != nil {
		t.Fatalf("request future: %v, %v", req, err)
	}
	_, err = s.VerifyServerIdentity()
	wantErr(t, err, "progressed past")
	if ev := b.Events(); slices.Contains(ev, "client finished") {
		t.Fatalf("handshake did not suspend after the request point: %v", ev)
	}
	if _, err := await(t, s.Finish()); err != nil {
		t.Fatal(err)
	}
}

func TestClientAbortAtVerify(t *testing.T) {
	checkNoLeak(t)
	b := &fakeBackend{serverChain: [][]byte{[]byte("leaf")}}
	s := newClientSession(b, backends.ClientConfig{}, newPipe(t))
	defer s.Close()
	s.Connect("example.com")
	vf, _ := s.VerifyServerIdentity()
	if _, err := await(t, vf); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, s.Abort())
	// The hook returned ErrAborted, so the backend sent user_canceled.
	if ev := b.Events(); !slices.Contains(ev, "alert 90") || slices.Contains(ev, "server verified") {
		t.Fatalf("events: %q", ev)
	}
	_, err := s.ReceiveClientIdentityRequest()
	wantErr(t, err, "finished or aborted")
	wantErr(t, s.ConfigureALPN([][]byte{[]byte("h2")}), "finished or aborted")
}

func TestClientAbortSilentPeer(t *testing.T) {
	checkNoLeak(t)
	b := &fakeBackend{silentPeer: true}
	s := newClientSession(b, backends.ClientConfig{}, newPipe(t))
	defer s.Close()
	s.Connect("example.com")
	vf, _ := s.VerifyServerIdentity()
	pending(t, vf)
	waitSignal(t, s.Abort())
	_, err := await(t, vf)
	wantErr(t, err, "aborted")
}

func TestClientAbortBeforeStart(t *testing.T) {
	checkNoLeak(t)
	b := &fakeBackend{}
	s := newClientSession(b, backends.ClientConfig{}, newPipe(t))
	defer s.Close()
	s.Connect("example.com")
	waitSignal(t, s.Abort())
	if ev := b.Events(); len(ev) != 0 {
		t.Fatalf("events: %q", ev)
	}
}

func TestClientHandshakeFailure(t *testing.T) {
	checkNoLeak(t)
	b := &fakeBackend{failAt: "verify"}
	s := newClientSession(b, backends.ClientConfig{}, newPipe(t))
	defer s.Close()
	s.Connect("example.com")
	vf, _ := s.VerifyServerIdentity()
	_, err := await(t, vf)
	wantErr(t, err, "unknown authority")
	_, err = await(t, s.Finish())
	wantErr(t, err, "unknown authority")
}

func TestClientCloseWhileSuspended(t *testing.T) {
	checkNoLeak(t)
	b := &fakeBackend{serverChain: [][]byte{[]byte("leaf")}}
	s := newClientSession(b, backends.ClientConfig{}, newPipe(t))
	s.Connect("example.com")
	vf, _ := s.VerifyServerIdentity()
	await(t, vf)
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	waitChan(t, done)
	if _, err := s.VerifyServerIdentity(); !errors.Is(err, errClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestClientMisuse(t *testing.T) {
	checkNoLeak(t)
	b := &fakeBackend{}
	s := newClientSession(b, backends.ClientConfig{}, newPipe(t))
	defer s.Close()
	_, err := s.VerifyServerIdentity()
	wantErr(t, err, "call connect first")
	wantErr(t, s.Connect(""), "empty server name")
	s.Connect("example.com")
	wantErr(t, s.ConfigureALPN([][]byte{{}}), "want 1 to 255")
	wantErr(t, s.ConfigureVersions([]uint16{0x0301}), "unsupported protocol version")
	wantErr(t, s.ConfigureGroups([]uint16{0x1d, 0x1d}, 1), "duplicate")
	wantErr(t, s.ConfigureGroups([]uint16{0x1d}, 2), "key-shares")
	s.Finish()
	wantErr(t, s.ConfigureALPN([][]byte{[]byte("h2")}), "finished or aborted")
	_, err = await(t, s.Finish())
	wantErr(t, err, "already finished")
}

func TestServerFullFlow(t *testing.T) {
	checkNoLeak(t)
	b := &fakeBackend{clientChain: [][]byte{[]byte("client")}}
	s := newServerSession(b, backends.ServerConfig{}, newPipe(t))
	defer s.Close()
	id1 := &backends.Identity{Chain: [][]byte{[]byte("one")}}
	id2 := &backends.Identity{Chain: [][]byte{[]byte("two")}}
	if err := s.Accept(); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.Accept(), "at most once")
	s.ConfigureIdentities([]*backends.Identity{id2})
	hf, err := s.ReceiveClientHello()
	if err != nil {
		t.Fatal(err)
	}
	hello, err := await(t, hf)
	if err != nil || hello.ServerName != "example.com" {
		t.Fatalf("hello: %+v, %v", hello, err)
	}
	if n, ok := s.ServerName(); !ok || n != "example.com" {
		t.Fatalf("server-name: %q %v", n, ok)
	}
	// Reconfigure from the hello.
	if err := s.ConfigureIdentities([]*backends.Identity{id1}); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfigureALPN([][]byte{[]byte("h2")}); err != nil {
		t.Fatal(err)
	}
	cf, err := s.RequestClientIdentity()
	if err != nil {
		t.Fatal(err)
	}
	pc, err := await(t, cf)
	chain := pc.certs()
	if err != nil || len(chain) != 1 || string(chain[0]) != "client" {
		t.Fatalf("client identity: %q, %v", chain, err)
	}
	wantErr(t, s.ConfigureALPN([][]byte{[]byte("h2")}), "past the client hello")
	if ev := b.Events(); slices.Contains(ev, "server finished") {
		t.Fatalf("not suspended at the client certificate: %q", ev)
	}
	conn, err := await(t, s.Finish())
	if err != nil {
		t.Fatal(err)
	}
	if st := conn.State(); st.LocalIdentity != id1 || st.ALPN != "h2" {
		t.Fatalf("state: %+v", st)
	}
	want := []string{"got client hello", "server hello alpn=[h2] ids=1 auth=1", "client verified", "server finished"}
	if ev := b.Events(); !slices.Equal(ev, want) {
		t.Fatalf("events:\n got %q\nwant %q", ev, want)
	}
	// Post-handshake authentication through the backend.
	pf, err := s.RequestClientIdentityPost()
	if err != nil {
		t.Fatal(err)
	}
	if pc, err := await(t, pf); err != nil || len(pc.certs()) != 1 {
		t.Fatalf("post-handshake: %q, %v", pc.certs(), err)
	}
}

func TestServerRequestBeforeHello(t *testing.T) {
	checkNoLeak(t)
	b := &fakeBackend{}
	s := newServerSession(b, backends.ServerConfig{}, newPipe(t))
	defer s.Close()
	s.Accept()
	s.ConfigureIdentities([]*backends.Identity{{}})
	cf, err := s.RequestClientIdentity()
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.ReceiveClientHello()
	wantErr(t, err, "progressed past")
	pc, err := await(t, cf)
	chain := pc.certs()
	if err != nil || chain != nil {
		t.Fatalf("client sent no certificate: want none, got %q, %v", chain, err)
	}
	if _, err := await(t, s.Finish()); err != nil {
		t.Fatal(err)
	}
}

func TestServerRequestAfterHelloReleased(t *testing.T) {
	checkNoLeak(t)
	b := &fakeBackend{}
	s := newServerSession(b, backends.ServerConfig{}, newPipe(t))
	defer s.Close()
	s.Accept()
	s.ConfigureIdentities([]*backends.Identity{{}})
	if _, err := await(t, s.Finish()); err != nil {
		t.Fatal(err)
	}
	_, err := s.RequestClientIdentity()
	wantErr(t, err, "finished or aborted")
}

func TestServerPostHandshakeNotSupported(t *testing.T) {
	checkNoLeak(t)
	b := &fakeBackend{postErr: errors.New("crypto/tls has no post-handshake client authentication: " + backends.ErrNotSupported.Error())}
	s := newServerSession(b, backends.ServerConfig{}, newPipe(t))
	defer s.Close()
	s.Accept()
	_, err := s.RequestClientIdentityPost()
	wantErr(t, err, "has not completed")
	s.ConfigureIdentities([]*backends.Identity{{}})
	if _, err := await(t, s.Finish()); err != nil {
		t.Fatal(err)
	}
	pf, err := s.RequestClientIdentityPost()
	if err != nil {
		t.Fatal(err)
	}
	_, err = await(t, pf)
	wantErr(t, err, "crypto/tls has no post-handshake client authentication")
}

func TestServerAbortAtHello(t *testing.T) {
	checkNoLeak(t)
	b := &fakeBackend{}
	s := newServerSession(b, backends.ServerConfig{}, newPipe(t))
	defer s.Close()
	s.Accept()
	hf, _ := s.ReceiveClientHello()
	await(t, hf)
	waitSignal(t, s.Abort())
	if ev := b.Events(); !slices.Contains(ev, "alert 90") {
		t.Fatalf("events: %q", ev)
	}
}

func TestServerNoIdentityFails(t *testing.T) {
	checkNoLeak(t)
	b := &fakeBackend{}
	s := newServerSession(b, backends.ServerConfig{}, newPipe(t))
	defer s.Close()
	s.Accept()
	_, err := await(t, s.Finish())
	wantErr(t, err, "no certificates")
}

func TestServerCloseSilentPeer(t *testing.T) {
	checkNoLeak(t)
	b := &fakeBackend{silentPeer: true}
	s := newServerSession(b, backends.ServerConfig{}, newPipe(t))
	s.Accept()
	hf, _ := s.ReceiveClientHello()
	pending(t, hf)
	s.Close()
	_, err := await(t, hf)
	wantErr(t, err, "aborted")
}
