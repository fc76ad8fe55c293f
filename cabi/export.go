package cabi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// Calling the guest's exports: the import glue run backwards. The host
// lowers the arguments into the guest (through its realloc), calls the
// exported core function, lifts the results, and then calls the export's
// post-return function, which may free what the results point to: lifted
// values are therefore copies, never views of guest memory.
//
// The generated Exports type of an exported interface is bound once per
// guest instance ([Binder]) and calls through one [Call] per export call
// ([Call.BeginExport], with [Call.EndExport] deferred). A fault while lowering or
// lifting (a bad pointer the guest returned, say) and a trap inside the
// export both come back as an error and mark the instance trapped, so no
// further call into it is made.

// A Guest is where an exported interface's functions are found: a core
// module (api.Module implements it), or a component's instance exposing its
// lifted exports under their canonical core names.
type Guest interface {
	// ExportedFunction returns the core function exported under name, or
	// nil.
	ExportedFunction(name string) api.Function
	// Memory returns the memory that pointers in arguments and results
	// refer to, or nil.
	Memory() api.Memory
}

// An OptionsGuest is a Guest whose exports carry canonical options of their
// own: a component instance's exported interface, each function lifted by
// a `canon lift` that names its memory and realloc. The Binder takes each
// export's memory and realloc from ExportOptions, never from Memory or a
// cabi_realloc export (a component has no instance-wide default; two lifts
// may name two memories).
type OptionsGuest interface {
	Guest
	// ExportOptions returns the memory and realloc options (nil when
	// absent) of the export named name, as ExportedFunction finds it.
	ExportOptions(name string) (memory api.Memory, realloc api.Function)
}

// A TableGuest is a Guest whose exports keep their handles in tables of
// their own: a component instance's exported interface, each function
// lifted in a component instance whose handle table is its own (the
// Component Model gives each its own, [Instance.NewTable]). The export
// lowers handles into, lifts them from and lends them in that table.
type TableGuest interface {
	Guest
	// ExportTable returns the handle table of the export named name, or
	// nil for the instance's own.
	ExportTable(name string) *Table
}

// A TypedGuest is a Guest that knows the component-level type of each
// export (a component instance's exported interface does: its functions
// are lifted with a component function type). The Binder checks it
// against the type the generated bindings were made for, which the core
// signature alone cannot tell apart (a string and a list<u8>, a u32 and
// an enum, two records with the same flat form).
type TypedGuest interface {
	Guest
	// ExportType returns the type of the export named name (as
	// ExportedFunction finds it) in the text form [Binder.Func] compares,
	// or false when it has none.
	ExportType(name string) (string, bool)
}

// A Binder finds the exports of one interface in a guest and checks their
// core signatures, collecting every problem into one error so that a guest
// missing several exports is told about all of them at bind time.
type Binder struct {
	guest  Guest
	opts   OptionsGuest // guest, when its exports carry their own options
	prefix string       // "test:kitchen/calc@0.1.0#"
	errs   []string
}

// NewBinder returns a Binder for the interface module (such as
// "wasi:http/incoming-handler") at version ("" for none) in guest.
func NewBinder(guest Guest, module, version string) *Binder {
	p := module
	if version != "" {
		p += "@" + version
	}
	opts, _ := guest.(OptionsGuest)
	return &Binder{guest: guest, opts: opts, prefix: p + "#"}
}

// An ExportFunc is one bound export: the core function, its optional
// post-return function and its qualified name (for errors); bound from an
// [OptionsGuest], also the memory and realloc of its own options.
type ExportFunc struct {
	Name string
	Fn   api.Function
	Post api.Function

	results int  // core results, which post-return takes
	post    bool // Post is set: Exports.Leave tests one bool
	own     bool // mem and realloc are the export's, not the guest's
	mem     api.Memory
	realloc api.Function
	table   *Table // the export's handle table (TableGuest), or nil
}

