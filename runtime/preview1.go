package runtime

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"slices"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/capreport"
)

// instantiatePreview1 registers wazero's wasi_snapshot_preview1 in r,
// each function guarded (see guardPreview1), poll_oneoff's count of
// subscriptions checked (see admitPoll), fd_readdir's reading of
// a directory bounded and its earlier cookies served (see chunkReaddir,
// seekReaddir), path_filestat_set_times without
// symlink-follow done on the path's last component itself (see
// setTimesNoFollow), fd_renumber's target bounded (see boundRenumber), the disk quota's
// refusals answered EDQUOT, proc_exit kept from the exit codes of a
// context's end (see procExitCode), poll_oneoff's relative clock
// timeouts cut to a century (see clampPollClocks), and the waits wazero makes in
// poll_oneoff, fd_read and fd_write ended by the call's context too (see
// guestAware).
func instantiatePreview1(ctx context.Context, r wazero.Runtime) error {
	// wazero's own functions, as the Go functions its host module holds.
	compiled, err := wasi_snapshot_preview1.NewBuilder(r).Compile(ctx)
	if err != nil {
		return err
	}
	defs := compiled.ExportedFunctions()
	compiled.Close(ctx)
	b := r.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	names := make([]string, 0, len(defs))
	for name := range defs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		def := defs[name]
		fn, ok := def.GoFunction().(api.GoModuleFunction)
		if !ok {
			return fmt.Errorf("%s is not a Go module function", name)
		}
		if name == procExitName {
			fn = procExitCode(fn)
		}
		if name == readdirName {
			fn = chunkReaddir(seekReaddir(fn))
		}
		if name == setTimesName {
			fn = setTimesNoFollow(fn)
		}
		if name == renumberName {
			fn = boundRenumber(fn)
		}
		if name == pollOneoffName {
			fdstat, ok := defs[fdstatName].GoFunction().(api.GoModuleFunction)
			if !ok {
				return fmt.Errorf("%s is not a Go module function", fdstatName)
			}
			fn = pollFilesReady(clampPollClocks(fn), fdstat)
		}
		if quotaFunctions[name] || waitFunctions[name] || name == pollOneoffName {
			fn = &guestAware{fn: fn, quota: quotaFunctions[name], waits: waitFunctions[name], poll: name == pollOneoffName}
		}
		b.NewFunctionBuilder().
			WithGoModuleFunction(guardPreview1(name, fn), def.ParamTypes(), def.ResultTypes()).
			WithParameterNames(def.ParamNames()...).
			WithResultNames(def.ResultNames()...).
			Export(name)
	}
	_, err = b.Instantiate(ctx)
	return err
}

// errForeignPreview1 is New's error for a wazero.Runtime that already
// has a wasi_snapshot_preview1 module New did not register.
var errForeignPreview1 = errors.New("runtime: the wazero runtime already has a wasi_snapshot_preview1 module " +
	"(registered by wasi_snapshot_preview1.Instantiate or MustInstantiate, say), which would serve guests " +
	"without the runtime's guards: leave that call out, since runtime.New registers wasi_snapshot_preview1 itself, " +
	"and set what your wazero.ModuleConfig did through runtime.ModuleConfig (Args, Env, Stdin, Stdout, Stderr, Dirs; " +
	"Configure for the rest)")

// isGuardedPreview1 reports whether m, a wasi_snapshot_preview1 module,
// is the one instantiatePreview1 registers: each function guarded.
func isGuardedPreview1(m api.Module) bool {
	defs := m.ExportedFunctionDefinitions()
	if len(defs) == 0 {
		return false
	}
	for _, def := range defs {
		if _, ok := def.GoFunction().(*guarded); !ok {
			return false
		}
	}
	return true
}

// Preview1 errnos.
const (
	errnoDquot = 19
	errnoFault = 21
	errnoIntr  = 27
	errnoInval = 28
	errnoIO    = 29
	errnoNoent = 44
	errnoNosys = 52
)

// nosysPanics are the functions of wazero's wasi_snapshot_preview1 whose
// Go runtime errors are known, and known to come after nothing changed:
// they answer the errno here instead. fd_filestat_set_times on a
// standard stream (descriptors 0 to 2, or where fd_renumber moved one)
// falls back, the stream having no times, to setting them by path through
// the descriptor's file system, which a stream has not: a nil
// dereference.
var nosysPanics = map[string]uint64{
	"fd_filestat_set_times": errnoNosys,
}

