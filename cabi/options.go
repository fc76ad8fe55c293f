package cabi

import "github.com/tetratelabs/wazero/api"

// Options are the canonical ABI options of one lowered function, as a
// component's `canon lower` names them: the memory its pointers refer to and
// the realloc that allocates what the host returns into it. A component
// resolves them once per lowered function, at instantiation; the call
// carries them (see [Lowered]). A core module has no options: its calls use
// the memory and cabi_realloc it exports.
type Options struct {
	// Instance is the component's cabi.Instance: its trapped and closed
	// state, its limits, its per-call state.
	Instance *Instance
	// Table is the handle table of the component instance the function
	// was lowered in (the Component Model gives each component instance
	// its own, [Instance.NewTable]); nil means the Instance's own table.
	Table *Table
	// Memory is the memory option; nil when the function's signature needs
	// none (a call that touches memory then traps).
	Memory api.Memory
	// Realloc is the realloc option; nil when the function returns nothing
	// allocated (a call that allocates then traps).
	Realloc api.Function
}

// A Lowered is the calling module a lowered function's glue receives: the
// component loader wraps the generated glue of an import, fn(ctx, mod,
// stack), as fn(ctx, lowered, stack) with one Lowered made per lowered
// function, so the glue stays the one place where lifting and lowering
// happen and [Begin] takes memory and realloc from the options instead of
// from a module. Only [Begin] looks inside: the embedded api.Module is nil
// and none of its methods may be called.
type Lowered struct {
	api.Module
	opts  Options
	table *Table // opts.Table, or the instance's own
}

// NewLowered returns the calling module for a function lowered with opts.
// opts.Instance must not be nil.
func NewLowered(opts Options) *Lowered {
	if opts.Instance == nil {
		panic("cabi: NewLowered without an Instance")
	}
	table := opts.Table
	if table == nil {
		table = &opts.Instance.table
	}
	return &Lowered{opts: opts, table: table}
}

// Options returns the options the function was lowered with.
func (l *Lowered) Options() Options { return l.opts }