// Func finds the export of the function named name (the WIT name, such as
// "handle") and its post-return function, checking their core signatures:
// the export takes params and returns results, its post-return
// (cabi_post_<module>#<name>) takes results and returns nothing. On a
// [TypedGuest], the export's type must also be typ, unless typ is "": the
// WIT function type with every named type spelled out, such as
// "func(p: record{x: s32, y: s32}, k: f64) -> string" (records, variants,
// enums and flags as record{name: T, ...}, variant{name, name(T), ...},
// enum{name, ...} and flags{name, ...}; handles as own<resource> and
// borrow<resource>; lists, options, results and tuples as in WIT, result<_,
// E> for an absent ok payload).
func (b *Binder) Func(name, typ string, params, results []api.ValueType) ExportFunc {
	full := b.prefix + name
	ef := ExportFunc{Name: full}
	f := b.guest.ExportedFunction(full)
	if f == nil {
		b.errs = append(b.errs, fmt.Sprintf("%s is not exported", full))
		return ef
	}
	if tg, ok := b.guest.(TypedGuest); ok && typ != "" {
		if got, ok := tg.ExportType(full); ok && got != typ {
			b.errs = append(b.errs, fmt.Sprintf("%s has the type %s, want %s", full, got, typ))
			return ef
		}
	}
	d := f.Definition()
	if string(d.ParamTypes()) != string(params) || string(d.ResultTypes()) != string(results) {
		b.errs = append(b.errs, fmt.Sprintf("%s has the core signature %s -> %s, want %s -> %s",
			full, typeList(d.ParamTypes()), typeList(d.ResultTypes()), typeList(params), typeList(results)))
		return ef
	}
	ef.Fn, ef.results = f, len(results)
	if b.opts != nil {
		ef.own = true
		ef.mem, ef.realloc = b.opts.ExportOptions(full)
	}
	if tg, ok := b.guest.(TableGuest); ok {
		ef.table = tg.ExportTable(full)
	}
	post := b.guest.ExportedFunction("cabi_post_" + full)
	if post == nil {
		return ef
	}
	if d := post.Definition(); string(d.ParamTypes()) != string(results) || len(d.ResultTypes()) != 0 {
		b.errs = append(b.errs, fmt.Sprintf("cabi_post_%s has the core signature %s -> %s, want %s -> ()",
			full, typeList(d.ParamTypes()), typeList(d.ResultTypes()), typeList(results)))
		return ef
	}
	ef.Post, ef.post = post, true
	return ef
}

// Exports returns the state the generated Exports type embeds: the
// instance, the generated value itself (owner, see [Call.Owner]), a core
// module's memory and cabi_realloc (required when memory is set: the
// interface passes strings, lists or spilled values; an [OptionsGuest]
// has none, its functions carry their own), and a scratch stack of stack
// slots.
func (b *Binder) Exports(inst *Instance, owner any, stack int, memory bool) Exports {
	return Exports{inst: inst, halted: &inst.halted, owner: owner, mem: b.Memory(memory), realloc: b.Realloc(memory), stack: make([]uint64, stack)}
}

// Memory returns the guest's memory; when needed is set, a guest without
// one is an error. An [OptionsGuest] has none: each export has its own.
func (b *Binder) Memory(needed bool) api.Memory {
	if b.opts != nil {
		return nil
	}
	m := b.guest.Memory()
	if m == nil && needed {
		b.errs = append(b.errs, "the guest exports no memory, which the interface's strings, lists or spilled values need")
	}
	return m
}

// Realloc returns the guest's cabi_realloc; when needed is set, a guest
// without one is an error. An [OptionsGuest] has none: each export has its
// own (a lift without one traps when the host has to allocate).
func (b *Binder) Realloc(needed bool) api.Function {
	if b.opts != nil {
		return nil
	}
	f := b.guest.ExportedFunction("cabi_realloc")
	if f == nil {
		if needed {
			b.errs = append(b.errs, "the guest does not export cabi_realloc, which passing strings, lists or spilled parameters to it needs")
		}
		return nil
	}
	i32 := api.ValueTypeI32
	want := []api.ValueType{i32, i32, i32, i32}
	if d := f.Definition(); string(d.ParamTypes()) != string(want) || string(d.ResultTypes()) != string([]api.ValueType{i32}) {
		b.errs = append(b.errs, "cabi_realloc does not have the signature (i32, i32, i32, i32) -> i32")
		return nil
	}
	return f
}

