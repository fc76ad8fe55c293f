package circlpq

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/backends/identity"
	"github.com/wasitls/wasitls/internal/testpki"
)

// mldsaCerts is the ML-DSA PKI of this package's tests: a root per
// parameter set, hybrid roots, and leaves under them.
type mldsaCerts struct {
	roots  map[testpki.KeyType]*testpki.CA
	ecRoot *testpki.CA // ECDSA root above ML-DSA leaves
	// servers and clients per parameter set, under roots[k].
	servers, clients map[testpki.KeyType]*testpki.Leaf
	// pqUnderEC is an ML-DSA-65 leaf under ecRoot (via an ECDSA
	// intermediate); ecUnderPQ an ECDSA leaf under an ML-DSA-65 root via
	// an ML-DSA-44 intermediate; its chain includes the root.
	pqUnderEC, ecUnderPQ *testpki.Leaf
	ecUnderPQRoot        *testpki.CA
	expired, wrongName   *testpki.Leaf
	untrusted            *testpki.CA
}

var mldsaKeyTypes = []testpki.KeyType{testpki.MLDSA44, testpki.MLDSA65, testpki.MLDSA87}

var (
	mldsaOnce     sync.Once
	mldsaPKI      *mldsaCerts
	mldsaPKIError error
)

func mldsaTestPKI(t testing.TB) *mldsaCerts {
	t.Helper()
	mldsaOnce.Do(func() {
		mldsaPKI, mldsaPKIError = newMLDSACerts()
	})
	if mldsaPKIError != nil {
		t.Fatalf("minting ML-DSA test certificates: %v", mldsaPKIError)
	}
	return mldsaPKI
}

func newMLDSACerts() (*mldsaCerts, error) {
	m := &mldsaCerts{
		roots:   map[testpki.KeyType]*testpki.CA{},
		servers: map[testpki.KeyType]*testpki.Leaf{},
		clients: map[testpki.KeyType]*testpki.Leaf{},
	}
	var err error
	names := []string{"a.test", "localhost"}
	for _, k := range mldsaKeyTypes {
		if m.roots[k], err = testpki.NewCAWith("circlpq "+k.String()+" root", k); err != nil {
			return nil, err
		}
		if m.servers[k], err = m.roots[k].Issue(testpki.LeafOptions{DNSNames: names, Key: k}); err != nil {
			return nil, err
		}
		if m.clients[k], err = m.roots[k].Issue(testpki.LeafOptions{CommonName: "client " + k.String(), Key: k, Usage: testpki.ClientAuth}); err != nil {
			return nil, err
		}
	}
	if m.ecRoot, err = testpki.NewCAWith("circlpq ECDSA root", testpki.ECDSAP256); err != nil {
		return nil, err
	}
	ecInter, err := m.ecRoot.Intermediate("circlpq ECDSA intermediate", testpki.ECDSAP256)
	if err != nil {
		return nil, err
	}
	if m.pqUnderEC, err = ecInter.Issue(testpki.LeafOptions{DNSNames: names, Key: testpki.MLDSA65, Usage: testpki.ServerAuth | testpki.ClientAuth}); err != nil {
		return nil, err
	}
	if m.ecUnderPQRoot, err = testpki.NewCAWith("circlpq hybrid ML-DSA root", testpki.MLDSA65); err != nil {
		return nil, err
	}
	pqInter, err := m.ecUnderPQRoot.Intermediate("circlpq ML-DSA-44 intermediate", testpki.MLDSA44)
	if err != nil {
		return nil, err
	}
	if m.ecUnderPQ, err = pqInter.Issue(testpki.LeafOptions{DNSNames: names, Key: testpki.ECDSAP256, Usage: testpki.ServerAuth | testpki.ClientAuth}); err != nil {
		return nil, err
	}
	// The anchor goes along: a *x509.CertPool cannot be listed, so an
	// ML-DSA root must reach the verifier in the chain.
	m.ecUnderPQ.Chain = append(m.ecUnderPQ.Chain, m.ecUnderPQRoot.Cert.Raw)
	now := time.Now()
	if m.expired, err = m.roots[testpki.MLDSA65].Issue(testpki.LeafOptions{DNSNames: names, Key: testpki.MLDSA65,
		NotBefore: now.Add(-3 * time.Hour), NotAfter: now.Add(-time.Hour)}); err != nil {
		return nil, err
	}
	if m.wrongName, err = m.roots[testpki.MLDSA65].Issue(testpki.LeafOptions{DNSNames: []string{"b.test"}, Key: testpki.MLDSA65}); err != nil {
		return nil, err
	}
	if m.untrusted, err = testpki.NewCAWith("circlpq untrusted ML-DSA root", testpki.MLDSA65); err != nil {
		return nil, err
	}
	return m, nil
}

