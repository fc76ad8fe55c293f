package cabi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// An Instance is the host-side state of one guest module instance. Create
// it with NewInstance, attach it with WithInstance to the context used to
// instantiate and call the guest, and Close it when the guest is done.
type Instance struct {
	// Data is the embedder's per-guest state, such as package runtime's
	// *runtime.Guest. Set it before the guest runs; it is not guarded.
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

	pending []uint32 // own<R> handles lifted by the call in progress
	// pendingSet indexes pending once it is long (pending.go).
	pendingSet map[uint32]struct{}
	borrowed   []uint32   // borrow<R> handles lifted by the call in progress
	taken      []Resource // own<R> results an export call in progress took
	reserved   []uint32   // own<R> handles inserted ahead of lowering a result
	nextOwn    int        // next handle of reserved for Own
	// reserveErr is why an own<R> of the result being lowered could not
	// be reserved (see Call.Reserve): the later ones are dropped, and the
	// call traps before the result reaches the guest.
	reserveErr error
	lent       []lent          // borrows the host lent to the export call in progress
	lentReps   []GuestResource // the guest's own resources it lent as reps
	given      []given         // own<R> arguments of an export call not yet invoked
	afterCall  []func()        // what ends the host call in progress (AfterCall)
	inRealloc  bool
	// inPostReturn is set while a post-return function runs
	// (CallPostReturn): a host function it calls traps (MayLeave).
	inPostReturn bool
	// leave holds the contexts of the last calls of cabi_realloc and
	// of a post-return function (leave.go), for reuse.
	leave [2]*leaveCtx
	// halted holds the trapped, exited and closed bits, and the entered bit held
	// by a call from the host into the guest (Enter, and the generated
	// callers through Exports): one compare-and-swap from 0 tells a call
	// it may enter and claims the instance for it, so that a second call,
	// re-entering or from another goroutine, is refused. It is only
	// accessed through sync/atomic's functions, not an atomic.Uint32,
	// whose methods would cost Exports.Leave its inlining.
	halted uint32
	// exitCode is the code of the guest's exit, once the exited bit is
	// set (MarkExited).
	exitCode atomic.Uint32
	// nested is how deep calls into the guest nest inside host calls
	// (nesting.go); maxNested bounds it, named nestedName in its trap.
	// stopped is why the embedder stopped the guest (stop.go), or nil.
	stopped atomic.Pointer[stopReason]
	// stackBudget is the guest's call stack budget (stack.go), or nil.
	stackBudget *stackBudget
	// onLimit is told the name of each limit a call traps for (OnLimit).
	onLimit    func(name string)
	nested     int
	maxNested  int
	nestedName string
	// leftClosed is called by the call that leaves an instance closed
	// while it ran (OnLeftClosed), or nil.
	leftClosed func()
	// idle is closed by the call that leaves while haltIdleWatch is set
	// (IdleWake); nil when nobody waits. Guarded by idleMu.
	idleMu sync.Mutex
	idle   chan struct{}
}

// The bits of Instance.halted.
const (
	haltTrapped uint32 = 1 << iota
	haltClosed
	haltEntered
	haltExited
	// haltIdleWatch is set, only while haltEntered is, by IdleWake, and
	// cleared with haltEntered: the call leaving closes idle.
	haltIdleWatch
)

func (inst *Instance) isTrapped() bool { return atomic.LoadUint32(&inst.halted)&haltTrapped != 0 }
func (inst *Instance) isClosed() bool  { return atomic.LoadUint32(&inst.halted)&haltClosed != 0 }
func (inst *Instance) isExited() bool  { return atomic.LoadUint32(&inst.halted)&haltExited != 0 }
func (inst *Instance) setTrapped()     { atomic.OrUint32(&inst.halted, haltTrapped) }

// isHalted reports, in one load, whether the instance trapped, exited or
// was closed: whether Refusal refuses a call.
func (inst *Instance) isHalted() bool {
	return atomic.LoadUint32(&inst.halted)&(haltTrapped|haltClosed|haltExited) != 0
}

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

// Table returns the instance's resource table: a core module's, or the
// outer component instance's (see [Instance.NewTable]).
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

// ErrTrapped is wrapped by the refusal of a call into an instance that
// trapped before (a component instance, or a core module through
// generated callers): a trap, the stop flag's and the stack budget's
// included, leaves the guest where it was, its state possibly
// half-changed and its stack budget spent, so the instance is not
// entered again (the Component Model forbids it). Make a new instance.
var ErrTrapped = errors.New("instance has trapped before: it is not entered again (its state may be half-changed); make a new instance")

