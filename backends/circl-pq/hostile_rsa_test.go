package circlpq

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// TestHostileRSAKeySize has a peer present RSA keys larger than the
// engine verifies with (backends.DefaultMaxRSAKeyBits, crypto/tls's bound): a leaf with a
// 16384-bit key and no private key behind it (testpki.HugeRSAKey),
// certified by the trusted root, whose CertificateVerify cost the victim
// about 20 ms, and a valid chain with that certificate appended. Each side
// refuses the chain with bad_certificate, naming the key, before it
// verifies anything. Before, the client spent the verification and failed
// with decrypt_error, and the appended certificate passed; the cost grows
// with the square of the size (65536 bits: 50-150 ms a signature, 262144
// bits: 1.5-1.9 s) on a goroutine the handshake timeout does not stop.
func TestHostileRSAKeySize(t *testing.T) {
	p := pki(t)
	huge, err := testpki.HugeRSAKey(16384)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := p.root.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}, CommonName: "huge", Usage: testpki.ServerAuth | testpki.ClientAuth, PrivateKey: huge})
	if err != nil {
		t.Fatal(err)
	}
	// A valid chain, then the huge certificate, which is not part of it.
	appended, appendedClient := p.p256.Identity(), p.client.Identity()
	appended.Chain = append(append([][]byte(nil), p.p256.Chain...), leaf.Chain[0])
	appendedClient.Chain = append(append([][]byte(nil), p.client.Chain...), leaf.Chain[0])
	check := func(t *testing.T, err error) {
		t.Helper()
		if a, ok := errorAlert(err); !ok || a != alertBadCertificate || !strings.Contains(err.Error(), "RSA key larger than 8192 bits (16384)") {
			t.Fatalf("error %v; want bad_certificate naming the RSA key size", err)
		}
	}
	for _, tc := range []struct {
		name         string
		server, user *backends.Identity
	}{
		{"leaf", leaf.Identity(), leaf.Identity()},
		{"appended", appended, appendedClient},
	} {
		t.Run("server-"+tc.name, func(t *testing.T) {
			craw, sraw := tcpPair(t)
			_, chs := engineClient(t, craw, p.clientConfig())
			_, shs := engineServer(t, sraw, &backends.ServerConfig{Identities: []*backends.Identity{tc.server}})
			cerr, _ := both(chs, shs)
			check(t, cerr)
		})
		t.Run("client-"+tc.name, func(t *testing.T) {
			craw, sraw := tcpPair(t)
			cc := p.clientConfig()
			cc.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
				return []*backends.Identity{tc.user}, nil
			}
			sc := p.serverConfig(p.p256)
			sc.ClientAuth = backends.RequireClientCert
			_, chs := engineClient(t, craw, cc)
			_, shs := engineServer(t, sraw, sc)
			_, serr := both(chs, shs)
			check(t, serr)
		})
	}
}

// TestMaxRSAKeyBits: Options.MaxRSAKeyBits moves the bound both ways. A
// client bounded at 2047 bits refuses the server's 2048-bit key, a server
// bounded at 2047 bits a client's; a client bounded at 16384 bits takes
// the size of the 16384-bit key and fails only at its garbage signature.
func TestMaxRSAKeyBits(t *testing.T) {
	p := pki(t)
	rsaClient, err := p.root.Issue(testpki.LeafOptions{CommonName: "rsa client", Usage: testpki.ClientAuth, PrivateKey: p.rsa.Key})
	if err != nil {
		t.Fatal(err)
	}
	huge, err := testpki.HugeRSAKey(16384)
	if err != nil {
		t.Fatal(err)
	}
	hugeLeaf, err := p.root.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}, PrivateKey: huge})
	if err != nil {
		t.Fatal(err)
	}
	const want = "RSA key larger than 2047 bits (2048)"
	t.Run("client-bound", func(t *testing.T) {
		craw, sraw := tcpPair(t)
		cc := p.clientConfig()
		cc.MaxRSAKeyBits = 2047
		_, chs := engineClient(t, craw, cc)
		_, shs := engineServer(t, sraw, p.serverConfig(p.rsa))
		cerr, _ := both(chs, shs)
		if a, ok := errorAlert(cerr); !ok || a != alertBadCertificate || !strings.Contains(cerr.Error(), want) {
			t.Fatalf("client: %v; want bad_certificate, %q", cerr, want)
		}
	})
	t.Run("server-bound", func(t *testing.T) {
		craw, sraw := tcpPair(t)
		cc := p.clientConfig()
		cc.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
			return []*backends.Identity{rsaClient.Identity()}, nil
		}
		sc := p.serverConfig(p.p256)
		sc.ClientAuth = backends.RequireClientCert
		sc.MaxRSAKeyBits = 2047
		_, chs := engineClient(t, craw, cc)
		_, shs := engineServer(t, sraw, sc)
		_, serr := both(chs, shs)
		if a, ok := errorAlert(serr); !ok || a != alertBadCertificate || !strings.Contains(serr.Error(), want) {
			t.Fatalf("server: %v; want bad_certificate, %q", serr, want)
		}
	})
	t.Run("client-raised", func(t *testing.T) {
		craw, sraw := tcpPair(t)
		cc := p.clientConfig()
		cc.MaxRSAKeyBits = 16384
		_, chs := engineClient(t, craw, cc)
		_, shs := engineServer(t, sraw, p.serverConfig(hugeLeaf))
		cerr, _ := both(chs, shs)
		if a, ok := errorAlert(cerr); !ok || a != alertDecryptError {
			t.Fatalf("client: %v; want decrypt_error for the garbage signature", cerr)
		}
	})
}

// BenchmarkHostileRSAKey is what one handshake with a server presenting an
// RSA key without a private key costs the client: the client fails at the
// garbage signature after verifying it, or, over its bound, refuses the
// key before anything. Compare bits=65536/allowed with bits=65536 (the
// default bound) and with bits=8192 (the largest the default allows):
//
//	go test ./backends/circl-pq -run '^$' -bench HostileRSAKey -benchtime 5x
func BenchmarkHostileRSAKey(b *testing.B) {
	p := pki(b)
	for _, tc := range []struct {
		bits, bound int
		want        Alert
	}{
		{8192, 0, alertDecryptError},
		{65536, 0, alertBadCertificate},
		{65536, 65536, alertDecryptError},
	} {
		key, err := testpki.HugeRSAKey(tc.bits)
		if err != nil {
			b.Fatal(err)
		}
		leaf, err := p.root.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}, PrivateKey: key})
		if err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("bits=%d", tc.bits)
		if tc.bound != 0 {
			name += "/allowed"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				craw, sraw := tcpPair(b)
				cc := p.clientConfig()
				cc.MaxRSAKeyBits = tc.bound
				_, chs := engineClient(b, craw, cc)
				_, shs := engineServer(b, sraw, p.serverConfig(leaf))
				cerr, _ := both(chs, shs)
				if a, ok := errorAlert(cerr); !ok || a != tc.want {
					b.Fatalf("client: %v; want %v", cerr, tc.want)
				}
				craw.Close()
				sraw.Close()
			}
		})
	}
}
