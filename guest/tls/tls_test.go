//go:build !wasip1

package wasitls_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/backends"
	circlpq "github.com/wasitls/wasitls/backends/circl-pq"
	_ "github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/hostcalls"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/internal/testpki"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

type pki struct {
	ca             *testpki.CA
	server, client *testpki.Leaf
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Issue(testpki.LeafOptions{
		CommonName: "server", DNSNames: []string{"example.test"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, Usage: testpki.ServerAuth,
	})
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.Issue(testpki.LeafOptions{CommonName: "client", Usage: testpki.ClientAuth})
	if err != nil {
		t.Fatal(err)
	}
	return &pki{ca, server, client}
}

// compilationCache compiles the guest once for the package's tests, not
// once per test: wazero takes seconds for a large guest on a loaded
// machine. Tests with function listeners compile their own (runContext):
// a cached module keeps the listeners of its first compile.
var compilationCache = wazero.NewCompilationCache()

// run runs the tlstest guest with the stdtls backend trusting p's CA.
func run(t *testing.T, p *pki, out io.Writer, id *testpki.Leaf, connect, listen []string, args ...string) error {
	t.Helper()
	return runLimited(t, p, out, id, connect, listen, 0, runtime.Limits{}, args...)
}

// runLimited is run with the host holding at most conns TLS connections
// for the guest (0: the default) and the guest held to limits.
// runWant runs the guest with args, allowed to connect to addr, and fails
// the test unless it succeeds printing want.
func runWant(t *testing.T, p *pki, addr, want string, args ...string) {
	t.Helper()
	var out bytes.Buffer
	if err := run(t, p, &out, nil, []string{addr}, nil, args...); err != nil {
		t.Fatalf("guest: %v\n%s", err, out.String())
	}
	if out.String() != want {
		t.Fatalf("guest printed %q, want %q", out.String(), want)
	}
}

func runLimited(t *testing.T, p *pki, out io.Writer, id *testpki.Leaf, connect, listen []string, conns int, limits runtime.Limits, args ...string) error {
	t.Helper()
	return runLimitedOut(t, p, out, out, id, connect, listen, conns, limits, args...)
}

// runLimitedOut is runLimited with the guest's standard error apart.
func runLimitedOut(t *testing.T, p *pki, out, errOut io.Writer, id *testpki.Leaf, connect, listen []string, conns int, limits runtime.Limits, args ...string) error {
	t.Helper()
	return runBackend(t, "stdtls", p, out, errOut, id, connect, listen, conns, limits, args...)
}

// runBackend is runLimitedOut with the host's TLS backend named.
func runBackend(t *testing.T, backend string, p *pki, out, errOut io.Writer, id *testpki.Leaf, connect, listen []string, conns int, limits runtime.Limits, args ...string) error {
	t.Helper()
	return runIn(context.Background(), compilationCache, t, backend, p, out, errOut, id, connect, listen, conns, limits, args...)
}

// runContext is runBackend with the wazero runtime made with ctx (a
// function listener's), compiling the guest for it: a module from the
// package's compilation cache would keep the listeners of its first
// compile.
func runContext(ctx context.Context, t *testing.T, backend string, p *pki, out, errOut io.Writer, id *testpki.Leaf, connect, listen []string, conns int, limits runtime.Limits, args ...string) error {
	t.Helper()
	return runIn(ctx, nil, t, backend, p, out, errOut, id, connect, listen, conns, limits, args...)
}

// runIn runs the guest in a wazero runtime made with ctx and cache (nil:
// none).
func runIn(ctx context.Context, cache wazero.CompilationCache, t *testing.T, backend string, p *pki, out, errOut io.Writer, id *testpki.Leaf, connect, listen []string, conns int, limits runtime.Limits, args ...string) error {
	t.Helper()
	cfg := wazero.NewRuntimeConfig()
	if cache != nil {
		cfg = cfg.WithCompilationCache(cache)
	}
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	defer r.Close(ctx)
	policy := new(sockets.Policy)
	if err := policy.AllowConnect(connect...); err != nil {
		t.Fatal(err)
	}
	if err := policy.AllowListen(listen...); err != nil {
		t.Fatal(err)
	}
	host := tlshost.New(tlshost.Config{BackendName: backend, RootCAs: p.ca.Pool(), ClientCAs: p.ca.Pool(), Connections: conns})
	rt, err := runtime.New(ctx, r, runtime.Config{Network: policy, Extensions: []runtime.Extension{host}, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(t, "./testdata/tlstest"))
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	if id != nil {
		env = []string{"KEY=" + string(id.KeyPEM()), "CHAIN=" + string(id.ChainPEM())}
	}
	_, err = rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
		Args: append([]string{"tlstest"}, args...), Env: env, Stdout: out, Stderr: errOut,
	})
	return err
}

