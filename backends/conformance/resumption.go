package conformance

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// Session resumption: a client keeping its sessions in a cache
// (ClientConfig.Sessions) connects twice, reading the server's tickets in
// an exchange; the server seals them with the keys of
// ServerConfig.TicketKeys. Each scenario has a cache of its own. The
// crypto/tls peers keep their sessions in the same cache and seal with
// the same keys.

// A resumption is a scenario: a first connection, then a second one
// that must resume or not, or that the client must refuse (its
// validation failing on a full handshake, which a resumption would have
// skipped).
type resumption struct {
	name          string
	first, then   *backends.ClientConfig
	firstS, thenS *backends.ServerConfig
	resume, fails bool
	// sees, when checked, is the client certificate the second
	// connection's server sees (nil: none).
	sees      *testpki.Leaf
	checkSees bool
}

// runResumptions runs each scenario as a subtest.
func (e *env) runResumptions(scenarios []resumption) {
	e.t.Helper()
	for _, sc := range scenarios {
		e.t.Run(sc.name, func(t *testing.T) {
			e2 := *e
			e2.t = t
			e2.resumeOnce(sc)
		})
	}
}

func (e *env) resumeOnce(r resumption) {
	cache := backends.NewLRUSessionCache(4)
	r.first.Sessions, r.then.Sessions = cache, cache
	p := e.mustConnect(r.first, r.firstS)
	e.exchange(p) // the client reads the tickets on its way
	p = e.connect(r.then, r.thenS)
	if r.fails {
		if p.clientErr == nil {
			e.t.Errorf("the second handshake succeeded (resumed %v); want the client to refuse the server", p.client.State().DidResume)
		}
		return
	}
	if p.clientErr != nil || p.serverErr != nil {
		e.t.Fatalf("second handshake: client %v, server %v", p.clientErr, p.serverErr)
	}
	if c, s := p.client.State().DidResume, p.server.State().DidResume; c != r.resume || s != r.resume {
		e.t.Errorf("the second connection resumed %v (client) / %v (server); want %v", c, s, r.resume)
	}
	if !r.checkSees {
		return
	}
	switch chain := p.server.State().PeerChain; {
	case r.sees == nil && len(chain) > 0:
		e.t.Errorf("the second connection's server saw a client certificate the client did not present")
	case r.sees != nil && (len(chain) == 0 || !bytes.Equal(chain[0], r.sees.Cert.Raw)):
		e.t.Errorf("the second connection's server did not see the client certificate presented (%d certificates)", len(chain))
	}
}

// resumingServer is a server presenting ids that seals its tickets with
// the key of byte key (0: no keys, no tickets).
func (p *pki) resumingServer(key byte, ids ...*testpki.Leaf) *backends.ServerConfig {
	sc := p.serverConfig(ids...)
	if key != 0 {
		sc.TicketKeys = func() []backends.TicketKey { return []backends.TicketKey{{key}} }
	}
	return sc
}

// testResumptionRechecksTrust: a client offers a session only where the
// chain it was authenticated with validates again under the connection's
// trust anchors, server name and clock, and never one made without
// validation to a connection that validates (RFC 8446, Section 4.6.1): a
// cache shared by configurations whose trust differs is no way around
// validation.
func testResumptionRechecksTrust(e *env) {
	p := e.pki
	client := func(change func(*backends.ClientConfig)) *backends.ClientConfig {
		cc := p.clientConfig("a.test")
		if change != nil {
			change(cc)
		}
		return cc
	}
	otherRoots := func(cc *backends.ClientConfig) { cc.RootCAs = p.other.Pool() }
	skipping := func(cc *backends.ClientConfig) { cc.RootCAs, cc.InsecureSkipVerify = nil, true }
	later := func(cc *backends.ClientConfig) {
		cc.Time = func() time.Time { return p.serverA.Cert.NotAfter.Add(time.Hour) }
	}
	otherName := func(cc *backends.ClientConfig) { cc.ServerName = "b.test" }
	server := func() *backends.ServerConfig { return p.resumingServer(1, p.serverA) }
	e.runResumptions([]resumption{
		{name: "same trust", first: client(nil), then: client(nil), firstS: server(), thenS: server(), resume: true},
		{name: "roots replaced", first: client(nil), then: client(otherRoots), firstS: server(), thenS: server(), fails: true},
		{name: "certificate expired since", first: client(nil), then: client(later), firstS: server(), thenS: server(), fails: true},
		{name: "another name", first: client(nil), then: client(otherName), firstS: server(), thenS: server(), fails: true},
		{name: "first skipped validation", first: client(skipping), then: client(nil), firstS: server(), thenS: server()},
	})
}

