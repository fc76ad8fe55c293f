package runtime_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
)

// cache shares compiled guests between the tests' runtimes.
var cache = wazero.NewCompilationCache()

func newWazero(ctx context.Context) wazero.Runtime {
	return wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
}

// run compiles the guest package and runs it to completion under policy,
// returning its stdout and stderr. It runs it as the wasitls command does:
// instrumented with the stop global, under NewFastRuntimeConfig.
func run(t *testing.T, pkg string, policy *sockets.Policy, args ...string) (string, string, error) {
	t.Helper()
	return runConfig(t, runtime.Config{Network: policy, StopFlag: true}, pkg, args...)
}

// runConfig runs the guest package to completion as run does, under cfg.
func runConfig(t *testing.T, cfg runtime.Config, pkg string, args ...string) (string, string, error) {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtime.NewFastRuntimeConfig().WithCompilationCache(cache))
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return runIn(t, r, rt, pkg, args...)
}

// runIn runs pkg as a guest of rt, on r, as run does.
func runIn(t *testing.T, r wazero.Runtime, rt *runtime.Runtime, pkg string, args ...string) (string, string, error) {
	t.Helper()
	ctx := context.Background()
	compiled, err := runtime.CompileModule(ctx, r, guestbuild.MustBuild(t, pkg))
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	_, err = rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
		Args:   append([]string{"guest"}, args...),
		Stdout: &stdout,
		Stderr: &stderr,
	})
	return stdout.String(), stderr.String(), err
}

// echoServer serves TCP echo on loopback until the test ends and returns
// its address.
func echoServer(t *testing.T) string {
	t.Helper()
	return testnet.Serve(t, func(c net.Conn) {
		io.Copy(c, c)
		c.Close()
	}).String()
}

// policy is a network policy allowing the connect and listen rules; the
// test fails on a rule the policy refuses.
func policy(t *testing.T, connect, listen []string) *sockets.Policy {
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

func TestGuestEchoClient(t *testing.T) {
	addr := echoServer(t)
	stdout, stderr, err := run(t, "./testdata/echoclient", policy(t, []string{addr}, nil), addr, "hello, wasi")
	if err != nil {
		t.Fatalf("guest: %v\nstderr: %s", err, stderr)
	}
	if want := "echo: hello, wasi\n"; stdout != want {
		t.Fatalf("stdout %q, want %q (stderr %q)", stdout, want, stderr)
	}
}

func TestGuestPolicyDenials(t *testing.T) {
	addr := echoServer(t)
	// The policy allows another port only: nothing the guest tries matches.
	p := policy(t, []string{"127.0.0.1:1", "other.example:443"}, []string{"127.0.0.1:1"})
	stdout, stderr, err := run(t, "./testdata/denied", p, addr, "127.0.0.1:0", "example.com")
	if err != nil {
		t.Fatalf("guest: %v\nstderr: %s", err, stderr)
	}
	want := fmt.Sprintf("connect %d\nbind %d\nresolve %d\nudp bind %d\n",
		sockets.AccessDenied, sockets.AccessDenied, sockets.AccessDenied, sockets.AccessDenied)
	if stdout != want {
		t.Fatalf("stdout %q, want %q", stdout, want)
	}
}

// TestGuestGrantsPerInstance: what a guest's lookup grants is that
// guest's: after one guest of a runtime dialed "localhost:PORT" by name
// (a rule names it), another guest of the same runtime, under the same
// policy, is refused the connect to 127.0.0.1:PORT, the address the
// first one's lookup made connectable for it.
func TestGuestGrantsPerInstance(t *testing.T) {
	addr := echoServer(t)
	_, port, _ := net.SplitHostPort(addr)
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtime.NewFastRuntimeConfig().WithCompilationCache(cache))
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{Network: policy(t, []string{"localhost:" + port}, nil), StopFlag: true})
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runIn(t, r, rt, "./testdata/dialname", "localhost:"+port, "by name")
	if err != nil || stdout != "echo: by name\n" {
		t.Fatalf("the guest dialing by name: %v, stdout %q, stderr %q", err, stdout, stderr)
	}
	stdout, stderr, err = runIn(t, r, rt, "./testdata/echoclient", addr, "by address")
	if err == nil || stdout != "" || !strings.Contains(stderr, fmt.Sprintf("start-connect: %d", sockets.AccessDenied)) {
		t.Fatalf("another guest connecting to %s: %v, stdout %q, stderr %q; want access-denied", addr, err, stdout, stderr)
	}
}

