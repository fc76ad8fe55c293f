package circlpq

import (
	"crypto"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/testpki"
)

// foreignKeysChain is testpki.LoopChain(10), whose walk spends the whole
// budget of signature checks, followed by as many certificates named
// "loop" holding ML-DSA-87 keys (signed with ECDSA, to be small) as fit
// in a Certificate message: candidate parents of every certificate the
// walk visits, whose keys can never check the ML-DSA-44 signatures.
func foreignKeysChain(t *testing.T) *testpki.Leaf {
	t.Helper()
	leaf, err := testpki.LoopChain(10, testpki.LeafOptions{DNSNames: []string{"a.test"}, CommonName: "leaf", Usage: testpki.ServerAuth | testpki.ClientAuth})
	if err != nil {
		t.Fatal(err)
	}
	ec, err := testpki.NewCAWith("loop", testpki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	size := 0
	for _, c := range leaf.Chain {
		size += 5 + len(c)
	}
	for {
		c, err := ec.Issue(testpki.LeafOptions{CommonName: "loop", DNSNames: []string{"loop.test"}, Key: testpki.MLDSA87})
		if err != nil {
			t.Fatal(err)
		}
		if size+5+len(c.Chain[0]) > maxHandshake-1024 {
			break
		}
		size += 5 + len(c.Chain[0])
		leaf.Chain = append(leaf.Chain, c.Chain[0])
	}
	return leaf
}

// TestHostileChainForeignKeys presents foreignKeysChain to a client and to
// a server that requires a client certificate, and counts the ML-DSA
// public keys the victim parses: each certificate's at most once. Parsing
// an ML-DSA-87 key costs circl some 70 µs (it expands the public matrix),
// six ML-DSA-44 verifications. Before, the walk parsed the key of every
// candidate parent at every certificate it visited, before it looked at
// the parameter set and without spending from its budget: 1,291 parses
// for the chain of 84 certificates, 130-185 ms against 2 ms for the same
// walk without the 73 ML-DSA-87 certificates (66-100 times), as much as
// crypto/tls spends on its costliest chain; now 10 parses, 1.2 times.
func TestHostileChainForeignKeys(t *testing.T) {
	p := pki(t)
	leaf := foreignKeysChain(t)
	parses := 0
	t.Cleanup(func() { parseMLDSAKey = parseMLDSAPublicKeyInfo })
	parseMLDSAKey = func(der []byte) (crypto.PublicKey, error) {
		parses++
		return parseMLDSAPublicKeyInfo(der)
	}
	check := func(t *testing.T, err error, _ time.Time) {
		t.Helper()
		if a, ok := errorAlert(err); !ok || a != alertBadCertificate || !strings.Contains(err.Error(), "too many signature checks") {
			t.Errorf("error %v; want bad_certificate after too many signature checks", err)
		}
		t.Logf("%d ML-DSA key parses for a chain of %d certificates", parses, len(leaf.Chain))
		if parses > len(leaf.Chain) {
			t.Errorf("%d ML-DSA key parses for a chain of %d certificates; want each parsed once at most", parses, len(leaf.Chain))
		}
		parses = 0
	}
	// Each check starts the count again for the next handshake.
	presentChain(t, p, leaf, check)
}
