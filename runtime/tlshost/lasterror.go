package tlshost

import (
	"context"
	"sync"

	"github.com/wasitls/wasitls/bindings/wasitls/tls/v0.3.0/extensions"
)

// lastError remembers why a connection's most recent step failed. The
// proposal's futures and results carry no error payload, so this is where a
// guest finds the reason: the extensions' client-last-error and
// server-last-error. Every failure is also logged (Config.Logger).
type lastError struct {
	mu  sync.Mutex
	msg string
}

func (l *lastError) set(what string, err error) {
	l.mu.Lock()
	l.msg = what + ": " + err.Error()
	l.mu.Unlock()
}

func (l *lastError) get() (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msg, l.msg != ""
}

// failer is a connection that records and logs failed steps.
type failer interface {
	fail(what string, err error)
}

func (c *clientConnection) fail(what string, err error) {
	c.last.set(what, err)
	c.h.logFailure(what, err, "side", "client")
}

func (c *serverConnection) fail(what string, err error) {
	c.last.set(what, err)
	c.h.logFailure(what, err, "side", "server")
}

// check records a refused call and passes its error on.
func (c *clientConnection) check(what string, err error) error {
	if err != nil {
		c.fail(what, err)
	}
	return err
}

// check records a refused call and passes its error on.
func (c *serverConnection) check(what string, err error) error {
	if err != nil {
		c.fail(what, err)
	}
	return err
}

func (e extensionsHost) ClientLastError(_ context.Context, c extensions.ClientConnection) (string, bool) {
	return c.(*clientConnection).last.get()
}

func (e extensionsHost) ServerLastError(_ context.Context, c extensions.ServerConnection) (string, bool) {
	return c.(*serverConnection).last.get()
}
