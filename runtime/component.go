package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/runtime/component"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// A ComponentInstance is one running or finished component guest: the
// component instance and the same per-guest state a core module gets (one
// resource table, the network stack under the runtime's policy, arguments,
// environment, standard streams, preopens).
type ComponentInstance struct {
	*Guest
	comp   *component.Instance
	ctx    context.Context
	cancel context.CancelFunc
	stop   func(reason error) // sets the stop globals (Config.StopFlag); nil without
	// watch is the close hook wazero calls as it closes a core module of
	// the instance; what it runs then holds inst while wazero holds the
	// modules (component_gc_test.go takes that hold away to test what
	// keeps the memories without it).
	watch *closeWatch

	closeOnce sync.Once
	closeErr  error
}

// Context returns the context that carries the instance's state: use it
// for every call into the component's exports.
func (inst *ComponentInstance) Context() context.Context { return inst.ctx }

// Component returns the component instance, for calling its exports.
func (inst *ComponentInstance) Component() *component.Instance { return inst.comp }

// Close stops the guest if it still runs, drops every resource it holds
// and closes its core module instances. It is idempotent.
func (inst *ComponentInstance) Close(ctx context.Context) error {
	inst.closeOnce.Do(func() {
		inst.state.ownClose.Store(true)
		if inst.stop != nil {
			inst.stop(ErrClosed)
		}
		inst.cancel()
		err1 := inst.close(ctx)
		var err3 error
		if inst.comp != nil {
			err3 = inst.comp.Close(ctx)
		}
		inst.closeErr = errors.Join(err1, err3)
	})
	return inst.closeErr
}

// InstantiateComponent instantiates the component c as a guest of the
// runtime: its imports bind to the runtime's WASI 0.2 implementation (any
// compatible 0.2.N) with the canonical options of each `canon lower`. The
// instance stays alive: call Run for a command, or the exports through
// Component with inst.Context(), and Close it when done.
//
// Every core module's tables are bounded by the guest's
// Limits.TableEntries, those of all its core instances by twice it, the
// core instances by Limits.CoreInstances and the memories they start
// with, together, by Limits.MemoryPages (component.Options): an
// instantiation past one is refused, naming it.
//
// Under Config.StopFlag, every core module is compiled with the stop
// global (see CompileModule), set when ctx ends or the instance is
// closed: a call of an export stopped so returns an error wrapping
// ErrStopped and the reason, Run a context-cancelled exit. Without it,
// every core module is compiled with the stack budget alone (see
// CompileModuleChecked). Either way each core instance's call stack is
// bounded by Limits.Stack.
func (rt *Runtime) InstantiateComponent(ctx context.Context, c *component.Component, cfg ModuleConfig) (*ComponentInstance, error) {
	g, ctx, err := rt.newGuest(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	inst := &ComponentInstance{Guest: g, ctx: ctx, cancel: cancel}
	opts := component.Options{Rewrite: g.limits.RewriteOptions(), CoreInstances: g.limits.CoreInstances,
		InitialMemory: uint64(g.limits.MemoryPages) << 16, CoreInstancesName: coreInstancesLimitName, InitialMemoryName: memoryLimitName,
		// The core instances' memories stay mapped, reading as zero
		// once closed, until no core instance of the component is
		// reachable (see memoryBudget), the instantiation failed or
		// not. Before, they were unmapped as a failed instantiation or
		// RunComponent returned, and once the component.Instance was
		// garbage, though a host function of the embedder's a core
		// instance called may have kept its api.Module, which then
		// faulted at a read of the memory
		// (TestComponentMemoryKeptAfterRun).
		Released: g.memory.release}
	if rt.cfg.StopFlag {
		// Every core module with the stop global, armed before any
		// runs (their start functions run during the instantiation).
		opts.Stop = &component.Stop{StackBytes: g.limits.Stack}
		g.cabi.SetStackBudget(opts.Stop.StackExceeded, g.limits.Stack, stackLimitName)
		inst.stop = stopper(ctx, g.cabi, opts.Stop.Set)
	} else {
		// Under wazero's checks, every core module with the stack
		// budget alone.
		opts.Stack = &component.Stack{Bytes: g.limits.Stack}
		g.cabi.SetStackBudget(opts.Stack.Exceeded, g.limits.Stack, stackLimitName)
	}
	watch := newCloseWatch(g.state)
	inst.watch = watch
	comp, err := component.InstantiateWith(watch.context(ctx), rt.r, c, g.cabi, rt.linker, opts)
	if err != nil {
		err = inst.stopError(err) // the stop, or the stack budget's trap
	}
	if err != nil {
		inst.Close(context.Background())
		return nil, fmt.Errorf("runtime: %w", err)
	}
	inst.comp = comp
	// From here, the wazero.Runtime's Close (or a core module's) stops
	// the guest and closes the instance, as ComponentInstance.Close does.
	watch.arm(g.cabi.IdleWake, inst.stop, cancel, inst.Close)
	return inst, nil
}

// RunComponent instantiates a command component, runs its wasi:cli/run
// export and releases it. The error is nil when run returns ok or the
// guest exits with code 0, a *sys.ExitError for another exit code (run
// returning err is exit code 1), and the trap otherwise.
func (rt *Runtime) RunComponent(ctx context.Context, c *component.Component, cfg ModuleConfig) error {
	inst, err := rt.InstantiateComponent(ctx, c, cfg)
	if err != nil {
		return err
	}
	defer inst.Close(context.Background())
	return inst.Run()
}

// Run calls the command component's wasi:cli/run export, with the error
// rules of RunComponent; a Run after Close is refused with an error
// wrapping ErrClosed.
func (inst *ComponentInstance) Run() error {
	st, ctx := inst.state, inst.ctx
	err := inst.comp.Run(ctx)
	if errors.Is(err, ErrClosed) && !errors.Is(err, ErrStopped) {
		// Refused: the instance was closed before Run.
		return err
	}
	if errors.Is(err, component.ErrRunFailed) {
		return sys.NewExitError(1)
	}
	err = st.exitError(err)
	if st.stopped(ctx, err) {
		err = sys.NewExitError(wasiio.ExitCode(ctx.Err()))
	}
	return err
}
