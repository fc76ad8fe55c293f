package identity_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/backends/identity"
	"github.com/wasitls/wasitls/internal/testpki"
)

func mint(t *testing.T, k testpki.KeyType) (*testpki.CA, *testpki.Leaf) {
	t.Helper()
	root, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	inter, err := root.Intermediate("inter", testpki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := inter.Issue(testpki.LeafOptions{Key: k})
	if err != nil {
		t.Fatal(err)
	}
	return root, leaf
}

func pemBlock(typ string, der []byte, headers map[string]string) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Headers: headers, Bytes: der})
}

func TestParseKeyEncodings(t *testing.T) {
	_, ec := mint(t, testpki.ECDSAP256)
	_, ed := mint(t, testpki.Ed25519)
	_, rs := mint(t, testpki.RSA2048)
	sec1, err := x509.MarshalECPrivateKey(ec.Key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PrivateKey(rs.Key.(*rsa.PrivateKey))
	ecParams := pemBlock("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}, nil)
	for _, tc := range []struct {
		name string
		leaf *testpki.Leaf
		key  []byte
	}{
		{"ECDSA/PKCS8-PEM", ec, ec.KeyPEM()},
		{"ECDSA/PKCS8-DER", ec, ec.KeyPKCS8()},
		{"ECDSA/SEC1-PEM", ec, pemBlock("EC PRIVATE KEY", sec1, nil)},
		{"ECDSA/SEC1-PEM-with-params", ec, append(ecParams, pemBlock("EC PRIVATE KEY", sec1, nil)...)},
		{"ECDSA/SEC1-DER", ec, sec1},
		{"Ed25519/PKCS8-PEM", ed, ed.KeyPEM()},
		{"Ed25519/PKCS8-DER", ed, ed.KeyPKCS8()},
		{"RSA/PKCS8-PEM", rs, rs.KeyPEM()},
		{"RSA/PKCS1-PEM", rs, pemBlock("RSA PRIVATE KEY", pkcs1, nil)},
		{"RSA/PKCS1-DER", rs, pkcs1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := identity.Parse(tc.key, [][]byte{tc.leaf.ChainPEM()})
			if err != nil {
				t.Fatal(err)
			}
			if len(id.Chain) != 2 || !bytes.Equal(id.Chain[0], tc.leaf.Chain[0]) || id.Leaf == nil {
				t.Errorf("chain of %d, leaf %v", len(id.Chain), id.Leaf)
			}
		})
	}
}

func TestParseChainForms(t *testing.T) {
	_, l := mint(t, testpki.ECDSAP256)
	for _, tc := range []struct {
		name  string
		chain [][]byte
	}{
		{"DER", l.Chain},
		{"OnePEM", [][]byte{l.ChainPEM()}},
		{"PEMPerElement", [][]byte{pemBlock("CERTIFICATE", l.Chain[0], nil), pemBlock("CERTIFICATE", l.Chain[1], nil)}},
		{"Mixed", [][]byte{l.Chain[0], append([]byte("\r\n"), pemBlock("CERTIFICATE", l.Chain[1], nil)...)}},
	} {
		got, err := identity.ParseChain(tc.chain)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(got) != 2 || !bytes.Equal(got[0], l.Chain[0]) || !bytes.Equal(got[1], l.Chain[1]) {
			t.Errorf("%s: got %d certificates", tc.name, len(got))
		}
	}
}

func TestParseErrors(t *testing.T) {
	root, l := mint(t, testpki.ECDSAP256)
	_, other := mint(t, testpki.ECDSAP256)
	chain := [][]byte{l.ChainPEM()}
	legacy := pemBlock("EC PRIVATE KEY", []byte{1, 2, 3}, map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"})
	// An EncryptedPrivateKeyInfo: SEQUENCE { SEQUENCE { OID 1.2.840.113549.1.5.13 }, OCTET STRING }.
	epki := []byte{0x30, 0x12, 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d, 0x04, 0x03, 1, 2, 3}
	for _, tc := range []struct {
		name    string
		key     []byte
		chain   [][]byte
		is      error
		mention string
	}{
		{"Mismatch", other.KeyPEM(), chain, identity.ErrKeyMismatch, "does not match"},
		// The root before the leaf: the error says where the key's
		// certificate is, not only that the first does not match.
		{"ChainOutOfOrder", l.KeyPEM(), [][]byte{root.CertPEM(), l.ChainPEM()}, identity.ErrKeyMismatch, "the chain is out of order: the key belongs to certificate 2 of 3 (CN="},
		{"EncryptedPKCS8PEM", pemBlock("ENCRYPTED PRIVATE KEY", epki, nil), chain, identity.ErrEncryptedKey, "encrypted"},
		{"EncryptedPKCS8DER", epki, chain, identity.ErrEncryptedKey, "encrypted"},
		{"EncryptedLegacyPEM", legacy, chain, identity.ErrEncryptedKey, "Proc-Type"},
		{"GarbageKey", []byte("garbage"), chain, nil, "neither PEM (no -----BEGIN line) nor DER"},
		{"SequenceNotAKey", []byte{0x30, 0x03, 0x02, 0x01, 0x01}, chain, nil, "PKCS#8, PKCS#1 or SEC 1"},
		{"EmptyKey", nil, chain, nil, "empty private key"},
		{"CertificateAsKey", l.ChainPEM(), chain, nil, "CERTIFICATE where a private key"},
		{"GarbageChain", l.KeyPEM(), [][]byte{[]byte("garbage")}, nil, "neither PEM nor a DER certificate"},
		{"KeyInChain", l.KeyPEM(), [][]byte{l.KeyPEM()}, nil, "want CERTIFICATE"},
		{"EmptyChain", l.KeyPEM(), nil, nil, "empty certificate chain"},
		{"EmptyPEMChain", l.KeyPEM(), [][]byte{[]byte("-----BEGIN CERTIFICATE-----\n")}, nil, "no CERTIFICATE block"},
	} {
		_, err := identity.Parse(tc.key, tc.chain)
		switch {
		case err == nil:
			t.Errorf("%s: Parse succeeded", tc.name)
		case tc.is != nil && !errors.Is(err, tc.is):
			t.Errorf("%s: %v; want it to wrap %v", tc.name, err, tc.is)
		case !strings.Contains(err.Error(), tc.mention):
			t.Errorf("%s: %q does not mention %q", tc.name, err, tc.mention)
		case !strings.HasPrefix(err.Error(), "identity: "):
			t.Errorf("%s: %q lacks the package prefix", tc.name, err)
		}
	}
}