// TestConnectionStateCallsBack pins the calls back into the guest that
// reading the connection state costs: one per certificate (each a list
// of its own in the chains' results), none for the server name, the ALPN
// ID or the chains' outer lists, which land in the region the guest
// library keeps offered (guest/wasi/cabi, standing). A call back costs
// the host a goroutine start under wazero's termination checks: the
// server name's cost about 7 µs more than the other scalar reads
// (docs/benchmarks.md). Before the standing offer: 6 per read.
func TestConnectionStateCallsBack(t *testing.T) {
	p := newPKI(t)
	addr := authServer(t, p, func(c net.Conn) { io.Copy(io.Discard, c) })
	const reads = 20
	calls := &hostcalls.Counter{Guest: []string{"cabi_realloc"}}
	var out bytes.Buffer
	err := runContext(calls.Context(context.Background()), t, "stdtls", p, calls.StartOn(&out, "states"), &out,
		p.client, []string{addr}, nil, 0, runtime.Limits{}, "states", strconv.Itoa(reads), addr, "example.test")
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, out.String())
	}
	var certs int
	var name, alpn string
	if _, err := fmt.Sscanf(strings.TrimPrefix(out.String(), "states\n"), "read %d %s %s", &certs, &name, &alpn); err != nil || certs == 0 || name != "example.test" || alpn != "h2" {
		t.Fatalf("guest printed %q (%v)", out.String(), err)
	}
	n := calls.Counts()
	var back int
	for k, v := range n {
		if strings.HasSuffix(k, " cabi_realloc") {
			back += v
		}
	}
	t.Logf("%d certificates per read; host calls of %d reads: %v", certs, reads, n)
	if want := reads * certs; back != want {
		t.Errorf("%d calls back into cabi_realloc for %d reads of %d certificates each, want %d (one per certificate)", back, reads, certs, want)
	}
}

// authServer serves one connection with serve on a crypto/tls server that
// offers ALPN h2 and requires a client certificate from p's CA, and
// returns its address.
func authServer(t *testing.T, p *pki, serve func(net.Conn)) string {
	t.Helper()
	ln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{p.server.TLSCertificate()},
		NextProtos:   []string{"h2"},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    p.ca.Pool(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		serve(c)
	}()
	return ln.Addr().String()
}

func TestClientAgainstGoServer(t *testing.T) {
	p := newPKI(t)
	addr := authServer(t, p, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		fmt.Fprintf(c, "pong %s", b)
	})
	var out bytes.Buffer
	if err := run(t, p, &out, p.client, []string{addr}, nil, "client", addr, "example.test"); err != nil {
		t.Fatalf("guest: %v\n%s", err, out.String())
	}
	// After Close the state is HandshakeComplete and nothing else, as
	// ConnectionState documents.
	want := "reply pong ping\nversion 0x304 alpn h2 sni example.test peer 1 verified 1 local 1 group true suite true\nafter close differs in version suite group alpn sni peer local\n"
	if out.String() != want {
		t.Fatalf("guest printed\n%s\nwant\n%s", out.String(), want)
	}
}

