package conformance

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// pki holds the certificates of the suite, minted once per Run.
type pki struct {
	root, other *testpki.CA // other is a root the peers do not trust
	inter       *testpki.CA // intermediate under root

	serverA   *testpki.Leaf // a.test, via the intermediate (2-certificate chain)
	serverB   *testpki.Leaf // b.test, directly under root
	local     *testpki.Leaf // localhost, 127.0.0.1, ::1
	ed25519   *testpki.Leaf // a.test with an Ed25519 key
	rsa       *testpki.Leaf // a.test with an RSA key
	expired   *testpki.Leaf // a.test, expired an hour ago
	untrusted *testpki.Leaf // a.test from the other root

	client      *testpki.Leaf // client certificate under root
	clientOther *testpki.Leaf // client certificate under the other root
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("conformance: minting certificates: %v", err)
		}
	}
	var p pki
	var err error
	p.root, err = testpki.NewCAWith("conformance root", testpki.ECDSAP256)
	must(err)
	p.other, err = testpki.NewCAWith("conformance untrusted root", testpki.ECDSAP256)
	must(err)
	p.inter, err = p.root.Intermediate("conformance intermediate", testpki.ECDSAP256)
	must(err)
	issue := func(ca *testpki.CA, o testpki.LeafOptions) *testpki.Leaf {
		t.Helper()
		l, err := ca.Issue(o)
		must(err)
		return l
	}
	p.serverA = issue(p.inter, testpki.LeafOptions{DNSNames: []string{"a.test"}})
	p.serverB = issue(p.root, testpki.LeafOptions{DNSNames: []string{"b.test"}})
	p.local = issue(p.root, testpki.LeafOptions{})
	p.ed25519 = issue(p.root, testpki.LeafOptions{DNSNames: []string{"a.test"}, Key: testpki.Ed25519})
	p.rsa = issue(p.root, testpki.LeafOptions{DNSNames: []string{"a.test"}, Key: testpki.RSA2048})
	now := time.Now()
	p.expired = issue(p.root, testpki.LeafOptions{DNSNames: []string{"a.test"},
		NotBefore: now.Add(-3 * time.Hour), NotAfter: now.Add(-time.Hour)})
	p.untrusted = issue(p.other, testpki.LeafOptions{DNSNames: []string{"a.test"}})
	p.client = issue(p.root, testpki.LeafOptions{CommonName: "conformance client",
		EmailAddresses: []string{"client@a.test"}, Usage: testpki.ClientAuth})
	p.clientOther = issue(p.other, testpki.LeafOptions{CommonName: "conformance other client",
		EmailAddresses: []string{"other@a.test"}, Usage: testpki.ClientAuth})
	return &p
}

func (p *pki) roots() *x509.CertPool { return p.root.Pool() }

// clientConfig is a TLS 1.3 client config for name trusting the root.
func (p *pki) clientConfig(name string) *backends.ClientConfig {
	return &backends.ClientConfig{Options: tls13(), ServerName: name, RootCAs: p.roots()}
}

// serverConfig is a TLS 1.3 server config presenting ids.
func (p *pki) serverConfig(ids ...*testpki.Leaf) *backends.ServerConfig {
	sc := &backends.ServerConfig{Options: tls13(), ClientCAs: p.roots()}
	for _, l := range ids {
		sc.Identities = append(sc.Identities, l.Identity())
	}
	return sc
}

// rootAndLeaf is a root and a leaf for a.test it issued.
func rootAndLeaf(tb testing.TB) (*testpki.CA, *testpki.Leaf) {
	tb.Helper()
	ca, err := testpki.NewCA()
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := ca.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}})
	if err != nil {
		tb.Fatal(err)
	}
	return ca, leaf
}
