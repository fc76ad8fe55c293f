package runtime_test

import (
	"context"
	"errors"
	"io"
	"net"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime"
)

// TestWazeroCloseStopsGuests: the embedder's Close of the wazero.Runtime
// (README's `defer r.Close(ctx)`, run while guests still run) stops every
// guest of it, as Instance.Close does, whatever each waits in: a sleep
// (preview1's poll_oneoff), a read of a standard input nobody writes, a
// read from a peer that never answers, an accept nobody connects to, a
// loop without host calls, and a reactor's export computing without end.
// Each Instantiate returns at once with the stop's exit (Instance.Call
// with ErrStopped and ErrClosed), the sockets they held are closed (the peer sees EOF, the
// listening port refuses), no goroutine is left, a second Close is nil
// and an Instantiate after it is refused. Before, wazero closed the
// modules and nothing stopped the guests: each waited on, with its
// sockets.
func TestWazeroCloseStopsGuests(t *testing.T) {
	for _, p := range corePaths {
		t.Run(p.name, func(t *testing.T) {
			ctx := context.Background()
			peer, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			// The peer reads what the guest sends, never answers, and
			// reports the end of each connection.
			received, ended := make(chan struct{}, 1), make(chan struct{}, 1)
			go func() {
				c, err := peer.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				buf := make([]byte, 64)
				for {
					if _, err := c.Read(buf); err != nil {
						ended <- struct{}{}
						return
					}
					select {
					case received <- struct{}{}:
					default:
					}
				}
			}()
			goroutines := goruntime.NumGoroutine()

			r := wazero.NewRuntimeWithConfig(ctx, p.wcfg.WithCompilationCache(cache))
			defer r.Close(ctx)
			rt, err := runtime.New(ctx, r, runtime.Config{
				Network:  policy(t, []string{peer.Addr().String()}, []string{"127.0.0.1:0"}),
				StopFlag: p.stop,
			})
			if err != nil {
				t.Fatal(err)
			}
			compile := func(pkg string) wazero.CompiledModule {
				c, err := p.compile(ctx, r, guestbuild.MustBuild(t, pkg), runtime.Limits{})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			hog, spin := compile("./testdata/hog"), compile("./testdata/spin")
			echo, listener := compile("./testdata/echoclient"), compile("./testdata/listener")

			stdin, stdinW := io.Pipe() // nothing is ever written
			defer stdinW.Close()
			type guest struct {
				name     string
				compiled wazero.CompiledModule
				args     []string
				stdin    io.Reader
				ready    string // a line the guest prints before it blocks; "" for the peer's read
			}
			guests := []guest{
				{"sleep", hog, []string{"hog", "sleep", "3600"}, nil, "sleeping"},
				{"stdin", hog, []string{"hog", "stdin", "1"}, stdin, "reading"},
				{"silent peer", echo, []string{"echoclient", peer.Addr().String(), "hello"}, nil, ""},
				{"accept", listener, []string{"listener", "1"}, nil, "port "},
				{"spin", spin, []string{"spin"}, nil, "spinning"},
			}
			dones := make([]chan error, len(guests))
			var port string
			for i, g := range guests {
				out := &lineWriter{lines: make(chan string, 16)}
				dones[i] = make(chan error, 1)
				go func() {
					_, err := rt.Instantiate(ctx, g.compiled, runtime.ModuleConfig{Args: g.args, Stdin: g.stdin, Stdout: out, Stderr: out})
					dones[i] <- err
				}()
				wait := out.lines
				if g.ready == "" {
					wait = nil
				}
				select {
				case line := <-wait:
					if !strings.HasPrefix(line, g.ready) {
						t.Fatalf("%s: guest printed %q, want %q", g.name, line, g.ready)
					}
					if g.name == "accept" {
						port = strings.TrimPrefix(line, "port ")
					}
				case <-received:
				case err := <-dones[i]:
					t.Fatalf("%s: guest ended early: %v", g.name, err)
				case <-time.After(30 * time.Second):
					t.Fatalf("%s: guest not ready after 30 s", g.name)
				}
			}
			// A reactor whose export, called through Instance.Call,
			// computes without end.
			reactor, err := p.compile(ctx, r, spinReactor(), runtime.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			inst, err := rt.Instantiate(ctx, reactor, runtime.ModuleConfig{})
			if err != nil {
				t.Fatal(err)
			}
			spun := make(chan error, 1)
			go func() {
				_, err := inst.Call("spin")
				spun <- err
			}()
			waitIn(t, "runtime.(*Instance).Call", "callWithStack")
			waitBlockedIn(t, "wasi_snapshot_preview1.pollOneoffFn")

			if err := r.Close(ctx); err != nil {
				t.Fatal(err)
			}
			for i, g := range guests {
				select {
				case err := <-dones[i]:
					var ee *sys.ExitError
					if !errors.As(err, &ee) || ee.ExitCode() != sys.ExitCodeContextCanceled {
						t.Errorf("%s: err = %v, want the stop's exit (code %#x)", g.name, err, sys.ExitCodeContextCanceled)
					}
				case <-time.After(stopBound):
					t.Fatalf("%s: guest still running %v after the wazero runtime's Close", g.name, stopBound)
				}
			}
			select {
			case err := <-spun:
				if !errors.Is(err, runtime.ErrStopped) || !errors.Is(err, runtime.ErrClosed) {
					t.Errorf("reactor: err = %v, want ErrStopped and ErrClosed", err)
				}
			case <-time.After(stopBound):
				t.Fatalf("reactor: export still running %v after the wazero runtime's Close", stopBound)
			}
			select {
			case <-ended:
			case <-time.After(stopBound):
				t.Errorf("the silent peer's connection still open %v after the wazero runtime's Close", stopBound)
			}
			if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
				c.Close()
				t.Errorf("the guest's listener on port %s still accepts", port)
			}
			stdinW.Close() // the stdin guest's read, left to the reader
			waitGoroutines(t, goroutines)

			if err := r.Close(ctx); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if _, err := rt.Instantiate(ctx, hog, runtime.ModuleConfig{Args: []string{"hog", "sleep", "3600"}}); err == nil {
				t.Error("Instantiate after the wazero runtime's Close: no error")
			}
		})
	}
}

// TestWazeroCloseStopsComponents is TestWazeroCloseStopsGuests for
// components: a command component reading a standard input nobody writes
// (RunComponent) and a reactor component's export computing without end
// both return once the wazero.Runtime is closed, and no goroutine is
// left.
func TestWazeroCloseStopsComponents(t *testing.T) {
	stdio, spin := stdioComponent(t), spinComponent(t)
	for _, p := range corePaths {
		t.Run(p.name, func(t *testing.T) {
			ctx := context.Background()
			goroutines := goruntime.NumGoroutine()
			r := wazero.NewRuntimeWithConfig(ctx, p.wcfg.WithCompilationCache(cache))
			defer r.Close(ctx)
			rt, err := runtime.New(ctx, r, runtime.Config{StopFlag: p.stop})
			if err != nil {
				t.Fatal(err)
			}
			stdin, stdinW := io.Pipe() // nothing is ever written
			defer stdinW.Close()
			ran := make(chan error, 1)
			go func() { ran <- rt.RunComponent(ctx, stdio, runtime.ModuleConfig{Stdin: stdin}) }()
			inst, err := rt.InstantiateComponent(ctx, spin, runtime.ModuleConfig{})
			if err != nil {
				t.Fatal(err)
			}
			f, err := inst.Component().Func("spin")
			if err != nil {
				t.Fatal(err)
			}
			spun := make(chan error, 1)
			go func() {
				_, err := f.Call(inst.Context())
				spun <- err
			}()
			waitBlockedIn(t, "wasiio.(*InputStream).BlockingRead")

			if err := r.Close(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-ran:
				var ee *sys.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != sys.ExitCodeContextCanceled {
					t.Errorf("command: err = %v, want the stop's exit (code %#x)", err, sys.ExitCodeContextCanceled)
				}
			case <-time.After(stopBound):
				t.Fatalf("command: still running %v after the wazero runtime's Close", stopBound)
			}
			select {
			case err := <-spun:
				if err == nil {
					t.Error("reactor: the spin export returned no error")
				}
			case <-time.After(stopBound):
				t.Fatalf("reactor: export still running %v after the wazero runtime's Close", stopBound)
			}
			stdinW.Close()
			waitGoroutines(t, goroutines)
		})
	}
}

// TestWazeroCloseStopsSpinningExports: closing a wazero.Runtime
// configured as README's "Embed it" (no compilation cache: the close
// frees the compiled code) while exports compute without end, a core
// reactor's called through Instance.Call and a component's through
// component.Func, stops both: each returns with an error. Before, under
// the stop flag, the core export ran on after the Close.
func TestWazeroCloseStopsSpinningExports(t *testing.T) {
	spinC := spinComponent(t)
	for _, p := range corePaths {
		t.Run(p.name, func(t *testing.T) {
			ctx := context.Background()
			r := wazero.NewRuntimeWithConfig(ctx, p.wcfg)
			defer r.Close(ctx)
			rt, err := runtime.New(ctx, r, runtime.Config{StopFlag: p.stop})
			if err != nil {
				t.Fatal(err)
			}
			compiled, err := p.compile(ctx, r, spinReactor(), runtime.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{})
			if err != nil {
				t.Fatal(err)
			}
			cinst, err := rt.InstantiateComponent(ctx, spinC, runtime.ModuleConfig{})
			if err != nil {
				t.Fatal(err)
			}
			f, err := cinst.Component().Func("spin")
			if err != nil {
				t.Fatal(err)
			}
			core, comp := make(chan error, 1), make(chan error, 1)
			go func() {
				_, err := inst.Call("spin")
				core <- err
			}()
			go func() {
				_, err := f.Call(cinst.Context())
				comp <- err
			}()
			waitIn(t, "runtime.(*Instance).Call", "callWithStack")
			waitIn(t, "component.(*Func).Call", "callWithStack")
			if err := r.Close(ctx); err != nil {
				t.Fatal(err)
			}
			for name, done := range map[string]chan error{"core": core, "component": comp} {
				select {
				case err := <-done:
					if err == nil {
						t.Errorf("%s: the spin export returned no error", name)
					}
				case <-time.After(stopBound):
					t.Fatalf("%s: export still running %v after the wazero runtime's Close", name, stopBound)
				}
			}
		})
	}
}

// waitIn waits for a goroutine whose stack has every one of fns,
// whatever its state.
func waitIn(t *testing.T, fns ...string) {
	t.Helper()
	waitGoroutinesIn(t, 1, fns...)
}

// TestWazeroCloseAfterInstanceCloseWaits: Instance.Close from another
// goroutine while a call into the guest runs (in an embedder's host
// function that returns only when told), then the wazero runtime's Close,
// as a server shutting down may do both: the runtime's Close waits for
// the call to return before wazero closes the module under it (its system
// context, the compiled code). Before, the watch took wazero's close for
// the runtime's own and let it through at once, the call still running.
// The stop flag's path: under wazero's checks, the end of the guest's
// context takes the module out of wazero's store, whose Close then leaves
// it to the call's end.
func TestWazeroCloseAfterInstanceCloseWaits(t *testing.T) {
	ctx := context.Background()
	p := corePaths[0]
	if !p.stop {
		t.Fatal("corePaths[0] is not the stop flag's path")
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	defer releaseOnce.Do(func() { close(release) })
	block := runtime.ExtensionFunc(func(ctx context.Context, r wazero.Runtime) error {
		_, err := r.NewHostModuleBuilder("env").
			NewFunctionBuilder().WithFunc(func() {
			close(entered)
			<-release
		}).Export("block").
			Instantiate(ctx)
		return err
	})
	r := wazero.NewRuntimeWithConfig(ctx, p.wcfg.WithCompilationCache(cache))
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{StopFlag: true, Extensions: []runtime.Extension{block}})
	if err != nil {
		t.Fatal(err)
	}
	var m wasmbin.Module
	typ := m.Type(nil, nil)
	m.ImportFunc("env", "block", typ)
	m.Export("run", wasmbin.ExportFunc, m.Func(typ, nil, []byte{0x10, 0x00}))
	compiled, err := p.compile(ctx, r, m.Bytes(), runtime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{})
	if err != nil {
		t.Fatal(err)
	}
	called := make(chan struct{})
	go func() {
		inst.Call("run") // returns or is stopped: either way, it ends
		close(called)
	}()
	select {
	case <-entered:
	case <-time.After(stopBound):
		t.Fatal("the guest did not call env.block")
	}
	if err := inst.Close(ctx); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() {
		r.Close(ctx)
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("the wazero runtime's Close returned while a call into the guest still ran")
	case <-time.After(100 * time.Millisecond):
	}
	releaseOnce.Do(func() { close(release) })
	for what, done := range map[string]chan struct{}{"the call": called, "the wazero runtime's Close": closed} {
		select {
		case <-done:
		case <-time.After(stopBound):
			t.Fatalf("%s still runs %v after the host function returned", what, stopBound)
		}
	}
}