// TestGuestResolveNumericName: a guest's lookup of a name ending in a
// number, which the host's C library would read as an IPv4 address
// (127.1 as 127.0.0.1), is invalid-argument even under "*:*", which
// before handed it to the host's resolver. (The rule naming the echo
// server's address is there for the guest's first connect: "*" allows
// no loopback peer.)
func TestGuestResolveNumericName(t *testing.T) {
	addr := echoServer(t)
	stdout, stderr, err := run(t, "./testdata/denied", policy(t, []string{"*:*", addr}, nil), addr, "127.0.0.1:0", "127.1")
	if err != nil {
		t.Fatalf("guest: %v\nstderr: %s", err, stderr)
	}
	want := fmt.Sprintf("connect 0\nbind %d\nresolve %d\nudp bind %d\n",
		sockets.AccessDenied, sockets.InvalidArgument, sockets.AccessDenied)
	if stdout != want {
		t.Fatalf("stdout %q, want %q", stdout, want)
	}
}

// TestGuestPolicyTranslated: a guest allowed every IPv6 address
// ("[::/0]") reaches no IPv4 one through a translator's IPv6 spelling of
// it (NAT64, SIIT), or one that embeds it for a relay or a host to unwrap
// (IPv4-compatible, 6to4, Teredo): start-connect fails with
// access-denied, as for the IPv4 address itself. Nor does it reach IPv6
// loopback, ::1, the host's (TestGuestPolicyHostRanges). The connects
// are never finished: nothing is dialed.
func TestGuestPolicyTranslated(t *testing.T) {
	addr := echoServer(t)
	p := policy(t, []string{"[::/0]:*"}, nil)
	stdout, stderr, err := run(t, "./testdata/denied", p, addr, "127.0.0.1:0", "example.com",
		"[64:ff9b::7f00:1]:443", "[64:ff9b:1::a00:5]:443", "[::ffff:0:a00:5]:443",
		"[::7f00:1]:443", "[2002:7f00:1::1]:443", "[2001:0:4136:e378::f5ff:fffe]:443", "[::1]:443")
	if err != nil {
		t.Fatalf("guest: %v\nstderr: %s", err, stderr)
	}
	d := sockets.AccessDenied
	want := fmt.Sprintf("connect %d\nbind %d\nresolve %d\nudp bind %d\n"+
		"connect [64:ff9b::7f00:1]:443 %d\nconnect [64:ff9b:1::a00:5]:443 %d\nconnect [::ffff:0:a00:5]:443 %d\n"+
		"connect [::7f00:1]:443 %d\nconnect [2002:7f00:1::1]:443 %d\nconnect [2001:0:4136:e378::f5ff:fffe]:443 %d\nconnect [::1]:443 %d\n",
		d, d, d, d, d, d, d, d, d, d, d)
	if stdout != want {
		t.Fatalf("stdout %q, want %q", stdout, want)
	}
}

func TestGuestTwoVersions(t *testing.T) {
	stdout, stderr, err := run(t, "./testdata/twoversions", nil)
	var ee *sys.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("err = %v, want exit code 1 from wasi:cli/exit@0.2.0 (stderr %q)", err, stderr)
	}
	if want := "from 0.2.8\nfrom 0.2.0\n"; stdout != want {
		t.Fatalf("stdout %q, want %q", stdout, want)
	}
}

// TestGuestPatchVersions: one guest imports 0.2.0, 0.2.8 (the bindings'
// own version) and 0.2.12 (newer than any the host knows) at once and
// passes handles between them.
func TestGuestPatchVersions(t *testing.T) {
	stdout, stderr, err := run(t, "./testdata/patchversions", nil)
	var ee *sys.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("err = %v, want exit code 1 from wasi:cli/exit@0.2.12 (stderr %q)", err, stderr)
	}
	if want := "0.2.0\n0.2.8\n0.2.12 clock\n"; stdout != want {
		t.Fatalf("stdout %q, want %q", stdout, want)
	}
}

