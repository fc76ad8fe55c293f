//go:build !wasip1

package wasinet_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/hostcalls"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
)

const guest = "./testdata/nettest"

// run runs the nettest guest under a policy allowing connect and listen
// rules, with stdout going to out.
func run(t testing.TB, out io.Writer, connect, listen []string, args ...string) (string, error) {
	t.Helper()
	return runPolicy(t, context.Background(), out, connectListen(t, connect, listen), args...)
}

// runCounted is run with calls counting the guest's host calls.
func runCounted(t testing.TB, calls *hostcalls.Counter, out io.Writer, connect, listen []string, args ...string) (string, error) {
	t.Helper()
	return runWith(t, calls.Context(context.Background()), nil, out, connectListen(t, connect, listen), args...)
}

// connectListen is the policy allowing connect and listen.
func connectListen(t testing.TB, connect, listen []string) *sockets.Policy {
	t.Helper()
	p := new(sockets.Policy)
	if err := p.AllowConnect(connect...); err != nil {
		t.Fatal(err)
	}
	if err := p.AllowListen(listen...); err != nil {
		t.Fatal(err)
	}
	return p
}

// compilationCache compiles the guest once for the tests that run no
// function listeners: a module from the cache keeps the listeners of its
// first compile (wazero's in-memory cache), so runCounted compiles its
// own.
var compilationCache = wazero.NewCompilationCache()

// runPolicy runs the nettest guest under the network policy p, with the
// stop flag, as the wasitls command runs guests.
func runPolicy(t testing.TB, ctx context.Context, out io.Writer, p *sockets.Policy, args ...string) (string, error) {
	t.Helper()
	return runWith(t, ctx, compilationCache, out, p, args...)
}

// runWith is runPolicy with the runtime made with ctx (which may carry a
// function listener factory) and cache (nil: none).
func runWith(t testing.TB, ctx context.Context, cache wazero.CompilationCache, out io.Writer, p *sockets.Policy, args ...string) (string, error) {
	t.Helper()
	cfg := runtime.NewFastRuntimeConfig()
	if cache != nil {
		cfg = cfg.WithCompilationCache(cache)
	}
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{Network: p, StopFlag: true})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := runtime.CompileModule(ctx, r, guestbuild.MustBuild(t, guest))
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	_, err = rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
		Args:   append([]string{"nettest"}, args...),
		Stdout: out,
		Stderr: &stderr,
	})
	return stderr.String(), err
}

func listen(t testing.TB, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln.Addr().String()
}

func TestDialEcho(t *testing.T) {
	addr := listen(t, func(c net.Conn) {
		io.Copy(c, c)
		c.Close()
	})
	var out bytes.Buffer
	stderr, err := run(t, &out, []string{addr}, nil, "echo", addr, "hello, wasinet")
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, stderr)
	}
	if want := fmt.Sprintf("echo: hello, wasinet local=true remote=%s\n", addr); out.String() != want {
		t.Fatalf("stdout %q, want %q", out.String(), want)
	}
}

// TestReadsPerRoundTrip pins the host calls of a request and its answer:
// once a Read had to wait, the next Read waits before it reads, so that a
// one-byte round trip costs one read (and the poll that waits), not an
// empty read first (a host call and a call back into the guest's
// cabi_realloc for the empty list).
func TestReadsPerRoundTrip(t *testing.T) {
	const trips = 200
	n := echoCounted(t, new(hostcalls.Counter), "roundtrips", trips)
	t.Logf("host calls for %d round trips: %v", trips, n)
	const (
		read = "wasi:io/streams@0.2.8 [method]input-stream.read"
		poll = "wasi:io/poll@0.2.8 poll"
	)
	// The first Read reads before it waits; a few reads more for
	// wake-ups that find nothing are tolerated.
	if got, max := n[read], trips+trips/20+1; got > max {
		t.Errorf("%d reads for %d round trips, want at most %d: Reads read before they wait", got, trips, max)
	}
	if got := n[poll]; got > trips+trips/20+1 {
		t.Errorf("%d polls for %d round trips, want at most one per round trip", got, trips)
	}
}

