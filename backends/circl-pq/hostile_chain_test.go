package circlpq

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// classicalParentsChain is an ML-DSA-signed leaf under the name "loop",
// then 50 certificates of that name holding the signing ML-DSA key, each
// signed with ECDSA by a CA named "ecloop", then 100 ECDSA intermediates
// named "ecloop" that did not sign them: every path of the ML-DSA walk
// ends in a crypto/x509 Verify that tries the 100 intermediates.
func classicalParentsChain(t *testing.T) *testpki.Leaf {
	t.Helper()
	ml, err := testpki.NewCAWith("loop", testpki.MLDSA44)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := testpki.NewCAWith("ecloop", testpki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ml.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}, CommonName: "leaf", Usage: testpki.ServerAuth | testpki.ClientAuth})
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		c, err := ec.Issue(testpki.LeafOptions{CommonName: "loop", DNSNames: []string{"loop.test"}, PrivateKey: ml.Key})
		if err != nil {
			t.Fatal(err)
		}
		leaf.Chain = append(leaf.Chain, c.Chain[0])
	}
	for range 100 {
		c, err := ec.Intermediate("ecloop", testpki.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		leaf.Chain = append(leaf.Chain, c.Cert.Raw)
	}
	return leaf
}

// TestHostileChainBounded presents costly chains to a client and to a
// server that requires a client certificate: 20 mutually signing ML-DSA
// certificates (testpki.LoopChain), and ML-DSA keys certified by ECDSA
// under many intermediates of one name (classicalParentsChain). Each fails
// with bad_certificate within a bounded number of signature checks.
// Unbounded, 8 mutually signing certificates took 6.6 s and 20 would take
// days; with the checks bounded but not crypto/x509's Verify calls, the
// second chain took 1.9 s, now 35 ms. The third (rsaDecoyChains) makes
// each crypto/x509 Verify given the peer's certificates check 100
// RSA-8192 signatures: one such Verify is allowed, as crypto/tls makes
// (before, four: 3-4 times crypto/tls's worst case,
// BenchmarkHostileChainCost).
func TestHostileChainBounded(t *testing.T) {
	p := pki(t)
	loop, err := testpki.LoopChain(20, testpki.LeafOptions{DNSNames: []string{"a.test"}, CommonName: "leaf", Usage: testpki.ServerAuth | testpki.ClientAuth})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		leaf *testpki.Leaf
	}{
		{"mutually-signing", loop},
		{"classical-parents", classicalParentsChain(t)},
		{"rsa-decoys", hostileRSAChains(t).mldsa},
	} {
		t.Run(tc.name, func(t *testing.T) { hostileChain(t, p, tc.leaf) })
	}
}

func hostileChain(t *testing.T, p *testCerts, leaf *testpki.Leaf) {
	// Count crypto/x509's Verify calls, each of which may check 100
	// signatures: the walk must make at most maxChainX509Verifies for
	// classically signed certificates, and one per visit otherwise.
	// Of those, one at most may be given the peer's certificates as
	// intermediates, as crypto/tls makes one Verify.
	var verifies, classical, withPeers int
	t.Cleanup(func() { x509Verify = (*x509.Certificate).Verify })
	x509Verify = func(c *x509.Certificate, opts x509.VerifyOptions) ([][]*x509.Certificate, error) {
		verifies++
		if mldsaByOID(certificateSignatureOID(c)) == nil {
			classical++
		}
		if opts.Intermediates != nil {
			withPeers++
		}
		return c.Verify(opts)
	}
	check := func(t *testing.T, err error, start time.Time) {
		t.Helper()
		if a, ok := errorAlert(err); !ok || a != alertBadCertificate || !strings.Contains(err.Error(), "too many signature checks") {
			t.Errorf("error %v; want bad_certificate after too many signature checks", err)
		}
		if verifies > maxChainSignatureChecks || classical > maxChainX509Verifies {
			t.Errorf("%d crypto/x509 Verify calls, %d of classically signed certificates; want at most %d and %d",
				verifies, classical, maxChainSignatureChecks, maxChainX509Verifies)
		}
		if withPeers > 1 {
			t.Errorf("%d crypto/x509 Verify calls given the peer's certificates; want at most 1", withPeers)
		}
		verifies, classical, withPeers = 0, 0, 0
		// Generous for a loaded machine or the race detector; the
		// unbounded walks took 1.9 s and more.
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("validation took %v", d)
		}
	}
	presentChain(t, p, leaf, check)
}

// presentChain presents leaf's chain to a client, from a server, and to a
// server that requires a client certificate, from a client ("server-chain"
// and "client-chain"), and hands check the victim's error and when its
// handshake began.
func presentChain(t *testing.T, p *testCerts, leaf *testpki.Leaf, check func(t *testing.T, err error, start time.Time)) {
	t.Run("server-chain", func(t *testing.T) {
		start := time.Now()
		craw, sraw := tcpPair(t)
		_, chs := engineClient(t, craw, p.clientConfig())
		_, shs := engineServer(t, sraw, &backends.ServerConfig{Identities: []*backends.Identity{leaf.Identity()}})
		cerr, _ := both(chs, shs)
		check(t, cerr, start)
	})
	t.Run("client-chain", func(t *testing.T) {
		start := time.Now()
		craw, sraw := tcpPair(t)
		cc := p.clientConfig()
		cc.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
			return []*backends.Identity{leaf.Identity()}, nil
		}
		// A root of the same name, which the client's certificates do
		// not chain to, makes the client present them.
		decoy, err := testpki.NewCAWith("loop", testpki.MLDSA44)
		if err != nil {
			t.Fatal(err)
		}
		sc := p.serverConfig(p.p256)
		sc.ClientAuth = backends.RequireClientCert
		sc.ClientCAs = decoy.Pool()
		_, chs := engineClient(t, craw, cc)
		_, shs := engineServer(t, sraw, sc)
		_, serr := both(chs, shs)
		check(t, serr, start)
	})
}