func TestGuestPoll10000(t *testing.T) {
	stdout, stderr, err := run(t, "./testdata/pollmany", nil)
	if err != nil {
		t.Fatalf("guest: %v\nstderr: %s", err, stderr)
	}
	if want := "ready [7777] after true\n"; stdout != want {
		t.Fatalf("stdout %q, want %q", stdout, want)
	}
}

// lineWriter hands the guest's stdout lines to a channel.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line)
			return len(p), nil
		}
		w.lines <- strings.TrimSuffix(line, "\n")
	}
}

func TestGuestListener100Clients(t *testing.T) {
	const clients = 100
	ctx := context.Background()
	r := newWazero(ctx)
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{Network: policy(t, nil, []string{"127.0.0.1:0"})})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(t, "./testdata/listener"))
	if err != nil {
		t.Fatal(err)
	}
	out := &lineWriter{lines: make(chan string, 16)}
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
			Args: []string{"listener", fmt.Sprint(clients)}, Stdout: out, Stderr: &stderr,
		})
		done <- err
	}()
	var port int
	select {
	case line := <-out.lines:
		if _, err := fmt.Sscanf(line, "port %d", &port); err != nil {
			t.Fatalf("first line %q", line)
		}
	case err := <-done:
		t.Fatalf("guest ended early: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("guest did not listen")
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			msg := fmt.Sprintf("client %d says hello\n", i)
			for range 3 {
				if _, err := c.Write([]byte(msg)); err != nil {
					errs <- err
					return
				}
				got, err := bufio.NewReader(io.LimitReader(c, int64(len(msg)))).ReadString('\n')
				if err != nil || got != msg {
					errs <- fmt.Errorf("client %d: got %q, %v", i, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("guest: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("guest did not finish")
	}
	if line := <-out.lines; line != fmt.Sprintf("served %d", clients) {
		t.Fatalf("last line %q", line)
	}
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd on this system: %v", err)
	}
	return len(ents)
}

// settle waits, up to 10 s, until the goroutine and fd counts are back to
// at most the baseline. (It once gave up after 400 polls 5ms apart, about
// 2 s: what a loaded machine can take to run the goroutines that end.)
func settle(t *testing.T, goroutines, fds int) {
	t.Helper()
	var g, f int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		g, f = goruntime.NumGoroutine(), countFDs(t)
		if g <= goroutines && f <= fds {
			return
		}
	}
	buf := make([]byte, 1<<20)
	n := goruntime.Stack(buf, true)
	t.Fatalf("leak: %d goroutines (baseline %d), %d fds (baseline %d)\n%s", g, goroutines, f, fds, buf[:n])
}

func TestGuestCrashReleasesEverything(t *testing.T) {
	for _, mode := range []string{"exit", "trap", "panic"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			r := newWazero(ctx)
			defer r.Close(ctx)
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			p := policy(t, []string{ln.Addr().String()}, []string{"127.0.0.1:0"})
			rt, err := runtime.New(ctx, r, runtime.Config{Network: p})
			if err != nil {
				t.Fatal(err)
			}
			compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(t, "./testdata/crash"))
			if err != nil {
				t.Fatal(err)
			}
			peer := make(chan net.Conn, 1)
			go func() {
				c, err := ln.Accept()
				if err == nil {
					peer <- c
				}
			}()
			goroutines, fds := goruntime.NumGoroutine(), countFDs(t)

			var stderr bytes.Buffer
			_, err = rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
				Args: []string{"crash", ln.Addr().String(), mode}, Stderr: &stderr,
			})
			if err == nil {
				t.Fatalf("guest succeeded; stderr %s", stderr.String())
			}
			var ee *sys.ExitError
			switch mode {
			case "exit":
				if !errors.As(err, &ee) || ee.ExitCode() != 3 {
					t.Fatalf("err = %v, want exit code 3", err)
				}
			case "trap":
				if !strings.Contains(err.Error(), "999999") {
					t.Fatalf("err = %v, want a trap naming the bad handle", err)
				}
			}
			var c net.Conn
			select {
			case c = <-peer:
			case <-time.After(10 * time.Second):
				t.Fatalf("the guest never connected: %v\nstderr: %s", err, stderr.String())
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(c)
			c.Close()
			if err != nil || string(got) != "half a mess" {
				t.Fatalf("peer read %q, %v; want the half message, then EOF", got, err)
			}
			settle(t, goroutines-1, fds) // the accept goroutine is gone too
		})
	}
}

