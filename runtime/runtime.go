package runtime

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/internal/pinname"
	"github.com/wasitls/wasitls/internal/wazeroclosed"
	"github.com/wasitls/wasitls/runtime/filesystem"
	"github.com/wasitls/wasitls/runtime/link"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/stopcheck"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// A Runtime is a wazero.Runtime prepared by New.
type Runtime struct {
	r      wazero.Runtime
	cfg    Config
	linker *link.Linker
}

// New registers wasi_snapshot_preview1, each function guarded (see
// instantiatePreview1), and the extensions of cfg into r. The WASI 0.2
// interfaces of this package are registered on demand by Instantiate,
// under exactly the versions each guest imports (see the link package).
//
// New refuses an r that already has a wasi_snapshot_preview1 it did not
// register (wazero's wasi_snapshot_preview1.Instantiate, say): it would
// serve the guests without the guards. Leave that call out, and give
// what its module configuration set through ModuleConfig (its fields,
// and Configure for the rest).
//
// Host modules belong to r, not to the Runtime: another New over the same
// r shares wasi_snapshot_preview1 and the WASI 0.2 modules (each guest
// under its own Runtime's Config.Network and Limits), and its core modules
// link to the extensions an earlier New registered, whatever its own
// Config.Extensions: an extension with per-guest state should serve only
// the guests of the Runtime that registered it (the wasi:tls host traps
// the calls of any other), and one registered twice fails (the wasi:tls
// host says so). Give each TLS configuration a wazero.Runtime of its own.
func New(ctx context.Context, r wazero.Runtime, cfg Config) (*Runtime, error) {
	if m := r.Module(wasi_snapshot_preview1.ModuleName); m == nil {
		if err := wazeroclosed.Guard(ctx, r, "instantiating", func() error { return instantiatePreview1(ctx, r) }); err != nil {
			return nil, fmt.Errorf("runtime: wasi_snapshot_preview1: %w", err)
		}
	} else if !isGuardedPreview1(m) {
		return nil, errForeignPreview1
	}
	if err := cfg.Limits.validate(); err != nil {
		return nil, err
	}
	// The runtime's own copy, which every guest's NewGuest goes through:
	// the embedder may reuse its slice.
	cfg.Extensions = slices.Clone(cfg.Extensions)
	impls := implementations()
	for _, ext := range cfg.Extensions {
		if err := wazeroclosed.Guard(ctx, r, "registering", func() error { return registerGuarded(ctx, ext, r) }); err != nil {
			return nil, fmt.Errorf("runtime: extension: %w", err)
		}
		if le, ok := ext.(LinkedExtension); ok {
			impls = append(impls, le.Implementations()...)
		}
	}
	linker, err := link.NewLinker(impls...)
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	return &Runtime{r: r, cfg: cfg, linker: linker}, nil
}

// Linker returns the linker that binds WASI 0.2 imports, of any
// compatible patch version, to this runtime's implementations; component
// loaders resolve lowered imports through it.
func (rt *Runtime) Linker() *link.Linker { return rt.linker }

// Wazero returns the underlying wazero.Runtime.
func (rt *Runtime) Wazero() wazero.Runtime { return rt.r }

// An Instance is one running or finished core module guest: its Guest
// state and its wazero module instance.
type Instance struct {
	*Guest
	ctx    context.Context
	cancel context.CancelFunc
	mod    api.Module
	stop   func(reason error) // sets the stop global; nil for a module without one
	// stack is the stack budget global (nil for a module without one);
	// calls counts the calls of Call in progress, nested ones included:
	// the outermost resets the budget.
	stack api.MutableGlobal
	calls int

	closeOnce sync.Once
	closeErr  error

	// running counts the calls into the guest the runtime makes that are
	// in progress (its start functions, Call); closing is set by Close.
	// wazero's module close clears state the guest's
	// wasi_snapshot_preview1 calls read (its system context, its file
	// table), so that Close during such a call leaves the module's close
	// to the call's end.
	runMu   sync.Mutex
	running int
	closing bool
	// runIdle is closed when running drops to 0, for a wait for the
	// guest to be idle (busyWake); nil when nobody waits. Under runMu.
	runIdle chan struct{}
	modOnce sync.Once
	modErr  error
	// leftTimer closes the module if a generated caller's call Close
	// found in progress has not left within outsideCloseWait.
	leftTimer atomic.Pointer[time.Timer]
}

