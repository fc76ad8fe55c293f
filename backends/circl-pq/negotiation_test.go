package circlpq

import (
	"context"
	"crypto/tls"
	"testing"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// TestGroupPreference checks that configured group orders are respected,
// that several key shares avoid a hello-retry, and that a server never
// settles for a share of a group it ranks below a common one (selectGroup).
func TestGroupPreference(t *testing.T) {
	p := pki(t)
	for _, tc := range []struct {
		name         string
		clientGroups []uint16
		keyShares    int
		serverGroups []uint16
		want         uint16
		hrr          bool
	}{
		{"first-share-accepted", []uint16{X25519MLKEM768, X25519}, 1, nil, X25519MLKEM768, false},
		{"two-shares-server-order", []uint16{X25519, P256}, 2, []uint16{P256, X25519}, P256, false},
		{"two-shares-avoid-hrr", []uint16{MLKEM768, X25519}, 2, []uint16{X25519}, X25519, false},
		{"one-share-needs-hrr", []uint16{MLKEM768, X25519}, 1, []uint16{X25519}, X25519, true},
		{"preference-beats-share", []uint16{X25519, MLKEM1024}, 1, []uint16{MLKEM1024, X25519}, MLKEM1024, true},
		{"defaults-upgrade-x25519-share", []uint16{X25519, X25519MLKEM768}, 1, nil, X25519MLKEM768, true},
		{"defaults-ignore-two-classical-shares", []uint16{X25519, P256, X25519MLKEM768}, 2, nil, X25519MLKEM768, true},
		{"classical-prediction-retried", []uint16{P384, X25519}, 1, nil, X25519, true},
		{"server-order-even-classical-first", []uint16{X25519MLKEM768, X25519}, 1, []uint16{X25519, X25519MLKEM768}, X25519, true},
		{"hrr-picks-server-preference", []uint16{P521, P384, SecP384r1MLKEM1024}, 1, []uint16{SecP384r1MLKEM1024, P384}, SecP384r1MLKEM1024, true},
		{"three-shares", []uint16{MLKEM512, SecP256r1MLKEM768, P384}, 3, []uint16{P384}, P384, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			craw, sraw := tcpPair(t)
			ccfg := p.clientConfig()
			ccfg.Groups, ccfg.KeyShares = tc.clientGroups, tc.keyShares
			scfg := p.serverConfig(p.p256)
			scfg.Groups = tc.serverGroups
			c, chs := engineClient(t, craw, ccfg)
			s, shs := engineServer(t, sraw, scfg)
			if cerr, serr := both(chs, shs); cerr != nil || serr != nil {
				t.Fatalf("handshake: client %v, server %v", cerr, serr)
			}
			if c.State().Group != tc.want || s.State().Group != tc.want {
				t.Errorf("groups %s / %s; want %s", groupName(c.State().Group), groupName(s.State().Group), groupName(tc.want))
			}
			if c.didHRR != tc.hrr || s.didHRR != tc.hrr {
				t.Errorf("hello retry %v / %v; want %v", c.didHRR, s.didHRR, tc.hrr)
			}
			echo(t, c, s)
		})
	}
}

// TestGoMultipleKeyShares sends crypto/tls a ClientHello with several key
// shares, the one it wants last.
func TestGoMultipleKeyShares(t *testing.T) {
	p := pki(t)
	craw, sraw := tcpPair(t)
	ccfg := p.clientConfig()
	ccfg.Groups, ccfg.KeyShares = []uint16{P384, SecP256r1MLKEM768, X25519}, 3
	c, chs := engineClient(t, craw, ccfg)
	gcfg := p.goServerConfig(p.p256)
	gcfg.CurvePreferences = []tls.CurveID{tls.X25519}
	gs := tls.Server(sraw, gcfg)
	if cerr, serr := both(chs, func() error { return gs.HandshakeContext(context.Background()) }); cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	if c.State().Group != X25519 || c.didHRR {
		t.Errorf("group %s, hello retry %v; want X25519 without", groupName(c.State().Group), c.didHRR)
	}
	echo(t, c, gs)
}