func TestGuestCancelWhileBlocked(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newWazero(context.Background())
	defer r.Close(context.Background())
	rt, err := runtime.New(ctx, r, runtime.Config{Network: policy(t, nil, []string{"127.0.0.1:0"})})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(t, "./testdata/listener"))
	if err != nil {
		t.Fatal(err)
	}
	goroutines, fds := goruntime.NumGoroutine(), countFDs(t)
	out := &lineWriter{lines: make(chan string, 16)}
	done := make(chan error, 1)
	go func() {
		_, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Args: []string{"listener", "1000"}, Stdout: out})
		done <- err
	}()
	var port int
	select {
	case line := <-out.lines:
		fmt.Sscanf(line, "port %d", &port)
	case err := <-done:
		t.Fatalf("guest ended early: %v", err)
	}
	// One client connected and idle: the guest waits in poll over both.
	c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The echo says the guest accepted the client; the stack, that it then
	// went back to wait in poll over both.
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatalf("no echo from the guest: %v", err)
	}
	waitBlockedIn(t, "wasiio.Wait(")
	cancel()
	select {
	case err := <-done:
		var ee *sys.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != sys.ExitCodeContextCanceled {
			t.Fatalf("err = %v, want a context-cancelled exit", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelling the context did not stop the guest")
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read %v, want EOF: the guest's connection must be closed", err)
	}
	c.Close()
	settle(t, goroutines, fds)
}

// TestGuestStarted: ModuleConfig.Started hands over a running command's
// instance, whose table can be read and which Close stops.
func TestGuestStarted(t *testing.T) {
	ctx := context.Background()
	r := newWazero(ctx)
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{Network: policy(t, nil, []string{"127.0.0.1:0"})})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(t, "./testdata/listener"))
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan *runtime.Instance, 1)
	out := &lineWriter{lines: make(chan string, 16)}
	done := make(chan error, 1)
	go func() {
		_, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
			Args: []string{"listener", "1"}, Stdout: out,
			Started: func(inst *runtime.Instance) { started <- inst },
		})
		done <- err
	}()
	var inst *runtime.Instance
	select {
	case inst = <-started:
	case err := <-done:
		t.Fatalf("guest ended before Started: %v", err)
	}
	select {
	case <-out.lines:
	case err := <-done:
		t.Fatalf("guest ended early: %v", err)
	}
	// The listening socket and its pollable.
	if n := inst.Cabi().Table().Len(); n < 2 {
		t.Errorf("table of a listening guest holds %d handles", n)
	}
	inst.Close(ctx)
	select {
	case err := <-done:
		var ee *sys.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != sys.ExitCodeContextCanceled {
			t.Fatalf("err = %v, want a context-cancelled exit", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop the guest")
	}
	if n := inst.Cabi().Table().Len(); n != 0 {
		t.Errorf("table holds %d handles after Close", n)
	}
}

// waitBlockedIn waits until a goroutine is blocked (not running) with fn
// on its stack.
func waitBlockedIn(t *testing.T, fn string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a hang guard
	buf := make([]byte, 1<<20)
	for {
		dump := string(buf[:goruntime.Stack(buf, true)])
		for _, g := range strings.Split(dump, "\n\n") {
			header, _, _ := strings.Cut(g, "\n")
			if strings.Contains(g, fn) && !strings.Contains(header, "[running]") && !strings.Contains(header, "[runnable]") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no goroutine blocked in %s after 30 s:\n%s", fn, dump)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGuestDialByName dials "localhost:PORT" with the guest library: the
// name resolves because a connect rule names it, and only the addresses it
// resolved to, on the rule's port, become connectable.
func TestGuestDialByName(t *testing.T) {
	addr := echoServer(t)
	_, port, _ := net.SplitHostPort(addr)
	target := "localhost:" + port
	stdout, stderr, err := run(t, "./testdata/dialname", policy(t, []string{target}, nil), target, "by name")
	if err != nil || stdout != "echo: by name\n" {
		t.Fatalf("allowed: %v, stdout %q, stderr %q", err, stdout, stderr)
	}

	// The same name on another port: resolving is allowed, connecting not.
	_, stderr, err = run(t, "./testdata/dialname", policy(t, []string{"localhost:1"}, nil), target, "by name")
	if err == nil || !strings.Contains(stderr, "access-denied") {
		t.Fatalf("other port: %v, stderr %q", err, stderr)
	}
	// No rule names it: the lookup itself is refused.
	_, stderr, err = run(t, "./testdata/dialname", policy(t, []string{addr}, nil), target, "by name")
	if err == nil || !strings.Contains(stderr, "access-denied") {
		t.Fatalf("unnamed: %v, stderr %q", err, stderr)
	}
}

func TestModuleConfigConfigure(t *testing.T) {
	ctx := context.Background()
	r := newWazero(ctx)
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(t, "../cmd/wasitls/testdata/envdir"))
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	_, err = rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
		Args:   []string{"envdir", "x"},
		Env:    []string{"GREETING=configured"},
		Stdout: &stdout,
		Configure: func(mc wazero.ModuleConfig) wazero.ModuleConfig {
			fs := fstest.MapFS{"file.txt": {Data: []byte("from an fs.FS")}}
			return mc.WithFSConfig(wazero.NewFSConfig().WithFSMount(fs, "/data"))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "GREETING=configured\nargs=[\"x\"]\nfile=from an fs.FS\nwrite refused\n"
	if stdout.String() != want {
		t.Fatalf("stdout %q, want %q", stdout.String(), want)
	}
}

// TestGuestStartedPanics: a Started hook that panics gets its panic back
// from Instantiate, and the instance it was handed is closed: before, its
// module instance and memory stayed until the wazero.Runtime closed.
func TestGuestStartedPanics(t *testing.T) {
	ctx := context.Background()
	r := newWazero(ctx)
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{Network: policy(t, nil, []string{"127.0.0.1:0"})})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(t, "./testdata/listener"))
	if err != nil {
		t.Fatal(err)
	}
	var inst *runtime.Instance
	recovered := func() (v any) {
		defer func() { v = recover() }()
		rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
			Args: []string{"listener", "1"}, Stdout: io.Discard,
			Started: func(i *runtime.Instance) { inst = i; panic("the embedder's hook") },
		})
		return nil
	}()
	if recovered != "the embedder's hook" {
		t.Fatalf("Instantiate with a panicking Started hook: recovered %v, want the hook's panic", recovered)
	}
	if !inst.Module().IsClosed() || inst.Context().Err() == nil {
		t.Errorf("the instance the panicking hook was handed is open (module closed %v, context %v)", inst.Module().IsClosed(), inst.Context().Err())
	}
}