// Err returns the problems found, or nil.
func (b *Binder) Err() error {
	if len(b.errs) == 0 {
		return nil
	}
	return fmt.Errorf("binding the exports of %s: %s", strings.TrimSuffix(b.prefix, "#"), strings.Join(b.errs, "; "))
}

func typeList(ts []api.ValueType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = api.ValueTypeName(t)
	}
	return "(" + strings.Join(s, ", ") + ")"
}

// Exports is the state of one exported interface bound to one guest
// instance, embedded by the generated Exports types. A call through it,
// and the destructor a [GuestResource]'s Drop runs, claims the whole
// instance ([Instance.Enter]), whether a core module or a component: while
// a call into the instance is in progress, through any of its interfaces,
// a destructor or component.Func.Call, a call from a host function the
// guest called (re-entry) or from another goroutine is refused with an
// error wrapping ErrInstanceBusy, before the guest sees it and without
// touching the state of the call in progress (its lent handles, return
// area and post-return). Calls from several goroutines are therefore
// safe, but not queued: one enters, the others are refused.
type Exports struct {
	inst    *Instance
	halted  *uint32 // &inst.halted, for Leave to inline
	owner   any     // the generated Exports embedding this one
	mem     api.Memory
	realloc api.Function
	stack   []uint64
}

// ErrReentered is ErrInstanceBusy under its former name: calls through
// generated Exports used to be refused per interface with an error of
// their own, and now claim the whole instance. errors.Is(err,
// ErrReentered) and errors.Is(err, ErrInstanceBusy) hold alike for a
// re-entered call and a concurrent one (the claim cannot tell them apart).
//
// Deprecated: use ErrInstanceBusy.
var ErrReentered = ErrInstanceBusy

// BeginExport starts, in c (a zero Call), a call of the export f through
// x, claiming the instance. It panics with a *Trap when the instance has
// trapped or closed, or a call into it is in progress (ErrInstanceBusy):
// [Call.EndExport], deferred before it, turns that into the error. It
// fills c in place: the glue's Call stays on its stack.
func (c *Call) BeginExport(ctx context.Context, x *Exports, f *ExportFunc) {
	c.ctx, c.Func, c.inst, c.fn, c.table = ctx, f.Name, x.inst, f, f.table
	if c.table == nil {
		c.table = &x.inst.table
	}
	if !x.inst.claim() {
		if err := x.inst.Refusal(f.Name); err != nil {
			panic(err)
		}
		panic(&Trap{Func: f.Name, Msg: ErrInstanceBusy.Error(), refusal: ErrInstanceBusy})
	}
	c.owner, c.mem, c.realloc = x, x.mem, x.realloc
	x.inst.lentReps = x.inst.lentReps[:0]
	x.inst.given = x.inst.given[:0]
	if f.own {
		c.mem, c.realloc = f.mem, f.realloc
	}
	// The memory view is taken when first needed: by Realloc while
	// lowering, by ReadMemory for lifting.
}

// Owner returns the generated Exports the export call goes through, which
// the resources it returns call through in turn.
func (c *Call) Owner() any { return c.owner.owner }

// Stack returns the call's scratch stack: the flattened arguments go in,
// the core results come out.
func (c *Call) Stack() []uint64 { return c.owner.stack }

// Invoke calls the export with the flattened arguments in c.Stack(),
// leaving its core results there. A trap in the guest marks the instance
// trapped and panics with a *Trap; an exit passes through (EndExport
// marks the instance exited).
func (c *Call) Invoke() {
	c.inst.given = c.inst.given[:0] // the guest's from here
	if err := c.fn.Fn.CallWithStack(c.ctx, c.owner.stack); err != nil {
		var exit *sys.ExitError
		if errors.As(err, &exit) {
			panic(exit)
		}
		markTrapped(c.ctx, c.inst)
		panic(c.inst.callTrap(c.Func, "the guest trapped", err))
	}
	// What the guest's last host call borrowed is no concern of the
	// results: a handle it borrowed there, it may return as own.
	c.inst.borrowed = c.inst.borrowed[:0]
	if len(c.inst.lent) > 0 {
		c.endLends()
	}
}

