package circlpq

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// TestGoResumption resumes crypto/tls clients at an engine server.
func TestGoResumption(t *testing.T) {
	p := pki(t)
	type conf struct {
		leaf       *testpki.Leaf
		groups     []uint16
		suites     []uint16
		clientAuth backends.ClientAuth
	}
	for _, tc := range []struct {
		name        string
		first, then conf
		goPrefs     []tls.CurveID
		resume      bool
	}{
		{"resumed", conf{leaf: p.p256}, conf{leaf: p.p256}, nil, true},
		{"resumed-after-hello-retry", conf{leaf: p.p256, groups: []uint16{P256}}, conf{leaf: p.p256, groups: []uint16{P256}},
			[]tls.CurveID{tls.X25519, tls.CurveP256}, true},
		{"other-identity", conf{leaf: p.p256}, conf{leaf: p.p384}, nil, false},
		{"other-hash", conf{leaf: p.p256, suites: []uint16{TLS_AES_128_GCM_SHA256}},
			conf{leaf: p.p256, suites: []uint16{TLS_AES_256_GCM_SHA384}}, nil, false},
		{"client-auth-no-ticket", conf{leaf: p.p256, clientAuth: backends.RequestClientCert}, conf{leaf: p.p256}, nil, false},
		{"client-auth-no-resumption", conf{leaf: p.p256}, conf{leaf: p.p256, clientAuth: backends.RequestClientCert}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gcfg := p.goClientConfig()
			gcfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			gcfg.CurvePreferences = tc.goPrefs
			for i, sc := range []conf{tc.first, tc.then} {
				craw, sraw := tcpPair(t)
				gc := tls.Client(craw, gcfg)
				scfg := p.serverConfig(sc.leaf)
				scfg.Groups, scfg.CipherSuites, scfg.ClientAuth = sc.groups, sc.suites, sc.clientAuth
				s, shs := engineServer(t, sraw, scfg)
				cerr, serr := both(func() error { return gc.HandshakeContext(context.Background()) }, shs)
				if cerr != nil || serr != nil {
					t.Fatalf("connection %d: client %v, server %v", i, cerr, serr)
				}
				echo(t, gc, s) // the client reads (and stores) the ticket
				want := i == 1 && tc.resume
				if gc.ConnectionState().DidResume != want || s.State().DidResume != want {
					t.Errorf("connection %d: resumed %v / %v; want %v", i, gc.ConnectionState().DidResume, s.State().DidResume, want)
				}
				if want && (s.State().LocalIdentity == nil || len(s.State().PeerChain) != 0) {
					t.Errorf("resumed State %+v", s.State())
				}
			}
		})
	}
}

// TestServerPSKBinder offers a ticket of this server in a hand-made
// ClientHello: with the right binder the server resumes, with a wrong one
// it fails with decrypt_error (RFC 8446, Section 4.2.11).
func TestServerPSKBinder(t *testing.T) {
	p := pki(t)
	suite := cipherSuiteByID(TLS_AES_128_GCM_SHA256)
	psk := make([]byte, 32)
	psk[0] = 7
	aeads, err := ticketCiphers(testTicketKeys())
	if err != nil {
		t.Fatal(err)
	}
	ticket, err := sealTicket(aeads[0], &sessionState{suite: suite.id, createdAt: uint64(timeNow().Unix()), psk: psk}, p.p256.Chain[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		binder func(ch *clientHelloMsg) []byte
		want   Alert // 0: resumed
	}{
		{"valid", func(ch *clientHelloMsg) []byte {
			raw := ch.marshal()
			h := suite.newHash()
			h.Write(raw[:len(raw)-ch.bindersLength()])
			return suite.finishedHash(suite.binderKey(psk), h)
		}, 0},
		{"wrong", func(ch *clientHelloMsg) []byte { return make([]byte, 32) }, alertDecryptError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := tcpPair(t)
			s, hs := engineServer(t, server, p.serverConfig(p.p256))
			done := make(chan error, 1)
			go func() { done <- hs() }()
			ch := testClientHello(t, X25519)
			ch.pskModes = []uint8{pskModeDHE}
			ch.pskIdentities = []pskIdentity{{label: ticket}}
			ch.pskBinders = [][]byte{make([]byte, 32)}
			ch.pskBinders[0] = tc.binder(ch)
			writeRawRecord(client, recordTypeHandshake, ch.marshal())
			if tc.want != 0 {
				if got := readPlainAlert(t, client); got != tc.want {
					t.Errorf("alert %v; want %v", got, tc.want)
				}
				<-done
				return
			}
			typ, body, err := readRawRecord(client)
			var sh serverHelloMsg
			if err != nil || typ != recordTypeHandshake || !sh.unmarshal(body) || !sh.hasPreSharedKey || sh.selectedIdentity != 0 {
				t.Fatalf("want a ServerHello accepting the PSK; got %d %+v %v", typ, sh, err)
			}
			client.Close()
			<-done
			if !s.State().DidResume {
				t.Error("State().DidResume is false")
			}
		})
	}
}