// serveGuest runs start in a goroutine with the write end of a pipe for the
// guest's stdout, reads the address the guest prints first, and returns it
// with wait, which returns the guest's error and what it printed after the
// address.
func serveGuest(t *testing.T, start func(out io.Writer) error) (addr string, wait func() ([]byte, error)) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- start(pw)
		pw.Close()
	}()
	lines := bufio.NewReader(pr)
	addr, err := lines.ReadString('\n')
	if err != nil {
		t.Fatalf("no address: %v (%v)", err, <-done)
	}
	restc := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(lines)
		restc <- b
	}()
	return strings.TrimSpace(addr), func() ([]byte, error) {
		err := <-done
		return <-restc, err
	}
}

func TestServerAgainstGoClient(t *testing.T) {
	p := newPKI(t)
	addr, wait := serveGuest(t, func(out io.Writer) error {
		return run(t, p, out, p.server, nil, []string{"127.0.0.1:0"}, "server")
	})
	c, err := tls.Dial("tcp", addr, &tls.Config{
		ServerName:   "example.test",
		RootCAs:      p.ca.Pool(),
		NextProtos:   []string{"h2", "http/1.1"},
		Certificates: []tls.Certificate{p.client.TLSCertificate()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "hi\n")
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, got)
	}
	if want := "hello example.test alpn=h2 client=1 got=hi\n"; string(got) != want {
		t.Errorf("client read %q, want %q", got, want)
	}
	rest, err := wait()
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, rest)
	}
	t.Logf("guest printed %q", rest)
	if want := "hello sni example.test alpn h2,http/1.1\npost-handshake:"; !strings.HasPrefix(string(rest), want) || !strings.Contains(string(rest), "wasitls:") {
		t.Errorf("guest printed %q, want %q and a post-handshake error", rest, want)
	}
	if want := "\nafter close differs in version suite group alpn sni peer local\n"; !strings.HasSuffix(string(rest), want) {
		t.Errorf("guest printed %q, want it to end with %q", rest, want)
	}
}

// goServer runs a crypto/tls server answering "pong " and what it read to
// EOF, for one connection.
func goServer(t *testing.T, p *pki) string {
	t.Helper()
	ln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{p.server.TLSCertificate()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		fmt.Fprintf(c, "pong %s", b)
	}()
	return ln.Addr().String()
}

func TestDraftClient(t *testing.T) {
	p := newPKI(t)
	addr := goServer(t, p)
	runWant(t, p, addr, "reply pong ping\n", "draft", addr)
}

func TestClientVerifyErrorWrapped(t *testing.T) {
	p := newPKI(t)
	addr := goServer(t, p)
	var out bytes.Buffer
	if err := run(t, p, &out, nil, []string{addr}, nil, "client-reject", addr, "example.test"); err != nil {
		t.Fatalf("guest: %v\n%s", err, out.String())
	}
	want := "rejected wasitls: server certificate rejected: pinned key mismatch errors.Is true\n"
	if out.String() != want {
		t.Fatalf("guest printed %q; want %q", out.String(), want)
	}
}

// TestRejectAlertSurvivesClose: a verification hook rejects the server's
// certificate while another goroutine closes the connection. The server
// still learns why (bad_certificate) instead of reading a cut connection.
// The abort's wait is cut short by Close (it waits on the handshake's
// context, which Close cancels), and Close then drops the connection: the
// alert goes out because the host, on that drop, lets the aborted
// handshake end before it releases the transport.
func TestRejectAlertSurvivesClose(t *testing.T) {
	p := newPKI(t)
	ln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{p.server.TLSCertificate()}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	serverErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			serverErr <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Minute))
		// A TLS 1.3 server finishes its handshake before the client
		// verified it: the alert arrives on the next read.
		_, err = c.Read(make([]byte, 1))
		serverErr <- err
	}()
	addr := ln.Addr().String()
	var out bytes.Buffer
	if err := run(t, p, &out, nil, []string{addr}, nil, "rejectclose", addr, "example.test"); err != nil {
		t.Fatalf("guest: %v\n%s", err, out.String())
	}
	if want := "handshake failed true\n"; out.String() != want {
		t.Fatalf("guest printed %q; want %q", out.String(), want)
	}
	if err := <-serverErr; err == nil || !strings.Contains(err.Error(), "remote error: tls: bad certificate") {
		t.Fatalf("server read %v; want the client's bad_certificate alert", err)
	}
}

