package stdtls

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync/atomic"

	"github.com/wasitls/wasitls/backends"
)

// Client returns a client connection over transport.
func (Backend) Client(transportConn net.Conn, config *backends.ClientConfig) (backends.Conn, error) {
	if transportConn == nil || config == nil {
		return nil, errors.New("stdtls: Client needs a transport and a config")
	}
	if config.ServerName == "" && !config.InsecureSkipVerify {
		return nil, errors.New("stdtls: ClientConfig.ServerName is empty: the server's certificate cannot be validated")
	}
	c := newConn(transportConn, true)
	c.client = config
	cfg := &c.cfg
	cfg.ServerName = config.ServerName
	cfg.RootCAs = config.RootCAs
	cfg.InsecureSkipVerify = config.InsecureSkipVerify
	if err := applyOptions(cfg, &config.Options); err != nil {
		return nil, err
	}
	cfg.VerifyConnection = c.verifyServer
	cfg.GetClientCertificate = c.clientCertificate
	if config.Sessions != nil {
		c.cache.c, c.cache.conn = config.Sessions, c
		cfg.ClientSessionCache = &c.cache
	}
	c.state.ServerName = config.ServerName
	c.tls = tls.Client(c.raw, cfg)
	return c, nil
}

// verifyServer runs after crypto/tls validated the server's chain (unless
// the host disabled validation), on full handshakes and resumptions.
// It comes before the server's CertificateVerify is checked, and so does
// checkRSAKeys's bound.
func (c *conn) verifyServer(cs tls.ConnectionState) error {
	c.record(&cs)
	if err := c.countPeerHeap(&cs); err != nil {
		return err
	}
	if err := checkRSAKeys(cs, &c.client.Options); err != nil {
		return err
	}
	if c.client.VerifyServer == nil {
		return nil
	}
	if !c.calledVerify.CompareAndSwap(false, true) {
		return errors.New("stdtls: server verification requested twice in one handshake")
	}
	// crypto/tls sends bad_certificate for any error returned here.
	return c.client.VerifyServer(c.ctx(), rawChain(cs.PeerCertificates))
}

// clientCertificate answers a CertificateRequest (RFC 8446, Section 4.3.2)
// with the first candidate the request allows, or an empty Certificate.
func (c *conn) clientCertificate(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
	if !c.calledIdentity.CompareAndSwap(false, true) {
		return nil, errors.New("stdtls: client identity requested twice in one handshake")
	}
	if c.client.ClientIdentity == nil {
		return &tls.Certificate{}, nil
	}
	req := &backends.IdentityRequest{
		SignatureSchemes: schemesToUint16(cri.SignatureSchemes),
		AcceptableCAs:    cri.AcceptableCAs,
	}
	ids, err := c.client.ClientIdentity(cri.Context(), req)
	if err != nil {
		// crypto/tls sends internal_error.
		return nil, err
	}
	// The request as crypto/tls checks it, its CAs looked up in a set
	// (Identity.IssuedByOneOf, with names each identity read once) rather
	// than compared with each certificate of each identity.
	cas := backends.NewNameSet(cri.AcceptableCAs)
	anyCA := *cri
	anyCA.AcceptableCAs = nil
	for _, id := range backends.Distinct(ids) {
		if id == nil || len(id.Chain) == 0 || id.Key == nil {
			continue
		}
		cert := tlsCertificate(id)
		if anyCA.SupportsCertificate(cert) == nil && (len(cas) == 0 || id.IssuedByOneOf(cas)) {
			c.setLocal(id)
			return cert, nil
		}
	}
	// Nothing fits: send an empty Certificate and let the server decide
	// (RFC 8446, Section 4.4.2).
	return &tls.Certificate{}, nil
}

// sessionCache is the host's session cache as crypto/tls wants it, for
// one connection; the values are *clientSession.
type sessionCache struct {
	c    backends.SessionCache
	conn *conn
	// base is what a session of the connection holds on the heap beside
	// its ticket, measured once (see heapBytes); crypto/tls calls Put
	// from its handshake or from Read, one call at a time.
	base     int64
	measured bool
}

// maxSessionHeap bounds what a session the cache stores may hold on the
// heap: a Certificate message's 256 KiB of chain, a ticket's 64 KiB, and
// as much again for what crypto/tls keeps parsed of them and of the
// verified chain's root. A session holding more is not stored (and one
// stored before under its key is dropped): the cache keeps its sessions
// after every connection is gone, uncounted, and a server sending after
// its trusted leaf certificates of thousands of one-letter URIs, 40 times
// their bytes parsed, made each session hold some 10 MiB, 640 MiB in a
// guest's full cache of 64. Ordinary sessions hold a few KiB, or a little
// more than their chain.
const maxSessionHeap = 640 << 10

