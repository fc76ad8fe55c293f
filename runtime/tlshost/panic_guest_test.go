package tlshost_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/syncbuf"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// A backend that panics costs the connection it panicked on and nothing
// else: real guests (client and server) over real loopback sockets run
// one connection after the other over a backend that panics in a chosen
// method on each, on the host's goroutines (a backend without
// NonblockingConn: the handshake goroutine, stream reader and writer,
// bounded Close) and on the guest's own calls (with it: inline handshake,
// reads, writes, close_notify and Close). The process survives (a panic
// that escaped would end the test binary), the guest sees the failure of
// that connection, naming the backend, the method and the panic's value
// on one line, the next connection works, the stack is in the host's log
// and not in the guest's output, and no goroutine or file descriptor is
// left behind.

const panickyGuest = "./testdata/panicky"

// A panickyBackend wraps a registered backend; the connection it makes
// n-th (counting Client and Server calls) panics in the method plan[n]
// names, the first time the host calls it ("" or past the plan: never).
// With panicParse, the first ParseIdentity panics.
type panickyBackend struct {
	backends.Describer
	nonblocking bool // its connections are backends.NonblockingConn when the wrapped one's are
	plan        []string
	panicParse  atomic.Bool

	mu sync.Mutex
	n  int
}

// panicValue is what the backend panics with: two lines, which the
// guest sees as one.
func panicValue(op string) string { return "test panic in " + op + "\nsecond line" }

func (b *panickyBackend) Name() string { return "panicky(" + b.Describer.Name() + ")" }

func (b *panickyBackend) ParseIdentity(key []byte, chain [][]byte) (*backends.Identity, error) {
	if b.panicParse.CompareAndSwap(true, false) {
		panic(panicValue("ParseIdentity"))
	}
	return b.Describer.ParseIdentity(key, chain)
}

func (b *panickyBackend) next() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	op := ""
	if b.n < len(b.plan) {
		op = b.plan[b.n]
	}
	b.n++
	return op
}

func (b *panickyBackend) Client(transport net.Conn, cfg *backends.ClientConfig) (backends.Conn, error) {
	op := b.next()
	if op == "Client" {
		panic(panicValue(op))
	}
	conn, err := b.Describer.Client(transport, cfg)
	return b.wrap(conn, op), err
}

func (b *panickyBackend) Server(transport net.Conn, cfg *backends.ServerConfig) (backends.Conn, error) {
	op := b.next()
	if op == "Server" {
		panic(panicValue(op))
	}
	conn, err := b.Describer.Server(transport, cfg)
	return b.wrap(conn, op), err
}

func (b *panickyBackend) wrap(conn backends.Conn, op string) backends.Conn {
	if conn == nil {
		return nil
	}
	c := &panickyConn{inner: conn, op: op}
	if b.nonblocking {
		return panickyNonblockingConn{c}
	}
	return c
}

type panickyConn struct {
	inner backends.Conn
	op    string
	fired atomic.Bool
}

func (c *panickyConn) maybe(op string) {
	if op == c.op && c.fired.CompareAndSwap(false, true) {
		panic(panicValue(op))
	}
}

func (c *panickyConn) Handshake(ctx context.Context) error {
	c.maybe("Handshake")
	return c.inner.Handshake(ctx)
}

func (c *panickyConn) Read(p []byte) (int, error) {
	c.maybe("Read")
	return c.inner.Read(p)
}

func (c *panickyConn) Write(p []byte) (int, error) {
	c.maybe("Write")
	return c.inner.Write(p)
}

func (c *panickyConn) CloseWrite() error {
	c.maybe("CloseWrite")
	return c.inner.CloseWrite()
}

func (c *panickyConn) Close() error {
	// The wrapped connection is closed first: the panic is the only
	// thing wrong with this Close.
	err := c.inner.Close()
	c.maybe("Close")
	return err
}

func (c *panickyConn) State() backends.State {
	c.maybe("State")
	return c.inner.State()
}

