package circlpq

import (
	"context"
	"errors"
	"time"

	"github.com/wasitls/wasitls/backends"
)

// Handshake runs the handshake to completion, calling the configuration's
// hooks on the way. It is a no-op after a successful handshake and returns
// the same error after a failed one. Cancelling ctx aborts the handshake:
// the peer gets a user_canceled alert when the transport still takes it,
// and Handshake returns an error wrapping ctx.Err().
//
// Unlike Read, Handshake cannot be resumed: every error, a transport
// timeout included, fails the connection. Callers that make the transport
// non-blocking do so only once Handshake returned.
func (c *Conn) Handshake(ctx context.Context) error {
	c.handshakeMu.Lock()
	defer c.handshakeMu.Unlock()
	if c.handshakeErr != nil {
		return c.handshakeErr
	}
	if c.handshakeDone.Load() {
		return nil
	}

	// An interrupter unblocks transport I/O when ctx ends: reads fail at
	// once, writes after a grace period long enough for the alert.
	var stop chan struct{}
	var fired chan bool
	if ctx.Done() != nil {
		stop, fired = make(chan struct{}), make(chan bool, 1)
		go func() {
			select {
			case <-ctx.Done():
				now := time.Now()
				c.conn.SetReadDeadline(now)
				c.conn.SetWriteDeadline(now.Add(time.Second))
				fired <- true
			case <-stop:
				fired <- false
			}
		}()
	}

	c.in.Lock()
	c.out.Lock()
	c.buffering = true
	c.out.Unlock()
	var err error
	if c.isClient {
		err = c.clientHandshake(ctx)
	} else {
		err = c.serverHandshake(ctx)
	}
	c.out.Lock()
	c.buffering = false
	if err == nil {
		err = c.flush()
	}
	c.out.Unlock()
	// No application data is read during the handshake: input is empty.
	c.releaseRawIn()
	c.in.Unlock()

	if stop != nil {
		close(stop)
		if <-fired && err == nil {
			// The deadlines are spoiled: the connection is unusable.
			err = errors.Join(errors.New("tls: handshake canceled"), ctx.Err())
		}
	}
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		// No-op when a fatal alert already went out.
		c.sendAlert(alertUserCanceled)
		err = errors.Join(err, ctx.Err())
	}
	if err != nil {
		c.handshakeErr = err
		c.in.Lock()
		c.failRead(err)
		c.in.Unlock()
		return err
	}
	c.updateState(func(s *backends.State) { s.HandshakeComplete = true })
	c.handshakeDone.Store(true)
	return nil
}
