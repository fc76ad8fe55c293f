package circlpq

import (
	"crypto/x509"
	"hash"
	"time"

	"github.com/wasitls/wasitls/backends"
)

// Session resumption, client side (RFC 8446, Section 2.2 and 4.2.11).
//
// A client resumes only when it was given a session cache
// (ClientConfig.Sessions, or a SessionCache through SetSessionCache): it
// then offers psk_dhe_ke, keeps the tickets servers send, keyed by server
// name, and offers the newest one for that name with its binder. Each
// ticket is offered once (RFC 8446, Appendix C.4). A connection that
// presented a client certificate keeps no ticket (storeTicket). A session
// is offered only to a configuration that would accept the chain it was
// authenticated with now: unless the configuration skips validation, the
// chain is validated again against its RootCAs, server name and clock,
// and a session made without validation is never offered (RFC 8446,
// Section 4.6.1; crypto/tls does the same). A cache shared by
// configurations that trust differently, or kept while the trust anchors
// change, is then no way around validation. A resumed handshake
// runs a fresh key exchange, reports the certificate chain of the session
// it resumed and hands that chain to VerifyServer, as a full one would.

// A SessionCache keeps TLS 1.3 tickets for client connections, at most one
// per server name, least recently stored first out. It is safe for
// concurrent use by many connections.
type SessionCache = backends.LRUSessionCache

// clientSession is what a client keeps of a ticket.
type clientSession struct {
	suite      uint16
	psk        []byte
	ticket     []byte
	ageAdd     uint32
	receivedAt time.Time
	lifetime   time.Duration
	peerChain  [][]byte
	// ocspResponse is the OCSP response stapled to the full handshake.
	ocspResponse []byte
	notAfter     time.Time // of the server certificate
	verified     bool      // peerChain was validated (not InsecureSkipVerify)
}

// NewSessionCache returns a cache of at most capacity tickets (16 when
// capacity is not positive).
func NewSessionCache(capacity int) *SessionCache {
	return backends.NewLRUSessionCache(capacity)
}

// takeSession removes and returns the session for key from cache, if it
// is one of this backend's and still valid.
func takeSession(cache backends.SessionCache, key string, now time.Time) *clientSession {
	v, ok := cache.Get(key)
	if !ok {
		return nil
	}
	cache.Put(key, nil)
	s, _ := v.(*clientSession)
	// A session outlives neither its ticket nor the certificate that
	// authenticated it.
	if s == nil || now.After(s.receivedAt.Add(s.lifetime)) || now.After(s.notAfter) {
		return nil
	}
	return s
}

// SetSessionCache makes a client connection resume from, and store tickets
// in, cache. It must be called before Handshake.
func (c *Conn) SetSessionCache(cache *SessionCache) {
	c.sessionCache = cache
}

// maxTicketLifetime is the longest lifetime a ticket may claim
// (RFC 8446, Section 4.6.1: seven days).
const maxTicketLifetime = 7 * 24 * time.Hour

// maxStoredTickets bounds the tickets a connection stores. Servers send one
// or two after the handshake, and a few more on a long connection; each
// stored one costs a certificate parse and a key derivation, so a server
// sending one between bytes of data could otherwise spend the client's CPU
// at a hundred times the cost of the data. Later tickets are dropped, which
// RFC 8446 allows (a client need not use every ticket, Section 4.6.1).
const maxStoredTickets = 16

