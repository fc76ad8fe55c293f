package circlpq

import (
	"context"
	"crypto/tls"
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/quick"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// TestCertificateValidationAlerts checks the alerts of failed validation
// on both sides (RFC 8446, Section 6.2), against crypto/tls peers.
func TestCertificateValidationAlerts(t *testing.T) {
	p := pki(t)
	t.Run("server-certificate", func(t *testing.T) {
		for _, tc := range []struct {
			name       string
			leaf       *testpki.Leaf
			serverName string
			want       Alert
		}{
			{"expired", p.expired, "a.test", alertCertificateExpired},
			{"unknown-ca", p.untrust, "a.test", alertUnknownCA},
			{"wrong-name", p.p256, "b.test", alertBadCertificate},
			{"client-only-certificate", p.client, "a.test", alertBadCertificate},
		} {
			t.Run(tc.name, func(t *testing.T) {
				craw, sraw := tcpPair(t)
				cfg := p.clientConfig()
				cfg.ServerName = tc.serverName
				called := false
				cfg.VerifyServer = func(context.Context, [][]byte) error { called = true; return nil }
				_, chs := engineClient(t, craw, cfg)
				gcfg := p.goServerConfig(tc.leaf)
				gs := tls.Server(sraw, gcfg)
				cerr, serr := both(chs, func() error { return gs.HandshakeContext(context.Background()) })
				if a, ok := errorAlert(cerr); !ok || a != tc.want {
					t.Errorf("client error = %v; want %v", cerr, tc.want)
				}
				if serr == nil || !strings.Contains(serr.Error(), tc.want.String()) {
					t.Errorf("Go server error = %v; want the %v alert", serr, tc.want)
				}
				if called {
					t.Error("VerifyServer saw a chain that failed validation")
				}
			})
		}
	})
	t.Run("client-certificate", func(t *testing.T) {
		other, err := p.other.Issue(testpki.LeafOptions{CommonName: "stranger", Usage: testpki.ClientAuth})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			leaf *testpki.Leaf
			want Alert
		}{
			{"unknown-ca", other, alertUnknownCA},
			{"server-only-certificate", p.p256, alertBadCertificate},
		} {
			t.Run(tc.name, func(t *testing.T) {
				craw, sraw := tcpPair(t)
				gcfg := p.goClientConfig()
				// Sent whatever the server's certificate_authorities say.
				cert := tc.leaf.TLSCertificate()
				gcfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
				gc := tls.Client(craw, gcfg)
				scfg := p.serverConfig(p.p256)
				scfg.ClientAuth = backends.RequireClientCert
				s, shs := engineServer(t, sraw, scfg)
				cerr, serr := both(func() error {
					if err := gc.HandshakeContext(context.Background()); err != nil {
						return err
					}
					// A TLS 1.3 client learns of the rejection on its
					// first read.
					_, err := gc.Read(make([]byte, 1))
					return err
				}, shs)
				if a, ok := errorAlert(serr); !ok || a != tc.want {
					t.Errorf("server error = %v; want %v", serr, tc.want)
				}
				if cerr == nil || !strings.Contains(cerr.Error(), tc.want.String()) {
					t.Errorf("Go client error = %v; want the %v alert", cerr, tc.want)
				}
				if s.State().HandshakeComplete {
					t.Error("handshake reported complete")
				}
			})
		}
	})
	t.Run("client-certificate-required", func(t *testing.T) {
		craw, sraw := tcpPair(t)
		gc := tls.Client(craw, p.goClientConfig())
		scfg := p.serverConfig(p.p256)
		scfg.ClientAuth = backends.RequireClientCert
		_, shs := engineServer(t, sraw, scfg)
		cerr, serr := both(func() error {
			if err := gc.HandshakeContext(context.Background()); err != nil {
				return err
			}
			_, err := gc.Read(make([]byte, 1))
			return err
		}, shs)
		if a, ok := errorAlert(serr); !ok || a != alertCertificateRequired {
			t.Errorf("server error = %v; want certificate_required", serr)
		}
		if cerr == nil || !strings.Contains(cerr.Error(), "certificate required") {
			t.Errorf("Go client error = %v", cerr)
		}
	})
}

// TestALPNMismatch checks no_application_protocol in both directions
// (RFC 7301, Section 3.2).
func TestALPNMismatch(t *testing.T) {
	p := pki(t)
	t.Run("engine-server", func(t *testing.T) {
		craw, sraw := tcpPair(t)
		gcfg := p.goClientConfig()
		gcfg.NextProtos = []string{"h2"}
		gc := tls.Client(craw, gcfg)
		scfg := p.serverConfig(p.p256)
		scfg.ALPN = []string{"http/1.1"}
		_, shs := engineServer(t, sraw, scfg)
		cerr, serr := both(func() error { return gc.HandshakeContext(context.Background()) }, shs)
		if a, ok := errorAlert(serr); !ok || a != alertNoApplicationProtocol {
			t.Errorf("server error = %v", serr)
		}
		if cerr == nil || !strings.Contains(cerr.Error(), "no application protocol") {
			t.Errorf("Go client error = %v", cerr)
		}
	})
	t.Run("engine-client", func(t *testing.T) {
		craw, sraw := tcpPair(t)
		cfg := p.clientConfig()
		cfg.ALPN = []string{"h2"}
		_, chs := engineClient(t, craw, cfg)
		gcfg := p.goServerConfig(p.p256)
		gcfg.NextProtos = []string{"http/1.1"}
		gs := tls.Server(sraw, gcfg)
		cerr, _ := both(chs, func() error { return gs.HandshakeContext(context.Background()) })
		var ae *AlertError
		if !errors.As(cerr, &ae) || !ae.Remote || ae.Alert != alertNoApplicationProtocol {
			t.Errorf("client error = %v; want a remote no_application_protocol", cerr)
		}
	})
}