// guardPreview1 is fn, the wasi_snapshot_preview1 function name, whose Go
// runtime error (a fault of wazero's on some arguments, which wazero
// recovers into a trap carrying the host's Go stack) either answers the
// errno nosysPanics gives name or traps the guest with a message that
// names the function and the fault and no host stack; the guest's
// instance is marked trapped, since the fault may have left its state
// half-changed. A fault under a module closed meanwhile is the exit the
// close is. Any other panic but an exit (a bug of the host's, such as an
// embedder's random source or clock that panics, or a trap of the
// runtime's) traps the guest the same way, as a host function's panic
// traps a component through the generated glue (cabi.Call.End): the
// instance is marked trapped, and a value that is not a *cabi.Trap
// becomes one, "wasi_snapshot_preview1.NAME: host panic: VALUE".
func guardPreview1(name string, fn api.GoModuleFunction) api.GoModuleFunction {
	return &guarded{name: name, fn: fn}
}

// guarded is guardPreview1's function: a type rather than a closure, for
// one indirect call less on every preview1 call.
type guarded struct {
	name string
	fn   api.GoModuleFunction
}

func (g *guarded) Call(ctx context.Context, mod api.Module, stack []uint64) {
	defer g.recover(ctx, mod, stack)
	g.fn.Call(ctx, mod, stack)
}

func (g *guarded) recover(ctx context.Context, mod api.Module, stack []uint64) {
	v := recover()
	if v == nil {
		return
	}
	if _, exit := v.(*sys.ExitError); exit {
		panic(v) // an exit, or an abort (which marked the instance)
	}
	rerr, ok := v.(goruntime.Error)
	if !ok {
		if inst := cabi.InstanceFrom(ctx); inst != nil {
			inst.MarkTrapped()
		}
		if trap, ok := v.(*cabi.Trap); ok {
			panic(trap) // the runtime's
		}
		if err, ok := v.(error); ok {
			v = err.Error()
		}
		panic(&cabi.Trap{Func: wasi_snapshot_preview1.ModuleName + "." + g.name, Msg: fmt.Sprintf("host panic: %v", v)})
	}
	if mod.IsClosed() {
		// Closed under the call, by an Instance.Close not left to the
		// call's end (an export called through the module, not
		// Instance.Call): wazero cleared the system context the call
		// read. The guest is gone, as from any wait Close ends.
		panic(sys.NewExitError(sys.ExitCodeContextCanceled))
	}
	if errno, ok := nosysPanics[g.name]; ok {
		stack[0] = errno
		return
	}
	if inst := cabi.InstanceFrom(ctx); inst != nil {
		inst.MarkTrapped()
	}
	panic(fmt.Errorf("wasi_snapshot_preview1.%s faulted in wazero: %v", g.name, rerr))
}

const (
	pollOneoffName   = "poll_oneoff"
	subscriptionSize = 48 // bytes of a preview1 subscription
	eventSize        = 32 // bytes of a preview1 event

	// DefaultPollSubscriptions is the default of
	// Limits.PollSubscriptions, the most subscriptions one poll_oneoff of
	// wasi_snapshot_preview1 may name. wazero allocates some 56 bytes on
	// the host for each subscription on a descriptor that may block, held
	// while the call waits: a guest of 64 MiB polling a regular file
	// 838,809 times, waiting on a silent stdin, made the host hold 46 MiB
	// for as long as it liked, 0.7 times any memory it has past the memory
	// cap. 65,536 hold at most some 4 MiB.
	DefaultPollSubscriptions = 1 << 16
)

// admitPoll answers inval for a poll_oneoff(in, out, nsubscriptions,
// nevents) of g (nil for a call whose context names no guest) whose
// subscriptions or events do not fit in the guest's memory, or past the
// guest's Limits.PollSubscriptions (DefaultPollSubscriptions without a
// guest), before poll runs, and reports whether the call may go on.
// wazero computes their sizes in 32 bits: a count of 2^28 wrapped them to
// 0 and it indexed an empty slice. guestAware calls it, with the guest it
// looked up already.
func admitPoll(g *Guest, mod api.Module, stack []uint64) bool {
	n := uint64(uint32(stack[2]))
	var size uint64
	if mem := mod.Memory(); mem != nil {
		size = uint64(mem.Size())
	}
	if n*subscriptionSize > size || n*eventSize > size || !underPollLimit(g, n) {
		stack[0] = errnoInval
		return false
	}
	return true
}

