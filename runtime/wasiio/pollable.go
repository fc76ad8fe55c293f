package wasiio

import "context"

// A Pollable is the wasi:io/poll pollable resource: a guest handle on a
// [Source]. The parent, when not nil, is the resource the pollable was
// subscribed from; the table refuses to drop the parent while the pollable
// lives.
type Pollable struct {
	src    Source
	parent any
}

// NewPollable returns a pollable over src with the given parent resource
// (nil for none).
func NewPollable(src Source, parent any) *Pollable {
	return &Pollable{src: src, parent: parent}
}

// Source returns the source the pollable watches.
func (p *Pollable) Source() Source { return p.src }

// IsReady reports whether the pollable is ready, without blocking.
func (p *Pollable) IsReady() bool { return p.src.Ready() }

// Wait blocks until the pollable is ready or ctx is done.
func (p *Pollable) Wait(ctx context.Context) error {
	_, err := Wait(ctx, []Source{p.src})
	return err
}