// TestHostCallsPerDial pins what a connection that is dialed, written to
// and closed costs the guest besides its socket's own calls: no
// remote-address call (the peer is the address dialed), no clock read
// (Close bounds its flush with a deadline only when the flush has to
// wait), one flush request (the Write's: Close's flush, with nothing
// written since, only looks whether it is over; before, 100 flushes for
// 50 dials), and about one heap allocation, the Conn (its streams' reader,
// writer and deadlines are part of it, the addresses are made on first
// use, and a literal address is dialed without a lookup). Before these
// cuts: 50 remote-address calls, 110 clock reads, 708 allocations.
func TestHostCallsPerDial(t *testing.T) {
	const dials = 50
	n, out := dialCounted(t, "dials", dials)
	var mallocs int
	if _, err := fmt.Sscanf(out, "ready\ndone\nmallocs %d\n", &mallocs); err != nil {
		t.Fatalf("guest printed %q: %v", out, err)
	}
	t.Logf("host calls for %d dials: %v; guest allocations: %d", dials, n, mallocs)
	const (
		remote = "wasi:sockets/tcp@0.2.8 [method]tcp-socket.remote-address"
		local  = "wasi:sockets/tcp@0.2.8 [method]tcp-socket.local-address"
		clock  = "wasi_snapshot_preview1 clock_time_get"
		flush  = "wasi:io/streams@0.2.8 [method]output-stream.flush"
	)
	if got := n[flush]; got != dials {
		t.Errorf("%d flush requests for %d dials, want one each (the Write's): Close requests the flush again", got, dials)
	}
	if got := n[remote]; got != 0 {
		t.Errorf("%d remote-address calls for %d dials, want none: a dial knows its peer", got, dials)
	}
	if got := n[local]; got > dials {
		t.Errorf("%d local-address calls for %d dials, want at most one each", got, dials)
	}
	// The Go runtime reads the clock on its own (ReadMemStats, the
	// scheduler): about ten times here, against two per Close more when
	// Close set its flush deadline from the clock.
	if got := n[clock]; got > dials/2 {
		t.Errorf("%d clock reads for %d dials, want at most %d: Close reads the clock for a flush that is over", got, dials, dials/2)
	}
	// The Conn and the byte slice written through the net.Conn
	// interface; fourteen per dial when the Conn allocated its streams,
	// their deadlines and its addresses.
	if max := 3 * dials; mallocs > max {
		t.Errorf("%d guest allocations for %d dials, want at most %d", mallocs, dials, max)
	}
	// A dial runs no deferred call it did not defer: one per dial when
	// DialContext held the Timeout's defer itself, which the compiler
	// could not open-code among its returns.
	if got := n[" runtime.deferreturn"]; got >= dials {
		t.Errorf("%d calls of runtime.deferreturn for %d dials, want fewer than one each", got, dials)
	}
	// The address, the same every dial, is parsed once: one parse per
	// dial before (about 3.5 µs of a dial's profile).
	if got := n[" net.SplitHostPort"]; got > 1 {
		t.Errorf("%d calls of net.SplitHostPort for %d dials of one address, want at most one", got, dials)
	}
}

// TestWaitingReadMakesNoChannel pins that a Read that waits, with no
// deadline set, makes no channel for the deadline to wake it with and
// takes no lock of its deadline: the stream's poll.Canceler is
// interrupted instead when the deadline changes or the connection closes.
// Before, each connection's first wait made a channel (48 for the 50
// connections here) and its Close took the deadline's lock to close it.
func TestWaitingReadMakesNoChannel(t *testing.T) {
	const dials = 50
	calls := &hostcalls.Counter{Guest: []string{"runtime.makechan", "runtime.selectgo"}}
	n := echoCounted(t, calls, "echodials", dials)
	t.Logf("%d connections that read once: %v", dials, n)
	if got := n["wasi:io/poll@0.2.8 poll"]; got < dials/2 {
		t.Fatalf("%d polls for %d connections: the Reads did not wait", got, dials)
	}
	// The poller's waiters make theirs once, as many as wait at once.
	if got := n[" runtime.makechan"]; got >= dials/5 {
		t.Errorf("%d channels made for %d connections whose Read waited, want fewer than %d", got, dials, dials/5)
	}
}

