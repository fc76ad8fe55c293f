package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/component"
)

// exiterSpec is the spec of testdata/components/exiter: a component of
// world exiter without an adapter, or with preview1 (proc-quit) one of
// world exiter-preview1 under the preview1 reactor adapter, or a core
// module with proc-quit.
func exiterSpec(core, preview1 bool) cguest.Spec {
	s := cguest.Spec{
		Sources: []string{"testdata/components/exiter/exiter.c"},
		CFlags:  []string{"-nostdlib", "-Wl,--no-entry", "-Wall", "-Werror"},
		Core:    core,
	}
	if preview1 {
		s.CFlags = append(s.CFlags, "-DEXITER_PREVIEW1")
	}
	if !core {
		s.WIT, s.World = "testdata/components/exiter/exiter.wit", "exiter"
		s.WITDeps = cguest.WITDeps("io", "clocks", "sockets", "cli", "filesystem", "random")
		if preview1 {
			s.World, s.Adapter = "exiter-preview1", cguest.Reactor
		}
	}
	return s
}

// exitee is one guest of TestExitThenCall, a component or a core module,
// called by export name with uint32 arguments.
type exitee interface {
	call(name string, args ...uint32) (uint32, error)
	cabi() *cabi.Instance
	sockets() int
	close() error
}

type exiteeComponent struct{ *runtime.ComponentInstance }

func (g exiteeComponent) call(name string, args ...uint32) (uint32, error) {
	f, err := g.Component().Func(name)
	if err != nil {
		return 0, err
	}
	var in []any
	for _, a := range args {
		if name == "quit" {
			in = append(in, a != 0)
		} else {
			in = append(in, a)
		}
	}
	v, err := f.Call(g.Context(), in...)
	switch v := v.(type) {
	case uint32:
		return v, err
	case uint16:
		return uint32(v), err
	}
	return 0, err
}
func (g exiteeComponent) cabi() *cabi.Instance { return g.Cabi() }
func (g exiteeComponent) sockets() int         { return g.Sockets() }
func (g exiteeComponent) close() error         { return g.Close(context.Background()) }

type exiteeCore struct{ *runtime.Instance }

func (g exiteeCore) call(name string, args ...uint32) (uint32, error) {
	var in []uint64
	for _, a := range args {
		in = append(in, uint64(a))
	}
	res, err := g.Call(name, in...)
	if err == nil && len(res) > 0 {
		return uint32(res[0]), nil
	}
	return 0, err
}
func (g exiteeCore) cabi() *cabi.Instance { return g.Cabi() }
func (g exiteeCore) sockets() int         { return g.Sockets() }
func (g exiteeCore) close() error         { return g.Close(context.Background()) }

