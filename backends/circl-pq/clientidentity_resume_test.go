package circlpq

import (
	"bytes"
	"context"
	"crypto/tls"
	"testing"

	"github.com/wasitls/wasitls/backends"
)

// TestResumptionKeepsNoClientIdentity: a session made by a connection
// that presented a client certificate is not kept, so that no later
// connection to the server name resumes it. A resumed handshake sends no
// certificate: the server takes the client for the one the session's
// handshake authenticated, whatever the connection's own ClientIdentity
// would have answered (nothing, another identity). Before, the second
// connection, whose ClientIdentity sends nothing (or another identity),
// resumed the first's session, and the server saw the first's
// certificate while the client reported no identity of its own.
// Connections that present none still resume. Against a crypto/tls
// server that asks for a certificate, accepts none and seals the client's
// chain into its tickets (circl-pq's own server issues no ticket to a
// client it asked for a certificate).
func TestResumptionKeepsNoClientIdentity(t *testing.T) {
	p := pki(t)
	idA, idB := p.client.Identity(), p.clientEd.Identity()
	for _, tc := range []struct {
		name        string
		first, then *backends.Identity
		resume      bool
	}{
		{"A then none", idA, nil, false},
		{"A then B", idA, idB, false},
		{"A then A", idA, idA, false},
		{"none then none", nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := NewSessionCache(4)
			gcfg := p.goServerConfig(p.p256) // one config: its ticket keys live in it
			gcfg.ClientAuth = tls.VerifyClientCertIfGiven
			for i, id := range []*backends.Identity{tc.first, tc.then} {
				craw, sraw := tcpPair(t)
				ccfg := p.clientConfig()
				ccfg.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
					if id == nil {
						return nil, nil
					}
					return []*backends.Identity{id}, nil
				}
				c, chs := engineClient(t, craw, ccfg)
				c.SetSessionCache(cache)
				gs := tls.Server(sraw, gcfg)
				if cerr, serr := both(chs, func() error { return gs.HandshakeContext(context.Background()) }); cerr != nil || serr != nil {
					t.Fatalf("connection %d: client %v, server %v", i, cerr, serr)
				}
				echo(t, c, gs) // the client reads (and keeps, or not) the ticket
				if i == 0 {
					continue
				}
				if got := c.State().DidResume; got != tc.resume {
					t.Errorf("the second connection resumed %v, want %v", got, tc.resume)
				}
				seen := gs.ConnectionState().PeerCertificates
				switch {
				case id == nil && len(seen) > 0:
					t.Errorf("the server saw a client certificate (CN=%s) the second connection never sent", seen[0].Subject.CommonName)
				case id != nil && (len(seen) == 0 || !bytes.Equal(seen[0].Raw, id.Chain[0])):
					t.Errorf("the server did not see the certificate the second connection presents")
				}
				if got := c.State().LocalIdentity; got != id {
					t.Errorf("the client reports the identity it presented as %p, want %p", got, id)
				}
			}
		})
	}
}