// pqServerChain is the chain a server presents: the leaf, and the ML-DSA
// root when it signed the leaf.
func pqServerChain(l *testpki.Leaf, root *testpki.CA) [][]byte {
	return append(append([][]byte{}, l.Chain...), root.Cert.Raw)
}

// poolOf returns a pool of the CAs, registered as trust anchors so that
// ML-DSA roots the peer does not send are found (identity.AddTrustAnchor).
func poolOf(cas ...*testpki.CA) *x509.CertPool {
	p := x509.NewCertPool()
	for _, ca := range cas {
		identity.AddTrustAnchor(p, ca.Cert)
	}
	return p
}

// plainPoolOf returns a pool built with crypto/x509 alone.
func plainPoolOf(cas ...*testpki.CA) *x509.CertPool {
	p := x509.NewCertPool()
	for _, ca := range cas {
		p.AddCert(ca.Cert)
	}
	return p
}

// mldsaHandshake runs an engine-to-engine handshake and an echo.
func mldsaHandshake(t *testing.T, cc *backends.ClientConfig, sc *backends.ServerConfig) (client, server *Conn, clientErr, serverErr error) {
	t.Helper()
	craw, sraw := tcpPair(t)
	client, chs := engineClient(t, craw, cc)
	server, shs := engineServer(t, sraw, sc)
	clientErr, serverErr = both(chs, shs)
	if clientErr == nil && serverErr == nil {
		echo(t, client, server)
	}
	return client, server, clientErr, serverErr
}

// TestMLDSAHandshake authenticates servers and clients with each ML-DSA
// parameter set, both ends the engine.
func TestMLDSAHandshake(t *testing.T) {
	m := mldsaTestPKI(t)
	for i, k := range mldsaKeyTypes {
		scheme := []uint16{MLDSA44, MLDSA65, MLDSA87}[i]
		t.Run(k.String(), func(t *testing.T) {
			root := m.roots[k]
			srv := m.servers[k]
			id, err := ParseIdentity(srv.KeyPEM(), [][]byte{srv.ChainPEM(), root.CertPEM()})
			if err != nil {
				t.Fatalf("ParseIdentity: %v", err)
			}
			cid := m.clients[k].Identity()
			cid.Chain = pqServerChain(m.clients[k], root)
			var sawSchemes []uint16
			cc := &backends.ClientConfig{ServerName: "a.test", RootCAs: poolOf(root),
				ClientIdentity: func(_ context.Context, req *backends.IdentityRequest) ([]*backends.Identity, error) {
					sawSchemes = req.SignatureSchemes
					return []*backends.Identity{cid}, nil
				}}
			var clientChain [][]byte
			sc := &backends.ServerConfig{Identities: []*backends.Identity{id}, ClientAuth: backends.RequireClientCert,
				ClientCAs: poolOf(root), VerifyClient: func(_ context.Context, chain [][]byte) error {
					clientChain = chain
					return nil
				}}
			c, s, cerr, serr := mldsaHandshake(t, cc, sc)
			if cerr != nil || serr != nil {
				t.Fatalf("handshake: client %v, server %v", cerr, serr)
			}
			if !contains(sawSchemes, scheme) {
				t.Errorf("CertificateRequest schemes %x lack %#04x", sawSchemes, scheme)
			}
			if got := c.State().PeerChain; len(got) == 0 || !bytes.Equal(got[0], srv.Chain[0]) {
				t.Errorf("client PeerChain does not start with the ML-DSA leaf")
			}
			if len(clientChain) == 0 || !bytes.Equal(clientChain[0], m.clients[k].Chain[0]) {
				t.Errorf("VerifyClient did not see the ML-DSA client leaf")
			}
			if s.State().LocalIdentity != id {
				t.Errorf("server LocalIdentity is not the parsed identity")
			}
		})
	}
}