func TestClientWrongName(t *testing.T) {
	p := newPKI(t)
	addr := goServer(t, p)
	var out bytes.Buffer
	err := run(t, p, &out, nil, []string{addr}, nil, "client", addr, "wrong.test")
	// The host's reason reaches the guest through client-last-error.
	if err == nil || !strings.Contains(out.String(), "error: wasitls: ") || !strings.Contains(out.String(), "x509: certificate is valid for example.test, not wrong.test") {
		t.Fatalf("err %v, guest printed %q, want a failed handshake naming the certificate's names", err, out.String())
	}
}

// silentServer runs a crypto/tls server that completes the handshake and
// then never reads, until the test ends.
func silentServer(t *testing.T, p *pki) string {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{p.server.TLSCertificate()}}
	hold := make(chan struct{})
	addr := testnet.Serve(t, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		tc.Handshake()
		<-hold
	})
	t.Cleanup(func() { close(hold) }) // before Serve's: cleanups run last first
	return addr.String()
}

// TestCloseWakesBlockedWrite closes a connection while another goroutine
// is blocked in Write on a peer that never reads: Close returns and the
// Write fails with net.ErrClosed, as with crypto/tls, instead of Close
// waiting on the Write (and the host on close_notify's delivery).
func TestCloseWakesBlockedWrite(t *testing.T) {
	p := newPKI(t)
	addr := silentServer(t, p)
	runWant(t, p, addr, "close returned, write closed true\n", "closewrite", addr, "example.test")
}

// TestDraftCloseWakesBlockedWrite is TestCloseWakesBlockedWrite over the
// draft API (DraftConn): Close must not wait for a Write blocked on a peer
// that never reads. Before, Close flushed with no bound and behind the
// Write (its close_notify came first), and waited for good.
func TestDraftCloseWakesBlockedWrite(t *testing.T) {
	p := newPKI(t)
	addr := silentServer(t, p)
	runWant(t, p, addr, "close returned, write closed true\n", "draftclosewrite", addr)
}

// TestCloseWriteBehindBlockedWrite calls CloseWrite while another
// goroutine is blocked in Write on a peer that never reads, with Conn and
// with DraftConn: close_notify cannot go out behind that Write, and
// CloseWrite must fail with wasinet.ErrWriteInProgress instead of
// returning nil for a half-close it did not make (before, it did, and no
// later CloseWrite sent close_notify either); Close then wakes the Write.
func TestCloseWriteBehindBlockedWrite(t *testing.T) {
	p := newPKI(t)
	for _, mode := range []string{"closewritebusy", "draftclosewritebusy"} {
		t.Run(mode, func(t *testing.T) {
			addr := silentServer(t, p)
			var out bytes.Buffer
			if err := run(t, p, &out, nil, []string{addr}, nil, mode, addr, "example.test"); err != nil {
				t.Fatalf("guest: %v\n%s", err, out.String())
			}
			want := "closewrite refused true: close tls " // the net.OpError's text goes on
			if got := out.String(); !strings.HasPrefix(got, want) ||
				!strings.Contains(got, "close_notify not sent: wasinet: a write is in progress\n") ||
				!strings.HasSuffix(got, "\nwrite closed true\n") {
				t.Fatalf("guest printed %q, want %q..., the reason, and the Write closed", got, want)
			}
		})
	}
}

// TestCloseStalledOutput closes a connection whose output the peer never
// takes, after a write deadline ended the blocked Write: Close gives up on
// close_notify at once (its flush already failed) instead of the host
// blocking the guest until its own close-output bound.
func TestCloseStalledOutput(t *testing.T) {
	p := newPKI(t)
	addr := silentServer(t, p)
	runWant(t, p, addr, "close returned in time true\n", "closestalled", addr, "example.test")
}

// TestDraftCloseStalledOutput is TestCloseStalledOutput over the draft
// API, and checks what Close returns: close_notify's flush failed, so
// what was written may not have reached the peer, and Close must say so,
// as Conn.Close does. Before, DraftConn.Close dropped that error and
// returned nil.
func TestDraftCloseStalledOutput(t *testing.T) {
	p := newPKI(t)
	addr := silentServer(t, p)
	runWant(t, p, addr, "close error true timeout true\n", "draftclosestalled", addr)
}