// TestClientResumption resumes engine clients at engine and crypto/tls
// servers, with and without a hello-retry.
func TestClientResumption(t *testing.T) {
	p := pki(t)
	for _, tc := range []struct {
		name   string
		server string // "engine" or "go"
		hrr    bool
	}{{"engine", "engine", false}, {"engine-hrr", "engine", true}, {"go", "go", false}, {"go-hrr", "go", true}} {
		t.Run(tc.name, func(t *testing.T) {
			cache := NewSessionCache(4)
			// One crypto/tls config for all connections: its ticket keys
			// live in it.
			gcfg := p.goServerConfig(p.p256)
			if tc.hrr {
				gcfg.CurvePreferences = []tls.CurveID{tls.CurveP256}
			}
			for i := range 3 {
				craw, sraw := tcpPair(t)
				ccfg := p.clientConfig()
				if tc.hrr {
					ccfg.Groups = []uint16{X25519, P256}
				}
				c, chs := engineClient(t, craw, ccfg)
				c.SetSessionCache(cache)
				var server func() error
				var resumed func() bool
				var peer interface {
					Read([]byte) (int, error)
					Write([]byte) (int, error)
				}
				if tc.server == "engine" {
					scfg := p.serverConfig(p.p256)
					if tc.hrr {
						scfg.Groups = []uint16{P256}
					}
					s, shs := engineServer(t, sraw, scfg)
					server, resumed, peer = shs, func() bool { return s.State().DidResume }, s
				} else {
					gs := tls.Server(sraw, gcfg)
					server = func() error { return gs.HandshakeContext(context.Background()) }
					resumed, peer = func() bool { return gs.ConnectionState().DidResume }, gs
				}
				if cerr, serr := both(chs, server); cerr != nil || serr != nil {
					t.Fatalf("connection %d: client %v, server %v", i, cerr, serr)
				}
				echo(t, c, peer) // the client reads (and keeps) the ticket
				// Both servers issue a ticket on every handshake; tickets
				// are used once.
				want := i > 0
				if c.State().DidResume != want || resumed() != want {
					t.Errorf("connection %d: resumed %v / %v; want %v", i, c.State().DidResume, resumed(), want)
				}
				if c.didHRR != tc.hrr {
					t.Errorf("connection %d: hello retry %v; want %v", i, c.didHRR, tc.hrr)
				}
				if st := c.State(); len(st.PeerChain) == 0 || string(st.PeerChain[0]) != string(p.p256.Chain[0]) {
					t.Errorf("connection %d: client PeerChain lost", i)
				}
			}
		})
	}
}

// TestTicketKeyRotation: a server seals tickets with the newest of its
// ticket keys and opens them with any; a ticket sealed with a key it no
// longer holds is a full handshake, and a server without keys issues none.
func TestTicketKeyRotation(t *testing.T) {
	p := pki(t)
	key := func(b byte) backends.TicketKey { return backends.TicketKey{b} }
	cache := NewSessionCache(4)
	for i, tc := range []struct {
		name   string
		keys   []backends.TicketKey // nil: TicketKeys unset
		resume bool
		ticket bool // a ticket is kept afterwards
	}{
		{"first", []backends.TicketKey{key(1)}, false, true},
		{"rotated: old key still opens", []backends.TicketKey{key(2), key(1)}, true, true},
		{"sealed with the new key", []backends.TicketKey{key(2)}, true, true},
		{"key dropped", []backends.TicketKey{key(3)}, false, true},
		{"no keys", nil, false, false},
	} {
		craw, sraw := tcpPair(t)
		c, chs := engineClient(t, craw, p.clientConfig())
		c.SetSessionCache(cache)
		scfg := p.serverConfig(p.p256)
		scfg.TicketKeys = nil
		if tc.keys != nil {
			scfg.TicketKeys = func() []backends.TicketKey { return tc.keys }
		}
		s, shs := engineServer(t, sraw, scfg)
		if cerr, serr := both(chs, shs); cerr != nil || serr != nil {
			t.Fatalf("%d %s: client %v, server %v", i, tc.name, cerr, serr)
		}
		echo(t, c, s)
		if c.State().DidResume != tc.resume || s.State().DidResume != tc.resume {
			t.Errorf("%d %s: resumed %v / %v; want %v", i, tc.name, c.State().DidResume, s.State().DidResume, tc.resume)
		}
		if _, ok := cache.Get("a.test"); ok != tc.ticket {
			t.Errorf("%d %s: ticket kept %v; want %v", i, tc.name, ok, tc.ticket)
		}
	}
}