// leftClosed closes the module once a generated caller's call in
// progress when Close came has left the guest (cabi's OnLeftClosed).
func (inst *Instance) leftClosed() {
	inst.runMu.Lock()
	busy := inst.running > 0
	inst.runMu.Unlock()
	if busy {
		return // the runtime's call in progress closes it as it returns
	}
	if t := inst.leftTimer.Load(); t != nil {
		t.Stop()
	}
	inst.closeModule(context.Background())
}

// call calls f, an export of the guest, with ctx, as a call in progress
// (see running). Once the instance is closed (Close, or wazero's close of
// its module, see closeWatch) it calls nothing and returns the exit of a
// guest stopped by its context: wazero's compiled code does not check on
// entry that its module is closed, and the guest would run on a module
// whose system context wazero cleared, under the calls of its
// wasi_snapshot_preview1 imports (a Close between Instantiate's
// Started hook and the guest's _start did that). Checked under runMu,
// this orders against Close's and the watch's look at running: either
// the call counts as in progress before they look, and they wait for
// it, or it sees the close.
func (inst *Instance) call(ctx context.Context, f api.Function, params ...uint64) ([]uint64, error) {
	inst.runMu.Lock()
	if inst.closing || inst.state.closedOutside.Load() {
		inst.runMu.Unlock()
		return nil, sys.NewExitError(sys.ExitCodeContextCanceled)
	}
	inst.running++
	inst.runMu.Unlock()
	defer func() {
		inst.runMu.Lock()
		inst.running--
		last := inst.running == 0 && inst.closing
		if inst.running == 0 && inst.runIdle != nil {
			close(inst.runIdle)
			inst.runIdle = nil
		}
		inst.runMu.Unlock()
		if last {
			inst.closeModule(context.Background())
		}
	}()
	return f.Call(ctx, params...)
}

// busyWake returns nil when no call into the guest is in progress, else
// a channel closed when one that is may have returned: while the runtime
// made one (see running), when the last of those returns, else when a
// generated caller's call leaves (cabi's IdleWake).
func (inst *Instance) busyWake() <-chan struct{} {
	inst.runMu.Lock()
	defer inst.runMu.Unlock()
	if inst.running > 0 {
		if inst.runIdle == nil {
			inst.runIdle = make(chan struct{})
		}
		return inst.runIdle
	}
	return inst.cabi.IdleWake()
}

// closeModule closes the wazero module instance, once.
func (inst *Instance) closeModule(ctx context.Context) error {
	inst.modOnce.Do(func() {
		if inst.mod != nil {
			inst.modErr = inst.mod.CloseWithExitCode(ctx, sys.ExitCodeContextCanceled)
		}
	})
	return inst.modErr
}

// Context returns the context that carries the instance's state: use it
// for every call into the guest's exports.
func (inst *Instance) Context() context.Context { return inst.ctx }

// Module returns the guest module instance.
func (inst *Instance) Module() api.Module { return inst.mod }

// Close stops the guest if it still runs (a guest blocked in a host call
// returns and exits), drops every resource it holds and closes the module.
// It is idempotent and safe to call from any goroutine. While a call the
// runtime made into the guest runs (Instantiate's start functions,
// Call) or through the generated callers, the module is closed when that
// call returns, the guest stopped (the generated callers' call fails with
// an error wrapping ErrClosed), or a second later if it has not returned
// by then: a guest nothing stops (called with a context not derived from
// Context, on a runtime without the stop flag). A call made straight
// through wazero's api.Function (Module().ExportedFunction) is not
// tracked: it should not be running when Close is called from another
// goroutine.
func (inst *Instance) Close(ctx context.Context) error {
	inst.closeOnce.Do(func() {
		// From here no call into the guest starts (see call), before
		// wazero's close of the module, which the watch lets through
		// once it saw no call in progress, can come.
		inst.runMu.Lock()
		inst.closing = true
		inst.runMu.Unlock()
		inst.state.ownClose.Store(true)
		// The close is why a call in progress ends, with or without
		// the stop flag: the generated callers report it so
		// (cabi.Instance.SetStopped, before the cancel that ends it).
		inst.cabi.SetStopped(errClosedStop)
		if inst.stop != nil {
			inst.stop(ErrClosed)
		}
		inst.cancel()
		err1 := inst.close(ctx) // marks the cabi instance closed first
		inst.runMu.Lock()
		busy := inst.running > 0
		inst.runMu.Unlock()
		var err3 error
		switch {
		case busy:
		case inst.cabi.Entered():
			// A generated caller's call in progress, stopped: the
			// module is closed as it leaves (OnLeftClosed, set by
			// Instantiate), or after outsideCloseWait if it has not
			// (a guest nothing stops, called with a context of its
			// own under wazero's checks, which then see the module
			// closed).
			inst.leftTimer.Store(time.AfterFunc(outsideCloseWait, func() { inst.closeModule(context.Background()) }))
		default:
			err3 = inst.closeModule(ctx)
		}
		inst.closeErr = errors.Join(err1, err3)
	})
	return inst.closeErr
}