// ReadMemory takes the view of guest memory that lifting results from it
// needs, after Invoke (the export may have grown the memory). Scalar
// results need none.
func (c *Call) ReadMemory() {
	if c.mem != nil {
		c.buf, _ = c.mem.Read(0, c.mem.Size())
	}
}

// PostReturn calls the export's post-return function, if it has one, with
// the export's n core results, once the results are lifted, under the
// may-leave rule ([Instance.CallPostReturn]: a host function it calls
// traps). A trap there
// marks the instance trapped and panics with a *Trap; an exit passes
// through, as Invoke's does (EndExport marks the instance exited).
func (c *Call) PostReturn(n int) {
	if c.fn.Post == nil {
		return
	}
	if err := c.inst.CallPostReturn(c.ctx, c.fn.Post, c.owner.stack[:n]); err != nil {
		var exit *sys.ExitError
		if errors.As(err, &exit) {
			panic(exit)
		}
		markTrapped(c.ctx, c.inst)
		panic(c.inst.callTrap(c.Func, "post-return trapped", err))
	}
}

// BytesCopy lifts a list<u8> the guest returned, copying it: post-return
// may free its memory. The copy counts against the call's lift budget, as
// a string does: a list of lists naming one region would otherwise make
// the host copy it any number of times.
func (c *Call) BytesCopy(p, n uint32) []byte {
	b := c.Bytes(p, n)
	c.liftBudget(uint64(n))
	return append([]byte(nil), b...)
}

// EndExport must be deferred before [Call.BeginExport] with the address of
// the calling method's error result: a fault or a trap during the call
// becomes that error (a *Trap, or the guest's *sys.ExitError) and marks the
// instance trapped (exited, for an exit), except a call refused before the guest saw it (the
// instance busy, trapped or closed, a spent handle), which only fails. It
// releases the instance the call claimed.
func (c *Call) EndExport(err *error) {
	r := recover()
	if c.owner == nil {
		// Refused by BeginExport: the call has no state of its own, and
		// must leave alone that of a call in progress (re-entered, or on
		// another goroutine) and the instance's halt.
		if r == nil {
			return
		}
		if t, ok := r.(*Trap); ok && t.refusal != nil {
			*err = fmt.Errorf("%s: %w", t.Func, t.refusal)
			return
		}
		*err = toTrap(c.Func, r)
		return
	}
	defer c.inst.Leave()
	if r == nil {
		c.inst.keepTaken()
		return
	}
	// The own<R> results lifted before the fault (a post-return that
	// trapped or exited) are returned to no one: they are dropped.
	c.inst.dropTaken()
	if t, ok := r.(*Trap); ok && t.refusal != nil {
		c.giveBack()
		c.inst.abandonCall()
		*err = fmt.Errorf("%s: %w", t.Func, t.refusal)
		return
	}
	c.inst.given = c.inst.given[:0]
	c.inst.abandonCall()
	if exit, ok := r.(*sys.ExitError); ok {
		*err = c.inst.exitResult(c.Func, exit)
		return
	}
	markTrapped(c.ctx, c.inst)
	*err = toTrap(c.Func, r)
}

// A given is an own<R> argument an export call moved into the table
// (Call.Own, Call.GiveRep) before the guest was invoked.
type given struct {
	h   uint32
	rep *GuestResource // GiveRep's, spent by it; nil for Own's
}

// giveBack takes the own<R> arguments of an export call refused before
// the guest ran out of the table again, undropped: they stay the
// caller's (a GuestResource unspent), as the refusal promises.
func (c *Call) giveBack() {
	for _, g := range c.inst.given {
		if _, err := c.table.Take(g.h, nil); err == nil && g.rep != nil {
			g.rep.spent = false
		}
	}
	c.inst.given = c.inst.given[:0]
}

