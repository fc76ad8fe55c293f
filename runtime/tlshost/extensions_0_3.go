package tlshost

import (
	"context"

	"github.com/wasitls/wasitls/bindings/wasitls/tls/v0.3.0/extensions"
)

// The functions wasitls:tls/extensions@0.3.0 adds to 0.2.0: session
// resumption (resumption.go).

func (e extensionsHost) ConfigureClientResumption(_ context.Context, hs extensions.ClientHandshake, enabled bool) error {
	return e.result("configure-client-resumption", hs.(*clientHandshake).conn.s.ConfigureResumption(enabled))
}

func (e extensionsHost) ConfigureServerResumption(_ context.Context, hs extensions.ServerHandshake, enabled bool) error {
	return e.result("configure-server-resumption", hs.(*serverHandshake).conn.s.ConfigureResumption(enabled))
}

func (e extensionsHost) ClientSessionResumed(_ context.Context, c extensions.ClientConnection) bool {
	st, ok := c.(*clientConnection).s.State()
	return ok && st.HandshakeComplete && st.DidResume
}

func (e extensionsHost) ServerSessionResumed(_ context.Context, c extensions.ServerConnection) bool {
	st, ok := c.(*serverConnection).s.State()
	return ok && st.HandshakeComplete && st.DidResume
}
