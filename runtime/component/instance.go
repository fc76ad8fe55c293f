package component

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/wasitls/wasitls/cabi"
)

// An Instance is an instantiated component: the core module instances it
// made, its exports, and the cabi.Instance its lowered imports share.
//
// Like the wazero module instances it is made of, an Instance runs one
// call at a time: [Func.Call], [Handle.Drop] and the generated callers
// bound through [Instance.Guest] claim it for the call, and a second call
// while one is in progress (from a host function the component called, or
// from another goroutine) is refused with cabi.ErrInstanceBusy, never
// run on top of the first.
//
// A call whose guest traps, or exits (wasi:cli/exit, or preview1's
// proc_exit through an adapter), leaves the component where it was, its
// state unwound mid-call: every later call is refused before the guest
// runs, with an error wrapping cabi.ErrTrapped or cabi.ErrExited (naming
// the exit code). The resources the component holds stay held until
// [Instance.Close] (or the Close of the cabi.Instance given to
// Instantiate) releases them.
type Instance struct {
	ci      *cabi.Instance
	ownCI   bool // ci was made by the instantiation: Close closes it
	state   *state
	exports *cinstance
}

// Exports lists the names of the component's exports, sorted.
func (inst *Instance) Exports() []string {
	if inst.exports == nil {
		return nil
	}
	names := append([]string(nil), inst.exports.names()...)
	sort.Strings(names)
	return names
}

// Close closes every core module instance the component made, last first,
// then the modules its instantiation compiled. When Instantiate was given
// no cabi.Instance, Close first closes the one it made, dropping the
// resources left in its tables; otherwise that is the Close of the
// cabi.Instance given, the embedder's.
func (inst *Instance) Close(ctx context.Context) error {
	var errs []error
	if inst.ownCI {
		errs = append(errs, inst.ci.Close(ctx))
	}
	mods := inst.state.modules
	inst.state.modules = nil
	for i := len(mods) - 1; i >= 0; i-- {
		errs = append(errs, mods[i].Close(ctx))
	}
	compiled := inst.state.compiledAll
	inst.state.compiledAll = nil
	for i := len(compiled) - 1; i >= 0; i-- {
		errs = append(errs, compiled[i].Close(ctx))
	}
	return errors.Join(errs...)
}

// halt marks the instance trapped, or exited, when err, the error of a
// call into the component (an export, its post-return, its realloc, a
// destructor), is not nil: a trap, or a context that stopped the call
// midway, may leave the component's state half-changed, and an exit
// (wasi:cli/exit, a *sys.ExitError) unwinds it where it was, so no later
// call enters it ([Func.Call] refuses them, naming the trap or the exit
// code). An exit neither closes the component's core instances nor drops
// its resources: Close does (cabi.Instance.MarkFailed).
func (inst *Instance) halt(err error) { inst.ci.MarkFailed(err) }

// A Func is an exported function of a component instance.
type Func struct {
	Name string
	f    *cfunc
	inst *Instance
}

// Func returns the exported function at path: a top-level function export
// ("run"), or an interface export and a function in it
// ("wasi:cli/run@0.2.12", "run").
func (inst *Instance) Func(path ...string) (*Func, error) {
	if len(path) == 0 || inst.exports == nil {
		return nil, errors.New("component: no export path")
	}
	cur := inst.exports
	for i, name := range path {
		it, ok := cur.export(name)
		if !ok {
			return nil, fmt.Errorf("component: no export %q", strings.Join(path[:i+1], "#"))
		}
		if i == len(path)-1 {
			f, ok := it.v.(*cfunc)
			if !ok || it.sort != SortFunc {
				return nil, fmt.Errorf("component: export %q is a %s, not a function", strings.Join(path, "#"), it.sort)
			}
			if f.lifted == nil {
				return nil, notSupported("calling export %q, an import re-exported", strings.Join(path, "#"))
			}
			return &Func{Name: strings.Join(path, "#"), f: f, inst: inst}, nil
		}
		next, ok := it.v.(*cinstance)
		if !ok {
			return nil, fmt.Errorf("component: export %q is a %s, not an instance", name, it.sort)
		}
		cur = next
	}
	panic("unreachable")
}

// RunInterface is the interface a command component exports.
const RunInterface = "wasi:cli/run"

// Command returns the run function of a command component: the function
// run of its wasi:cli/run@0.2.N export.
func (inst *Instance) Command() (*Func, error) {
	for _, name := range inst.Exports() {
		iface, v := versionOf(name)
		if iface == RunInterface && strings.HasPrefix(v, "0.2.") {
			return inst.Func(name, "run")
		}
	}
	exports := "it exports nothing"
	if names := inst.Exports(); len(names) > 0 {
		exports = "exports: " + strings.Join(names, ", ")
	}
	return nil, fmt.Errorf("component: not a command: it does not export %s@0.2.N (%s); "+
		"a reactor's exports are called from Go (runtime.Runtime.InstantiateComponent)", RunInterface, exports)
}

// ErrRunFailed is returned by Run when wasi:cli/run returns an error.
var ErrRunFailed = errors.New("component: wasi:cli/run returned an error")

// Run calls a command component's wasi:cli/run and returns ErrRunFailed
// when it returns err, or the trap or exit of the call.
func (inst *Instance) Run(ctx context.Context) error {
	f, err := inst.Command()
	if err != nil {
		return err
	}
	v, err := f.Call(ctx)
	if err != nil {
		return err
	}
	if r, ok := v.(Variant); !ok || r.Case != 0 {
		return ErrRunFailed
	}
	return nil
}
