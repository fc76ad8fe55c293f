// Package custombackend is a user-written wasi:tls backend in a few dozen
// lines: it wraps another backend (stdtls by default), refuses server names
// outside an allow-list on both sides, and logs every handshake.
//
// A backend is an ordinary callback-style TLS implementation
// (backends.Backend); the host turns its hooks into the guest's direct-style
// steps. Wrapping is done by decorating the config's hooks and the returned
// connection, so the guest still sees every step of the handshake.
//
// Register it like a database/sql driver, then select it by name:
//
//	backends.Register(custombackend.New(nil, []string{"example.com"}, slog.Default()))
//	ext := tlshost.New(tlshost.Config{BackendName: custombackend.Name})
//
// or give it to the host as it is, wrapping circl-pq rather than stdtls:
//
//	b := custombackend.New(circlpq.Backend{}, []string{"example.com"}, slog.Default())
//	ext := tlshost.New(tlshost.Config{Backend: b})
package custombackend

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/tlsnames"
)

// Name is the registry name of the backend.
const Name = "allowlist"

// Backend is a backends.Backend that only talks to allowed server names.
type Backend struct {
	// The wrapped backend: ParseIdentity, Supported and Defaults are
	// inherited.
	backends.Describer
	allowed []string
	log     *slog.Logger
}

// New wraps inner (nil means stdtls) so that only the server names in
// allowed are used: a client may not connect to others, a server rejects a
// ClientHello naming others with unrecognized_name (RFC 6066, Section 3).
func New(inner backends.Describer, allowed []string, log *slog.Logger) *Backend {
	if inner == nil {
		inner = stdtls.Backend{}
	}
	return &Backend{Describer: inner, allowed: slices.Clone(allowed), log: log}
}

// Name implements backends.Backend.
func (b *Backend) Name() string { return Name }

func (b *Backend) check(name string) error {
	if !slices.Contains(b.allowed, name) {
		return fmt.Errorf("allowlist: server name %q is not on the allow-list", name)
	}
	return nil
}

// Client implements backends.Backend.
func (b *Backend) Client(transport net.Conn, cfg *backends.ClientConfig) (backends.Conn, error) {
	if err := b.check(cfg.ServerName); err != nil {
		return nil, err
	}
	c, err := b.Describer.Client(transport, cfg)
	if err != nil {
		return nil, err
	}
	return &loggedConn{WrappedConn: backends.WrappedConn{Conn: c}, log: b.log.With("side", "client", "sni", cfg.ServerName)}, nil
}

// Server implements backends.Backend.
func (b *Backend) Server(transport net.Conn, cfg *backends.ServerConfig) (backends.Conn, error) {
	wrapped := *cfg
	hook := cfg.ClientHello
	wrapped.ClientHello = func(ctx context.Context, hello *backends.ClientHello) (*backends.ServerConfig, error) {
		if err := b.check(hello.ServerName); err != nil {
			return nil, &backends.SendAlertError{Alert: backends.AlertUnrecognizedName, Err: err}
		}
		if hook == nil {
			return nil, nil
		}
		return hook(ctx, hello)
	}
	c, err := b.Describer.Server(transport, &wrapped)
	if err != nil {
		return nil, err
	}
	return &loggedConn{WrappedConn: backends.WrappedConn{Conn: c}, log: b.log.With("side", "server")}, nil
}

// loggedConn logs the outcome of the handshake. It embeds
// backends.WrappedConn, not a bare backends.Conn, so that what the wrapped
// connection can do beyond Conn stays visible to the host: the count of
// application data that keeps a post-handshake authentication's
// accounting honest, the non-blocking fast path, the keying material
// exporter.
type loggedConn struct {
	backends.WrappedConn
	log *slog.Logger
}

func (c *loggedConn) Handshake(ctx context.Context) error {
	err := c.Conn.Handshake(ctx)
	if err != nil {
		c.log.Warn("tls handshake failed", "err", err)
		return err
	}
	st := c.Conn.State()
	c.log.Info("tls handshake", "server_name", st.ServerName, "version", tlsnames.Describe(tlsnames.Version, st.Version),
		"cipher_suite", tlsnames.Describe(tlsnames.CipherSuite, st.CipherSuite),
		"group", tlsnames.Describe(tlsnames.Group, st.Group), "alpn", st.ALPN)
	return nil
}