// TestConnectionStateParsesOnce reads a connection's state twice: the
// second call returns the certificates the first parsed, as crypto/tls
// does. guest/http reads the state for every request (its GotConn), so
// before, every request on a reused HTTP/2 connection parsed the server's
// chain again; the guest printed "same parsed false".
func TestConnectionStateParsesOnce(t *testing.T) {
	p := newPKI(t)
	addr := silentServer(t, p)
	runWant(t, p, addr, "peer 1 same parsed true\n", "statecache", addr, "example.test")
}

// TestDeadlineAfterClose sets deadlines on closed connections of package
// guest/net, on Conn (before and after its handshake) and on DraftConn:
// each fails with net.ErrClosed, as with package net and crypto/tls.
// Before, every one returned nil, as if the deadline would bound
// something.
func TestDeadlineAfterClose(t *testing.T) {
	p := newPKI(t)
	addr := silentServer(t, p)
	var out bytes.Buffer
	if err := run(t, p, &out, nil, []string{addr}, nil, "deadlineafterclose", addr, "example.test"); err != nil {
		t.Fatalf("guest: %v\n%s", err, out.String())
	}
	want := "net closed true true true\ntls-unstarted closed true true true\ntls closed true true true\ndraft closed true true true\n"
	if out.String() != want {
		t.Fatalf("guest printed\n%s\nwant\n%s", out.String(), want)
	}
}

// TestFailedDialsHoldNothing dials, a thousand times over, a server whose
// certificate does not match, a server that never answers (the handshake
// ends at its context's deadline), one that accepts and closes at once,
// and a port where nothing listens, under caps of two TLS connections and
// four sockets: every failed Dial must give back its socket, streams and
// TLS connection, or the caps refuse the next ones. A good dial at the end
// proves the caps still admit one.
func TestFailedDialsHoldNothing(t *testing.T) {
	p := newPKI(t)
	mismatch := silentServer(t, p)
	silent := testnet.Serve(t, func(c net.Conn) { io.Copy(io.Discard, c) }).String()
	hangup := testnet.Serve(t, func(c net.Conn) { c.Close() }).String()
	dead := deadPort(t)
	good := silentServer(t, p)
	var out bytes.Buffer
	err := runLimited(t, p, &out, nil, []string{mismatch, silent, hangup, dead, good}, nil,
		2, runtime.Limits{Sockets: 4, Handles: 256},
		"faildials", "1000", mismatch, silent, hangup, dead, good)
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, out.String())
	}
	if want := "failed 1000 mismatch, 20 silent, 1000 hangup, 1000 refused; then ok\n"; out.String() != want {
		t.Fatalf("guest printed %q, want %q", out.String(), want)
	}
}

// deadPort returns a loopback address where nothing listens.
func deadPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestImplicitHandshakeDeadline reads from a client connection whose
// server never answers the handshake, under a deadline: the handshake
// that Read runs ends at the deadline with a timeout, as crypto/tls's
// does over a connection with a deadline (net/http's server bounds a
// connection's first read that way), not at the host's handshake timeout.
func TestImplicitHandshakeDeadline(t *testing.T) {
	p := newPKI(t)
	silent := testnet.Serve(t, func(c net.Conn) { io.Copy(io.Discard, c) }).String()
	var out bytes.Buffer
	if err := run(t, p, &out, nil, []string{silent}, nil, "hsdeadline", silent); err != nil {
		t.Fatalf("guest: %v\n%s", err, out.String())
	}
	if want := "read timeout true within 10s true\n"; out.String() != want {
		t.Fatalf("guest printed %q, want %q", out.String(), want)
	}
}

// TestDeadlineDuringClose sets a write deadline from one goroutine while
// Close, on another, waits to flush close_notify to a peer that never
// reads: as with crypto/tls, setting the deadline does not wait for Close
// (a common way to unblock a close), and the deadline then ends Close's
// wait.
func TestDeadlineDuringClose(t *testing.T) {
	p := newPKI(t)
	addr := silentServer(t, p)
	runWant(t, p, addr, "deadline set during close true, close returned\n", "closedeadline", addr, "example.test")
}

