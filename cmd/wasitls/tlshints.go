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
// the failures the host logs, except that the first one of each kind a
// flag would fix (a server certificate, or a client certificate a guest
// server asked for, from an issuer the host does not trust) gets one note
// on stderr naming the flag. The guest sees only its own error.
type tlsHints struct {
	w              io.Writer
	server, client *sync.Once // the notes for --ca and --client-ca
}

func newTLSHints(w io.Writer) *slog.Logger {
	return slog.New(tlsHints{w: w, server: new(sync.Once), client: new(sync.Once)})
}

func (h tlsHints) Enabled(context.Context, slog.Level) bool { return true }

func (h tlsHints) Handle(_ context.Context, r slog.Record) error {
	var side string
	var err error
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "side":
			side = a.Value.String()
		case "err":
			err, _ = a.Value.Any().(error)
		}
		return true
	})
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		return nil
	}
	if side == "server" {
		// A guest server's connection: the certificate was its client's.
		h.client.Do(func() {
			fmt.Fprintln(h.w, "wasitls: a client's certificate is from an issuer the host does not trust: "+
				"trust its CA with --client-ca FILE (--log-tls logs every TLS failure)")
		})
		return nil
	}
	h.server.Do(func() {
		fmt.Fprintln(h.w, "wasitls: the server's certificate is from an issuer the host does not trust: "+
			"trust its CA with --ca FILE (--log-tls logs every TLS failure)")
	})
	return nil
}

func (h tlsHints) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h tlsHints) WithGroup(string) slog.Handler      { return h }