// TestMLDSAHybridChains checks both hybrid directions: an ML-DSA leaf under
// ECDSA CAs (crypto/x509 checks the signatures) and an ECDSA leaf under
// ML-DSA CAs (circl checks them), as server and as client certificates.
func TestMLDSAHybridChains(t *testing.T) {
	m := mldsaTestPKI(t)
	for _, tc := range []struct {
		name string
		leaf *testpki.Leaf
		root *testpki.CA
	}{
		{"MLDSALeafUnderECDSARoot", m.pqUnderEC, m.ecRoot},
		{"ECDSALeafUnderMLDSARoot", m.ecUnderPQ, m.ecUnderPQRoot},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := &backends.ClientConfig{ServerName: "a.test", RootCAs: poolOf(tc.root),
				ClientIdentity: func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
					return []*backends.Identity{tc.leaf.Identity()}, nil
				}}
			sc := &backends.ServerConfig{Identities: []*backends.Identity{tc.leaf.Identity()},
				ClientAuth: backends.RequireClientCert, ClientCAs: poolOf(tc.root)}
			if _, _, cerr, serr := mldsaHandshake(t, cc, sc); cerr != nil || serr != nil {
				t.Fatalf("handshake: client %v, server %v", cerr, serr)
			}
		})
	}
}

// TestMLDSARegisteredAnchors: with the root registered for the pool, the
// peer need not send it, for pure ML-DSA chains and for an ECDSA leaf under
// ML-DSA CAs.
func TestMLDSARegisteredAnchors(t *testing.T) {
	m := mldsaTestPKI(t)
	ecUnderPQ := m.ecUnderPQ.Identity()
	ecUnderPQ.Chain = ecUnderPQ.Chain[:len(ecUnderPQ.Chain)-1] // leaf and intermediate only
	for _, tc := range []struct {
		name string
		id   *backends.Identity
		root *testpki.CA
	}{
		{"MLDSA44", m.servers[testpki.MLDSA44].Identity(), m.roots[testpki.MLDSA44]},
		{"MLDSA87", m.servers[testpki.MLDSA87].Identity(), m.roots[testpki.MLDSA87]},
		{"ECDSALeafUnderMLDSARoot", ecUnderPQ, m.ecUnderPQRoot},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, der := range tc.id.Chain {
				if bytes.Equal(der, tc.root.Cert.Raw) {
					t.Fatal("the chain carries the root")
				}
			}
			cc := &backends.ClientConfig{ServerName: "a.test", RootCAs: poolOf(tc.root)}
			sc := &backends.ServerConfig{Identities: []*backends.Identity{tc.id}}
			if _, _, cerr, serr := mldsaHandshake(t, cc, sc); cerr != nil || serr != nil {
				t.Fatalf("handshake: client %v, server %v", cerr, serr)
			}
		})
	}
}

