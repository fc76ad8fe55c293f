package circlpq

import (
	"context"
	"crypto/tls"
	"fmt"
	"slices"
	"testing"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// goGroups are the groups crypto/tls implements, in its default order of
// preference (which decides its key share).
var goGroups = []uint16{X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024, X25519, P256, P384, P521}

// TestGoInteropGroups runs every group crypto/tls has, both directions,
// with and without a HelloRetryRequest.
func TestGoInteropGroups(t *testing.T) {
	p := pki(t)
	for i, g := range goGroups {
		t.Run(groupName(g), func(t *testing.T) {
			t.Run("engine-client", func(t *testing.T) {
				testEngineClientGoServer(t, p, []uint16{g}, g, false)
			})
			t.Run("engine-client-hrr", func(t *testing.T) {
				// The first key share is for a group the Go server refuses.
				other := P521
				if g == P521 {
					other = P384
				}
				testEngineClientGoServer(t, p, []uint16{other, g}, g, true)
			})
			t.Run("go-client", func(t *testing.T) {
				testGoClientEngineServer(t, p, []uint16{g}, []uint16{g}, g, false)
			})
			t.Run("go-client-hrr", func(t *testing.T) {
				if i == 0 {
					t.Skip("crypto/tls always sends a share for its top group; no hello-retry is possible for it")
				}
				// crypto/tls sends its share for goGroups[i-1], which the
				// engine server refuses.
				testGoClientEngineServer(t, p, []uint16{goGroups[i-1], g}, []uint16{g}, g, true)
			})
		})
	}
}

func testEngineClientGoServer(t *testing.T, p *testCerts, clientGroups []uint16, goGroup uint16, wantHRR bool) {
	client, server := tcpPair(t)
	cfg := p.clientConfig()
	cfg.Groups = clientGroups
	cfg.KeyShares = 1
	ec, hs := engineClient(t, client, cfg)
	gcfg := p.goServerConfig(p.p256)
	gcfg.CurvePreferences = []tls.CurveID{tls.CurveID(goGroup)}
	gs := tls.Server(server, gcfg)
	cerr, serr := both(hs, func() error { return gs.HandshakeContext(context.Background()) })
	if cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	if got := gs.ConnectionState().CurveID; got != tls.CurveID(goGroup) {
		t.Errorf("Go server negotiated %v; want %v", got, tls.CurveID(goGroup))
	}
	if got := ec.State().Group; got != goGroup {
		t.Errorf("engine State().Group = %s; want %s", groupName(got), groupName(goGroup))
	}
	if ec.didHRR != wantHRR {
		t.Errorf("hello retry = %v; want %v", ec.didHRR, wantHRR)
	}
	echo(t, ec, gs)
}

func testGoClientEngineServer(t *testing.T, p *testCerts, goPrefs, serverGroups []uint16, want uint16, wantHRR bool) {
	client, server := tcpPair(t)
	gcfg := p.goClientConfig()
	for _, g := range goPrefs {
		gcfg.CurvePreferences = append(gcfg.CurvePreferences, tls.CurveID(g))
	}
	gc := tls.Client(client, gcfg)
	scfg := p.serverConfig(p.p256)
	scfg.Groups = serverGroups
	es, hs := engineServer(t, server, scfg)
	cerr, serr := both(func() error { return gc.HandshakeContext(context.Background()) }, hs)
	if cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	if got := gc.ConnectionState().CurveID; got != tls.CurveID(want) {
		t.Errorf("Go client negotiated %v; want %v", got, tls.CurveID(want))
	}
	if got := es.State().Group; got != want {
		t.Errorf("engine State().Group = %s; want %s", groupName(got), groupName(want))
	}
	if es.didHRR != wantHRR {
		t.Errorf("hello retry = %v; want %v", es.didHRR, wantHRR)
	}
	echo(t, gc, es)
}

// TestGoInteropCipherSuites forces each TLS 1.3 suite from the engine side
// (crypto/tls does not let TLS 1.3 suites be configured).
func TestGoInteropCipherSuites(t *testing.T) {
	p := pki(t)
	for _, s := range cipherSuites {
		t.Run(tls.CipherSuiteName(s.id), func(t *testing.T) {
			t.Run("engine-client", func(t *testing.T) {
				client, server := tcpPair(t)
				cfg := p.clientConfig()
				cfg.CipherSuites = []uint16{s.id}
				ec, hs := engineClient(t, client, cfg)
				gs := tls.Server(server, p.goServerConfig(p.p256))
				cerr, serr := both(hs, func() error { return gs.HandshakeContext(context.Background()) })
				if cerr != nil || serr != nil {
					t.Fatalf("handshake: client %v, server %v", cerr, serr)
				}
				if got := gs.ConnectionState().CipherSuite; got != s.id {
					t.Errorf("suite %s; want %s", tls.CipherSuiteName(got), tls.CipherSuiteName(s.id))
				}
				echo(t, ec, gs)
				bulkBothWays(t, ec, gs)
			})
			t.Run("go-client", func(t *testing.T) {
				client, server := tcpPair(t)
				gc := tls.Client(client, p.goClientConfig())
				scfg := p.serverConfig(p.p256)
				scfg.CipherSuites = []uint16{s.id}
				es, hs := engineServer(t, server, scfg)
				cerr, serr := both(func() error { return gc.HandshakeContext(context.Background()) }, hs)
				if cerr != nil || serr != nil {
					t.Fatalf("handshake: client %v, server %v", cerr, serr)
				}
				if got := es.State().CipherSuite; got != s.id {
					t.Errorf("suite %s; want %s", tls.CipherSuiteName(got), tls.CipherSuiteName(s.id))
				}
				echo(t, gc, es)
				bulkBothWays(t, gc, es)
			})
		})
	}
}

// TestGoInteropSignatures runs every server key type both directions, and
// the client certificate key types.
func TestGoInteropSignatures(t *testing.T) {
	p := pki(t)
	for _, tc := range []struct {
		name string
		leaf *testpki.Leaf
	}{{"ECDSA-P256", p.p256}, {"ECDSA-P384", p.p384}, {"Ed25519", p.ed}, {"RSA-PSS", p.rsa}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("engine-client", func(t *testing.T) {
				client, server := tcpPair(t)
				ec, hs := engineClient(t, client, p.clientConfig())
				gs := tls.Server(server, p.goServerConfig(tc.leaf))
				cerr, serr := both(hs, func() error { return gs.HandshakeContext(context.Background()) })
				if cerr != nil || serr != nil {
					t.Fatalf("handshake: client %v, server %v", cerr, serr)
				}
				echo(t, ec, gs)
			})
			t.Run("go-client", func(t *testing.T) {
				client, server := tcpPair(t)
				gc := tls.Client(client, p.goClientConfig())
				es, hs := engineServer(t, server, p.serverConfig(tc.leaf))
				cerr, serr := both(func() error { return gc.HandshakeContext(context.Background()) }, hs)
				if cerr != nil || serr != nil {
					t.Fatalf("handshake: client %v, server %v", cerr, serr)
				}
				echo(t, gc, es)
			})
		})
	}
}

