package runtime

import (
	"context"
	"fmt"
	"math"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/wazeroclosed"
	"github.com/wasitls/wasitls/runtime/stopcheck"
)

// Guest tables: wazero grows a table declared without a maximum as far as
// one table.grow asks, up to 2^32-1 entries of 8 bytes of host memory,
// outside the guest's memory budget. So every path that compiles a core
// module for this runtime gives each table a maximum first, the tables of
// a module holding Limits.TableEntries together at most:
// CompileModuleLimits with the stop flag's rewrite (stopcheck.InstrumentWith),
// CompileModuleChecked with the stack budget's alone
// (stopcheck.InstrumentStack), and a component's instantiation, with or
// without the stop flag (component.Options). Both wrappers record the
// bound, which Instantiate checks against the guest's limit. A module
// compiled straight with wazero's Runtime.CompileModule carries no such
// record, and wazero's CompiledModule does not say what its tables are:
// Instantiate runs it (without Config.StopFlag) with its tables bounded
// only by what it declares, and its stack by wazero alone.

// A cappedModule is a module CompileModuleChecked compiled: its tables
// have maximums and it has the stack budget, but no stop flag.
type cappedModule struct {
	wazero.CompiledModule
	tables uint64         // the entries its tables may hold together
	r      wazero.Runtime // the runtime that compiled it
}

// CompileModuleChecked compiles the core module wasm for a runtime with
// wazero's termination checks (NewRuntimeConfig), for a module the stop
// flag's rewriter refuses for a name it reserves (the stop global's), or
// for an embedder that wants wazero's checks: it is rewritten with the
// stack budget alone (stopcheck.InstrumentStack), so that the guest's
// call stack, every level of nested calls together, is bounded by
// Limits.Stack as under the stop flag, and each table gets a maximum so
// that together they hold at most lim.TableEntries (a module whose
// tables start with more is refused). A module the rewrite refuses (an
// instruction it does not know, which wazero's default features refuse
// too, a name it reserves) is refused with a *stopcheck.Error.
// Instantiate it with Runtime.Instantiate, under a Config without
// StopFlag, passing the limits the guest runs under, as for
// CompileModuleLimits: Instantiate sets the budget, and runs a start
// section's function, which the rewrite exports instead, once it has.
//
// Compiling with wazero's own CompileModule instead leaves the module as
// it is: a table without a maximum then grows as far as wazero lets one
// table.grow ask, 2^32-1 entries, 32 GiB of host memory, and each level
// of nested calls has a wazero stack growing to some 100 MB, which no
// limit of this runtime bounds.
func CompileModuleChecked(ctx context.Context, r wazero.Runtime, wasm []byte, lim Limits) (wazero.CompiledModule, error) {
	compiled, tables, err := compileRewritten(ctx, r, wasm, lim, "stack", stopcheck.InstrumentStack)
	if err != nil {
		return nil, err
	}
	return &cappedModule{compiled, tables, r}, nil
}

// compileRewritten checks wasm (CheckBinary), rewrites it for lim (with
// rewrite, named kind; a compilation cache on disk keeps the output, see
// rewriteCached) and compiles the result, returning it with the entries
// its tables may hold together.
func compileRewritten(ctx context.Context, r wazero.Runtime, wasm []byte, lim Limits, kind string,
	rewrite func([]byte, stopcheck.Options) ([]byte, error)) (wazero.CompiledModule, uint64, error) {
	lim = lim.withDefaults()
	if err := lim.validate(); err != nil {
		return nil, 0, err
	}
	if err := CheckBinary(wasm); err != nil {
		return nil, 0, err
	}
	out, err := rewriteCached(r, wasm, lim.RewriteOptions(), kind, rewrite)
	if err != nil {
		return nil, 0, fmt.Errorf("runtime: %w", err)
	}
	compiled, err := wazeroclosed.GuardValue(ctx, r, "runtime: compiling", func() (wazero.CompiledModule, error) {
		return r.CompileModule(ctx, out)
	})
	if err != nil {
		return nil, 0, err
	}
	return compiled, stopcheck.TableEntries(out), nil
}

// RewriteOptions returns the options of the rewriters (stopcheck) that l
// implies, for a component's Component.PrepareStopWith: those
// Runtime.InstantiateComponent rewrites the component's core modules
// with, for a guest under l. A zero TableEntries is left so, meaning the
// default; one past 2^32-1, which Instantiate refuses, is taken as
// 2^32-1. The refusals name Limits.TableEntries and its flag.
func (l Limits) RewriteOptions() stopcheck.Options {
	return stopcheck.Options{TableEntries: uint32(min(max(l.TableEntries, 0), math.MaxUint32)), TableEntriesName: tablesLimitName}
}

// checkTables refuses a module compiled with tables that may hold more
// entries together than l allows.
func (l Limits) checkTables(tables uint64) error {
	if tables > uint64(l.TableEntries) {
		return fmt.Errorf("runtime: the guest's tables were compiled to hold %d entries together, more than its limit of %d (%s): "+
			"compile it with CompileModuleLimits or CompileModuleChecked and the limits it runs under", tables, l.TableEntries, tablesLimitName)
	}
	return nil
}
