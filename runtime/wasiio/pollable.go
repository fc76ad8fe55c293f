package wasiio

import (
	"context"
	"errors"

	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/bindings/wasi/io/poll"
	"github.com/wasitls/wasitls/cabi"
)

// A Pollable is the wasi:io/poll pollable resource: a guest handle on a
// [Source]. The parent, when not nil, is the resource the pollable was
// subscribed from; the table refuses to drop the parent while the pollable
// lives.
type Pollable struct {
	src    Source
	parent cabi.Resource
}

var _ poll.Pollable = (*Pollable)(nil)

// NewPollable returns a pollable over src with the given parent resource
// (nil for none).
func NewPollable(src Source, parent cabi.Resource) *Pollable {
	return &Pollable{src: src, parent: parent}
}

// Source returns the source the pollable watches.
func (p *Pollable) Source() Source { return p.src }

// Ready implements poll.Pollable. A source whose work waits to be looked
// at (a [Starter]) starts it.
func (p *Pollable) Ready(ctx context.Context) bool {
	if s, ok := p.src.(Starter); ok {
		s.Start()
	}
	return p.src.Ready()
}

// Block implements poll.Pollable: it waits until the pollable is ready.
// When ctx ends first (the instance is being closed), the guest exits.
func (p *Pollable) Block(ctx context.Context) {
	if err := waitOne(ctx, p.src); err != nil {
		Abort(ctx, err)
	}
}

// Drop implements cabi.Resource.
func (p *Pollable) Drop() {}

// ResourceParent implements cabi.Child.
func (p *Pollable) ResourceParent() cabi.Resource { return p.parent }

// Poll implements wasi:io/poll's poll over any pollables that expose their
// Source (every pollable of this package). See Wait.
func Poll(ctx context.Context, in []poll.Pollable) []uint32 {
	if len(in) == 0 {
		// Nothing could ever wake the guest.
		panic(&cabi.Trap{Func: "wasi:io/poll#poll", Msg: "empty list of pollables"})
	}
	srcs := make([]Source, len(in))
	for i, p := range in {
		sp, ok := p.(interface{ Source() Source })
		if !ok {
			panic(&cabi.Trap{Func: "wasi:io/poll#poll", Msg: "pollable of a foreign implementation (no Source method)"})
		}
		srcs[i] = sp.Source()
	}
	ready, err := Wait(ctx, srcs)
	if err != nil {
		Abort(ctx, err)
	}
	return ready
}

// Abort ends the guest's current call because ctx ended: the instance is
// being closed while the guest waits, or the caller of the export that
// waits gave up on it. The guest sees its module closed, with the exit
// code wazero gives that end of a context: sys.ExitCodeDeadlineExceeded
// when err is a deadline's, sys.ExitCodeContextCanceled otherwise. The guest's
// instance (the cabi.Instance in ctx) is marked trapped: stopped midway,
// its state may be half-changed, so no later call enters it, which a
// module closed by Instance.Close would refuse anyway, but one whose
// export call's own context ended would not.
func Abort(ctx context.Context, err error) {
	if inst := cabi.InstanceFrom(ctx); inst != nil {
		inst.MarkTrapped()
	}
	panic(sys.NewExitError(ExitCode(err)))
}

// ExitCode is the exit code wazero gives a module closed because a
// context ended with err.
func ExitCode(err error) uint32 {
	if errors.Is(err, context.DeadlineExceeded) {
		return sys.ExitCodeDeadlineExceeded
	}
	return sys.ExitCodeContextCanceled
}
