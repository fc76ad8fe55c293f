package stdtls_test

import (
	"crypto/tls"
	"sync"
	"testing"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// oneSession is a tls.ClientSessionCache that offers the last session it
// was given under any key: a client that offers a ticket for another
// server name than the one it was issued under.
type oneSession struct {
	mu   sync.Mutex
	last *tls.ClientSessionState
}

func (c *oneSession) Get(string) (*tls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, c.last != nil
}

func (c *oneSession) Put(_ string, cs *tls.ClientSessionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cs != nil {
		c.last = cs
	}
}

// TestTLS12TicketNotResumedKeepsIdentity: a TLS 1.2 ticket that opens but
// does not resume (here its cipher suite is not the server's) leaves the
// server presenting, reporting and binding its next ticket to the
// identity its full handshake presented. crypto/tls picks the TLS 1.2
// certificate before it opens the ticket; before, opening the ticket made
// the ticket's identity the connection's: a client offering a ticket of
// identity A under B's server name, with a suite the server no longer
// takes, was served B's certificate while the guest was told it presented
// A, and got a ticket bound to A of a session authenticated as B, which a
// server holding A alone then resumed: the client took a server without
// B's key for B. (TLS 1.3 picks the certificate only once the ticket
// failed to resume.)
func TestTLS12TicketNotResumedKeepsIdentity(t *testing.T) {
	f := newFixture(t)
	leafB, err := f.ca.Issue(testpki.LeafOptions{DNSNames: []string{"b.test"}})
	if err != nil {
		t.Fatal(err)
	}
	idA, idB := f.server.Identity(), leafB.Identity()
	keys := func() []backends.TicketKey { return []backends.TicketKey{{5}} }
	const aes, chacha = tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
	cache := &oneSession{}
	for i, step := range []struct {
		name, serverName string
		ids              []*backends.Identity
		suites           []uint16
		resume           bool
		presents         *backends.Identity
	}{
		{"A's ticket", "a.test", []*backends.Identity{idA, idB}, []uint16{aes}, false, idA},
		{"A's ticket under B's name, another suite", "b.test", []*backends.Identity{idA, idB}, []uint16{chacha}, false, idB},
		{"the new ticket at a server holding A alone", "b.test", []*backends.Identity{idA}, nil, false, idA},
		{"that server's ticket, under A's name", "a.test", []*backends.Identity{idA, idB}, nil, true, idA},
	} {
		sc := &backends.ServerConfig{Identities: step.ids, TicketKeys: keys}
		sc.Versions, sc.CipherSuites = []uint16{tls.VersionTLS12}, step.suites
		// The client: any name, no validation, any ticket it holds.
		client, server, cerr, serr := goClientExchange(t, &tls.Config{ServerName: step.serverName, InsecureSkipVerify: true, ClientSessionCache: cache,
			MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{aes, chacha}}, sc)
		if cerr != nil || serr != nil {
			t.Fatalf("%d %s: client %v, server %v", i, step.name, cerr, serr)
		}
		cs, st := client.ConnectionState(), server.State()
		if cs.DidResume != step.resume || st.DidResume != step.resume {
			t.Errorf("%d %s: resumed %v / %v, want %v", i, step.name, cs.DidResume, st.DidResume, step.resume)
		}
		if st.LocalIdentity != step.presents {
			t.Errorf("%d %s: the server reports presenting %s, want %s", i, step.name, dnsName(st.LocalIdentity), dnsName(step.presents))
		}
		if got := cs.PeerCertificates[0].DNSNames[0]; got != dnsName(step.presents) {
			t.Errorf("%d %s: the client took the server for %s, want %s", i, step.name, got, dnsName(step.presents))
		}
	}
}

// dnsName is the first DNS name of id's leaf.
func dnsName(id *backends.Identity) string {
	if id == nil || id.Leaf == nil || len(id.Leaf.DNSNames) == 0 {
		return "none"
	}
	return id.Leaf.DNSNames[0]
}
