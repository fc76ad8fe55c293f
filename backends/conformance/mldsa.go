package conformance

import (
	"bytes"
	"context"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// ML-DSA cases, for backends that declare Options.MLDSA. They run with the
// backend on both ends: crypto/tls in Go 1.26 has no ML-DSA.
//
// Each identity is parsed with the backend's ParseIdentity from PEM
// (PKCS#8, ML-DSA seed form), as a host would load it. A chain whose
// ML-DSA root signed the next certificate carries that root, since a
// backend may not be able to read ML-DSA roots out of an x509.CertPool
// (pools from testpki are also registered with identity.AddTrustAnchor).

// mldsaIdentity parses a minted leaf through the backend, with CA
// certificates appended to its chain.
func (e *env) mldsaIdentity(l *testpki.Leaf, extra ...*testpki.CA) *backends.Identity {
	e.t.Helper()
	chain := [][]byte{l.ChainPEM()}
	for _, ca := range extra {
		chain = append(chain, ca.CertPEM())
	}
	id, err := e.b.ParseIdentity(l.KeyPEM(), chain)
	if err != nil {
		e.t.Fatalf("%s: ParseIdentity of a %T identity: %v", e.b.Name(), l.Key, err)
	}
	return id
}

// mintedCA and mintedLeaf fail the case when minting failed.
func (e *env) mintedCA(ca *testpki.CA, err error) *testpki.CA {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("conformance: minting ML-DSA certificates: %v", err)
	}
	return ca
}

func (e *env) mintedLeaf(l *testpki.Leaf, err error) *testpki.Leaf {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("conformance: minting ML-DSA certificates: %v", err)
	}
	return l
}

func testMLDSAIdentities(e *env) {
	for _, k := range []testpki.KeyType{testpki.MLDSA44, testpki.MLDSA65, testpki.MLDSA87} {
		root := e.mintedCA(testpki.NewCAWith("conformance "+k.String()+" root", k))
		server := e.mintedLeaf(root.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}, Key: k}))
		client := e.mintedLeaf(root.Issue(testpki.LeafOptions{CommonName: "conformance ML-DSA client", Key: k, Usage: testpki.ClientAuth}))
		sid, cid := e.mldsaIdentity(server, root), e.mldsaIdentity(client, root)

		cc := &backends.ClientConfig{Options: tls13(), ServerName: "a.test", RootCAs: root.Pool(),
			ClientIdentity: func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
				return []*backends.Identity{cid}, nil
			}}
		var seen [][]byte
		sc := &backends.ServerConfig{Options: tls13(), Identities: []*backends.Identity{sid},
			ClientAuth: backends.RequireClientCert, ClientCAs: root.Pool(),
			VerifyClient: func(_ context.Context, chain [][]byte) error { seen = chain; return nil }}
		p := e.connect(cc, sc)
		if p.clientErr != nil || p.serverErr != nil {
			e.t.Errorf("%v: handshake: client %v; server %v", k, p.clientErr, p.serverErr)
			continue
		}
		e.exchange(p)
		if got := p.client.State().PeerChain; len(got) == 0 || !bytes.Equal(got[0], server.Chain[0]) {
			e.t.Errorf("%v: client PeerChain does not start with the server's ML-DSA leaf", k)
		}
		if len(seen) == 0 || !bytes.Equal(seen[0], client.Chain[0]) {
			e.t.Errorf("%v: VerifyClient did not see the client's ML-DSA leaf", k)
		}
	}
}

func testMLDSAHybridChains(e *env) {
	ecRoot := e.mintedCA(testpki.NewCAWith("conformance hybrid ECDSA root", testpki.ECDSAP256))
	ecInter := e.mintedCA(ecRoot.Intermediate("conformance hybrid ECDSA intermediate", testpki.ECDSAP256))
	pqRoot := e.mintedCA(testpki.NewCAWith("conformance hybrid ML-DSA root", testpki.MLDSA87))
	pqInter := e.mintedCA(pqRoot.Intermediate("conformance hybrid ML-DSA intermediate", testpki.MLDSA44))
	both := testpki.ServerAuth | testpki.ClientAuth
	for _, tc := range []struct {
		name string
		id   *backends.Identity
		root *testpki.CA
	}{
		{"MLDSALeafUnderECDSA", e.mldsaIdentity(e.mintedLeaf(ecInter.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}, Key: testpki.MLDSA65, Usage: both}))), ecRoot},
		{"ECDSALeafUnderMLDSA", e.mldsaIdentity(e.mintedLeaf(pqInter.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}, Usage: both})), pqRoot), pqRoot},
	} {
		cc := &backends.ClientConfig{Options: tls13(), ServerName: "a.test", RootCAs: tc.root.Pool(),
			ClientIdentity: func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
				return []*backends.Identity{tc.id}, nil
			}}
		sc := &backends.ServerConfig{Options: tls13(), Identities: []*backends.Identity{tc.id},
			ClientAuth: backends.RequireClientCert, ClientCAs: tc.root.Pool()}
		p := e.connect(cc, sc)
		if p.clientErr != nil || p.serverErr != nil {
			e.t.Errorf("%s: handshake: client %v; server %v", tc.name, p.clientErr, p.serverErr)
			continue
		}
		e.exchange(p)
	}
}

func testMLDSAValidation(e *env) {
	root := e.mintedCA(testpki.NewCAWith("conformance ML-DSA root", testpki.MLDSA65))
	other := e.mintedCA(testpki.NewCAWith("conformance untrusted ML-DSA root", testpki.MLDSA65))
	good := e.mintedLeaf(root.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}, Key: testpki.MLDSA65}))
	untrusted := e.mintedLeaf(other.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}, Key: testpki.MLDSA65}))
	for _, tc := range []struct {
		name  string
		id    *backends.Identity
		dial  string
		alert backends.Alert
	}{
		{"WrongHostname", e.mldsaIdentity(good, root), "c.test", backends.AlertBadCertificate},
		{"UnknownCA", e.mldsaIdentity(untrusted, other), "a.test", backends.AlertUnknownCA},
	} {
		called := false
		cc := &backends.ClientConfig{Options: tls13(), ServerName: tc.dial, RootCAs: root.Pool(),
			VerifyServer: func(context.Context, [][]byte) error { called = true; return nil }}
		sc := &backends.ServerConfig{Options: tls13(), Identities: []*backends.Identity{tc.id}}
		p := e.connect(cc, sc)
		if p.clientErr == nil {
			e.t.Errorf("%s: client accepted the ML-DSA chain", tc.name)
		}
		if !sawAlert(p.serverErr, tc.alert) {
			e.t.Errorf("%s: server error %v; want alert %s", tc.name, p.serverErr, tc.alert)
		}
		if called {
			e.t.Errorf("%s: VerifyServer called for a chain that failed default validation", tc.name)
		}
	}
	// A tampered signature anywhere in the chain fails.
	tampered := e.mldsaIdentity(good, root)
	tampered.Chain[0] = bytes.Clone(tampered.Chain[0])
	tampered.Chain[0][len(tampered.Chain[0])-5] ^= 1
	p := e.connect(&backends.ClientConfig{Options: tls13(), ServerName: "a.test", RootCAs: root.Pool()},
		&backends.ServerConfig{Options: tls13(), Identities: []*backends.Identity{tampered}})
	if p.clientErr == nil {
		e.t.Errorf("client accepted a leaf with a corrupted ML-DSA signature")
	}
}
