package tlshost

import (
	"context"
	"sync"

	"github.com/wasitls/wasitls/bindings/wasitls/tls/v0.3.0/extensions"
	"github.com/wasitls/wasitls/internal/errtext"
)

// MaxErrorText is how much of an error's message the host keeps for a
// connection (its last error, a failed handshake's error, which the
// futures hand the guest, a post-handshake request's) and its streams
// (wasi:io/error, errtext.Bound) and logs: 4 KiB, its start, then how many
// bytes were cut.
//
// A backend's error may quote what the peer sent: crypto/x509 refuses a
// certificate's malformed URI quoting it twice, each control character as
// four bytes, so that a peer's 200 KiB of URI made a 1.6 MB message,
// which the host kept twice for as long as the guest held the failed
// connection (3.2 MiB each, some 13 GiB over the default 4,096 TLS
// connections, past the peer certificate bytes, which a failed
// handshake gives back) and logged whole at each handshake.
const MaxErrorText = errtext.Max

// A boundedError is an error whose message is bounded (errtext.Cut), for
// the log.
type boundedError struct{ err error }

func (e boundedError) Error() string { return errtext.Cut(e.err.Error()) }
func (e boundedError) Unwrap() error { return e.err }

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
	l.msg = errtext.Cut(what + ": " + err.Error())
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
