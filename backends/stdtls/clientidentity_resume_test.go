package stdtls_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// TestResumptionKeepsNoClientIdentity: a session made by a connection
// that presented a client certificate is not kept, so that no later
// connection to the server name resumes it. A resumed handshake sends no
// certificate: the server takes the client for the one the session's
// handshake authenticated, whatever the connection's own ClientIdentity
// would have answered (nothing, another identity). Before, the second
// connection, whose ClientIdentity sends nothing (or identity B), resumed
// the first's session and the server saw identity A, while the client
// reported no identity of its own. Connections that present none still
// resume (at a server that asks for nothing: one that asks resumes no
// session without a certificate, TestRequestingServerResumesNoAnonymousSession).
// Against a stdtls server that asks for a certificate and accepts none
// (RequestClientCert), TLS 1.3 and 1.2.
func TestResumptionKeepsNoClientIdentity(t *testing.T) {
	f := newFixture(t)
	other, err := f.ca.Issue(testpki.LeafOptions{CommonName: "client-b", Usage: testpki.ClientAuth})
	if err != nil {
		t.Fatal(err)
	}
	idA, idB := f.client.Identity(), other.Identity()
	keys := func() []backends.TicketKey { return []backends.TicketKey{{7}} }
	for _, version := range []uint16{0x0304, 0x0303} {
		for _, tc := range []struct {
			name   string
			first  *backends.Identity
			then   *backends.Identity
			resume bool
		}{
			{"A then none", idA, nil, false},
			{"A then B", idA, idB, false},
			{"A then A", idA, idA, false},
			{"none then none", nil, nil, true},
		} {
			cache := backends.NewLRUSessionCache(4)
			for i, id := range []*backends.Identity{tc.first, tc.then} {
				cc, sc := f.configs()
				cc.Sessions, cc.Versions = cache, []uint16{version}
				sc.Versions, sc.TicketKeys = []uint16{version}, keys
				if tc.first != nil {
					sc.ClientAuth = backends.RequestClientCert
				}
				cc.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
					if id == nil {
						return nil, nil
					}
					return []*backends.Identity{id}, nil
				}
				var seen [][]byte
				sc.VerifyClient = func(_ context.Context, chain [][]byte) error { seen = chain; return nil }
				client, server, cerr, serr := handshake(t, cc, sc)
				if cerr != nil || serr != nil {
					t.Fatalf("%#x %s %d: client %v, server %v", version, tc.name, i, cerr, serr)
				}
				// The client reads the tickets on its way to the server's byte.
				if err := serverByte(client, server); err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					continue
				}
				if got := client.State().DidResume; got != tc.resume {
					t.Errorf("%#x %s: the second connection resumed %v, want %v", version, tc.name, got, tc.resume)
				}
				switch {
				case id == nil && len(seen) > 0:
					t.Errorf("%#x %s: the server saw a client certificate (%d bytes) the second connection never sent", version, tc.name, len(seen[0]))
				case id != nil && (len(seen) == 0 || !bytes.Equal(seen[0], id.Chain[0])):
					t.Errorf("%#x %s: the server did not see the certificate the second connection presents", version, tc.name)
				}
				if got := client.State().LocalIdentity; got != id {
					t.Errorf("%#x %s: the client reports identity %s, want %s", version, tc.name, leafName(got), leafName(id))
				}
			}
		}
	}
}

// leafName is the common name of id's leaf, "none" for no identity.
func leafName(id *backends.Identity) string {
	switch {
	case id == nil:
		return "none"
	case id.Leaf == nil:
		return "an identity without a parsed leaf"
	}
	return id.Leaf.Subject.CommonName
}

// TestRequestingServerResumesNoAnonymousSession: a server that asks for a
// client certificate resumes no session in which the client presented
// none: a resumption sends no CertificateRequest, so the client would
// never be asked. It makes a full handshake instead, whose request the
// client answers (circl-pq resumes nothing when it asks). Before, a
// client holding a ticket of a server that did not ask (another guest
// server presenting the same certificate, say) resumed it at one that
// asks without being asked, and the server saw no certificate: a server
// that insists failed a client that had one. A session that carries a
// certificate still resumes there, its chain verified again.
func TestRequestingServerResumesNoAnonymousSession(t *testing.T) {
	f := newFixture(t)
	keys := func() []backends.TicketKey { return []backends.TicketKey{{8}} }
	for _, version := range []uint16{0x0304, 0x0303} {
		for _, auth := range []backends.ClientAuth{backends.RequestClientCert, backends.RequireClientCert} {
			cache := backends.NewLRUSessionCache(4)
			for i, requested := range []bool{false, true} {
				cc, sc := f.configs()
				cc.Sessions, cc.Versions = cache, []uint16{version}
				cc.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
					return []*backends.Identity{f.client.Identity()}, nil
				}
				sc.Versions, sc.TicketKeys = []uint16{version}, keys
				if requested {
					sc.ClientAuth = auth
				}
				client, server, cerr, serr := handshake(t, cc, sc)
				if cerr != nil || serr != nil {
					t.Fatalf("%#x %d %d: client %v, server %v", version, auth, i, cerr, serr)
				}
				if err := serverByte(client, server); err != nil {
					t.Fatal(err)
				}
				if !requested {
					continue
				}
				st := server.State()
				if st.DidResume || len(st.PeerChain) == 0 {
					t.Errorf("%#x %d: the server that asks resumed %v and saw %d client certificates; want a full handshake and the client's", version, auth, st.DidResume, len(st.PeerChain))
				}
			}
		}
	}
}