// TestCloseWithoutWrites pins that Close of a connection nothing was
// written to asks the host nothing about its output: there is nothing to
// flush. A TLS connection that only read closes its writer the same way.
func TestCloseWithoutWrites(t *testing.T) {
	const dials = 20
	n, _ := dialCounted(t, "quietdials", dials)
	for _, call := range []string{
		"wasi:io/streams@0.2.8 [method]output-stream.flush",
		"wasi:io/streams@0.2.8 [method]output-stream.check-write",
	} {
		if got := n[call]; got != 0 {
			t.Errorf("%d calls of %s for %d dials closed without a write, want none", got, call, dials)
		}
	}
}

// echoCounted runs the guest's mode (roundtrips or echodials) for n
// against a loopback peer that echoes what it reads, checks that it
// printed "ready" and "done", and returns what calls counted after
// "ready".
func echoCounted(t *testing.T, calls *hostcalls.Counter, mode string, n int) map[string]int {
	t.Helper()
	addr := listen(t, func(c net.Conn) {
		io.Copy(c, c)
		c.Close()
	})
	var out bytes.Buffer
	stderr, err := runCounted(t, calls, calls.StartOn(&out, "ready"),
		[]string{addr}, nil, mode, addr, strconv.Itoa(n))
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, stderr)
	}
	if out.String() != "ready\ndone\n" {
		t.Fatalf("guest printed %q", out.String())
	}
	return calls.Counts()
}

// dialCounted runs the guest's mode (dials or quietdials) for dials
// connections to a loopback peer that reads them to the end, and returns
// the host calls it made after printing "ready", and what it printed.
func dialCounted(t *testing.T, mode string, dials int) (map[string]int, string) {
	t.Helper()
	addr := listen(t, func(c net.Conn) {
		io.Copy(io.Discard, c)
		c.Close()
	})
	calls := &hostcalls.Counter{Guest: []string{"runtime.deferreturn", "net.SplitHostPort"}}
	var out bytes.Buffer
	stderr, err := runCounted(t, calls, calls.StartOn(&out, "ready"),
		[]string{addr}, nil, mode, addr, strconv.Itoa(dials))
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, stderr)
	}
	return calls.Counts(), out.String()
}

func TestDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var out bytes.Buffer
	stderr, err := run(t, &out, []string{addr}, nil, "refused", addr)
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, stderr)
	}
	if !strings.Contains(out.String(), "connection-refused") {
		t.Fatalf("stdout %q, want a connection-refused error", out.String())
	}
}

func TestDialDenied(t *testing.T) {
	addr := listen(t, func(c net.Conn) { c.Close() })
	var out bytes.Buffer
	stderr, err := run(t, &out, nil, nil, "refused", addr)
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, stderr)
	}
	if !strings.Contains(out.String(), "access-denied") {
		t.Fatalf("stdout %q, want an access-denied error", out.String())
	}
}

func TestDeadlineAndClose(t *testing.T) {
	addr := listen(t, func(c net.Conn) {
		io.Copy(io.Discard, c)
		c.Close()
	})
	var out bytes.Buffer
	stderr, err := run(t, &out, []string{addr}, nil, "deadline", addr)
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, stderr)
	}
	if want := "timeout true true true\nclosed true\n"; out.String() != want {
		t.Fatalf("stdout %q, want %q", out.String(), want)
	}
}