func (c *panickyConn) RequestClientIdentity(ctx context.Context) ([][]byte, error) {
	c.maybe("RequestClientIdentity")
	return c.inner.RequestClientIdentity(ctx)
}

func (c *panickyConn) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	c.maybe("ExportKeyingMaterial")
	x, ok := c.inner.(backends.KeyingMaterialExporter)
	if !ok {
		return nil, backends.ErrNotSupported
	}
	return x.ExportKeyingMaterial(label, context, length)
}

type panickyNonblockingConn struct{ *panickyConn }

func (c panickyNonblockingConn) NonblockingTransport() bool {
	nc, ok := c.inner.(backends.NonblockingConn)
	return ok && nc.NonblockingTransport()
}

// describers yields the registered backends that describe themselves
// (backends.Describer), by name: those a panickyBackend can stand for.
func describers(t *testing.T) iter.Seq2[string, backends.Describer] {
	return func(yield func(string, backends.Describer) bool) {
		for _, name := range backends.Names() {
			real, err := backends.ByName(name)
			if err != nil {
				t.Fatal(err)
			}
			if d, ok := real.(backends.Describer); ok && !yield(name, d) {
				return
			}
		}
	}
}

// panicCase runs f for every registered backend, on the host's
// goroutines and on the guest's calls, and checks afterwards that
// nothing of it is left: no goroutine, no file descriptor.
func panicCase(t *testing.T, f func(t *testing.T, b *panickyBackend, logs *syncbuf.Buffer)) {
	for name, d := range describers(t) {
		for _, nonblocking := range []bool{false, true} {
			path := "host-goroutines"
			if nonblocking {
				path = "guest-calls"
			}
			t.Run(name+"/"+path, func(t *testing.T) {
				leftBehind(t, func(t *testing.T) {
					logs := new(syncbuf.Buffer)
					f(t, &panickyBackend{Describer: d, nonblocking: nonblocking}, logs)
				})
			})
		}
	}
}