// TestResumptionCallsVerifyServer: a resumed handshake hands the session's
// chain to VerifyServer, whose error fails it, as on a full handshake.
func TestResumptionCallsVerifyServer(t *testing.T) {
	p := pki(t)
	cache := NewSessionCache(4)
	for i, fail := range []bool{false, false, true} {
		craw, sraw := tcpPair(t)
		ccfg := p.clientConfig()
		var got [][]byte
		ccfg.VerifyServer = func(_ context.Context, chain [][]byte) error {
			got = chain
			if fail {
				return errors.New("refused")
			}
			return nil
		}
		c, chs := engineClient(t, craw, ccfg)
		c.SetSessionCache(cache)
		s, shs := engineServer(t, sraw, p.serverConfig(p.p256))
		cerr, serr := both(chs, shs)
		if fail {
			if cerr == nil || !strings.Contains(cerr.Error(), "refused") {
				t.Fatalf("resumed handshake with a failing VerifyServer: client %v", cerr)
			}
			break
		}
		if cerr != nil || serr != nil {
			t.Fatalf("%d: client %v, server %v", i, cerr, serr)
		}
		echo(t, c, s)
		if c.State().DidResume != (i > 0) || len(got) == 0 || string(got[0]) != string(p.p256.Chain[0]) {
			t.Errorf("%d: resumed %v, VerifyServer got %d certificates", i, c.State().DidResume, len(got))
		}
	}
}

// TestResumptionRechecksTrust: a session resumes only under a
// configuration that would have accepted the chain it was authenticated
// with (RFC 8446, Section 4.6.1, and crypto/tls since Go 1.24.12, which
// re-checks the session's chains against the current RootCAs). A cache
// shared by configurations whose trust differs, or one filled by a
// connection that skipped validation, gives no way around validation.
func TestResumptionRechecksTrust(t *testing.T) {
	p := pki(t)
	trusting := func() *backends.ClientConfig { return p.clientConfig() }
	otherRoots := func() *backends.ClientConfig {
		c := p.clientConfig()
		c.RootCAs = p.other.Pool()
		return c
	}
	skipping := func() *backends.ClientConfig {
		c := p.clientConfig()
		c.RootCAs, c.InsecureSkipVerify = nil, true
		return c
	}
	later := func() *backends.ClientConfig {
		c := p.clientConfig()
		c.Time = func() time.Time { return p.p256.Cert.NotAfter.Add(time.Hour) }
		return c
	}
	for _, tc := range []struct {
		name        string
		first, then func() *backends.ClientConfig
		resume      bool
		thenFails   bool // the second handshake fails validation
	}{
		{"same trust", trusting, trusting, true, false},
		{"roots replaced", trusting, otherRoots, false, true},
		{"first skipped validation", skipping, trusting, false, false},
		{"certificate expired since", trusting, later, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := NewSessionCache(4)
			for i, cfg := range []func() *backends.ClientConfig{tc.first, tc.then} {
				craw, sraw := tcpPair(t)
				c, chs := engineClient(t, craw, cfg())
				c.SetSessionCache(cache)
				s, shs := engineServer(t, sraw, p.serverConfig(p.p256))
				cerr, serr := both(chs, func() error {
					err := shs()
					if err != nil {
						sraw.Close()
					}
					return err
				})
				if i == 1 && tc.thenFails {
					if cerr == nil {
						t.Fatalf("connection %d: handshake succeeded (resumed %v); want a validation failure", i, c.State().DidResume)
					}
					return
				}
				if cerr != nil || serr != nil {
					t.Fatalf("connection %d: client %v, server %v", i, cerr, serr)
				}
				echo(t, c, s)
				if want := i == 1 && tc.resume; c.State().DidResume != want {
					t.Errorf("connection %d: resumed %v; want %v", i, c.State().DidResume, want)
				}
			}
		})
	}
}
