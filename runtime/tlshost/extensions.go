package tlshost

import (
	"context"

	ext01 "github.com/wasitls/wasitls/bindings/wasitls/tls/v0.1.0/extensions"
	ext02 "github.com/wasitls/wasitls/bindings/wasitls/tls/v0.2.0/extensions"
	"github.com/wasitls/wasitls/bindings/wasitls/tls/v0.3.0/extensions"
)

// extensionsHost serves wasitls:tls/extensions@0.1.0, @0.2.0 and
// @0.3.0, each of which adds functions only: protocol versions, cipher
// suites and groups (with the same ordering rules as the proposal's
// configure-* functions, within the host's ceiling), the negotiated group,
// graceful shutdown and failure reasons; since 0.2.0 what the host allows
// and uses by default, the ClientHello's offer, a certificate request's
// contents and parse failures with their reason (extensions_0_2.go);
// since 0.3.0 session resumption (extensions_0_3.go).
type extensionsHost struct{ h *Host }

// ext02Host serves 0.2.0, whose algorithms record is its own Go type.
type ext02Host struct{ extensionsHost }

var (
	_ extensions.Host = extensionsHost{}
	_ ext02.Host      = ext02Host{}
	_ ext01.Host      = extensionsHost{}
)

func (e ext02Host) AllowedAlgorithms(ctx context.Context) ext02.Algorithms {
	return ext02.Algorithms(e.extensionsHost.AllowedAlgorithms(ctx))
}

func (e ext02Host) DefaultAlgorithms(ctx context.Context) ext02.Algorithms {
	return ext02.Algorithms(e.extensionsHost.DefaultAlgorithms(ctx))
}

func (e extensionsHost) result(what string, err error) error {
	if err == nil {
		return nil
	}
	// The string of result<_, string> is the error's message.
	e.h.logFailure(what, err)
	return err
}

func (e extensionsHost) ConfigureClientProtocolVersions(_ context.Context, hs extensions.ClientHandshake, v []extensions.ProtocolVersion) error {
	return e.result("configure-client-protocol-versions", hs.(*clientHandshake).conn.s.ConfigureVersions(v))
}

func (e extensionsHost) ConfigureClientCipherSuites(_ context.Context, hs extensions.ClientHandshake, v []extensions.CipherSuite) error {
	return e.result("configure-client-cipher-suites", hs.(*clientHandshake).conn.s.ConfigureCipherSuites(v))
}

func (e extensionsHost) ConfigureClientGroups(_ context.Context, hs extensions.ClientHandshake, v []extensions.NamedGroup, keyShares uint8) error {
	return e.result("configure-client-groups", hs.(*clientHandshake).conn.s.ConfigureGroups(v, int(keyShares)))
}

func (e extensionsHost) ConfigureServerProtocolVersions(_ context.Context, hs extensions.ServerHandshake, v []extensions.ProtocolVersion) error {
	return e.result("configure-server-protocol-versions", hs.(*serverHandshake).conn.s.ConfigureVersions(v))
}

func (e extensionsHost) ConfigureServerCipherSuites(_ context.Context, hs extensions.ServerHandshake, v []extensions.CipherSuite) error {
	return e.result("configure-server-cipher-suites", hs.(*serverHandshake).conn.s.ConfigureCipherSuites(v))
}

func (e extensionsHost) ConfigureServerGroups(_ context.Context, hs extensions.ServerHandshake, v []extensions.NamedGroup) error {
	return e.result("configure-server-groups", hs.(*serverHandshake).conn.s.ConfigureGroups(v, 0))
}

func (e extensionsHost) ClientNegotiatedGroup(_ context.Context, c extensions.ClientConnection) (extensions.NamedGroup, bool) {
	st, ok := c.(*clientConnection).s.State()
	return st.Group, ok && st.HandshakeComplete && st.Group != 0
}

func (e extensionsHost) ServerNegotiatedGroup(_ context.Context, c extensions.ServerConnection) (extensions.NamedGroup, bool) {
	st, ok := c.(*serverConnection).s.State()
	return st.Group, ok && st.HandshakeComplete && st.Group != 0
}

func (e extensionsHost) CloseClientOutput(ctx context.Context, c extensions.ClientConnection) error {
	cc := c.(*clientConnection)
	cc.mu.Lock()
	out := cc.out
	cc.mu.Unlock()
	return e.result("close-client-output", closeOutput(ctx, out))
}

func (e extensionsHost) CloseServerOutput(ctx context.Context, c extensions.ServerConnection) error {
	sc := c.(*serverConnection)
	sc.mu.Lock()
	out := sc.out
	sc.mu.Unlock()
	return e.result("close-server-output", closeOutput(ctx, out))
}