// TestMLDSAValidationFailures checks that ML-DSA chains get the same
// scrutiny as classical ones, with the alert RFC 8446 names.
func TestMLDSAValidationFailures(t *testing.T) {
	m := mldsaTestPKI(t)
	root65 := m.roots[testpki.MLDSA65]
	untrustedLeaf, err := m.untrusted.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}, Key: testpki.MLDSA65})
	if err != nil {
		t.Fatal(err)
	}
	unregisteredRoot, err := testpki.NewCAWith("circlpq unregistered ML-DSA root", testpki.MLDSA44)
	if err != nil {
		t.Fatal(err)
	}
	unregistered, err := unregisteredRoot.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}, Key: testpki.MLDSA44})
	if err != nil {
		t.Fatal(err)
	}
	tampered := m.servers[testpki.MLDSA65].Identity()
	tampered.Chain = [][]byte{bytes.Clone(tampered.Chain[0]), root65.Cert.Raw}
	tampered.Chain[0][len(tampered.Chain[0])-10] ^= 0x40 // inside the signature
	clientOnly := m.clients[testpki.MLDSA65].Identity()
	clientOnly.Chain = pqServerChain(m.clients[testpki.MLDSA65], root65)
	withRoot := func(l *testpki.Leaf, root *testpki.CA) *backends.Identity {
		id := l.Identity()
		id.Chain = pqServerChain(l, root)
		return id
	}
	for _, tc := range []struct {
		name  string
		id    *backends.Identity
		pool  *x509.CertPool
		alert Alert
	}{
		{"Expired", withRoot(m.expired, root65), poolOf(root65), alertCertificateExpired},
		{"WrongName", withRoot(m.wrongName, root65), poolOf(root65), alertBadCertificate},
		{"UntrustedRoot", withRoot(untrustedLeaf, m.untrusted), poolOf(root65), alertUnknownCA},
		// A root the peer does not send is found only when it was
		// registered as a trust anchor.
		{"RootNotSentNorRegistered", unregistered.Identity(), plainPoolOf(unregisteredRoot), alertUnknownCA},
		{"BadSignature", tampered, poolOf(root65), alertBadCertificate},
		{"ClientCertificateAsServer", clientOnly, poolOf(root65), alertBadCertificate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := &backends.ClientConfig{ServerName: "a.test", RootCAs: tc.pool}
			sc := &backends.ServerConfig{Identities: []*backends.Identity{tc.id}}
			_, _, cerr, serr := mldsaHandshake(t, cc, sc)
			var ae *AlertError
			if !errors.As(cerr, &ae) || ae.Remote || ae.Alert != tc.alert {
				t.Fatalf("client error = %v; want local alert %v", cerr, tc.alert)
			}
			if !errors.As(serr, &ae) || !ae.Remote || ae.Alert != tc.alert {
				t.Errorf("server error = %v; want remote alert %v", serr, tc.alert)
			}
		})
	}
}