// TestExitThenCall: a reactor's export exits, through wasi:cli/exit (code
// 0, and err, code 1) or preview1's proc_exit (through the adapter in a
// component, wazero's own in a core module), while the guest holds a
// listening socket on loopback, a connection a peer made to it queued in
// the host, and their handles. Components and core modules (Instance.Call),
// with the stop flag and under wazero's checks.
//
// The exiting call reports the exit and its code (*sys.ExitError, code 0
// included: the export returned nothing). The exit unwound the guest
// mid-call, so every later call, of any export, the exiting one included,
// is refused before the guest runs, with an error wrapping cabi.ErrExited
// that names the code and says to make a new instance; it neither runs nor
// exits again. The exit drops nothing: the handles and the socket stay
// held until Close, which releases them all: no handle, socket,
// goroutine or descriptor is left, and the peer sees its connection end.
func TestExitThenCall(t *testing.T) {
	ctx := context.Background()
	comp, err := component.Parse(cguest.Build(t, exiterSpec(false, false)))
	if err != nil {
		t.Fatal(err)
	}
	compP1, err := component.Parse(cguest.Build(t, exiterSpec(false, true)))
	if err != nil {
		t.Fatal(err)
	}
	coreWasm := cguest.Build(t, exiterSpec(true, true))
	for _, path := range corePaths {
		rt, compiled := path.setup(t, runtime.Config{Network: policy(t, nil, []string{"127.0.0.1:*"})}, coreWasm)
		for _, tc := range []struct {
			name string
			c    *component.Component // nil: the core module
			fn   string
			arg  uint32
			code uint32
		}{
			{"component/wasi:cli exit ok", comp, "quit", 0, 0},
			{"component/wasi:cli exit err", comp, "quit", 1, 1},
			// The adapter exits through wasi:cli/exit: any code but 0
			// is err, code 1.
			{"component/preview1 adapter proc_exit", compP1, "proc-quit", 3, 1},
			{"core module/wasi:cli exit ok", nil, "quit", 0, 0},
			{"core module/wasi:cli exit err", nil, "quit", 1, 1},
			{"core module/proc_exit", nil, "proc-quit", 3, 3},
			// exit(-1): the code wazero reserves for a cancelled
			// context is the guest's 255, not a cancellation.
			{"core module/proc_exit -1", nil, "proc-quit", 0xffffffff, 255},
			{"core module/proc_exit deadline code", nil, "proc-quit", sys.ExitCodeDeadlineExceeded, 255},
		} {
			t.Run(path.name+"/"+tc.name, func(t *testing.T) {
				goroutines, fds := goruntime.NumGoroutine(), countFDs(t)
				var g exitee
				if tc.c != nil {
					inst, err := rt.InstantiateComponent(ctx, tc.c, runtime.ModuleConfig{})
					if err != nil {
						t.Fatal(err)
					}
					g = exiteeComponent{inst}
				} else {
					inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{})
					if err != nil {
						t.Fatal(err)
					}
					g = exiteeCore{inst}
				}
				defer g.close()
				port, err := g.call("listen")
				if err != nil || port == 0 {
					t.Fatalf("listen: %d, %v", port, err)
				}
				peer, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer peer.Close()
				if v, err := g.call("add", 2, 3); err != nil || v != 5 {
					t.Fatalf("add(2, 3) = %d, %v", v, err)
				}
				// The host accepts the peer's connection for the guest
				// and counts it: the listener and it.
				for deadline := time.Now().Add(5 * time.Second); g.sockets() < 2 && time.Now().Before(deadline); {
					time.Sleep(5 * time.Millisecond)
				}
				handles, socks := g.cabi().Table().Len(), g.sockets()
				if handles < 2 || socks != 2 {
					t.Fatalf("the guest holds %d handles and %d sockets, want its network and listener, and the peer's connection queued", handles, socks)
				}

				_, err = g.call(tc.fn, tc.arg)
				var exit *sys.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != tc.code {
					t.Fatalf("%s(%d): %v, want the guest's exit with code %d", tc.fn, tc.arg, err, tc.code)
				}
				if code, exited := g.cabi().Exited(); !exited || code != tc.code {
					t.Fatalf("after the exit the instance is exited %v with code %d, want code %d", exited, code, tc.code)
				}
				for _, again := range []struct {
					fn   string
					args []uint32
				}{{"add", []uint32{2, 3}}, {tc.fn, []uint32{tc.arg}}, {"quit", []uint32{1}}, {"listen", nil}} {
					_, err := g.call(again.fn, again.args...)
					if !errors.Is(err, cabi.ErrExited) || errors.As(err, &exit) ||
						!strings.Contains(err.Error(), again.fn+": instance has exited with code "+fmt.Sprint(tc.code)) || !strings.Contains(err.Error(), "make a new instance") {
						t.Fatalf("%s%v after the exit: %v, want the refusal of an instance that exited with code %d", again.fn, again.args, err, tc.code)
					}
				}
				if n, s := g.cabi().Table().Len(), g.sockets(); n != handles || s != socks {
					t.Errorf("after the exit the guest holds %d handles and %d sockets, want %d and %d until Close", n, s, handles, socks)
				}

				if err := g.close(); err != nil {
					t.Errorf("close: %v", err)
				}
				if n, s := g.cabi().Table().Len(), g.sockets(); n != 0 || s != 0 {
					t.Errorf("after Close the guest holds %d handles and %d sockets, want none", n, s)
				}
				peer.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := peer.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("the peer's read after Close: %v, want the connection ended", err)
				}
				peer.Close()
				settle(t, goroutines, fds)
			})
		}
	}
}

// TestReactorInitializeExit: a core module reactor whose _initialize
// exits with code 0 is not instantiated: Instantiate returns the guest's
// *sys.ExitError with code 0 and no instance (before, it returned neither
// an instance nor an error), with the stop flag and under wazero's checks,
// and leaves no goroutine or descriptor behind.
func TestReactorInitializeExit(t *testing.T) {
	ctx := context.Background()
	spec := exiterSpec(true, false)
	spec.CFlags = append(spec.CFlags, "-DEXITER_INIT_EXIT")
	wasm := cguest.Build(t, spec)
	for _, path := range corePaths {
		t.Run(path.name, func(t *testing.T) {
			rt, compiled := path.setup(t, runtime.Config{}, wasm)
			goroutines, fds := goruntime.NumGoroutine(), countFDs(t)
			inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{})
			var exit *sys.ExitError
			if inst != nil || !errors.As(err, &exit) || exit.ExitCode() != 0 {
				t.Fatalf("Instantiate: %v, %v, want no instance and the exit with code 0", inst, err)
			}
			settle(t, goroutines, fds)
		})
	}
}