func TestSleepWhileWaiting(t *testing.T) {
	addr := listen(t, func(c net.Conn) {
		io.Copy(io.Discard, c)
		c.Close()
	})
	var out bytes.Buffer
	stderr, err := run(t, &out, []string{addr}, nil, "sleep", addr)
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, stderr)
	}
	if want := "slept true\n"; out.String() != want {
		t.Fatalf("stdout %q, want %q", out.String(), want)
	}
}

// pipeWriter hands the guest's stdout to a reader.
type pipeWriter struct{ w *io.PipeWriter }

func (p pipeWriter) Write(b []byte) (int, error) { return p.w.Write(b) }

// TestHostCallsPerAccept pins that a connection accepted on a listener
// bound to a specific address takes that address as its own instead of
// asking the host (before: one local-address call per accept), and that
// its addresses are still the ones its peer sees.
func TestHostCallsPerAccept(t *testing.T) {
	const accepts = 20
	pr, pw := io.Pipe()
	calls := new(hostcalls.Counter)
	type result struct {
		stderr string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		stderr, err := runCounted(t, calls, calls.StartOn(pipeWriter{pw}, "127.0.0.1:"),
			nil, []string{"127.0.0.1:0"}, "accepts", strconv.Itoa(accepts))
		pw.CloseWithError(fmt.Errorf("guest ended: %v\n%s", err, stderr))
		done <- result{stderr, err}
	}()
	lines := bufio.NewReader(pr)
	addr, err := lines.ReadString('\n')
	if err != nil {
		t.Fatalf("no address from guest: %v", err)
	}
	addr = strings.TrimSpace(addr)
	for range accepts {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		got, err := lines.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("local=%s remote=%s\n", c.RemoteAddr(), c.LocalAddr()); got != want {
			t.Errorf("guest printed %q, want %q", got, want)
		}
		c.Close()
	}
	if r := <-done; r.err != nil {
		t.Fatalf("guest: %v\n%s", r.err, r.stderr)
	}
	n := calls.Counts()
	t.Logf("host calls for %d accepts: %v", accepts, n)
	const local = "wasi:sockets/tcp@0.2.8 [method]tcp-socket.local-address"
	if got := n[local]; got != 0 {
		t.Errorf("%d local-address calls for %d accepts, want none: the listener's address is each connection's", got, accepts)
	}
}

// TestConnReadStackGrowth pins what a server's connection goroutine pays
// for its stack when its first Read waits: the wait (the poller's round
// down to the host call) needs more than a new goroutine's stack, so it
// grows once, and StreamReader.Read grows it before it waits
// (reserveStack), so that the copy adjusts six frames (the goroutine's
// start, the go statement's wrapper, the handler, Conn.Read,
// StreamReader.Read and reserveStack) instead of the twelve down to the
// poller's round. Each frame costs the runtime an unwind step, a stack
// map and a pointer scan.
func TestConnReadStackGrowth(t *testing.T) {
	const conns = 20
	pr, pw := io.Pipe()
	calls := &hostcalls.Counter{Guest: []string{"runtime.copystack", "runtime.adjustframe"}}
	done := make(chan error, 1)
	go func() {
		stderr, err := runCounted(t, calls, calls.StartOn(pipeWriter{pw}, "127.0.0.1:"),
			nil, []string{"127.0.0.1:0"}, "holds", strconv.Itoa(conns))
		pw.CloseWithError(fmt.Errorf("guest ended: %v\n%s", err, stderr))
		if err != nil {
			err = fmt.Errorf("%v\n%s", err, stderr)
		}
		done <- err
	}()
	addr, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no address from guest: %v", err)
	}
	go io.Copy(io.Discard, pr)
	for range conns {
		c, err := net.DialTimeout("tcp", strings.TrimSpace(addr), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1)
		_, err = io.ReadFull(c, b)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("guest: %v", err)
	}
	grown, frames := calls.StackGrowths()
	t.Logf("%d connections: %d stack growths adjusting %d frames", conns, grown, frames)
	if grown == 0 {
		t.Fatal("no stack growth counted (a Read's wait fits a new goroutine's stack now: drop reserveStack)")
	}
	if grown > conns {
		t.Errorf("%d stack growths for %d connection goroutines, want at most one each", grown, conns)
	}
	if frames > 6*grown {
		t.Errorf("stack growths adjusted %d frames in all, %.1f each, want at most 6 each", frames, float64(frames)/float64(grown))
	}
}