// TestHandshakeDoneAllocs calls Handshake on a connection whose handshake
// is done and which has a deadline: it returns at once, without making a
// context and its timer for a handshake that will not run.
func TestHandshakeDoneAllocs(t *testing.T) {
	p := newPKI(t)
	addr := silentServer(t, p)
	runWant(t, p, addr, "handshake err <nil> allocs 0\n", "hsdone", addr, "example.test")
}

// TestCloseRacingHandshake closes client connections while their
// handshake runs on another goroutine, at delays sweeping the handshake's
// length against a server that answers after delays of its own, under a
// cap of two TLS connections and a handle cap a few handles above what
// one round needs. When Close lands as the handshake finishes, exactly one
// of the two must drop the cleartext streams (the handshake's end sees
// the connection closed and returns net.ErrClosed): before, neither did,
// and Close's drop of the client-connection trapped on its live child
// streams (a leak, had the host allowed it, that the handle cap catches).
// The guest's standard error tells how the handshakes ended; some rounds
// land in that window ("closed as they finished").
func TestCloseRacingHandshake(t *testing.T) {
	testCloseRace(t, "closerace")
}

// TestCloseRacingStepFinish is TestCloseRacingHandshake with the handshake
// driven step by step: Close runs while ClientHandshake.Finish waits for
// the streams. Finish must hold the handshake lock and register a cancel,
// as HandshakeContext does, so that Close cancels the wait and drops the
// client-connection only after Finish dropped its future: before, Close
// dropped it under the live future and the host trapped.
func TestCloseRacingStepFinish(t *testing.T) {
	testCloseRace(t, "stepcloserace")
}

// TestCloseRacingStepVerify is TestCloseRacingStepFinish with
// VerifyServerIdentity before Finish: Close also lands while that step
// waits, and must cancel it before it drops the handshake.
func TestCloseRacingStepVerify(t *testing.T) {
	testCloseRace(t, "stepverifyrace")
}

// TestCloseRacingServerStepFinish is TestCloseRacingStepFinish on the
// server side: the guest closes accepted connections while
// ServerHandshake.Finish waits, against a client that starts its
// handshake after delays of its own, under a cap of two TLS connections
// and the same handle cap; then one more handshake must succeed.
func TestCloseRacingServerStepFinish(t *testing.T) {
	p := newPKI(t)
	var errOut bytes.Buffer
	addr, wait := serveGuest(t, func(out io.Writer) error {
		return runLimitedOut(t, p, out, &errOut, p.server, nil, []string{"127.0.0.1:0"},
			2, runtime.Limits{Handles: closeRaceHandles}, "serverstepcloserace", "400")
	})
	stop := make(chan struct{})
	dialed := make(chan struct{})
	go func() {
		defer close(dialed)
		cfg := &tls.Config{ServerName: "example.test", RootCAs: p.ca.Pool()}
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				continue
			}
			time.Sleep(time.Duration(n%7) * 300 * time.Microsecond)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			tls.Client(c, cfg).Handshake()
			c.Close()
		}
	}()
	rest, err := wait()
	close(stop)
	<-dialed
	t.Logf("guest: %s", errOut.String())
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, rest)
	}
	if want := "400 rounds; then ok\n"; string(rest) != want {
		t.Fatalf("guest printed %q, want %q", rest, want)
	}
}

// TestCloseRacingStepAbort is TestCloseRacingStepVerify with Abort
// instead of Finish: a Close landing while Abort waits for its alert to
// go out must not cut it short (the host bounds that wait): Abort returns
// nil, not a cancellation for a handshake it did abort, and Close then
// releases everything. Before, Close cancelled the wait, and Abort
// returned context.Canceled.
func TestCloseRacingStepAbort(t *testing.T) {
	testCloseRace(t, "stepabortrace")
}