// ErrExited is wrapped by the refusal of a call into an instance whose
// guest exited in an earlier call (wasi:cli/exit, or preview1's proc_exit
// through an adapter or wazero's wasi_snapshot_preview1): the exit
// unwound the guest where it was, in the middle of that call, so the
// instance is not entered again. Its host resources stay held until it
// is closed. Make a new instance.
var ErrExited = errors.New("instance has exited: it is not entered again (the exit unwound the guest mid-call); make a new instance")

// ErrClosed is wrapped by the refusal of a call into an instance that
// was closed ([Instance.Close]), whichever way the call is made: the
// generated callers, a component export, the drop of a guest resource,
// runtime.Instance.Call (package runtime's ErrClosed is this error). A
// call that was already running when the instance was closed, and that
// the embedder stopped midway, wraps it too, as the reason of the stop.
// Make a new instance.
var ErrClosed = errors.New("instance is closed")

// closedTrap is the refusal of a call of fn into an instance that was
// closed: it wraps ErrClosed, and ErrExited or ErrTrapped too when the
// instance had exited or trapped before.
func (inst *Instance) closedTrap(fn string) *Trap {
	const tail = ": it is not entered again (its resources were dropped); make a new instance"
	switch {
	case inst.isExited():
		return &Trap{Func: fn, Msg: fmt.Sprintf("instance is closed (its guest had exited with code %d)%s", inst.exitCode.Load(), tail), stop: errors.Join(ErrClosed, ErrExited)}
	case inst.isTrapped():
		return &Trap{Func: fn, Msg: "instance is closed (it had trapped)" + tail, stop: errors.Join(ErrClosed, ErrTrapped)}
	}
	return &Trap{Func: fn, Msg: "instance is closed" + tail, stop: ErrClosed}
}

// MarkExited marks the instance exited with code, for a caller whose call
// into the guest ended in the guest's exit (a *sys.ExitError): later
// calls into it are refused with an error wrapping ErrExited that names
// the code. An exit with sys.ExitCodeContextCanceled or
// sys.ExitCodeDeadlineExceeded is the end of the call's context stopping
// the guest midway, not the guest's choice: it marks the instance trapped
// instead. The first exit's code is kept.
func (inst *Instance) MarkExited(code uint32) {
	if code == sys.ExitCodeContextCanceled || code == sys.ExitCodeDeadlineExceeded {
		inst.setTrapped()
		return
	}
	if !inst.isExited() {
		inst.exitCode.Store(code)
		atomic.OrUint32(&inst.halted, haltExited)
	}
}

// MarkFailed marks the instance as err, the error of a call into the guest,
// says: exited (MarkExited) when err is or wraps a *sys.ExitError, and
// trapped for any other error. It does nothing for nil.
func (inst *Instance) MarkFailed(err error) {
	var exit *sys.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		inst.MarkExited(exit.ExitCode())
	default:
		inst.setTrapped()
	}
}

// Exited reports whether the guest exited in a call (MarkExited), and
// with which code.
func (inst *Instance) Exited() (code uint32, exited bool) {
	if !inst.isExited() {
		return 0, false
	}
	return inst.exitCode.Load(), true
}

// exitedTrap is the refusal of a call of fn into an instance that exited.
func (inst *Instance) exitedTrap(fn string) *Trap {
	return &Trap{Func: fn, Msg: fmt.Sprintf("instance has exited with code %d: it is not entered again (the exit unwound the guest mid-call); make a new instance", inst.exitCode.Load()), stop: ErrExited}
}

// Refusal returns the *Trap of a call of fn into the instance when it
// was closed (wrapping ErrClosed, and ErrExited or ErrTrapped when it had
// exited or trapped before), its guest exited (wrapping ErrExited, naming
// the code) or it trapped (wrapping ErrTrapped), and nil when it may be
// entered.
func (inst *Instance) Refusal(fn string) error {
	switch {
	case !inst.isHalted():
		return nil // one load for a call that may enter
	case inst.isClosed():
		return inst.closedTrap(fn)
	case inst.isExited():
		return inst.exitedTrap(fn)
	case inst.isTrapped():
		return &Trap{Func: fn, Msg: ErrTrapped.Error(), stop: ErrTrapped}
	}
	return nil
}