// TestGoInteropMTLSAndALPN runs client certificates and ALPN both
// directions.
func TestGoInteropMTLSAndALPN(t *testing.T) {
	p := pki(t)
	for _, leaf := range []*testpki.Leaf{p.client, p.clientEd} {
		t.Run(fmt.Sprintf("%T", leaf.Key), func(t *testing.T) {
			t.Run("engine-client", func(t *testing.T) {
				client, server := tcpPair(t)
				cfg := p.clientConfig()
				cfg.ALPN = []string{"h2", "http/1.1"}
				var req *backends.IdentityRequest
				cfg.ClientIdentity = func(_ context.Context, r *backends.IdentityRequest) ([]*backends.Identity, error) {
					req = r
					return []*backends.Identity{leaf.Identity()}, nil
				}
				ec, hs := engineClient(t, client, cfg)
				gcfg := p.goServerConfig(p.p256)
				gcfg.ClientAuth = tls.RequireAndVerifyClientCert
				gcfg.NextProtos = []string{"http/1.1"}
				gs := tls.Server(server, gcfg)
				cerr, serr := both(hs, func() error { return gs.HandshakeContext(context.Background()) })
				if cerr != nil || serr != nil {
					t.Fatalf("handshake: client %v, server %v", cerr, serr)
				}
				if req == nil || len(req.SignatureSchemes) == 0 || req.PostHandshake {
					t.Errorf("identity request = %+v", req)
				}
				if got := gs.ConnectionState().PeerCertificates; len(got) == 0 || !got[0].Equal(leaf.Cert) {
					t.Errorf("Go server saw client chain %v", got)
				}
				if ec.State().ALPN != "http/1.1" || gs.ConnectionState().NegotiatedProtocol != "http/1.1" {
					t.Errorf("ALPN: engine %q, Go %q", ec.State().ALPN, gs.ConnectionState().NegotiatedProtocol)
				}
				echo(t, ec, gs)
			})
			t.Run("go-client", func(t *testing.T) {
				client, server := tcpPair(t)
				gcfg := p.goClientConfig()
				gcfg.Certificates = []tls.Certificate{leaf.TLSCertificate()}
				gcfg.NextProtos = []string{"http/1.1", "h2"}
				gc := tls.Client(client, gcfg)
				scfg := p.serverConfig(p.p256)
				scfg.ClientAuth = backends.RequireClientCert
				scfg.ALPN = []string{"h2", "http/1.1"}
				var seen [][]byte
				scfg.VerifyClient = func(_ context.Context, chain [][]byte) error { seen = chain; return nil }
				es, hs := engineServer(t, server, scfg)
				cerr, serr := both(func() error { return gc.HandshakeContext(context.Background()) }, hs)
				if cerr != nil || serr != nil {
					t.Fatalf("handshake: client %v, server %v", cerr, serr)
				}
				if len(seen) == 0 || !slices.Equal(seen[0], leaf.Chain[0]) {
					t.Errorf("VerifyClient saw %d certificates", len(seen))
				}
				if es.State().ALPN != "h2" || gc.ConnectionState().NegotiatedProtocol != "h2" {
					t.Errorf("ALPN: engine %q, Go %q", es.State().ALPN, gc.ConnectionState().NegotiatedProtocol)
				}
				echo(t, gc, es)
			})
		})
	}
}

