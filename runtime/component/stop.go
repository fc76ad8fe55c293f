package component

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/runtime/stopcheck"
)

// The stop flag for components: [InstantiateStop] compiles every core
// module of the component with the stop global and its checks
// (stopcheck.Instrument), so that a component computing without end in
// pure wasm stops under a wazero runtime without termination checks. The
// rewrite of a core module Parse made is made once, by the first
// InstantiateStop or by [Component.PrepareStop], and kept in the
// CoreModule for every instantiation after. A
// [Stop] holds the stop global of each core instance, in instantiation
// order; Set sets them all, and those of core instances made after. A
// core module's start function, which the rewriter exports instead of
// leaving in a start section, is called right after its instance is made,
// in the same place of the instantiation order, once its global is held
// (and set, when the Stop already was).

// DefaultTableEntries bounds the entries the tables of a component's
// core instances may hold together under the default Options: in general
// the bound is twice Options.Rewrite's table bound (see Options). Each
// module's own tables are at most that bound, and without one for them
// together a component instantiating many modules whose tables declare
// no maximum would make the host hold that many times 80 MB. Twice one
// module's bound leaves a table grown to it room for the fixed tables of
// the other modules (wit-component's shims and adapters declare their
// tables' maximums). An instantiation past it is refused.
const DefaultTableEntries = 2 * stopcheck.DefaultTableEntries

// A Stop sets the stop globals of a component instantiated with
// InstantiateStop. Its zero value is ready; it is safe for concurrent use.
//
// It also sets the stack budget global of each core instance (see
// stopcheck, "The stack budget") to StackBytes: each core instance has a
// budget of its own, so that calls nesting through several core instances
// of the component are bounded by the budget times their number.
type Stop struct {
	// StackBytes is the stack budget of each core instance; zero means
	// stopcheck.DefaultStackBytes. Set it before InstantiateStop.
	StackBytes int64

	mu      sync.Mutex
	globals []api.MutableGlobal
	stacks  []api.Global
	set     bool
}

// StackExceeded reports whether the stack budget of a core instance ran
// out: its global is negative after the trap of its check.
func (s *Stop) StackExceeded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.stacks {
		if stopcheck.StackExceeded(g) {
			return true
		}
	}
	return false
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

// hold adds the stop global of mod, setting it when the Stop was set, and
// sets its stack budget.
func (s *Stop) hold(mod api.Module) error {
	g, err := stopcheck.Global(mod)
	if err != nil {
		return fmt.Errorf("core module: %w", err)
	}
	stack, err := stopcheck.StackGlobal(mod)
	if err != nil {
		return fmt.Errorf("core module: %w", err)
	}
	stack.Set(stopcheck.StackUnits(s.StackBytes))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.globals = append(s.globals, g)
	s.stacks = append(s.stacks, stack)
	if s.set {
		g.Set(1)
	}
	return nil
}

// A Stack holds the stack budget globals of the core instances of a
// component instantiated without the stop flag, with Options.Stack (see
// stopcheck.InstrumentStack). Its zero value is ready; it is safe for
// concurrent use.
type Stack struct {
	// Bytes is the stack budget of each core instance; zero means
	// stopcheck.DefaultStackBytes. Set it before the instantiation.
	Bytes int64

	mu      sync.Mutex
	globals []api.Global
}

// Exceeded reports whether the stack budget of a core instance ran out:
// its global is negative after the trap of its check.
func (s *Stack) Exceeded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.globals {
		if stopcheck.StackExceeded(g) {
			return true
		}
	}
	return false
}

// hold sets the stack budget of mod and keeps its global.
func (s *Stack) hold(mod api.Module) error {
	g, err := stopcheck.StackGlobal(mod)
	if err != nil {
		return fmt.Errorf("core module: %w", err)
	}
	g.Set(stopcheck.StackUnits(s.Bytes))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.globals = append(s.globals, g)
	return nil
}

// A stopModule is the rewrite of a core module for the stop flag, made
// once, by the first InstantiateStop or PrepareStop, for all that follow.
type stopModule struct {
	once sync.Once
	of   []byte            // the bytes rewritten
	opts stopcheck.Options // how
	b    []byte
	err  error
}

// stopped returns m's bytes with the stop global and its checks, or the
// rewriter's refusal: made once when Parse made m, afresh for a CoreModule
// made otherwise, whose Bytes were replaced since or rewritten with other
// options first. Options that rewrite alike are the same options: a zero
// TableEntries and its default, an empty TableEntriesName and the name it
// stands for (an embedder's PrepareStopWith(Limits.RewriteOptions()) and
// the instantiation's options, defaults filled in, share the rewrite).
func (m *CoreModule) stopped(o stopcheck.Options) ([]byte, error) {
	o = sameRewrite(o)
	s := m.stop
	if s == nil {
		return instrument(m.Bytes, o)
	}
	s.once.Do(func() {
		s.of, s.opts = m.Bytes, o
		s.b, s.err = instrument(m.Bytes, o)
	})
	if unsafe.SliceData(s.of) != unsafe.SliceData(m.Bytes) || len(s.of) != len(m.Bytes) || s.opts != o {
		return instrument(m.Bytes, o)
	}
	return s.b, s.err
}

// sameRewrite is o with its defaults filled in, so that options that
// rewrite alike compare equal.
func sameRewrite(o stopcheck.Options) stopcheck.Options {
	return stopcheck.Options{TableEntries: uint32(o.Tables()), TableEntriesName: o.TablesName()}
}

// stopRewrites counts the rewrites for the stop flag stopped made, for
// the tests that check a parsed component's modules are rewritten once.
var stopRewrites atomic.Int64

// instrument is stopcheck.InstrumentWith, counted.
func instrument(b []byte, o stopcheck.Options) ([]byte, error) {
	stopRewrites.Add(1)
	return stopcheck.InstrumentWith(b, o)
}

// PrepareStop rewrites every core module of c for the stop flag, those of
// nested components included, as InstantiateStop does, and keeps the
// result, which InstantiateStop (of c, any number of times) then uses
// instead of rewriting again. It returns the first module the rewriter
// refuses, as a *stopcheck.Error (wrapped): InstantiateStop would fail with
// it, so that the component is to run with wazero's termination checks
// instead (Instantiate under a runtime with WithCloseOnContextDone).
// The rewrites are made with the default Options.Rewrite: PrepareStopWith
// makes them with others.
func (c *Component) PrepareStop() error {
	return c.PrepareStopWith(stopcheck.Options{})
}

// PrepareStopWith is PrepareStop, rewriting with o: what InstantiateWith
// is then given as Options.Rewrite, for it to use the rewrites kept.
func (c *Component) PrepareStopWith(o stopcheck.Options) error {
	if err := prepareStop(c, o); err != nil {
		return fmt.Errorf("component: %w", err)
	}
	return nil
}

func prepareStop(c *Component, o stopcheck.Options) error {
	for i, d := range c.Defs {
		var err error
		switch d := d.(type) {
		case CoreModule:
			_, err = d.stopped(o)
		case Nested:
			err = prepareStop(d.Component, o)
		}
		if err != nil {
			return fmt.Errorf("definition %d (%s): %w", i, describe(d), err)
		}
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
	return InstantiateWith(ctx, r, c, ci, linker, Options{Stop: stop})
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
	if stop := inst.ci.StopError(err); stop != err {
		return fmt.Errorf("component: %s: %w", name, stop)
	}
	return err
}