// underPollLimit reports whether n subscriptions are within g's
// Limits.PollSubscriptions, reporting the cap to the embedder when not;
// for a call whose context names no guest (an export called straight
// through wazero with a context of the embedder's), within
// DefaultPollSubscriptions.
func underPollLimit(g *Guest, n uint64) bool {
	if g == nil {
		return n <= DefaultPollSubscriptions
	}
	limit := g.limits.PollSubscriptions
	if n <= uint64(limit) {
		return true
	}
	g.memory.caps.Refused(capreport.PollSubscriptions, limit)
	return false
}

// quotaFunctions are the wasi_snapshot_preview1 functions that make files
// larger or make names beneath a preopen (path_rename to a new name may
// grow its directory), which the guest's disk quota may refuse
// (filesystem.FS.SetDiskLimit).
var quotaFunctions = map[string]bool{
	"fd_allocate": true, "fd_filestat_set_size": true, "fd_pwrite": true, "fd_write": true,
	"path_create_directory": true, "path_link": true, "path_open": true, "path_rename": true,
	"path_symlink": true,
}

// guestAware is a wasi_snapshot_preview1 function that needs the
// calling guest's state: with quota, it answers EDQUOT where the guest's
// file system refused a change for its disk quota (wazero's file
// interface has no such errno and answers EIO for it; the refusal is
// noted under the call's own number, filesystem.FS.RefusedIn); with waits, it notes its call's
// context in the guest's waits while it runs (see waits); with poll, it
// bounds a poll_oneoff first (admitPoll). A call without a guest in its
// context is fn's alone, poll_oneoff bounded still.
type guestAware struct {
	fn                 api.GoModuleFunction
	quota, waits, poll bool
}

func (f *guestAware) Call(ctx context.Context, mod api.Module, stack []uint64) {
	g := GuestFrom(ctx)
	if f.poll && !admitPoll(g, mod, stack) {
		return
	}
	if g == nil {
		f.fn.Call(ctx, mod, stack)
		return
	}
	if w := &g.state.waits; f.waits && ctx != w.guest {
		defer w.leave(w.enter(ctx))
	}
	if !f.quota {
		f.fn.Call(ctx, mod, stack)
		return
	}
	call := g.state.fs.BeginQuotaCall()
	f.fn.Call(ctx, mod, stack)
	if stack[0] == errnoIO && g.state.fs.RefusedIn(call) {
		stack[0] = errnoDquot
	}
}

const (
	setTimesName = "path_filestat_set_times"
	// lookupSymlinkFollow is preview1's lookupflags symlink_follow.
	lookupSymlinkFollow = 1
)

// setTimesNoFollow is path_filestat_set_times(fd, flags, path, path_len,
// atim, mtim, fst_flags) that, without the symlink-follow flag, sets the
// times of the path's last component itself, a symbolic link's own
// (filesystem.FS.SetTimesNoFollow): it calls wazero's with the flag,
// which hands the path to the preopen's Utimens, the guest's file system
// told to follow no final link. wazero's own handling of the flag's
// absence opened the path for writing and set the open file's times: a
// file without write permission (EACCES), a directory (EISDIR) or a named
// pipe without a reader (ENXIO) had none set, and a final link was
// followed. A call without a guest in its context is wazero's alone.
func setTimesNoFollow(set api.GoModuleFunction) api.GoModuleFunction {
	return api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		g := GuestFrom(ctx)
		if g == nil || g.state.fs == nil || stack[1]&lookupSymlinkFollow != 0 {
			set.Call(ctx, mod, stack)
			return
		}
		stack[1] |= lookupSymlinkFollow
		g.state.fs.SetTimesNoFollow(func() { set.Call(ctx, mod, stack) })
	})
}

const procExitName = "proc_exit"

// procExitCode is proc_exit(code) with a code wazero reserves for the end
// of a call's context (sys.ExitCodeContextCanceled, 0xffffffff, and
// sys.ExitCodeDeadlineExceeded) replaced by its low 8 bits, 255, what a
// POSIX parent sees of exit(-1). A C or Go guest's exit(-1) is
// proc_exit(0xffffffff): before, it read as the embedder's cancellation
// (wasitls run said "interrupted" and exited 130; a reactor's instance was
// marked trapped by the context's end, not exited by the guest).
func procExitCode(exit api.GoModuleFunction) api.GoModuleFunction {
	return api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		if code := uint32(stack[0]); code == sys.ExitCodeContextCanceled || code == sys.ExitCodeDeadlineExceeded {
			stack[0] = uint64(code & 0xff)
		}
		if g := GuestFrom(ctx); g != nil {
			g.state.ownClose.Store(true) // wazero's exit closes the module
		}
		exit.Call(ctx, mod, stack)
	})
}