// bulkBothWays sends 1 MiB each way in odd-sized writes, so records of
// every size and the 2^14 boundary are crossed.
func bulkBothWays(t *testing.T, a, b interface {
	Read([]byte) (int, error)
	Write([]byte) (int, error)
}) {
	t.Helper()
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	send := func(w interface{ Write([]byte) (int, error) }) error {
		for off, step := 0, 1; off < len(data); step = (step*3 + 1) % 100003 {
			n := min(step%40000+1, len(data)-off)
			if _, err := w.Write(data[off : off+n]); err != nil {
				return err
			}
			off += n
		}
		return nil
	}
	recv := func(r interface{ Read([]byte) (int, error) }) error {
		got := make([]byte, 0, len(data))
		buf := make([]byte, 50000)
		for len(got) < len(data) {
			n, err := r.Read(buf)
			if err != nil {
				return err
			}
			got = append(got, buf[:n]...)
		}
		if !slices.Equal(got, data) {
			return fmt.Errorf("bulk data corrupted")
		}
		return nil
	}
	for _, dir := range [][2]any{{a, b}, {b, a}} {
		w := dir[0].(interface{ Write([]byte) (int, error) })
		r := dir[1].(interface{ Read([]byte) (int, error) })
		werr, rerr := both(func() error { return send(w) }, func() error { return recv(r) })
		if werr != nil || rerr != nil {
			t.Fatalf("bulk: writer %v, reader %v", werr, rerr)
		}
	}
}