// TestServerIdentitySelection picks the certificate by SNI and by the
// client's signature algorithms.
func TestServerIdentitySelection(t *testing.T) {
	p := pki(t)
	b, err := p.root.Issue(testpki.LeafOptions{DNSNames: []string{"b.test"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		serverName string
		ids        []*backends.Identity
		want       []byte
	}{
		{"sni-second", "a.test", []*backends.Identity{b.Identity(), p.p256.Identity()}, p.p256.Chain[0]},
		{"sni-first", "b.test", []*backends.Identity{b.Identity(), p.p256.Identity()}, b.Chain[0]},
		{"ed25519-only-client", "a.test", []*backends.Identity{p.p256.Identity(), p.ed.Identity()}, p.ed.Chain[0]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			craw, sraw := tcpPair(t)
			gcfg := p.goClientConfig()
			gcfg.ServerName = tc.serverName
			var gc *tls.Conn
			var client func() error
			if tc.name == "ed25519-only-client" {
				// An engine client that accepts only Ed25519 signatures.
				ccfg := p.clientConfig()
				ccfg.ServerName = tc.serverName
				c, chs := engineClient(t, craw, ccfg)
				c.testMutate = mutateMessage(typeClientHello, func(m []byte) []byte {
					var ch clientHelloMsg
					ch.unmarshal(m)
					ch.signatureSchemes = []uint16{Ed25519}
					return ch.marshal()
				})
				client = chs
			} else {
				gc = tls.Client(craw, gcfg)
				client = func() error { return gc.HandshakeContext(context.Background()) }
			}
			scfg := &backends.ServerConfig{Identities: tc.ids}
			s, shs := engineServer(t, sraw, scfg)
			if cerr, serr := both(client, shs); cerr != nil || serr != nil {
				t.Fatalf("handshake: client %v, server %v", cerr, serr)
			}
			if got := s.State().LocalIdentity; got == nil || string(got.Chain[0]) != string(tc.want) {
				t.Errorf("server presented the wrong identity")
			}
			if s.State().ServerName != tc.serverName {
				t.Errorf("State().ServerName = %q", s.State().ServerName)
			}
		})
	}
}

// TestState checks what both sides report after a mutual handshake.
func TestState(t *testing.T) {
	p := pki(t)
	craw, sraw := tcpPair(t)
	ccfg := p.clientConfig()
	ccfg.ALPN = []string{"x"}
	ccfg.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
		return []*backends.Identity{p.client.Identity()}, nil
	}
	scfg := p.serverConfig(p.p256)
	scfg.ALPN = []string{"x"}
	scfg.ClientAuth = backends.RequireClientCert
	c, chs := engineClient(t, craw, ccfg)
	s, shs := engineServer(t, sraw, scfg)
	if st := c.State(); st.HandshakeComplete {
		t.Error("complete before the handshake")
	}
	if cerr, serr := both(chs, shs); cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	cs, ss := c.State(), s.State()
	for _, st := range []backends.State{cs, ss} {
		if !st.HandshakeComplete || st.Version != versionTLS13 || st.CipherSuite != TLS_AES_128_GCM_SHA256 ||
			st.Group != X25519MLKEM768 || st.ALPN != "x" || st.ServerName != "a.test" || st.DidResume {
			t.Errorf("state %+v", st)
		}
	}
	if len(cs.PeerChain) != 1 || string(cs.PeerChain[0]) != string(p.p256.Chain[0]) || cs.LocalIdentity == nil {
		t.Errorf("client chain/identity wrong")
	}
	if len(ss.PeerChain) != 1 || string(ss.PeerChain[0]) != string(p.client.Chain[0]) || ss.LocalIdentity == nil {
		t.Errorf("server chain/identity wrong")
	}
	// Both sides derive the same exporter values (RFC 8446, Section 7.5).
	a, err1 := c.ExportKeyingMaterial("EXPORTER-test", []byte("ctx"), 32)
	b, err2 := s.ExportKeyingMaterial("EXPORTER-test", []byte("ctx"), 32)
	if err1 != nil || err2 != nil || string(a) != string(b) {
		t.Errorf("exporters differ: %x %v, %x %v", a, err1, b, err2)
	}
}

// TestGoExporter checks the exporter against crypto/tls.
func TestGoExporter(t *testing.T) {
	p := pki(t)
	craw, sraw := tcpPair(t)
	c, chs := engineClient(t, craw, p.clientConfig())
	gs := goServer(sraw, p)
	if cerr, serr := both(chs, func() error { return gs.HandshakeContext(context.Background()) }); cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	a, _ := c.ExportKeyingMaterial("EXPORTER-test", []byte("ctx"), 42)
	st := gs.ConnectionState()
	b, _ := st.ExportKeyingMaterial("EXPORTER-test", []byte("ctx"), 42)
	if string(a) != string(b) {
		t.Errorf("exporter %x; crypto/tls %x", a, b)
	}
}