// TestGuestPolicyLoopbackAliases: a wasm guest allowed one loopback
// address and port (its echo server's) reaches that server through no
// other spelling of loopback: the wildcard addresses, which Linux
// connects to loopback, and an IPv4-mapped address on an IPv6 socket are
// invalid-argument; the IPv4-compatible spelling and IPv6 loopback are
// access-denied; and a name the C library reads as 127.0.0.1 is
// invalid-argument before any lookup. The connects from IPv6 sockets are
// never finished: nothing is dialed.
func TestGuestPolicyLoopbackAliases(t *testing.T) {
	addr := echoServer(t)
	_, port, _ := net.SplitHostPort(addr)
	p := policy(t, []string{addr, "*.example.com:" + port}, []string{"127.0.0.1:1"})
	stdout, stderr, err := run(t, "./testdata/denied", p, "0.0.0.0:"+port, "127.0.0.1:0", "0x7f.1",
		"[::]:"+port, "[::ffff:127.0.0.1]:"+port, "[::127.0.0.1]:"+port, "[::1]:"+port)
	if err != nil {
		t.Fatalf("guest: %v\nstderr: %s", err, stderr)
	}
	inv, d := sockets.InvalidArgument, sockets.AccessDenied
	want := fmt.Sprintf("connect %d\nbind %d\nresolve %d\nudp bind %d\n"+
		"connect [::]:%s %d\nconnect [::ffff:127.0.0.1]:%s %d\nconnect [::7f00:1]:%s %d\nconnect [::1]:%s %d\n",
		inv, d, inv, d, port, inv, port, inv, port, d, port, d)
	if stdout != want {
		t.Fatalf("stdout %q, want %q", stdout, want)
	}
}