// Instantiate instantiates compiled as a guest of the runtime and runs its
// _start function (a command) or _initialize function (a reactor).
//
// Cancelling ctx stops the guest: a call blocked in poll, a blocking stream
// operation, pollable.block, a sleep in wasi_snapshot_preview1's
// poll_oneoff (a Go guest's time.Sleep) or a read or write of its
// standard streams returns and the guest exits with
// sys.ExitCodeContextCanceled. A guest computing without host calls stops
// when compiled with [CompileModule] (at its next loop iteration), or else
// only when the wazero.Runtime was configured WithCloseOnContextDone(true).
// A runtime whose Config.StopFlag is set refuses a module CompileModule
// did not compile.
//
// For a command, Instantiate returns when _start returns, and the guest's
// resources are released by then: the error is nil for a normal return or
// exit code 0, a *sys.ExitError for another exit code, and the trap
// otherwise. For a reactor, the instance stays alive: call its exports with
// inst.Context() and Close it when done (a reactor whose _initialize
// exits, with code 0 too, returns the *sys.ExitError and no instance).
//
// A guest links to host modules only: a module importing anything from
// another guest's module instance (a guest instantiated with a
// ModuleConfig.Name, by any Runtime over the wazero.Runtime) is refused
// with an error wrapping [ErrImportsGuest]. Modules the embedder
// instantiated itself stay importable by name. Instantiate resolves the
// guest's imports itself: an experimental.ImportResolver in ctx is not
// consulted.
func (rt *Runtime) Instantiate(ctx context.Context, compiled wazero.CompiledModule, cfg ModuleConfig) (*Instance, error) {
	compiled, rw, err := rt.unwrap(compiled)
	if err != nil {
		return nil, err
	}
	if err := checkImports(compiled, rt.r, rt.linker); err != nil {
		return nil, err
	}
	if err := rt.linker.Define(ctx, rt.r, compiled.ImportedFunctions()); err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	g, ctx, err := rt.newGuest(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := g.limits.checkMemory(compiled); err != nil {
		g.close(context.Background())
		return nil, err
	}
	if err := g.limits.checkTables(rw.tables); err != nil {
		g.close(context.Background())
		return nil, err
	}
	st, ci := g.state, g.cabi
	ctx, cancel := context.WithCancel(ctx)
	inst := &Instance{Guest: g, ctx: ctx, cancel: cancel}
	ci.OnLeftClosed(inst.leftClosed)
	watch := newCloseWatch(st)

	// The memory stays mapped, reading as zero once the module is
	// closed, until the module instance is garbage: the instance holds
	// its name, pinned to release the memory (see memoryBudget), whether
	// the instantiation succeeded or not. Before, a module whose
	// instantiation failed had its memory unmapped as it returned, though
	// a host function of the embedder's its start section called may
	// have kept its api.Module, which then faulted at a read of the
	// memory (TestCallAfterFailedStartKeptModule).
	//
	// A guest links to host modules only: an import from another
	// guest's named instance (its functions, memory, tables, globals)
	// is refused (pinname.Resolver). Before, wazero resolved it by name
	// like any other, and a guest called into another and changed its
	// state (TestGuestImportsNoOtherGuest).
	name := pinname.PinGuest(st.cfg.Name, g.memory.release)
	var refused string
	ictx, linked := pinname.Resolver(watch.context(ctx), rt.r, &refused)
	mod, err := rt.r.InstantiateModule(ictx, compiled, rt.wazeroConfig(ctx, st.cfg, name, st.fs, &st.waits))
	linked()
	if refused != "" {
		if err == nil {
			mod.Close(context.Background())
		}
		inst.Close(context.Background())
		return nil, fmt.Errorf("runtime: instantiate: the guest imports from %q, another guest's module instance: a guest links to host modules only (%w)", refused, ErrImportsGuest)
	}
	if err != nil {
		inst.Close(context.Background())
		if rw.r != nil && rw.r != rt.r {
			// wazero says only "source module must be compiled before
			// instantiation" of a module another runtime compiled,
			// which shares no compilation cache with this one.
			return nil, fmt.Errorf("runtime: instantiate: %w (the module was compiled by another wazero.Runtime: compile it with this Runtime's, Runtime.Wazero)", err)
		}
		return nil, fmt.Errorf("runtime: instantiate: %w", err)
	}
	inst.mod = mod
	// wazero set mod's close notifier (watch) outside its store's lock,
	// which its Close reads it under: passing through the lock orders
	// the two for a Close that comes later (see component's storeFence).
	rt.r.Module(wasi_snapshot_preview1.ModuleName)
	switch {
	case rw.stop:
		inst.stop, inst.stack, err = armStop(ctx, mod, ci, g.limits.Stack)
	case rw.stack:
		inst.stack, err = armStack(mod, ci, g.limits.Stack)
	}
	if err != nil {
		inst.Close(context.Background())
		return nil, err
	}
	// From here, the wazero.Runtime's Close (or the module's) stops the
	// guest and closes the instance, as Instance.Close does.
	watch.arm(inst.busyWake, inst.stop, cancel, inst.Close)
	st.mu.Lock()
	st.mod = mod
	st.mu.Unlock()
	if err := ci.Bind(mod); err != nil {
		inst.Close(context.Background())
		return nil, fmt.Errorf("runtime: %w", err)
	}
	if cfg.Started != nil {
		started(cfg.Started, inst)
	}
	// The start function of a module CompileModule or
	// CompileModuleChecked compiled, exported instead of run at
	// instantiation, runs now that the stop global is armed and the stack
	// budget set.
	if start := mod.ExportedFunction(stopcheck.StartName); rw.stack && start != nil {
		if _, err := inst.call(ctx, start); err != nil {
			err = inst.initError(err)
			inst.Close(context.Background())
			return nil, err
		}
	}
	if init := mod.ExportedFunction("_initialize"); init != nil {
		if _, err := inst.call(ctx, init); err != nil {
			err = inst.initError(err) // before Close, which stops the guest too
			inst.Close(context.Background())
			return nil, err
		}
	}
	start := mod.ExportedFunction("_start")
	if start == nil {
		return inst, nil
	}
	_, err = inst.call(ctx, start)
	err = st.exitError(err)
	if st.stopped(ctx, err) {
		// Closed while running: blocked calls aborted the guest.
		err = sys.NewExitError(wasiio.ExitCode(ctx.Err()))
	} else {
		err = ci.StopError(err) // the stack budget's trap, reported as such
	}
	inst.Close(context.Background())
	if err != nil {
		// The memory stays mapped until the module instance is garbage
		// (its pinned name): a host function of the embedder's may
		// have kept the guest's api.Module, and read its memory or call
		// it later. Before, it was unmapped here when no Started hook
		// had the instance, and such a read crashed the process.
		return nil, err
	}
	// The embedder holds the instance (and may have since Started): a
	// call of the module's exports through wazero (Module's
	// ExportedFunction), which nothing refuses, runs on the memory, which
	// stays mapped, reading as zero, until the module instance is garbage
	// (its pinned name). Before, it was unmapped here, and such a call
	// crashed the process.
	return inst, nil
}

// started calls the embedder's Started hook; if it panics the instance,
// which no one else holds yet, is closed before the panic goes on to
// Instantiate's caller (before, the module instance, its memory and its
// host state stayed until the wazero.Runtime closed).
func started(hook func(*Instance), inst *Instance) {
	defer func() {
		if v := recover(); v != nil {
			inst.Close(context.Background())
			panic(v)
		}
	}()
	hook(inst)
}

// initError is the error of Instantiate whose reactor's start or
// _initialize function failed with err, as CallError classifies it, but
// never nil: an exit with code 0 there is the guest's *sys.ExitError too,
// since there is no instance to return.
func (inst *Instance) initError(err error) error {
	if err = inst.CallError(err); err == nil {
		err = sys.NewExitError(0)
	}
	return err
}

// wazeroConfig is the module configuration of a guest whose calls end
// with ctx, named name (cfg.Name, pinned: see Instantiate), whatever
// cfg.Configure set.
func (rt *Runtime) wazeroConfig(ctx context.Context, cfg ModuleConfig, name string, fsys *filesystem.FS, w *waits) wazero.ModuleConfig {
	w.guest = ctx
	mc := wazero.NewModuleConfig().
		WithSysWalltime().
		WithSysNanotime().
		WithNanosleep(sleeper(w)).
		WithRandSource(rand.Reader)
	if len(cfg.Args) > 0 {
		mc = mc.WithArgs(cfg.Args...)
	}
	for _, kv := range cfg.Env {
		k, v, _ := strings.Cut(kv, "=")
		mc = mc.WithEnv(k, v)
	}
	if cfg.Stdin != nil {
		mc = mc.WithStdin(newStdinReader(w, cfg.Stdin))
	}
	if cfg.Stdout != nil {
		mc = mc.WithStdout(newOutputWriter(w, cfg.Stdout))
	}
	if cfg.Stderr != nil {
		mc = mc.WithStderr(newOutputWriter(w, cfg.Stderr))
	}
	if len(cfg.Dirs) > 0 {
		// Mounts over the preopens' os.Root (see
		// filesystem.FS.Preview1).
		fc := wazero.NewFSConfig()
		for i, m := range fsys.Preview1() {
			fc = fc.(sysfs.FSConfig).WithSysFSMount(m, fsys.Guest(i))
		}
		mc = mc.WithFSConfig(fc)
	}
	if cfg.Configure != nil {
		mc = cfg.Configure(mc)
	}
	return mc.WithStartFunctions().WithName(name)
}

// state is the part of a Guest the WASI interfaces of this package use.
type state struct {
	stack *sockets.Stack
	fs    *filesystem.FS
	cfg   ModuleConfig
	seed  [2]uint64

	mu       sync.Mutex
	mod      api.Module
	exited   bool
	exitCode uint32
	closers  []io.Closer // shared stdio streams

	stdin          *wasiio.InputStream
	stdout, stderr *wasiio.OutputStream

	waits waits // what ends the waits of wasi_snapshot_preview1

	// ownClose is set once the runtime closes the guest's modules itself
	// (its Close, an exit of the guest): see closeWatch.
	ownClose atomic.Bool
	// closedOutside is set when wazero closed one of them first (see
	// closeWatch): the guest's end is then the stop, whatever exit code
	// wazero gave its call.
	closedOutside atomic.Bool
}

// stopped tells whether a call into the guest that ended with err (as
// exitError classifies it) was stopped, by the end of ctx, the guest's
// context: a guest that did not exit itself and whose call failed or
// whose module was closed under it.
func (st *state) stopped(ctx context.Context, err error) bool {
	return (err != nil || st.closedOutside.Load()) && ctx.Err() != nil && !st.hasExited()
}

// exit records a wasi:cli exit and stops the guest.
func (st *state) exit(ctx context.Context, code uint32) {
	st.mu.Lock()
	st.exited, st.exitCode = true, code
	mod := st.mod
	st.mu.Unlock()
	st.ownClose.Store(true)
	if mod != nil {
		mod.CloseWithExitCode(ctx, code)
	}
	panic(sys.NewExitError(code))
}

// exitError classifies the error of a call into the guest: an exit the
// guest asked for through wasi:cli wins over the trap that carried it.
func (st *state) exitError(err error) error {
	st.mu.Lock()
	exited, code := st.exited, st.exitCode
	st.mu.Unlock()
	if exited {
		if code == 0 {
			return nil
		}
		return sys.NewExitError(code)
	}
	var ee *sys.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() == 0 {
			return nil
		}
		return ee
	}
	return err
}