func TestListenConcurrentClients(t *testing.T) { testListen(t, 100, false) }

// TestListenThousandConnections holds a thousand connections open at once
// before any of them sends: the guest has a thousand goroutines parked on
// the poller.
func TestListenThousandConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	testListen(t, 1000, true)
}

func testListen(t *testing.T, n int, hold bool) {
	pr, pw := io.Pipe()
	type result struct {
		stderr string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		stderr, err := run(t, pipeWriter{pw}, nil, []string{"127.0.0.1:0"}, "serve", fmt.Sprint(n))
		pw.Close()
		done <- result{stderr, err}
	}()
	lines := bufio.NewReader(pr)
	addr, err := lines.ReadString('\n')
	if err != nil {
		r := <-done
		t.Fatalf("no address from guest: %v %v\n%s", err, r.err, r.stderr)
	}
	addr = strings.TrimSpace(addr)

	var wg, connected sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	connected.Add(n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			connected.Done()
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if hold {
				<-start
			}
			c.SetDeadline(time.Now().Add(20 * time.Second))
			msg := fmt.Sprintf("client %d\n", i)
			if _, err := c.Write([]byte(msg)); err != nil {
				errs <- err
				return
			}
			got, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || got != "echo "+msg {
				errs <- fmt.Errorf("client %d: got %q, %v", i, got, err)
			}
		}()
	}
	connected.Wait()
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	rest, _ := io.ReadAll(lines)
	r := <-done
	if r.err != nil {
		t.Fatalf("guest: %v\n%s", r.err, r.stderr)
	}
	// A deadline set on the closed listener fails (before, it returned
	// nil).
	if want := fmt.Sprintf("served %d, deadline after close closed true\n", n); string(rest) != want {
		t.Fatalf("stdout %q, want %q (stderr %s)", rest, want, r.stderr)
	}
}

// TestAcceptBackoff: at the host's socket limit Accept fails with
// new-socket-limit, an error a server recognises as temporary: it backs
// off and accepts again once a connection closed, as net/http's
// Server.Serve does, instead of dying.
func TestAcceptBackoff(t *testing.T) {
	r := wazero.NewRuntimeWithConfig(context.Background(), runtime.NewFastRuntimeConfig())
	defer r.Close(context.Background())
	compiled, err := runtime.CompileModule(context.Background(), r, guestbuild.MustBuild(t, guest))
	if err != nil {
		t.Fatal(err)
	}
	// The bound is the guest's run's: building and compiling the guest,
	// which take long on a loaded machine, come before it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := new(sockets.Policy)
	p.AllowListen("127.0.0.1:*")
	// The listener and one connection.
	rt, err := runtime.New(ctx, r, runtime.Config{Network: p, Limits: runtime.Limits{Sockets: 2}, StopFlag: true})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	out := bufio.NewReader(pr)
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() {
		_, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
			Args: []string{"nettest", "backoff", "2"}, Stdout: pw, Stderr: &stderr,
		})
		pw.CloseWithError(fmt.Errorf("guest exited: %v", err))
		done <- err
	}()
	line := func() string {
		t.Helper()
		l, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
		return strings.TrimSpace(l)
	}
	addr := line()
	hello := func(c net.Conn) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if got, err := bufio.NewReader(c).ReadString('\n'); err != nil || got != "hello\n" {
			t.Fatalf("read %q, %v", got, err)
		}
	}
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	hello(first)
	// Over the limit: the host holds it, the guest's accept fails with
	// new-socket-limit and the guest backs off.
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if l := line(); !strings.Contains(l, "new-socket-limit (Temporary true); retrying in 5ms") {
		t.Fatalf("guest: %q, want a new-socket-limit retry", l)
	}
	// The guest prints a line per retry until first closes, and its
	// stdout is an io.Pipe: read the rest as it comes, so that a retry
	// made before this goroutine gets to close first does not wait on
	// its print for ever (a loaded machine made it do so once).
	go io.Copy(io.Discard, out)
	// A connection closes: the one that waited is served.
	first.Close()
	hello(second)
	second.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("guest: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("guest did not finish")
	}
}