// TestCloseRacingIdentityRequest is TestCloseRacingStepFinish against a
// server asking for a client certificate: the guest receives the request
// and answers it after a delay, while Close lands at delays of its own.
// A request still open is a child of the handshake: Close must decline
// it before it drops the handshake, and Respond, Decline and Info must do
// nothing after Close. Before, Close dropped the handshake under the live
// request and the host trapped ("... has 1 live children").
func TestCloseRacingIdentityRequest(t *testing.T) {
	testCloseRace(t, "stepidreqrace")
}

func testCloseRace(t *testing.T, mode string) {
	p := newPKI(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{p.server.TLSCertificate()}}
	var id *testpki.Leaf
	if mode == "stepidreqrace" {
		cfg.ClientAuth = tls.RequestClientCert
		id = p.client
	}
	var accepted atomic.Int64
	addr := testnet.Serve(t, func(c net.Conn) {
		n := accepted.Add(1)
		time.Sleep(time.Duration(n%7) * 300 * time.Microsecond)
		tc := tls.Server(c, cfg)
		if tc.Handshake() == nil {
			io.Copy(io.Discard, tc)
		}
	}).String()
	var out, errOut bytes.Buffer
	err := runLimitedOut(t, p, &out, &errOut, id, []string{addr}, nil,
		2, runtime.Limits{Handles: closeRaceHandles},
		mode, "400", addr, "example.test")
	t.Logf("guest: %s", errOut.String())
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, out.String())
	}
	if want := "400 rounds; then ok\n"; out.String() != want {
		t.Fatalf("guest printed %q, want %q", out.String(), want)
	}
}

// closeRaceHandles is the handle cap of TestCloseRacingHandshake: a round
// needs 9 or 10 handles at most (8 is refused); a few leaked rounds, two
// streams each, pass the cap.
const closeRaceHandles = 16

