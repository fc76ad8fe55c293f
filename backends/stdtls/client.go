package stdtls

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"

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
		c.cache.c = config.Sessions
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
	for _, id := range ids {
		if id == nil || len(id.Chain) == 0 || id.Key == nil {
			continue
		}
		cert := tlsCertificate(id)
		if cri.SupportsCertificate(cert) == nil {
			c.setLocal(id)
			return cert, nil
		}
	}
	// Nothing fits: send an empty Certificate and let the server decide
	// (RFC 8446, Section 4.4.2).
	return &tls.Certificate{}, nil
}

// sessionCache is the host's session cache as crypto/tls wants it; the
// values are *tls.ClientSessionState.
type sessionCache struct{ c backends.SessionCache }

func (s sessionCache) Get(key string) (*tls.ClientSessionState, bool) {
	v, _ := s.c.Get(key)
	cs, ok := v.(*tls.ClientSessionState)
	return cs, ok && cs != nil
}

// Put stores cs; crypto/tls passes nil to forget a session it could not use.
func (s sessionCache) Put(key string, cs *tls.ClientSessionState) {
	if cs == nil {
		s.c.Put(key, nil)
		return
	}
	s.c.Put(key, cs)
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