// TestCloseWakesBlockedWrite closes a connection while another goroutine
// is blocked in Write on a peer that never reads and has no write
// deadline: Close returns at once and the Write fails with net.ErrClosed,
// as with package net, instead of Close waiting on the Write for good.
func TestCloseWakesBlockedWrite(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	addr := listen(t, func(c net.Conn) {
		<-hold
		c.Close()
	})
	var out bytes.Buffer
	stderr, err := run(t, &out, []string{addr}, nil, "closewrite", addr)
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, stderr)
	}
	if want := "close returned, write closed true\n"; out.String() != want {
		t.Fatalf("guest printed %q, want %q", out.String(), want)
	}
}

// TestPastDeadline sets deadlines in the past on a connection whose stream
// could write and read at once: Write and Read fail with a timeout, as
// package net's do (and as net/http relies on, setting a past read
// deadline to end a pending read), and clearing the deadline lets the
// connection go on.
func TestPastDeadline(t *testing.T) {
	addr := listen(t, func(c net.Conn) {
		io.Copy(c, c)
		c.Close()
	})
	var out bytes.Buffer
	stderr, err := run(t, &out, []string{addr}, nil, "pastdeadline", addr)
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, stderr)
	}
	if want := "write timeout true, read timeout true, then read b\n"; out.String() != want {
		t.Fatalf("guest printed %q, want %q", out.String(), want)
	}
}

// TestWriteAfterCloseWrite writes after CloseWrite: the Write fails (the
// peer read EOF and must get nothing more), and a second Close reports
// net.ErrClosed.
func TestWriteAfterCloseWrite(t *testing.T) {
	got := make(chan []byte, 1)
	addr := listen(t, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		got <- b
		c.Close()
	})
	var out bytes.Buffer
	stderr, err := run(t, &out, []string{addr}, nil, "writeaftercw", addr)
	if err != nil {
		t.Fatalf("guest: %v\n%s", err, stderr)
	}
	t.Logf("guest printed %q", out.String())
	if !strings.HasPrefix(out.String(), "write failed true true") || !strings.HasSuffix(out.String(), "second close closed true\n") {
		t.Errorf("guest printed %q, want both Writes failed and the second Close closed", out.String())
	}
	if b := <-got; len(b) != 0 {
		t.Errorf("peer read %q after EOF", b)
	}
}

// TestShutdownAfterClose calls CloseRead, CloseWrite and Socket on a
// closed connection while another is open: all fail with net.ErrClosed, as
// with package net, and the other connection still echoes. Before,
// CloseRead and CloseWrite shut down the socket handle Close had dropped,
// and Socket returned it: the host trapped on the unknown handle or, the
// handle given again to the second connection's socket, shut that one
// down.
func TestShutdownAfterClose(t *testing.T) {
	addr := listen(t, func(c net.Conn) {
		defer c.Close()
		io.Copy(c, c)
	})
	var out bytes.Buffer
	stderr, err := run(t, &out, []string{addr}, nil, "shutdownafterclose", addr)
	if err != nil {
		t.Fatalf("guest: %v\n%s%s", err, stderr, out.String())
	}
	if want := "closeread closed true, closewrite closed true, socket closed true, other connection echoes true (<nil>)\n"; out.String() != want {
		t.Fatalf("guest printed %q, want %q", out.String(), want)
	}
}
