package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
)

// tlsHints is the wasi:tls host's logger when --log-tls is off: it drops
// the failures the host logs, except that the first one a flag would fix
// (a server certificate from an issuer the host does not trust) gets one
// note on stderr naming the flag. The guest sees only its own error.
type tlsHints struct {
	w    io.Writer
	once *sync.Once
}

func newTLSHints(w io.Writer) *slog.Logger {
	return slog.New(tlsHints{w: w, once: new(sync.Once)})
}

func (h tlsHints) Enabled(context.Context, slog.Level) bool { return true }

func (h tlsHints) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		err, ok := a.Value.Any().(error)
		if !ok {
			return true
		}
		var unknown x509.UnknownAuthorityError
		if errors.As(err, &unknown) {
			h.once.Do(func() {
				fmt.Fprintln(h.w, "wasitls: the server's certificate is from an issuer the host does not trust: "+
					"trust its CA with --ca FILE (--log-tls logs every TLS failure)")
			})
		}
		return false
	})
	return nil
}

func (h tlsHints) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h tlsHints) WithGroup(string) slog.Handler      { return h }