// leftBehind runs f as a subtest "guest" and fails t unless the
// goroutines and file descriptors come back to what they were before.
func leftBehind(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	goBefore, fdBefore := goroutines(), openFDs(t)
	t.Run("guest", f)
	deadline := time.Now().Add(10 * time.Second)
	for {
		goNow, fdNow := goroutines(), openFDs(t)
		if goNow <= goBefore && fdNow <= fdBefore {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("left behind: goroutines %d (before %d), fds %d (before %d)", goNow, goBefore, fdNow, fdBefore)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkPanicRounds checks the guest's output: round i failed naming the
// panic of plan[i] (or, for "" and Close, whose failure the guest is
// never told, succeeded), the last round succeeded, and the host's log
// has each panic with its stack.
func checkPanicRounds(t *testing.T, b *panickyBackend, out, logs string, plan []string, okLine string) {
	t.Helper()
	if strings.Contains(out, "goroutine ") || strings.Contains(out, "\nsecond line") {
		t.Errorf("the guest's output holds a stack trace or a panic value on more than one line:\n%s", out)
	}
	for i, op := range plan {
		re := regexp.MustCompile(fmt.Sprintf(`(?m)^round %d: (.*)$`, i))
		lines := re.FindAllStringSubmatch(out, -1)
		if len(lines) == 0 {
			t.Errorf("no result for round %d (%q):\n%s", i, op, out)
			continue
		}
		got := lines[len(lines)-1][1]
		switch op {
		case "", "Close":
			if got != okLine {
				t.Errorf("round %d (%q): %q, want %q", i, op, got, okLine)
			}
		default:
			want := fmt.Sprintf("the %s backend panicked in %s: %s", b.Name(), op, "test panic in "+op+" second line")
			all := ""
			for _, l := range lines {
				all += l[1] + "\n"
			}
			if !strings.Contains(all, want) {
				t.Errorf("round %d: %q, want it to contain %q", i, all, want)
			}
		}
		if op != "" {
			if !strings.Contains(logs, "panicked in "+op) || !strings.Contains(logs, "stack=") {
				t.Errorf("the host's log lacks the panic in %s with its stack:\n%s", op, logs)
			}
		}
	}
	mustContain(t, out, "done")
}

func panicHostConfig(b *panickyBackend, logs *syncbuf.Buffer) tlshost.Config {
	// One pending handshake at a time: a connection whose panic left its
	// handshake counted would make the next one fail.
	return tlshost.Config{Backend: b, Logger: slog.New(slog.NewTextHandler(logs, nil)), HandshakeTimeout: 10 * time.Second, PendingHandshakes: 1}
}

// panicPaths are, for the methods whose calls run on the host's
// goroutines or on the guest's, the frames one of which is on the stack
// the host logged for the panic: which of the two it was.
//
// A deferred handshake (the guest's calls) runs where the guest's first
// wait for it finds it: on that wait, as a coroutine, when the wait
// blocks (a Go guest waits with a timer among its pollables), or on its
// goroutine when a source of the wait is ready on entry (a wait that
// returns at once starts what it looked at, see wasiio.Wait). A Go
// guest's timer is its poller's, reused until it fires, at most
// poll.MaxBlock (10 ms) after it was made: on a loaded machine the guest
// can take longer than that from the wait that made it to its handshake's
// first wait, whose timer is then due on entry. Either is the host's path
// for such a handshake; TestPausedHandshakePanics checks the first
// deterministically.
var panicPaths = map[bool]map[string][]string{
	false: { // host goroutines
		"Handshake":             {"(*driver).launchLocked.func"},
		"Read":                  {"wasiio.(*InputStream).run"},
		"Write":                 {"wasiio.(*OutputStream).run"},
		"CloseWrite":            {"tlshost.bounded.func"},
		"Close":                 {"tlshost.bounded.func"},
		"RequestClientIdentity": {"(*serverSession).RequestClientIdentityPost.func"},
	},
	true: { // the guest's calls (a Go guest's handshake runs on its waits, as a coroutine)
		"Handshake":             {"(*driver).newPausableLocked.func", "(*driver).launchLocked.func"},
		"Read":                  {"wasiio.(*InlineInputStream).Read"},
		"Write":                 {"wasiio.(*OutputStream).Write"},
		"CloseWrite":            {"tlshost.boundedInline"},
		"Close":                 {"tlshost.boundedInline"},
		"RequestClientIdentity": {"(*serverSession).RequestClientIdentityPost.func"},
	},
}

// checkPanicPaths checks that each panic of plan ran where panicPaths
// says, and names the methods of the guest's calls.
func checkPanicPaths(t *testing.T, b *panickyBackend, logs string, plan []string) {
	t.Helper()
	for _, op := range plan {
		frames, ok := panicPaths[b.nonblocking][op]
		if !ok {
			continue
		}
		found, logged := false, ""
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, "panicked in "+op+":") {
				logged = line
				for _, frame := range frames {
					found = found || strings.Contains(line, frame)
				}
				break
			}
		}
		if !found {
			t.Errorf("the panic in %s was not logged with one of %q in its stack:\n%s", op, frames, logged)
		}
	}
}

// echoLineServer is a crypto/tls server on loopback, as p.local, that
// echoes the first line of each connection and reads the rest.
func echoLineServer(t *testing.T, p *guestPKI) *net.TCPAddr {
	t.Helper()
	srv := &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}}
	return testnet.Serve(t, func(c net.Conn) {
		tc := tls.Server(c, srv)
		defer tc.Close()
		tc.SetDeadline(time.Now().Add(20 * time.Second))
		line, err := bufio.NewReader(tc).ReadString('\n')
		if err != nil {
			return
		}
		io.WriteString(tc, line)
		io.Copy(io.Discard, tc)
	})
}

// clientPanicPlan is where a client guest's connections panic, one a
// round: in each method a client connection enters, and nowhere.
var clientPanicPlan = []string{"Client", "Handshake", "State", "ExportKeyingMaterial", "Write", "Read", "CloseWrite", "Close", ""}

