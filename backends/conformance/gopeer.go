package conformance

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/wasitls/wasitls/backends"
)

// goConn is crypto/tls behind the backends.Conn interface: the independent
// peer of the suite. It honours the static parts of a config and the hooks,
// the way a plain crypto/tls application would.
type goConn struct {
	*tls.Conn
	local *backends.Identity
}

func (g *goConn) Handshake(ctx context.Context) error { return g.HandshakeContext(ctx) }

func (g *goConn) State() backends.State {
	cs := g.ConnectionState()
	s := backends.State{
		HandshakeComplete: cs.HandshakeComplete,
		Version:           cs.Version,
		CipherSuite:       cs.CipherSuite,
		Group:             uint16(cs.CurveID),
		ALPN:              cs.NegotiatedProtocol,
		ServerName:        cs.ServerName,
		DidResume:         cs.DidResume,
		LocalIdentity:     g.local,
	}
	for _, c := range cs.PeerCertificates {
		s.PeerChain = append(s.PeerChain, c.Raw)
	}
	return s
}

func (g *goConn) RequestClientIdentity(context.Context) ([][]byte, error) {
	return nil, fmt.Errorf("crypto/tls: post-handshake client authentication: %w", backends.ErrNotSupported)
}

func goOptions(cfg *tls.Config, o *backends.Options) {
	for _, v := range o.Versions {
		if cfg.MinVersion == 0 || v < cfg.MinVersion {
			cfg.MinVersion = v
		}
		if v > cfg.MaxVersion {
			cfg.MaxVersion = v
		}
	}
	for _, g := range o.Groups {
		cfg.CurvePreferences = append(cfg.CurvePreferences, tls.CurveID(g))
	}
	cfg.NextProtos = o.ALPN
	cfg.Time = o.Time
}

func goClient(raw net.Conn, cc *backends.ClientConfig) backends.Conn {
	g := &goConn{}
	cfg := &tls.Config{ServerName: cc.ServerName, RootCAs: cc.RootCAs, InsecureSkipVerify: cc.InsecureSkipVerify}
	goOptions(cfg, &cc.Options)
	if cc.VerifyServer != nil {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			var chain [][]byte
			for _, c := range cs.PeerCertificates {
				chain = append(chain, c.Raw)
			}
			return cc.VerifyServer(context.Background(), chain)
		}
	}
	if cc.Sessions != nil {
		cfg.ClientSessionCache = goSessions{cc.Sessions}
	}
	cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if cc.ClientIdentity == nil {
			return &tls.Certificate{}, nil
		}
		ids, err := cc.ClientIdentity(cri.Context(), &backends.IdentityRequest{AcceptableCAs: cri.AcceptableCAs})
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			c := &tls.Certificate{Certificate: id.Chain, PrivateKey: id.Key, Leaf: id.Leaf}
			if cri.SupportsCertificate(c) == nil {
				g.local = id
				return c, nil
			}
		}
		return &tls.Certificate{}, nil
	}
	g.Conn = tls.Client(raw, cfg)
	return g
}

func goServerConfig(g *goConn, sc, hooks *backends.ServerConfig) *tls.Config {
	cfg := &tls.Config{ClientCAs: sc.ClientCAs}
	goOptions(cfg, &sc.Options)
	for _, id := range sc.Identities {
		cfg.Certificates = append(cfg.Certificates, tls.Certificate{Certificate: id.Chain, PrivateKey: id.Key, Leaf: id.Leaf})
	}
	// Tickets sealed with the config's keys resume at the configs given
	// the same; without TicketKeys each config has keys of its own.
	if sc.TicketKeys != nil {
		if keys := sc.TicketKeys(); len(keys) > 0 {
			cfg.SetSessionTicketKeys(keys)
		} else {
			cfg.SessionTicketsDisabled = true
		}
	}
	switch sc.ClientAuth {
	case backends.RequestClientCert:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case backends.RequireClientCert:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if sc.ClientAuth != backends.NoClientCert && hooks.VerifyClient != nil {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			var chain [][]byte
			for _, c := range cs.PeerCertificates {
				chain = append(chain, c.Raw)
			}
			return hooks.VerifyClient(context.Background(), chain)
		}
	}
	return cfg
}

func goServer(raw net.Conn, sc *backends.ServerConfig) backends.Conn {
	g := &goConn{}
	cfg := goServerConfig(g, sc, sc)
	if sc.ClientHello != nil {
		cfg.GetConfigForClient = func(chi *tls.ClientHelloInfo) (*tls.Config, error) {
			repl, err := sc.ClientHello(chi.Context(), &backends.ClientHello{
				ServerName: chi.ServerName, ALPN: chi.SupportedProtos, CipherSuites: chi.CipherSuites,
				Versions: chi.SupportedVersions,
			})
			if err != nil || repl == nil {
				return nil, err
			}
			return goServerConfig(g, repl, sc), nil
		}
	}
	g.Conn = tls.Server(raw, cfg)
	return g
}

// goSessions is a backends.SessionCache as crypto/tls's client wants it.
type goSessions struct{ c backends.SessionCache }

func (g goSessions) Get(key string) (*tls.ClientSessionState, bool) {
	v, _ := g.c.Get(key)
	cs, ok := v.(*tls.ClientSessionState)
	return cs, ok && cs != nil
}

func (g goSessions) Put(key string, cs *tls.ClientSessionState) {
	if cs == nil {
		g.c.Put(key, nil)
		return
	}
	g.c.Put(key, cs)
}