// storeTicket keeps a NewSessionTicket for later resumption. A lifetime
// over seven days is illegal_parameter, as crypto/tls has it: "Servers
// MUST NOT use any value greater than 604800 seconds" (RFC 8446, Section
// 4.6.1); before, it was cut to seven days and stored. The caller holds
// in.
func (c *Conn) storeTicket(t *newSessionTicketMsg) error {
	if c.sessionCache == nil || c.resumptionSecret == nil || t.lifetime == 0 {
		return nil
	}
	lifetime := time.Duration(t.lifetime) * time.Second
	if lifetime > maxTicketLifetime {
		return c.fail(alertIllegalParameter, "tls: session ticket with a lifetime of %d s, over seven days", t.lifetime)
	}
	if c.storedTickets++; c.storedTickets > maxStoredTickets {
		return nil
	}
	st := c.State()
	chain := st.PeerChain
	if len(chain) == 0 {
		return nil
	}
	// A connection that presented a client certificate, in its handshake
	// or after it, keeps no session: a resumption sends no certificate,
	// the server takes the client for the one the session's handshake
	// authenticated, so any later connection to the server name would
	// present it, whatever its own ClientIdentity answers (nothing,
	// another identity), and report none.
	if st.LocalIdentity != nil {
		return nil
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil // nothing to bound the session by: no resumption
	}
	c.sessionCache.Put(c.sessionKey, &clientSession{
		suite:        c.suite.id,
		psk:          c.suite.resumptionPSK(c.resumptionSecret, t.nonce),
		ticket:       append([]byte(nil), t.ticket...),
		ageAdd:       t.ageAdd,
		receivedAt:   time.Now(),
		lifetime:     lifetime,
		peerChain:    chain,
		ocspResponse: st.OCSPResponse,
		notAfter:     leaf.NotAfter,
		verified:     !c.clientConfig.InsecureSkipVerify,
	})
	return nil
}

// offerSession adds the cached ticket for this server to the ClientHello,
// with a placeholder binder that setBinder fills in, and encodes it again
// into hs.hello.raw.
func (hs *clientHandshakeState) offerSession() {
	c := hs.c
	if c.sessionCache == nil {
		return
	}
	c.sessionKey = hs.config.ServerName
	s := takeSession(c.sessionCache, c.sessionKey, time.Now())
	if s == nil || cipherSuiteByID(s.suite) == nil || !contains(hs.hello.cipherSuites, s.suite) || !s.trustedBy(hs.config) {
		return
	}
	// RFC 8446, Section 4.2.11.1: the age in milliseconds plus age_add.
	age := uint32(time.Since(s.receivedAt) / time.Millisecond)
	hs.hello.pskIdentities = []pskIdentity{{label: s.ticket, obfuscatedTicketAge: age + s.ageAdd}}
	hs.hello.pskBinders = [][]byte{make([]byte, cipherSuiteByID(s.suite).hash.Size())}
	// A ticket may take up to 65,535 bytes, more than the ClientHello's
	// extensions hold beside the rest: one that does not fit is not
	// offered (before, encoding the ClientHello panicked, and a server
	// that sent such a ticket crashed the process at the next handshake
	// to its name).
	raw, err := hs.hello.encode()
	if err != nil {
		hs.hello.pskIdentities, hs.hello.pskBinders = nil, nil
		return
	}
	hs.hello.raw = raw
	hs.session = s
}

// trustedBy reports whether config would accept the session's chain now:
// it skips validation, or the session's chain was validated and still
// validates against config's roots, server name and clock.
func (s *clientSession) trustedBy(config *backends.ClientConfig) bool {
	if config.InsecureSkipVerify {
		return true
	}
	if !s.verified {
		return false
	}
	certs, err := parseChain(s.peerChain, config.RSAKeyBitsLimit())
	return err == nil && verifyChain(certs, config.RootCAs, config.ServerName, x509.ExtKeyUsageServerAuth, config.Time) == nil
}

// setBinder computes the PSK binder over prefix (the transcript before
// this ClientHello) and the ClientHello without its binders
// (RFC 8446, Section 4.2.11.2).
func (hs *clientHandshakeState) setBinder(prefix []byte) {
	if hs.session == nil {
		return
	}
	h := cipherSuiteByID(hs.session.suite).newHash()
	h.Write(prefix)
	hs.setBinderFrom(h)
}

// setBinderFrom is setBinder with the prefix given as a hash state. It
// writes the binder over the placeholder of the same length at the end of
// hs.hello.raw, the ClientHello as encoded (the binders are its last
// bytes: pre_shared_key is the last extension), rather than encoding it
// once more.
func (hs *clientHandshakeState) setBinderFrom(h hash.Hash) {
	suite := cipherSuiteByID(hs.session.suite)
	raw := hs.hello.raw
	h.Write(raw[:len(raw)-hs.hello.bindersLength()])
	binder := suite.finishedHash(suite.binderKey(hs.session.psk), h)
	hs.hello.pskBinders = [][]byte{binder}
	copy(raw[len(raw)-len(binder):], binder)
}
