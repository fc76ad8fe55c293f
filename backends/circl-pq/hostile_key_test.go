package circlpq

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cryptobyte_asn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// withKey returns leaf with its subjectPublicKeyInfo replaced by spki,
// signed again by ca (ECDSA P-256): crypto/x509 certifies no X25519 key.
func withKey(leaf []byte, spki []byte, ca *testpki.CA) ([]byte, error) {
	cert, err := x509.ParseCertificate(leaf)
	if err != nil {
		return nil, err
	}
	in := cryptobyte.String(cert.RawTBSCertificate)
	var body cryptobyte.String
	var version, serial, alg, issuer, validity, subject, old cryptobyte.String
	if !in.ReadASN1(&body, cryptobyte_asn1.SEQUENCE) ||
		!body.ReadASN1Element(&version, cryptobyte_asn1.Tag(0).Constructed().ContextSpecific()) ||
		!body.ReadASN1Element(&serial, cryptobyte_asn1.INTEGER) ||
		!body.ReadASN1Element(&alg, cryptobyte_asn1.SEQUENCE) ||
		!body.ReadASN1Element(&issuer, cryptobyte_asn1.SEQUENCE) ||
		!body.ReadASN1Element(&validity, cryptobyte_asn1.SEQUENCE) ||
		!body.ReadASN1Element(&subject, cryptobyte_asn1.SEQUENCE) ||
		!body.ReadASN1Element(&old, cryptobyte_asn1.SEQUENCE) {
		return nil, errors.New("malformed TBSCertificate")
	}
	var tb cryptobyte.Builder
	tb.AddASN1(cryptobyte_asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, f := range [][]byte{version, serial, alg, issuer, validity, subject, spki, body} {
			b.AddBytes(f)
		}
	})
	tbs, err := tb.Bytes()
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(tbs)
	sig, err := ca.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	return certificateDER(tbs, alg, sig)
}

// leafWithKey is an identity whose leaf, for a.test and named cn, p.root
// certifies for pub (withKey), and whose key is p.p256's: a peer that
// signs with a key its certificate does not hold.
func leafWithKey(t *testing.T, p *testCerts, pub any, cn string) *backends.Identity {
	t.Helper()
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	issued, err := p.root.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}, CommonName: cn, Usage: testpki.ServerAuth | testpki.ClientAuth})
	if err != nil {
		t.Fatal(err)
	}
	der, err := withKey(issued.Chain[0], spki, p.root)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &backends.Identity{Chain: [][]byte{der}, Leaf: leaf, Key: p.p256.Key}
}

// TestUnsupportedPeerKey: a peer whose trusted leaf holds a key no TLS
// 1.3 signature scheme uses (X25519), signing its CertificateVerify with
// another key, is refused with unsupported_certificate before its chain is
// validated, server and client side, as crypto/tls refuses it (the same
// peer against crypto/tls gets the same alert). Before, it was
// bad_certificate.
func TestUnsupportedPeerKey(t *testing.T) {
	p := pki(t)
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// The X25519 leaf with a key that signs: the engine's identity
	// selection looks at the key.
	hostile := leafWithKey(t, p, x.PublicKey(), "x25519")
	want := func(t *testing.T, who string, local, remote error) {
		t.Helper()
		if a, ok := errorAlert(local); !ok || a != alertUnsupportedCertificate || !strings.Contains(local.Error(), "no signature scheme uses") {
			t.Errorf("%s: %v; want unsupported_certificate naming the key", who, local)
		}
		if !isRemoteAlert(remote, alertUnsupportedCertificate) {
			t.Errorf("the hostile peer read %v; want unsupported_certificate", remote)
		}
	}
	t.Run("server-key", func(t *testing.T) {
		craw, sraw := tcpPair(t)
		_, chs := engineClient(t, craw, p.clientConfig())
		_, shs := engineServer(t, sraw, &backends.ServerConfig{Identities: []*backends.Identity{hostile}})
		cerr, serr := both(chs, shs)
		want(t, "client", cerr, serr)
		// crypto/tls's client answers the same server so.
		craw, sraw = tcpPair(t)
		_, shs = engineServer(t, sraw, &backends.ServerConfig{Identities: []*backends.Identity{hostile}})
		if cerr, serr := both(tls.Client(craw, p.goClientConfig()).Handshake, shs); cerr == nil || !isRemoteAlert(serr, alertUnsupportedCertificate) {
			t.Errorf("crypto/tls's client: %v, its server read %v; want unsupported_certificate", cerr, serr)
		}
	})
	t.Run("client-key", func(t *testing.T) {
		craw, sraw := tcpPair(t)
		cc := p.clientConfig()
		cc.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
			return []*backends.Identity{hostile}, nil
		}
		sc := p.serverConfig(p.p256)
		sc.ClientAuth = backends.RequireClientCert
		c, chs := engineClient(t, craw, cc)
		_, shs := engineServer(t, sraw, sc)
		cerr, serr := both(chs, shs)
		if cerr == nil {
			// TLS 1.3: the client's handshake ends before the server's
			// answer; its first read gets the alert.
			_, cerr = c.Read(make([]byte, 1))
		}
		want(t, "server", serr, cerr)
		// crypto/tls's server answers the same client so.
		craw, sraw = tcpPair(t)
		c, chs = engineClient(t, craw, cc)
		gs := p.goServerConfig(p.p256)
		gs.ClientAuth = tls.RequireAndVerifyClientCert
		cerr, serr = both(chs, tls.Server(sraw, gs).Handshake)
		if cerr == nil {
			_, cerr = c.Read(make([]byte, 1))
		}
		if serr == nil || !isRemoteAlert(cerr, alertUnsupportedCertificate) {
			t.Errorf("crypto/tls's server: %v, its client read %v; want unsupported_certificate", serr, cerr)
		}
	})
}