// TestGuestPolicyHostRanges: rules meant for the internet do not reach
// the host. A wasm guest under "0.0.0.0/0:PORT" is refused the connect
// to its echo server on loopback, which it reaches under
// "127.0.0.1:PORT"; a guest under "*.rebind.test:PORT" looking up a name
// whose DNS (a server on loopback) answers 127.0.0.1 is refused the
// connect to it, the denial naming the name, while under the rule naming
// that host, "svc.rebind.test:PORT", it gets its echo.
func TestGuestPolicyHostRanges(t *testing.T) {
	addr := echoServer(t)
	_, port, _ := net.SplitHostPort(addr)
	denied := fmt.Sprintf("start-connect: %d", sockets.AccessDenied)
	stdout, stderr, err := run(t, "./testdata/echoclient", policy(t, []string{"0.0.0.0/0:" + port}, nil), addr, "wide")
	if err == nil || stdout != "" || !strings.Contains(stderr, denied) {
		t.Fatalf("under 0.0.0.0/0:%s, the guest connecting to %s: %v, stdout %q, stderr %q; want access-denied", port, addr, err, stdout, stderr)
	}
	stdout, stderr, err = run(t, "./testdata/echoclient", policy(t, []string{"127.0.0.1:" + port}, nil), addr, "named")
	if err != nil || stdout != "echo: named\n" {
		t.Fatalf("under 127.0.0.1:%s: %v, stdout %q, stderr %q", port, err, stdout, stderr)
	}

	server := testnet.ServeUDP(t, func(query []byte) []byte {
		msg, _, err := testnet.DNSAnswer(query, false, func(q dnsmessage.Question) []netip.Addr {
			if q.Type != dnsmessage.TypeA {
				return nil
			}
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}
		})
		if err != nil {
			return nil
		}
		return msg
	})
	target := "svc.rebind.test:" + port
	for _, tc := range []struct {
		rule string
		want sockets.Denial // the zero Denial: the guest gets its echo
	}{
		{"*.rebind.test:" + port, sockets.Denial{Op: sockets.DenyConnect, Addr: netip.MustParseAddrPort(addr), Name: "svc.rebind.test"}},
		{"*:" + port, sockets.Denial{Op: sockets.DenyConnect, Addr: netip.MustParseAddrPort(addr), Name: "svc.rebind.test"}},
		{target, sockets.Denial{}},
	} {
		p := policy(t, []string{tc.rule}, nil)
		var denials []sockets.Denial
		p.OnDeny(func(d sockets.Denial) {
			d.GuestID = 0 // the guest's number, which TestDenialNamesGuest checks
			denials = append(denials, d)
		})
		stdout, stderr, err := runConfig(t, runtime.Config{Network: p, Resolver: testnet.Resolver(server), StopFlag: true}, "./testdata/dialname", target, "by name")
		if tc.want == (sockets.Denial{}) {
			if err != nil || stdout != "echo: by name\n" || len(denials) != 0 {
				t.Errorf("under %s: %v, stdout %q, stderr %q, denials %+v", tc.rule, err, stdout, stderr, denials)
			}
			continue
		}
		if err == nil || stdout != "" || !strings.Contains(stderr, "access-denied") {
			t.Errorf("under %s, dialing %s: %v, stdout %q, stderr %q; want access-denied", tc.rule, target, err, stdout, stderr)
		}
		if len(denials) != 1 || denials[0] != tc.want {
			t.Errorf("under %s, denials %+v, want %+v", tc.rule, denials, tc.want)
		}
	}
}