// TestMLDSAParseIdentity parses ML-DSA keys in the three PKCS#8 forms, PEM
// and DER, and refuses mismatches and malformed keys.
func TestMLDSAParseIdentity(t *testing.T) {
	m := mldsaTestPKI(t)
	for _, k := range mldsaKeyTypes {
		l := m.servers[k]
		for _, form := range []struct {
			name string
			f    testpki.MLDSAKeyForm
		}{{"seed", testpki.MLDSASeed}, {"expanded", testpki.MLDSAExpanded}, {"both", testpki.MLDSABoth}} {
			der, err := testpki.MarshalMLDSAPKCS8(l.Key, form.f)
			if err != nil {
				t.Fatal(err)
			}
			for _, key := range [][]byte{der, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})} {
				id, err := ParseIdentity(key, [][]byte{l.ChainPEM()})
				if err != nil {
					t.Errorf("%v %s: %v", k, form.name, err)
					continue
				}
				if id.Leaf == nil || !bytes.Equal(id.Chain[0], l.Chain[0]) {
					t.Errorf("%v %s: wrong chain or no leaf", k, form.name)
				}
				if mldsaByKey(id.Key) == nil {
					t.Errorf("%v %s: key of type %T", k, form.name, id.Key)
				}
			}
		}
	}
	l65, l44 := m.servers[testpki.MLDSA65], m.servers[testpki.MLDSA44]
	if _, err := ParseIdentity(l44.KeyPEM(), [][]byte{l65.ChainPEM()}); !errors.Is(err, identity.ErrKeyMismatch) {
		t.Errorf("ML-DSA-44 key with an ML-DSA-65 leaf: %v; want ErrKeyMismatch", err)
	}
	other, err := testpki.GenerateKey(testpki.MLDSA65)
	if err != nil {
		t.Fatal(err)
	}
	otherDER, _ := testpki.MarshalMLDSAPKCS8(other, testpki.MLDSASeed)
	if _, err := ParseIdentity(otherDER, [][]byte{l65.ChainPEM()}); !errors.Is(err, identity.ErrKeyMismatch) {
		t.Errorf("another ML-DSA-65 key: %v; want ErrKeyMismatch", err)
	}
	// Seed and expanded key that disagree.
	both, _ := testpki.MarshalMLDSAPKCS8(l65.Key, testpki.MLDSABoth)
	otherBoth, _ := testpki.MarshalMLDSAPKCS8(other, testpki.MLDSABoth)
	mixed := bytes.Clone(both)
	seedAt := bytes.Index(both, l65.Key.(interface{ Seed() []byte }).Seed())
	copy(mixed[seedAt:], other.(interface{ Seed() []byte }).Seed())
	if _, err := parseMLDSAPrivateKey(mixed); err == nil || !strings.Contains(err.Error(), "disagree") {
		t.Errorf("disagreeing seed and expanded key: %v", err)
	}
	if _, err := parseMLDSAPrivateKey(otherBoth); err != nil {
		t.Errorf("both form: %v", err)
	}
	// Truncations and short seeds never panic and never parse.
	seedDER, _ := testpki.MarshalMLDSAPKCS8(l65.Key, testpki.MLDSASeed)
	for n := 0; n < len(seedDER); n++ {
		if _, err := parseMLDSAPrivateKey(seedDER[:n]); err == nil {
			t.Fatalf("truncated key of %d bytes parsed", n)
		}
	}
}

// TestMLDSASignatureChecks checks CertificateVerify signing and
// verification directly, including hostile inputs.
func TestMLDSASignatureChecks(t *testing.T) {
	m := mldsaTestPKI(t)
	for i, k := range mldsaKeyTypes {
		key := m.servers[k].Key
		scheme := []uint16{MLDSA44, MLDSA65, MLDSA87}[i]
		if got := signatureSchemesForKey(key.Public()); len(got) != 1 || got[0] != scheme {
			t.Fatalf("%v: schemes %x", k, got)
		}
		tr := cipherSuiteByID(TLS_AES_128_GCM_SHA256).newHash()
		tr.Write([]byte("transcript"))
		sig, err := signHandshake(key, scheme, serverSignatureContext, tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := verifyHandshakeSignature(key.Public(), scheme, serverSignatureContext, tr, sig); err != nil {
			t.Errorf("%v: %v", k, err)
		}
		if err := verifyHandshakeSignature(key.Public(), scheme, clientSignatureContext, tr, sig); err != errBadSignature {
			t.Errorf("%v: signature verifies in the other context: %v", k, err)
		}
		other := []uint16{MLDSA65, MLDSA87, MLDSA44}[i]
		if err := verifyHandshakeSignature(key.Public(), other, serverSignatureContext, tr, sig); err != errSchemeMismatch {
			t.Errorf("%v: scheme %#04x for the key: %v", k, other, err)
		}
		for _, bad := range [][]byte{nil, {1}, sig[:len(sig)-1], append(bytes.Clone(sig), 0), make([]byte, len(sig))} {
			if err := verifyHandshakeSignature(key.Public(), scheme, serverSignatureContext, tr, bad); err != errBadSignature {
				t.Errorf("%v: malformed signature of %d bytes: %v", k, len(bad), err)
			}
		}
	}
}