func (st *state) hasExited() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.exited
}

func (st *state) close() error {
	st.mu.Lock()
	closers := st.closers
	st.closers = nil
	st.mu.Unlock()
	var errs []error
	for _, c := range closers {
		errs = append(errs, c.Close())
	}
	errs = append(errs, st.fs.Close())
	return errors.Join(errs...)
}

// sleeper is wasi_snapshot_preview1's sleep (poll_oneoff's wait for its
// earliest clock subscription, how a Go guest's time.Sleep and idle
// scheduler wait) for a guest whose waits end as w says: when the
// guest's context or its call's ends first the guest exits, as from a
// wait in wasi:io/poll (wasiio.Abort). wazero's own (WithSysNanosleep) is
// time.Sleep, which neither the context nor Instance.Close reached: a
// guest asking poll_oneoff for a clock of a century held its call, and
// the goroutine and memory under it, that long.
func sleeper(w *waits) sys.Nanosleep {
	return func(ns int64) {
		if ns <= 0 {
			return
		}
		t := time.NewTimer(time.Duration(ns))
		defer t.Stop()
		call, callDone := w.callDone()
		select {
		case <-t.C:
		case <-w.guest.Done():
			wasiio.Abort(w.guest, w.guest.Err())
		case <-callDone:
			wasiio.Abort(call, call.Err())
		}
	}
}