// TestP224PeerKey: a peer whose trusted leaf holds an ECDSA key on P-224,
// a curve no TLS 1.3 signature scheme uses, signing its CertificateVerify
// with a P-256 key, is refused with illegal_parameter at its
// CertificateVerify, after its chain was validated, server and client
// side, as crypto/tls refuses it (the same peer against crypto/tls gets
// the same alert). Before, circl-pq
// refused the Certificate with unsupported_certificate, before validating
// the chain.
func TestP224PeerKey(t *testing.T) {
	p := pki(t)
	k, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// The P-224 leaf with a P-256 key that signs: the engine picks
	// ecdsa_secp256r1_sha256 for it.
	hostile := leafWithKey(t, p, &k.PublicKey, "p224")
	t.Run("server-key", func(t *testing.T) {
		craw, sraw := tcpPair(t)
		_, chs := engineClient(t, craw, p.clientConfig())
		_, shs := engineServer(t, sraw, &backends.ServerConfig{Identities: []*backends.Identity{hostile}})
		cerr, serr := both(chs, shs)
		if a, ok := errorAlert(cerr); !ok || a != alertIllegalParameter {
			t.Errorf("client: %v; want illegal_parameter", cerr)
		}
		if !isRemoteAlert(serr, alertIllegalParameter) {
			t.Errorf("the hostile server read %v; want illegal_parameter", serr)
		}
		// crypto/tls's client answers the same server so.
		craw, sraw = tcpPair(t)
		_, shs = engineServer(t, sraw, &backends.ServerConfig{Identities: []*backends.Identity{hostile}})
		if cerr, serr := both(tls.Client(craw, p.goClientConfig()).Handshake, shs); cerr == nil || !isRemoteAlert(serr, alertIllegalParameter) {
			t.Errorf("crypto/tls's client: %v, its server read %v; want illegal_parameter", cerr, serr)
		}
	})
	t.Run("client-key", func(t *testing.T) {
		cc := p.clientConfig()
		cc.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
			return []*backends.Identity{hostile}, nil
		}
		run := func(who string, server func(net.Conn) func() error) {
			t.Helper()
			craw, sraw := tcpPair(t)
			c, chs := engineClient(t, craw, cc)
			cerr, serr := both(chs, server(sraw))
			if cerr == nil {
				// TLS 1.3: the client's handshake ends before the
				// server's answer; its first read gets the alert.
				_, cerr = c.Read(make([]byte, 1))
			}
			if serr == nil || !isRemoteAlert(cerr, alertIllegalParameter) {
				t.Errorf("%s: %v, its client read %v; want illegal_parameter", who, serr, cerr)
			}
		}
		run("circl-pq's server", func(sraw net.Conn) func() error {
			sc := p.serverConfig(p.p256)
			sc.ClientAuth = backends.RequireClientCert
			_, shs := engineServer(t, sraw, sc)
			return shs
		})
		run("crypto/tls's server", func(sraw net.Conn) func() error {
			gs := p.goServerConfig(p.p256)
			gs.ClientAuth = tls.RequireAndVerifyClientCert
			return tls.Server(sraw, gs).Handshake
		})
	})
}
