package stdtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/wasitls/wasitls/backends"
)

// Server returns a server connection over transport.
func (Backend) Server(transportConn net.Conn, config *backends.ServerConfig) (backends.Conn, error) {
	if transportConn == nil || config == nil {
		return nil, errors.New("stdtls: Server needs a transport and a config")
	}
	c := newConn(transportConn, false)
	c.server = config
	cfg, err := c.serverTLSConfig(config)
	if err != nil {
		return nil, err
	}
	cfg.GetConfigForClient = c.clientHello
	c.tls = tls.Server(c.raw, cfg)
	return c, nil
}

// serverTLSConfig builds the tls.Config for sc's settings with the hooks of
// the connection's original config.
func (c *conn) serverTLSConfig(sc *backends.ServerConfig) (*tls.Config, error) {
	cfg := &tls.Config{ClientCAs: sc.ClientCAs}
	// Each connection has its own config: tickets are sealed with the
	// host's keys, so that another connection can open them. Without keys
	// none are issued and none are accepted.
	var keys []backends.TicketKey
	if sc.TicketKeys != nil {
		keys = sc.TicketKeys()
	}
	if len(keys) == 0 {
		cfg.SessionTicketsDisabled = true
	} else {
		cfg.SetSessionTicketKeys(keys)
	}
	if err := applyOptions(cfg, &sc.Options); err != nil {
		return nil, err
	}
	switch sc.ClientAuth {
	case backends.NoClientCert:
		cfg.ClientAuth = tls.NoClientCert
	case backends.RequestClientCert:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case backends.RequireClientCert:
		// An empty Certificate fails with certificate_required
		// (RFC 8446, Section 4.4.2.4).
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return nil, fmt.Errorf("stdtls: unknown ClientAuth %d", sc.ClientAuth)
	}
	// A pool whose names do not fit in the request: crypto/tls would name
	// them all and fail every handshake that asks for a certificate, so
	// the request names none and the chain is verified here instead.
	var verifyChain func([]*x509.Certificate) error
	if sc.ClientAuth != backends.NoClientCert && sc.ClientCAs != nil && len(backends.CANames(sc.ClientCAs)) == 0 {
		verifyChain = func(certs []*x509.Certificate) error { return verifyClientChain(certs, sc.ClientCAs, cfg.Time) }
		cfg.ClientCAs = nil
		if cfg.ClientAuth == tls.RequireAndVerifyClientCert {
			cfg.ClientAuth = tls.RequireAnyClientCert
		} else {
			cfg.ClientAuth = tls.RequestClientCert
		}
	}
	for i, id := range sc.Identities {
		if id == nil || len(id.Chain) == 0 || id.Key == nil {
			return nil, fmt.Errorf("stdtls: server identity %d has no chain or key", i)
		}
	}
	// Each identity once: pickIdentity tries them in order.
	ids := slices.Clone(backends.Distinct(sc.Identities))
	if !cfg.SessionTicketsDisabled {
		c.bindTickets(cfg, ids, sc.ClientAuth != backends.NoClientCert)
	}
	cfg.GetCertificate = func(chi *tls.ClientHelloInfo) (*tls.Certificate, error) {
		return c.pickIdentity(chi, ids)
	}
	requested := sc.ClientAuth != backends.NoClientCert
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		c.record(&cs)
		if err := c.countPeerHeap(&cs); err != nil {
			return err
		}
		if err := checkRSAKeys(cs, &sc.Options); err != nil {
			return err
		}
		// On resumption too, as crypto/tls checks a resumed session's
		// verified chains against ClientCAs.
		if verifyChain != nil && len(cs.PeerCertificates) > 0 {
			if err := verifyChain(cs.PeerCertificates); err != nil {
				c.raw.armAlert(certificateAlert(err))
				return err
			}
		}
		if !requested || c.server.VerifyClient == nil {
			return nil
		}
		if !c.calledVerify.CompareAndSwap(false, true) {
			return errors.New("stdtls: client verification requested twice in one handshake")
		}
		// crypto/tls sends bad_certificate for any error returned here.
		return c.server.VerifyClient(c.ctx(), rawChain(cs.PeerCertificates))
	}
	return cfg, nil
}

// pickIdentity returns the first identity that fits the ClientHello's server
// name and signature schemes, else the first whose signature the client can
// verify (the client then reports the name mismatch). When none fits, the
// error names why the first does not (crypto/tls's reason: signature
// schemes, curves, or in TLS 1.2 cipher suites).
//
// The server name only chooses between identities: a lone one is picked
// whenever the client can verify its signature, name or not, so its name
// is not checked (x509's parsing of the name and the certificate's, five
// allocations a handshake, for nothing).
func (c *conn) pickIdentity(chi *tls.ClientHelloInfo, ids []*backends.Identity) (*tls.Certificate, error) {
	if len(ids) == 0 {
		c.raw.armAlert(backends.AlertHandshakeFailure)
		return nil, errors.New("stdtls: no server identity configured")
	}
	certs := make([]*tls.Certificate, len(ids))
	for i, id := range ids {
		certs[i] = tlsCertificate(id)
		if len(ids) > 1 && chi.SupportsCertificate(certs[i]) == nil {
			c.setLocal(id)
			return certs[i], nil
		}
	}
	anyName := *chi
	anyName.ServerName = ""
	var why error
	for i, cert := range certs {
		err := anyName.SupportsCertificate(cert)
		if err == nil {
			c.setLocal(ids[i])
			return cert, nil
		}
		if why == nil {
			why = err
		}
	}
	c.raw.armAlert(backends.AlertHandshakeFailure)
	return nil, fmt.Errorf("stdtls: none of the %d server identities fits the client's hello (the first: %v)", len(ids), why)
}

