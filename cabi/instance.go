package cabi

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/tetratelabs/wazero/api"
)

// An Instance is the host-side state of one guest module instance. Create
// it with NewInstance, attach it with WithInstance to the context used to
// instantiate and call the guest, and Close it when the guest is done.
type Instance struct {
	// Data is the embedder's per-guest state, such as package runtime's
	// *runtime.Instance. Set it before the guest runs; it is not guarded.
	Data any

	table   Table
	module  api.Module
	memory  api.Memory
	realloc api.Function
	stack   [4]uint64 // cabi_realloc's parameters and result

	// slot is the guest's offer slot (offer.go), 0 when it has none;
	// slotAsked is set once the guest was asked.
	slot      uint32
	slotAsked bool

	pending   []uint32 // own<R> handles lifted by the call in progress
	borrowed  []uint32 // borrow<R> handles lifted by the call in progress
	reserved  []uint32 // own<R> handles inserted ahead of lowering a result
	nextOwn   int      // next handle of reserved for Own
	lent      []lent   // borrows the host lent to the export call in progress
	inRealloc bool
	// halted holds the trapped and closed bits: one load tells a call
	// whether it may enter.
	halted atomic.Uint32
}

// The bits of Instance.halted.
const (
	haltTrapped uint32 = 1 << iota
	haltClosed
)

func (inst *Instance) isTrapped() bool { return inst.halted.Load()&haltTrapped != 0 }
func (inst *Instance) isClosed() bool  { return inst.halted.Load()&haltClosed != 0 }
func (inst *Instance) setTrapped()     { inst.halted.Or(haltTrapped) }

// NewInstance returns a new instance with an empty table. The guest module
// is bound on the first host call that needs it, or by Bind.
func NewInstance() *Instance {
	inst := &Instance{}
	inst.table.init()
	return inst
}

type instanceKey struct{}

// WithInstance returns a context carrying inst, for instantiating and
// calling the guest the instance belongs to.
func WithInstance(ctx context.Context, inst *Instance) context.Context {
	return context.WithValue(ctx, instanceKey{}, inst)
}

// InstanceFrom returns the instance carried by ctx, or nil.
func InstanceFrom(ctx context.Context) *Instance {
	inst, _ := ctx.Value(instanceKey{}).(*Instance)
	return inst
}

// Table returns the instance's resource table.
func (inst *Instance) Table() *Table { return &inst.table }

// Module returns the bound guest module, or nil before the first call.
func (inst *Instance) Module() api.Module { return inst.module }

// Bind binds the guest module. It fails when another module is bound.
// Glue binds the calling module automatically; embedders call Bind only to
// reach guest memory before the guest's first host call.
func (inst *Instance) Bind(mod api.Module) error {
	if inst.module == mod {
		return nil
	}
	if inst.module != nil {
		return fmt.Errorf("cabi: instance is bound to module %q, not %q", inst.module.Name(), mod.Name())
	}
	inst.module = mod
	inst.memory = mod.Memory()
	return nil
}

// Trapped reports whether a call through the instance has trapped.
func (inst *Instance) Trapped() bool { return inst.isTrapped() }

// MarkTrapped marks the instance trapped, for a caller whose own call into
// the guest failed (a trap, or a context that stopped it midway): the
// guest's state may be half-changed, so later calls in and out trap.
func (inst *Instance) MarkTrapped() { inst.setTrapped() }

// Refusal returns the *Trap of a call of fn into the instance when it
// trapped or closed, and nil when it may be entered.
func (inst *Instance) Refusal(fn string) error {
	switch {
	case inst.isTrapped():
		return &Trap{Func: fn, Msg: "instance has trapped before"}
	case inst.isClosed():
		return &Trap{Func: fn, Msg: "instance is closed"}
	}
	return nil
}

// Close drops every resource left in the table, children before parents,
// and marks the instance closed: later calls trap. A panic in a Drop is
// recovered and reported in the returned error; the other resources are
// still dropped. Close is idempotent.
func (inst *Instance) Close(ctx context.Context) error {
	inst.halted.Or(haltClosed)
	var errs []error
	for _, v := range inst.table.drain() {
		if err := safeDrop(v); err != nil {
			errs = append(errs, err)
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	default:
		return fmt.Errorf("cabi: %d drops failed, first: %w", len(errs), errs[0])
	}
}

func safeDrop(v Resource) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cabi: drop of %T panicked: %v", v, r)
		}
	}()
	v.Drop()
	return nil
}