// TestConfigErrors checks configurations the engine refuses up front.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts backends.Options
		ok   bool
	}{
		{"defaults", backends.Options{}, true},
		{"tls12-only", backends.Options{Versions: []uint16{versionTLS12}}, false},
		{"both-versions", backends.Options{Versions: []uint16{versionTLS12, versionTLS13}}, true},
		{"unknown-group", backends.Options{Groups: []uint16{0x001e}}, false},
		{"tls12-suites-only", backends.Options{CipherSuites: []uint16{0xc02f}}, false},
		{"mixed-suites", backends.Options{CipherSuites: []uint16{0xc02f, TLS_CHACHA20_POLY1305_SHA256}}, true},
		{"negative-key-shares", backends.Options{KeyShares: -1}, false},
	} {
		_, cerr := Client(nil, &backends.ClientConfig{Options: tc.opts})
		_, serr := Server(nil, &backends.ServerConfig{Options: tc.opts})
		if (cerr == nil) != tc.ok || (serr == nil) != tc.ok {
			t.Errorf("%s: Client %v, Server %v; want ok=%v", tc.name, cerr, serr, tc.ok)
		}
		if !tc.ok && tc.name != "negative-key-shares" && !errors.Is(cerr, backends.ErrNotSupported) {
			t.Errorf("%s: error %v does not wrap ErrNotSupported", tc.name, cerr)
		}
	}
	// No name to check the certificate against.
	craw, _ := tcpPair(t)
	c, _ := Client(craw, &backends.ClientConfig{})
	if err := c.Handshake(context.Background()); err == nil || !strings.Contains(err.Error(), "ServerName") {
		t.Errorf("Handshake without ServerName = %v", err)
	}
}

// TestQuickRoundTrips marshals random messages and checks they parse back
// to the same values, as crypto/tls's handshake_messages_test does.
func TestQuickRoundTrips(t *testing.T) {
	cfg := &quick.Config{MaxCount: 200}
	u16s := func(v []uint16) []uint16 {
		if len(v) == 0 {
			return []uint16{1}
		}
		return v
	}
	nonEmpty := func(b []byte) []byte {
		if len(b) == 0 {
			return []byte{0}
		}
		return b
	}
	if err := quick.Check(func(random [32]byte, sid [32]byte, suites, groups, schemes []uint16, name string, alpn []string, ks []byte, cookie []byte) bool {
		var protos []string
		for _, a := range alpn {
			if a != "" && len(a) < 256 {
				protos = append(protos, a)
			}
		}
		if len(name) == 0 || len(name) > 255 {
			name = "x"
		}
		m := &clientHelloMsg{vers: versionTLS12, random: random[:], sessionID: sid[:], cipherSuites: u16s(suites),
			compressionMethods: []uint8{0}, serverName: name, supportedGroups: u16s(groups), hasSupportedGroups: true,
			signatureSchemes: u16s(schemes), hasSignatureAlgorithms: true, alpnProtocols: protos,
			supportedVersions: []uint16{versionTLS13}, hasKeyShares: true,
			keyShares: []keyShare{{u16s(groups)[0], nonEmpty(ks)}}}
		if len(cookie) > 0 {
			m.cookie = cookie
		}
		var m2 clientHelloMsg
		raw := m.marshal()
		if !m2.unmarshal(raw) {
			return false
		}
		m.raw = raw
		return reflect.DeepEqual(m, &m2)
	}, cfg); err != nil {
		t.Error("ClientHello:", err)
	}
	if err := quick.Check(func(random [32]byte, suite uint16, group uint16, share []byte) bool {
		if group == 0 {
			group = 1
		}
		m := &serverHelloMsg{vers: versionTLS12, random: random[:], sessionID: []byte{}, cipherSuite: suite,
			supportedVersion: versionTLS13, serverShare: keyShare{group, nonEmpty(share)}}
		var m2 serverHelloMsg
		raw := m.marshal()
		if !m2.unmarshal(raw) {
			return false
		}
		m.raw = raw
		return reflect.DeepEqual(m, &m2)
	}, cfg); err != nil {
		t.Error("ServerHello:", err)
	}
	if err := quick.Check(func(ctx []byte, certs [][]byte) bool {
		if len(ctx) > 255 {
			ctx = ctx[:255]
		}
		var chain [][]byte
		for _, c := range certs {
			chain = append(chain, nonEmpty(c))
		}
		m := &certificateMsg{context: ctx, chain: chain}
		var m2 certificateMsg
		raw := m.marshal()
		if !m2.unmarshal(raw) || len(m2.chain) != len(chain) || string(m2.context) != string(ctx) {
			return false
		}
		for i := range chain {
			if string(chain[i]) != string(m2.chain[i]) {
				return false
			}
		}
		return true
	}, cfg); err != nil {
		t.Error("Certificate:", err)
	}
	if err := quick.Check(func(scheme uint16, sig []byte) bool {
		m := &certificateVerifyMsg{scheme: scheme, signature: nonEmpty(sig)}
		var m2 certificateVerifyMsg
		raw := m.marshal()
		return m2.unmarshal(raw) && m2.scheme == scheme && string(m2.signature) == string(m.signature)
	}, cfg); err != nil {
		t.Error("CertificateVerify:", err)
	}
}