// clientHello is the config for the handshake once its ClientHello
// arrived: the hook's (helloConfig), its ALPN IDs narrowed to the one
// crypto/tls would pick when the lists are long. crypto/tls compares each
// of the server's IDs with each of the client's, and a guest's server may
// accept some 21,000 (65,535 bytes) as a peer may offer as many: some
// 4.5·10^8 comparisons, a second of CPU in one handshake that neither its
// context nor Close could end.
func (c *conn) clientHello(chi *tls.ClientHelloInfo) (*tls.Config, error) {
	cfg, err := c.helloConfig(chi)
	if err != nil {
		return nil, err
	}
	alpn := c.server.ALPN
	if cfg != nil {
		alpn = cfg.NextProtos
	}
	if len(alpn)*len(chi.SupportedProtos) <= alpnPairs {
		return cfg, nil
	}
	if cfg == nil {
		if cfg, err = c.serverTLSConfig(c.server); err != nil {
			c.raw.armAlert(backends.AlertInternalError)
			return nil, err
		}
	}
	cfg.NextProtos = pickALPN(alpn, chi.SupportedProtos)
	return cfg, nil
}

// alpnPairs is how many pairs of the server's and the client's ALPN IDs
// crypto/tls is left to compare.
const alpnPairs = 1 << 12

// pickALPN returns what crypto/tls negotiates between server's IDs and
// client's, as the server's list of one: the first of server that client
// offers; with none in common, "h2" if server has it and client offers
// "http/1.1" (which crypto/tls lets through without ALPN), else server's
// first (which fails the handshake as the whole list would).
func pickALPN(server, client []string) []string {
	offered := make(map[string]struct{}, len(client))
	for _, p := range client {
		offered[p] = struct{}{}
	}
	for _, p := range server {
		if _, ok := offered[p]; ok {
			return []string{p}
		}
	}
	if _, ok := offered["http/1.1"]; ok && slices.Contains(server, "h2") {
		return []string{"h2"}
	}
	return server[:1]
}

// helloConfig calls the ClientHello hook once the ClientHello arrived and
// builds the replacement config it may return. It runs before the
// ServerHello, so its alerts are plaintext and the one asked for is sent.
func (c *conn) helloConfig(chi *tls.ClientHelloInfo) (*tls.Config, error) {
	c.mu.Lock()
	c.state.ServerName = chi.ServerName
	c.mu.Unlock()
	if c.server.ClientHello == nil {
		return nil, nil
	}
	if !c.calledHello.CompareAndSwap(false, true) {
		return nil, nil // a second ClientHello after HelloRetryRequest: keep the decision
	}
	hello := &backends.ClientHello{
		ServerName:       chi.ServerName,
		ALPN:             chi.SupportedProtos,
		CipherSuites:     chi.CipherSuites,
		Versions:         chi.SupportedVersions,
		Groups:           curvesToUint16(chi.SupportedCurves),
		SignatureSchemes: schemesToUint16(chi.SignatureSchemes),
	}
	repl, err := c.server.ClientHello(chi.Context(), hello)
	if err != nil {
		var ae *backends.SendAlertError
		switch {
		case errors.As(err, &ae):
			c.raw.armAlert(ae.Alert)
		case errors.Is(err, backends.ErrAborted):
			c.raw.armAlert(backends.AlertHandshakeFailure)
		}
		return nil, err
	}
	if repl == nil {
		return nil, nil
	}
	cfg, err := c.serverTLSConfig(repl)
	if err != nil {
		c.raw.armAlert(backends.AlertInternalError)
		return nil, fmt.Errorf("stdtls: configuration returned by the ClientHello hook: %w", err)
	}
	return cfg, nil
}

// verifyClientChain validates a client's chain against roots as crypto/tls
// does for ClientCAs (the leaf for client authentication, the rest of the
// chain as intermediates, at now's time), for a server whose
// CertificateRequest names no CAs because they do not fit.
func verifyClientChain(certs []*x509.Certificate, roots *x509.CertPool, now func() time.Time) error {
	opts := x509.VerifyOptions{
		Roots:         roots,
		CurrentTime:   time.Now(),
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if now != nil {
		opts.CurrentTime = now()
	}
	for _, cert := range certs[1:] {
		opts.Intermediates.AddCert(cert)
	}
	if _, err := certs[0].Verify(opts); err != nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
	}
	return nil
}

// certificateAlert is crypto/tls's alert for a client chain that failed
// validation: unknown_ca, certificate_expired or bad_certificate.
func certificateAlert(err error) backends.Alert {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		return backends.AlertUnknownCA
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return backends.AlertCertificateExpired
	}
	return backends.AlertBadCertificate
}