// testTicketBoundToIdentity: a server resumes a ticket only when it holds
// the identity the ticket was issued under, and a key that opens it.
// Servers of one host share its ticket keys: a server holding the keys
// but not the identity would otherwise pass for the identity's server
// without its key, the client checking no certificate on a resumption.
func testTicketBoundToIdentity(e *env) {
	p := e.pki
	a := func() *backends.ClientConfig { return p.clientConfig("a.test") }
	issued := p.resumingServer(1, p.serverA)
	e.runResumptions([]resumption{
		// Not resumed, the full handshake presents b.test's certificate,
		// which the client refuses for a.test.
		{name: "a server holding another identity", first: a(), then: a(), firstS: issued, thenS: p.resumingServer(1, p.serverB), fails: true},
		{name: "a server holding it among others", first: a(), then: a(), firstS: issued, thenS: p.resumingServer(1, p.serverB, p.serverA), resume: true},
		{name: "another key", first: a(), then: a(), firstS: issued, thenS: p.resumingServer(2, p.serverA)},
		{name: "no keys", first: a(), then: a(), firstS: issued, thenS: p.resumingServer(0, p.serverA)},
	})
}

// presenting is a client of a.test that answers a certificate request
// with l (nil: with nothing).
func (p *pki) presenting(l *testpki.Leaf) *backends.ClientConfig {
	cc := p.clientConfig("a.test")
	cc.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
		if l == nil {
			return nil, nil
		}
		return []*backends.Identity{l.Identity()}, nil
	}
	return cc
}

// asking is resumingServer asking for a client certificate (and
// accepting none).
func (p *pki) asking(key byte, ids ...*testpki.Leaf) *backends.ServerConfig {
	sc := p.resumingServer(key, ids...)
	sc.ClientAuth = backends.RequestClientCert
	return sc
}

// testResumptionKeepsNoClientIdentity: a client connection that presented
// a certificate keeps no session. A resumption sends no certificate: the
// server takes the client for the one the session's handshake
// authenticated, so a later connection that presents none would pass for
// that identity. (Against a server that seals the client's chain into
// its tickets; one that issues none to a client it asked passes alike.)
func testResumptionKeepsNoClientIdentity(e *env) {
	p := e.pki
	e.runResumptions([]resumption{
		{name: "presented, then none", first: p.presenting(p.client), then: p.presenting(nil),
			firstS: p.asking(1, p.serverA), thenS: p.asking(1, p.serverA), checkSees: true},
		{name: "none, then none", first: p.presenting(nil), then: p.presenting(nil),
			firstS: p.resumingServer(1, p.serverA), thenS: p.resumingServer(1, p.serverA), resume: true},
	})
}

// testAskingServerResumesNoAnonymousSession: a server that asks for a
// client certificate resumes no session in which the client presented
// none (a resumption sends no request, and the client would never be
// asked), but makes a full handshake that asks.
func testAskingServerResumesNoAnonymousSession(e *env) {
	p := e.pki
	e.runResumptions([]resumption{
		{name: "issued without asking", first: p.presenting(p.client), then: p.presenting(p.client),
			firstS: p.resumingServer(1, p.serverA), thenS: p.asking(1, p.serverA), sees: p.client, checkSees: true},
	})
}