// TestClosePendingPostHandshakeAuth closes a server connection (on the
// circl-pq backend, which does post-handshake authentication) while
// RequestClientCertificate waits on another goroutine for a client that
// offered post_handshake_auth and never reads the request. Close must
// cancel the wait, as it does a handshake step's, before it drops the
// connection; before, the request waited without the handshake lock and
// without a cancel Close could reach, Close dropped the
// server-connection under the live future, and the host trapped. A
// request after Close fails with net.ErrClosed (before: "on a client
// connection").
func TestClosePendingPostHandshakeAuth(t *testing.T) {
	p := newPKI(t)
	var errOut bytes.Buffer
	addr, wait := serveGuest(t, func(out io.Writer) error {
		return runBackend(t, "circl-pq", p, out, &errOut, p.server, nil, []string{"127.0.0.1:0"}, 0, runtime.Limits{}, "phaclose")
	})
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(20 * time.Second))
	// The ClientIdentity hook makes the client offer post_handshake_auth;
	// it is never called, as the client never reads after the handshake.
	c, err := circlpq.Client(raw, &backends.ClientConfig{
		ServerName: "example.test", RootCAs: p.ca.Pool(),
		ClientIdentity: func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) { return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Handshake(context.Background()); err != nil {
		t.Fatal(err)
	}
	rest, err := wait()
	if err != nil {
		t.Fatalf("guest: %v\n%s%s", err, rest, errOut.String())
	}
	if want := "request during close ended context canceled, after close closed true\n"; string(rest) != want {
		t.Fatalf("guest printed %q, want %q", rest, want)
	}
}

// TestServerHandshakeStackGrowth pins what a server's connection
// goroutine ("go handle(conn)") pays for its stack: the handshake path
// needs more than a new goroutine's stack, so it grows once, and Handshake
// grows it first thing (reserveStack), so that the copy adjusts five
// frames: the goroutine's start, the go statement's wrapper, the handler,
// Handshake and reserveStack. Each frame costs the runtime an unwind step,
// a stack map and a pointer scan, in WebAssembly about a sixth of a
// growth; growing it inside HandshakeContext, where Handshake would call
// it, would adjust six.
func TestServerHandshakeStackGrowth(t *testing.T) {
	const conns = 20
	calls := serveCountedHandshakes(t, conns, "runtime.copystack", "runtime.adjustframe")
	grown, frames := calls.StackGrowths()
	t.Logf("%d connections: %d stack growths adjusting %d frames", conns, grown, frames)
	if grown == 0 {
		t.Fatalf("no stack growth counted (the handshake path fits a new goroutine's stack now: drop reserveStack): %v", calls.Counts())
	}
	if grown > conns {
		t.Errorf("%d stack growths for %d connection goroutines, want at most one each", grown, conns)
	}
	if frames > 5*grown {
		t.Errorf("stack growths adjusted %d frames in all, %.1f each, want at most 5 each", frames, float64(frames)/float64(grown))
	}
}

// TestHandshakeWithoutContextDerivesNone pins that Handshake, with no
// deadline set, derives no context for Close to cancel the handshake
// with: the Conn's own Canceler does it, without context.WithCancel's
// three allocations and lock rounds per handshake, and without a channel
// made and closed per handshake (one each before the Canceler).
func TestHandshakeWithoutContextDerivesNone(t *testing.T) {
	const conns = 20
	calls := serveCountedHandshakes(t, conns, "context.WithCancel", "runtime.mallocgc", "runtime.makechan")
	counts := calls.Counts()
	// the guest's module is unnamed
	allocs, derived, chans := counts[" runtime.mallocgc"], counts[" context.WithCancel"], counts[" runtime.makechan"]
	t.Logf("%d server handshakes: %d allocations, %d contexts derived, %d channels made", conns, allocs, derived, chans)
	if allocs == 0 {
		t.Fatalf("nothing counted: %v", counts)
	}
	if n := derived; n != 0 {
		t.Errorf("%d calls of context.WithCancel for %d handshakes, want none", n, conns)
	}
	// The poller's waiters make theirs once, as many as wait at once.
	if chans >= conns/2 {
		t.Errorf("%d channels made for %d handshakes, want fewer than %d", chans, conns, conns/2)
	}
}

// TestServerHandshakeAllocations pins what a server handshake allocates in
// the guest: the TLS Conn, the guest/net Conn and the bindings' lowered
// list of the two ALPN protocols (the program's goroutine and the byte it
// writes aside). The cleartext streams' reader and writer are part of the
// TLS Conn, the identities' handles and the ALPN protocols are lowered
// from the handshake's frame without copies, and Close ends the handshake
// through a Canceler: seven allocations more per handshake when each was
// its own.
func TestServerHandshakeAllocations(t *testing.T) {
	const conns = 20
	calls := serveCountedHandshakes(t, conns, "runtime.mallocgc")
	allocs := calls.Counts()[" runtime.mallocgc"]
	t.Logf("%d server handshakes: %d allocations", conns, allocs)
	if allocs == 0 {
		t.Fatal("nothing counted")
	}
	// 119 for 20 handshakes here (259 with the streams', the handles',
	// the cancel channel's and the ALPN protocols' copies): 6.5 per
	// handshake leaves room for the runtime's own.
	if max := conns * 13 / 2; allocs > max {
		t.Errorf("%d allocations for %d server handshakes, want at most %d", allocs, conns, max)
	}
}

// serveCountedHandshakes serves conns TLS connections from the guest's
// "handshakes" mode (a goroutine per connection: Handshake, one byte,
// Close) with the guest functions named counted from the listener's
// address on.
func serveCountedHandshakes(t *testing.T, conns int, names ...string) *hostcalls.Counter {
	t.Helper()
	p := newPKI(t)
	calls := &hostcalls.Counter{Guest: names}
	addr, wait := serveGuest(t, func(out io.Writer) error {
		return runContext(calls.Context(context.Background()), t, "stdtls", p, calls.StartOn(out, "127.0.0.1:"), out,
			p.server, nil, []string{"127.0.0.1:0"}, 0, runtime.Limits{}, "handshakes", strconv.Itoa(conns))
	})
	for range conns {
		c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "example.test", RootCAs: p.ca.Pool()})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(c)
		c.Close()
		if err != nil || len(b) != 1 {
			t.Fatalf("read %q: %v", b, err)
		}
	}
	rest, err := wait()
	if err != nil || string(rest) != "served\n" {
		t.Fatalf("guest: %v\n%s", err, rest)
	}
	return calls
}
