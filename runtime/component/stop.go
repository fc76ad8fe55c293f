package component

import (
	"context"
	"fmt"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/runtime/stopcheck"
)

// The stop flag for components: [InstantiateStop] compiles every core
// module of the component with the stop global and its checks
// (stopcheck.Instrument), so that a component computing without end in
// pure wasm stops under a wazero runtime without termination checks. A
// [Stop] holds the stop global of each core instance, in instantiation
// order; Set sets them all, and those of core instances made after. A
// core module's start function, which the rewriter exports instead of
// leaving in a start section, is called right after its instance is made,
// in the same place of the instantiation order, once its global is held
// (and set, when the Stop already was).

// A Stop sets the stop globals of a component instantiated with
// InstantiateStop. Its zero value is ready; it is safe for concurrent use.
type Stop struct {
	mu      sync.Mutex
	globals []api.MutableGlobal
	set     bool
}

// Set sets the stop global of every core instance, and of every core
// instance made after: each traps at its next check (see stopcheck).
func (s *Stop) Set() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set = true
	for _, g := range s.globals {
		g.Set(1)
	}
}

// hold adds the stop global of mod, setting it when the Stop was set.
func (s *Stop) hold(mod api.Module) error {
	g, err := stopcheck.Global(mod)
	if err != nil {
		return fmt.Errorf("core module: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.globals = append(s.globals, g)
	if s.set {
		g.Set(1)
	}
	return nil
}

// InstantiateStop is Instantiate with every core module compiled with the
// stop global (see stopcheck), which stop sets: call stop.Set when the
// instance's context ends or it is closed, from any goroutine, during
// InstantiateStop as after it. Run the result under a wazero runtime with
// or without termination checks. A core module the rewriter refuses fails
// the instantiation with a *stopcheck.Error.
func InstantiateStop(ctx context.Context, r wazero.Runtime, c *Component, ci *cabi.Instance, linker Linker, stop *Stop) (*Instance, error) {
	return instantiateWith(ctx, r, c, ci, linker, stop)
}

// startCore runs the exported start function of mod, if it has one.
func (st *state) startCore(mod api.Module) error {
	f := mod.ExportedFunction(stopcheck.StartName)
	if f == nil {
		return nil
	}
	if _, err := f.Call(st.ctx); err != nil {
		return fmt.Errorf("core start function: %w", err)
	}
	return nil
}

// stopped is err, the error of the call of the export name, or the stop
// the embedder recorded (cabi.Instance.SetStopped) when err is a trap.
func (inst *Instance) stopped(name string, err error) error {
	if inst.ci == nil {
		return err
	}
	if stop := inst.ci.StopError(err); stop != err {
		return fmt.Errorf("component: %s: %w", name, stop)
	}
	return err
}