// A clientSession is a crypto/tls session as the host's cache keeps it,
// with the version and group of the handshake that made it: a TLS 1.2
// resumption runs no key exchange, its keys are that handshake's, so it
// is offered only to a connection whose groups include that one's (see
// resumableUnder). made is version<<16 | group, 0 until the making
// handshake completed (TLS 1.2 stores its session before then; TLS 1.3
// tickets arrive after). A session whose handshake then failed (its
// context ended as crypto/tls completed it) stays 0, never offered,
// until the next handshake to the server name stores another.
type clientSession struct {
	cs   *tls.ClientSessionState
	made atomic.Uint32
}

func (s *sessionCache) Get(key string) (*tls.ClientSessionState, bool) {
	v, _ := s.c.Get(key)
	cs, ok := v.(*clientSession)
	if !ok || cs == nil || cs.cs == nil || !cs.resumableUnder(&s.conn.cfg) {
		return nil, false
	}
	return cs.cs, true
}

// resumableUnder reports whether a connection with cfg may resume the
// session. Before, a client whose groups were narrowed (a guest's
// configure-client-groups, to P-256 say) resumed a TLS 1.2 session
// another configuration made with X25519, its keys X25519's, and
// reported X25519 as the connection's group. A TLS 1.3 resumption runs a
// fresh key exchange in the connection's own groups.
func (s *clientSession) resumableUnder(cfg *tls.Config) bool {
	made := s.made.Load()
	version, group := uint16(made>>16), tls.CurveID(made)
	switch {
	case version == 0:
		return false // its handshake has not completed
	case version >= tls.VersionTLS13 || cfg.CurvePreferences == nil:
		return true
	}
	return group == 0 || slices.Contains(cfg.CurvePreferences, group)
}

// Put stores cs; crypto/tls passes nil to forget a session it could not
// use. A session of a connection that presented a client certificate is
// not stored (and one stored before under its key is dropped): a
// resumption sends no certificate, the server takes the client for the
// one the session's handshake authenticated, so any later connection to
// the server name would present that certificate, whatever its own
// ClientIdentity answers (nothing, another identity), and report none.
func (s *sessionCache) Put(key string, cs *tls.ClientSessionState) {
	if cs == nil || s.conn.presentedIdentity() || s.heapBytes(cs) > maxSessionHeap {
		s.c.Put(key, nil)
		return
	}
	stored := &clientSession{cs: cs}
	s.conn.madeSession(stored)
	s.c.Put(key, stored)
}

// heapBytes returns what cs holds on the heap. The sessions crypto/tls
// stores for one connection differ in their ticket and resumption secret
// only: a TLS 1.3 server sends any number of tickets, each one a session
// of the connection's chain. So the rest, the server's parsed chain above
// all, is walked once a connection, with the first session, and a later
// one adds its own ticket to that. Before, each session was walked whole:
// a server sending, after a trusted leaf, a certificate of 15,000
// one-letter URIs (60 KiB, 2.9 MiB parsed), then NewSessionTickets of
// some 30 bytes, 16 to a record between bytes of data, made each cost the
// client a walk of the 2.9 MiB, some 2 MiB allocated and milliseconds of
// CPU, as often as it cared to send one.
func (s *sessionCache) heapBytes(cs *tls.ClientSessionState) int64 {
	ticket, _, _ := cs.ResumptionState()
	if !s.measured {
		s.base, s.measured = backends.HeapBytes(cs)-backends.HeapBytes(ticket), true
	}
	return s.base + backends.HeapBytes(ticket)
}

// presentedIdentity reports whether the connection sent a client
// certificate.
func (c *conn) presentedIdentity() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state.LocalIdentity != nil
}

// madeSession records the version and group of c's handshake in a
// session it stores, now if the handshake completed, else once it does.
func (c *conn) madeSession(s *clientSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.HandshakeComplete {
		s.made.Store(uint32(c.state.Version)<<16 | uint32(c.state.Group))
		return
	}
	c.stored = s
}

// checkRSAKeys applies Options.MaxRSAKeyBits to the peer's chain, when
// the host set it below crypto/tls's own bound, which crypto/tls checks
// before it verifies anything (8192 bits unless GODEBUG=tlsmaxrsasize
// changes it; a higher MaxRSAKeyBits does not raise it). Here the chain's
// signatures were checked already, with keys within crypto/tls's bound,
// but not the peer's CertificateVerify.
func checkRSAKeys(cs tls.ConnectionState, o *backends.Options) error {
	if err := backends.CheckPeerRSAKeys(cs.PeerCertificates, o.RSAKeyBitsLimit()); err != nil {
		return fmt.Errorf("stdtls: %w", err)
	}
	return nil
}