// keepTaken forgets the own<R> results of an export call that returned
// them to its caller.
func (inst *Instance) keepTaken() {
	if len(inst.taken) > 0 {
		clear(inst.taken)
		inst.taken = inst.taken[:0]
	}
}

// dropTaken drops the own<R> results an export call took out of the
// table and then failed to return (its post-return trapped or exited):
// they belong to no one, and would otherwise never be dropped (a host
// stream or connection held until the process ends).
func (inst *Instance) dropTaken() {
	for _, v := range inst.taken {
		safeDrop(v)
	}
	inst.keepTaken()
}

// Scalar exports (plain numbers in and out: nothing to check, nothing in
// memory) take a path without a Call, small enough to inline:
//
//	s := x.Enter()
//	if s == nil {
//		return 0, x.Refusal(&x.fAdd)
//	}
//	... the arguments into s ...
//	err = x.Leave(ctx, &x.fAdd, x.fAdd.Fn.CallWithStack(ctx, s))
//	... the result out of s ...

// Enter starts a scalar call through x, claiming the instance, and
// returns the stack for its arguments, or nil when the call is refused
// ([Exports.Refusal] says why): the instance exited, trapped or closed, or a call
// into it is in progress. Leave must follow when it succeeds.
func (x *Exports) Enter() []uint64 {
	if !x.inst.claim() {
		return nil
	}
	return x.stack
}

// Refusal is the error of a call of f that Enter refused: the *Trap of
// an instance that exited, trapped or closed, or an error wrapping
// ErrInstanceBusy.
func (x *Exports) Refusal(f *ExportFunc) error {
	if err := x.inst.Refusal(f.Name); err != nil {
		return err
	}
	return fmt.Errorf("%s: %w", f.Name, ErrInstanceBusy)
}

// Leave ends a scalar call of f given the error of its CallWithStack: it
// runs post-return with the core results (which stay in the stack),
// releases the instance and returns nil, or the error: a trap marks the
// instance trapped and is returned as a *Trap, an exit marks it exited
// and is returned as the guest's *sys.ExitError. It is small enough to inline: the call of a scalar
// export without post-return pays for no more.
func (x *Exports) Leave(ctx context.Context, f *ExportFunc, err error) error {
	// x.inst.Leave() when nothing but the entered bit is set, cheaper to
	// inline; else (the instance closed during the call, see
	// Instance.OnLeftClosed, or a close waits for the call to leave, see
	// Instance.IdleWake) leaveSlow leaves.
	if err == nil && !f.post && atomic.CompareAndSwapUint32(x.halted, haltEntered, 0) {
		return nil
	}
	return x.leaveSlow(ctx, f, err)
}

// leaveSlow is Leave past the common case: post-return, a failure, an
// instance closed during the call, or a wait for the call to leave.
func (x *Exports) leaveSlow(ctx context.Context, f *ExportFunc, err error) error {
	what := "the guest trapped"
	if err == nil && f.Post != nil {
		err, what = x.inst.CallPostReturn(ctx, f.Post, x.stack[:f.results]), "post-return trapped"
	}
	x.inst.Leave()
	if err == nil {
		return nil
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return x.inst.exitResult(f.Name, exit)
	}
	markTrapped(ctx, x.inst)
	return x.inst.callTrap(f.Name, what, err)
}

// exitResult is the error of an export call of fn that ended in exit, the
// instance marked (MarkExited): the exit, or, for the exit wazero reports
// when the guest's context ends (sys.ExitCodeContextCanceled, no guest's
// own exit code: package runtime's guard of proc_exit sees to it) after
// the embedder recorded a close as the stop (SetStopped with an error
// wrapping ErrClosed), a *Trap wrapping that stop.
func (inst *Instance) exitResult(fn string, exit *sys.ExitError) error {
	inst.MarkExited(exit.ExitCode())
	if exit.ExitCode() == sys.ExitCodeContextCanceled {
		if stop := inst.Stopped(); errors.Is(stop, ErrClosed) {
			return &Trap{Func: fn, Msg: stop.Error(), stop: stop}
		}
	}
	return exit
}