// ErrInstanceBusy is wrapped by the error of a call into a guest instance
// (a component, or a core module through generated callers) while another
// is in progress, through the same interface or another: a host function
// the guest called calling back into it (the Component Model forbids
// entering an instance that has not left, and the two calls would share
// the instance's per-call state: lent handles, pending handles, the
// return area), or a call from another goroutine (a wazero module
// instance is single-threaded). The call is refused before the guest sees
// it; the call in progress carries on untouched and the instance is not
// trapped. ErrReentered, its former name for generated callers, is the
// same error.
var ErrInstanceBusy = errors.New("cabi: a call into the instance is in progress (re-entered from a host function it called, or called from another goroutine)")

// Enter claims the instance for a call of fn from the host into the
// guest (component.Func.Call, component.Handle.Drop; generated callers
// claim it the same way) and returns nil, or the call's refusal: the *Trap of an instance that
// exited, trapped or closed, or an error wrapping ErrInstanceBusy while another
// call holds it. Leave must follow a nil. Enter is safe for concurrent
// use: of two goroutines, one enters and the other is refused.
func (inst *Instance) Enter(fn string) error {
	if err := inst.Refusal(fn); err != nil {
		return err
	}
	if !inst.claim() {
		return fmt.Errorf("%s: %w", fn, ErrInstanceBusy)
	}
	return nil
}

// claim claims the instance for a call and reports whether it could: not
// when it exited, trapped or closed, or a call holds it.
func (inst *Instance) claim() bool { return atomic.CompareAndSwapUint32(&inst.halted, 0, haltEntered) }

// Leave ends the call that Enter admitted.
func (inst *Instance) Leave() {
	if old := atomic.AndUint32(&inst.halted, ^(haltEntered | haltIdleWatch)); old&(haltClosed|haltIdleWatch) != 0 {
		inst.left(old)
	}
}

// left wakes whoever waits for the call to leave (IdleWake) and runs the
// OnLeftClosed function of a call leaving an instance closed while it
// ran; old is what halted was before the call left.
func (inst *Instance) left(old uint32) {
	if old&haltIdleWatch != 0 {
		inst.idleMu.Lock()
		if inst.idle != nil {
			close(inst.idle)
			inst.idle = nil
		}
		inst.idleMu.Unlock()
	}
	if old&haltClosed != 0 && inst.leftClosed != nil {
		inst.leftClosed()
	}
}

// IdleWake returns nil when no call Enter admitted is in progress, else a
// channel closed once that call leaves, so that a wait for the instance
// to be idle is a receive rather than a poll of Entered. A new call may
// have entered by the time the channel is closed: look again.
func (inst *Instance) IdleWake() <-chan struct{} {
	inst.idleMu.Lock()
	defer inst.idleMu.Unlock()
	for {
		old := atomic.LoadUint32(&inst.halted)
		if old&haltEntered == 0 {
			return nil
		}
		// Set while entered, the bit is cleared by the call's Leave,
		// which then takes idleMu and closes idle.
		if old&haltIdleWatch != 0 || atomic.CompareAndSwapUint32(&inst.halted, old, old|haltIdleWatch) {
			if inst.idle == nil {
				inst.idle = make(chan struct{})
			}
			return inst.idle
		}
	}
}

// OnLeftClosed sets f, called on the goroutine of a call from the host
// into the guest (Enter, the generated callers) that leaves the instance
// after Close marked it closed, once the guest returned: what the guest's
// code still used during the call (its module instance, which the
// embedder closes) is closed there, not under the call. Close marks the
// instance closed before it looks at Entered, and Leave clears the entered
// bit before it looks at the closed bit: of a Close and a call in
// progress, Close sees the call or the call sees the close, or both. Set
// it before the instance is shared.
func (inst *Instance) OnLeftClosed(f func()) { inst.leftClosed = f }

// Entered reports whether a call Enter admitted is in progress.
func (inst *Instance) Entered() bool { return atomic.LoadUint32(&inst.halted)&haltEntered != 0 }

// Close drops every resource left in the instance's tables, children
// before parents (the tables of nested component instances first, the
// last made first, then the instance's own), and marks the instance
// closed: later calls trap. A panic in a Drop is recovered and reported
// in the returned error; the other resources are still dropped. Close is
// idempotent.
func (inst *Instance) Close(ctx context.Context) error {
	atomic.OrUint32(&inst.halted, haltClosed)
	var errs []error
	tables := inst.tables(true)
	for i := len(tables) - 1; i >= 0; i-- {
		for _, v := range tables[i].drain() {
			if err := safeDrop(v); err != nil {
				errs = append(errs, err)
			}
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
