//go:build wasip1

package wasitls

import (
	"context"
	"errors"
	"time"

	wasinet "github.com/wasitls/wasitls/guest/net"
	"github.com/wasitls/wasitls/guest/poll"
	"github.com/wasitls/wasitls/guest/wasi/io"
)

// await parks until p is ready (then drops it), ctx is done, or ctx's
// deadline passes.
func await(ctx context.Context, p io.Pollable) error {
	defer p.Drop()
	if x, ok := ctx.(*closeContext); ok {
		// Handshake's own context: ended by Close through its
		// Canceler, and no deadline.
		if err := poll.WaitCanceler(p, time.Time{}, &x.cancel); err != nil {
			if err == poll.ErrCanceled {
				return context.Canceled
			}
			return err
		}
		return nil
	}
	var deadline time.Time
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}
	err := poll.Wait(p, deadline, ctx.Done())
	if err == poll.ErrCanceled {
		return ctx.Err()
	}
	return err
}

// streams takes the raw streams of a guest/net connection.
type streams interface {
	TakeStreams() (io.InputStream, io.OutputStream, error)
}

func takeStreams(conn any) (io.InputStream, io.OutputStream, error) {
	// A guest/net connection, the usual case, by its concrete type: a
	// pointer compare, where the assertion to an interface is a look-up
	// in the runtime's itab table (getitab), a few µs of the guest's per
	// handshake.
	if c, ok := conn.(*wasinet.Conn); ok {
		return c.TakeStreams()
	}
	s, ok := conn.(streams)
	if !ok {
		return 0, 0, errors.New("wasitls: the connection must come from package guest/net (wasinet), whose raw streams the host can unwrap")
	}
	return s.TakeStreams()
}