// runClientPanicRounds runs the panicky guest as a client, one
// connection to echoLineServer a round of b.plan, over cfg, and checks
// each round's outcome (checkPanicRounds); it returns the guest's output.
func runClientPanicRounds(t *testing.T, p *guestPKI, cfg tlshost.Config, b *panickyBackend, logs *syncbuf.Buffer) string {
	t.Helper()
	addr := echoLineServer(t, p)
	g := startGuestWith(t, cfg, p, panickyGuest, nil, "client", addr.String(), fmt.Sprint(len(b.plan)))
	out, err := g.wait(t)
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, out)
	}
	checkPanicRounds(t, b, out, logs.String(), b.plan, "ok ping")
	return out
}

// TestGuestClientBackendPanics: a client guest over a backend that
// panics in each of its methods in turn, against a Go TLS server.
func TestGuestClientBackendPanics(t *testing.T) {
	p := newGuestPKI(t)
	guestbuild.MustBuild(t, panickyGuest)
	plan := clientPanicPlan
	panicCase(t, func(t *testing.T, b *panickyBackend, logs *syncbuf.Buffer) {
		b.plan = plan
		out := runClientPanicRounds(t, p, panicHostConfig(b, logs), b, logs)
		t.Logf("guest:\n%s", out)
		checkPanicPaths(t, b, logs.String(), plan)
		// A connection a panic broke after its handshake reports
		// nothing negotiated, not what it negotiated before.
		for i, op := range plan {
			switch op {
			case "State", "ExportKeyingMaterial", "Write", "Read", "CloseWrite":
				mustContain(t, out, fmt.Sprintf("after round %d: version=0x0000 suite=0x0000 alpn=\"\" peer=0\n", i))
			}
		}
	})
}

// TestGuestServerBackendPanics: a server guest over a backend that
// panics in ParseIdentity once and in each of its connections' methods
// in turn, against Go TLS clients.
func TestGuestServerBackendPanics(t *testing.T) {
	p := newGuestPKI(t)
	guestbuild.MustBuild(t, panickyGuest)
	plan := []string{"Server", "Handshake", "Read", "RequestClientIdentity", "Write", "CloseWrite", "Close", ""}
	panicCase(t, func(t *testing.T, b *panickyBackend, logs *syncbuf.Buffer) {
		b.plan = plan
		b.panicParse.Store(true)
		g := startGuestWith(t, panicHostConfig(b, logs), p, panickyGuest, nil, "server", fmt.Sprint(len(plan)))
		port := g.port(t)
		for i, op := range plan {
			line := "ping"
			if op == "RequestClientIdentity" {
				line = "auth"
			}
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", "127.0.0.1:"+port,
				&tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost"})
			if err != nil {
				if op == "Server" || op == "Handshake" {
					continue
				}
				t.Fatalf("round %d (%q): %v", i, op, err)
			}
			c.SetDeadline(time.Now().Add(20 * time.Second))
			io.WriteString(c, line+"\n")
			got, _ := io.ReadAll(c)
			c.Close()
			if (op == "" || op == "Close") && string(got) != "pong ping\n" {
				t.Errorf("round %d (%q): the client read %q", i, op, got)
			}
		}
		out, err := g.wait(t)
		if err != nil {
			t.Fatalf("guest: %v\n%s", err, out)
		}
		t.Logf("guest:\n%s", out)
		want := "tlshost: the " + b.Name() + " backend panicked in ParseIdentity: test panic in ParseIdentity second line\n"
		if !strings.HasPrefix(out, "identity: ") || !strings.Contains(out, want) || !strings.Contains(logs.String(), "panicked in ParseIdentity") {
			t.Errorf("the guest's first identity did not fail with the panic %q:\n%s", want, out)
		}
		checkPanicRounds(t, b, out, logs.String(), plan, "ok ping")
		checkPanicPaths(t, b, logs.String(), plan)
	})
}
