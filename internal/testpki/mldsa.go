package testpki

// ML-DSA certificates (FIPS 204; draft-ietf-lamps-dilithium-certificates,
// now RFC 9881). Go 1.26's crypto/x509 parses certificates with ML-DSA keys
// and signatures but can neither create nor verify them, so this file mints
// them itself: crypto/x509 encodes the TBSCertificate with a stand-in ECDSA
// key (names, validity, extensions are then exactly what crypto/x509 would
// write), the stand-in's SubjectPublicKeyInfo and signature
// AlgorithmIdentifier are replaced with cryptobyte, and the real key signs
// the result.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"golang.org/x/crypto/cryptobyte"
	cryptobyte_asn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers of ML-DSA, both as public key algorithm and as
// signature algorithm (RFC 9881, Section 2; NIST CSOR sigAlgs 17-19).
var (
	OIDMLDSA44 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 17}
	OIDMLDSA65 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 18}
	OIDMLDSA87 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 19}
)

// mldsaScheme returns circl's scheme for an ML-DSA key (public or private),
// or nil for any other key.
func mldsaScheme(key any) sign.Scheme {
	switch key.(type) {
	case *mldsa44.PrivateKey, *mldsa44.PublicKey:
		return mldsa44.Scheme()
	case *mldsa65.PrivateKey, *mldsa65.PublicKey:
		return mldsa65.Scheme()
	case *mldsa87.PrivateKey, *mldsa87.PublicKey:
		return mldsa87.Scheme()
	}
	return nil
}

// IsMLDSA reports whether key (public or private) is an ML-DSA key.
func IsMLDSA(key any) bool { return mldsaScheme(key) != nil }

func mldsaOID(s sign.Scheme) asn1.ObjectIdentifier {
	switch s.Name() {
	case "ML-DSA-44":
		return OIDMLDSA44
	case "ML-DSA-65":
		return OIDMLDSA65
	}
	return OIDMLDSA87
}

// MLDSAKeyForm is an encoding of an ML-DSA private key inside PKCS#8
// (RFC 9881, Section 6: the ML-DSA-PrivateKey CHOICE).
type MLDSAKeyForm int

const (
	// MLDSASeed is the seed-only form, seed [0] IMPLICIT OCTET STRING
	// (SIZE (32)): the recommended one.
	MLDSASeed MLDSAKeyForm = iota
	// MLDSAExpanded is the expanded-key-only form, an OCTET STRING.
	MLDSAExpanded
	// MLDSABoth is SEQUENCE { seed, expandedKey }, what OpenSSL 3.5 writes
	// by default.
	MLDSABoth
)

// MarshalMLDSAPKCS8 encodes an ML-DSA private key as a PKCS#8
// PrivateKeyInfo (RFC 5958) in the given form. The algorithm identifier has
// absent parameters (RFC 9881, Section 2).
func MarshalMLDSAPKCS8(key crypto.Signer, form MLDSAKeyForm) ([]byte, error) {
	s := mldsaScheme(key)
	if s == nil {
		return nil, fmt.Errorf("testpki: %T is not an ML-DSA private key", key)
	}
	sk := key.(sign.PrivateKey)
	seed := sk.(sign.Seeded).Seed()
	expanded, err := sk.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if seed == nil && form != MLDSAExpanded {
		return nil, errors.New("testpki: ML-DSA key without its seed can only be written in the expanded form")
	}
	var inner cryptobyte.Builder
	switch form {
	case MLDSASeed:
		inner.AddASN1(cryptobyte_asn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(seed) })
	case MLDSAExpanded:
		inner.AddASN1OctetString(expanded)
	case MLDSABoth:
		inner.AddASN1(cryptobyte_asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1OctetString(seed)
			b.AddASN1OctetString(expanded)
		})
	default:
		return nil, fmt.Errorf("testpki: unknown ML-DSA key form %d", form)
	}
	privateKey, err := inner.Bytes()
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cryptobyte_asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(0) // version v1
		b.AddASN1(cryptobyte_asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(mldsaOID(s))
		})
		b.AddASN1OctetString(privateKey)
	})
	return b.Bytes()
}

// marshalMLDSAPublicKeyInfo encodes a SubjectPublicKeyInfo for an ML-DSA
// public key: the raw public key is the BIT STRING (RFC 9881, Section 4).
func marshalMLDSAPublicKeyInfo(pub crypto.PublicKey) ([]byte, error) {
	s := mldsaScheme(pub)
	raw, err := pub.(sign.PublicKey).MarshalBinary()
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cryptobyte_asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cryptobyte_asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(mldsaOID(s))
		})
		b.AddASN1BitString(raw)
	})
	return b.Bytes()
}

// createCertificate is x509.CreateCertificate that also accepts ML-DSA keys
// as the subject's key (pub) and as the issuer's (signer).
func createCertificate(template, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) ([]byte, error) {
	pubPQ, signerPQ := IsMLDSA(pub), IsMLDSA(signer)
	if !pubPQ && !signerPQ {
		return x509.CreateCertificate(rand.Reader, template, parent, pub, signer)
	}
	standIn, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := *template
	x509Pub, x509Signer := pub, signer
	var spki []byte
	if pubPQ {
		x509Pub = standIn.Public()
		if spki, err = marshalMLDSAPublicKeyInfo(pub); err != nil {
			return nil, err
		}
		if len(tmpl.SubjectKeyId) == 0 {
			// RFC 5280, Section 4.2.1.2, method 1: SHA-1 of the
			// subjectPublicKey bits.
			raw, _ := pub.(sign.PublicKey).MarshalBinary()
			sum := sha1.Sum(raw)
			tmpl.SubjectKeyId = sum[:]
		}
	}
	if signerPQ {
		x509Signer = standIn
	}
	if template == parent {
		parent = &tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, parent, x509Pub, x509Signer)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}

	// Re-encode the TBSCertificate (RFC 5280, Section 4.1):
	// version, serialNumber, signature, issuer, validity, subject,
	// subjectPublicKeyInfo, extensions.
	tbsIn := cryptobyte.String(cert.RawTBSCertificate)
	var body cryptobyte.String
	if !tbsIn.ReadASN1(&body, cryptobyte_asn1.SEQUENCE) {
		return nil, errors.New("testpki: malformed TBSCertificate")
	}
	var version, serialNum, sigAlg, issuer, validity, subject, oldSPKI cryptobyte.String
	versionTag := cryptobyte_asn1.Tag(0).Constructed().ContextSpecific()
	if !body.ReadASN1Element(&version, versionTag) ||
		!body.ReadASN1Element(&serialNum, cryptobyte_asn1.INTEGER) ||
		!body.ReadASN1Element(&sigAlg, cryptobyte_asn1.SEQUENCE) ||
		!body.ReadASN1Element(&issuer, cryptobyte_asn1.SEQUENCE) ||
		!body.ReadASN1Element(&validity, cryptobyte_asn1.SEQUENCE) ||
		!body.ReadASN1Element(&subject, cryptobyte_asn1.SEQUENCE) ||
		!body.ReadASN1Element(&oldSPKI, cryptobyte_asn1.SEQUENCE) {
		return nil, errors.New("testpki: malformed TBSCertificate")
	}
	if spki == nil {
		spki = oldSPKI
	}
	var algID []byte
	if signerPQ {
		var b cryptobyte.Builder
		b.AddASN1(cryptobyte_asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			// Parameters are absent (RFC 9881, Section 3).
			b.AddASN1ObjectIdentifier(mldsaOID(mldsaScheme(signer)))
		})
		if algID, err = b.Bytes(); err != nil {
			return nil, err
		}
	} else {
		algID = sigAlg
	}
	var tb cryptobyte.Builder
	tb.AddASN1(cryptobyte_asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(version)
		b.AddBytes(serialNum)
		b.AddBytes(algID)
		b.AddBytes(issuer)
		b.AddBytes(validity)
		b.AddBytes(subject)
		b.AddBytes(spki)
		b.AddBytes(body) // issuerUniqueID, subjectUniqueID, extensions
	})
	tbs, err := tb.Bytes()
	if err != nil {
		return nil, err
	}

	sig, err := signTBS(signer, cert.SignatureAlgorithm, tbs)
	if err != nil {
		return nil, err
	}
	var cb cryptobyte.Builder
	cb.AddASN1(cryptobyte_asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddBytes(algID)
		b.AddASN1BitString(sig)
	})
	return cb.Bytes()
}

// signTBS signs a TBSCertificate with signer; alg is the algorithm
// crypto/x509 chose for a classical signer.
func signTBS(signer crypto.Signer, alg x509.SignatureAlgorithm, tbs []byte) ([]byte, error) {
	if IsMLDSA(signer) {
		// Pure ML-DSA over the DER TBSCertificate with an empty context
		// (RFC 9881, Section 3).
		return signer.Sign(rand.Reader, tbs, crypto.Hash(0))
	}
	var h crypto.Hash
	switch alg {
	case x509.ECDSAWithSHA256, x509.SHA256WithRSA:
		h = crypto.SHA256
	case x509.ECDSAWithSHA384, x509.SHA384WithRSA:
		h = crypto.SHA384
	case x509.ECDSAWithSHA512, x509.SHA512WithRSA:
		h = crypto.SHA512
	case x509.PureEd25519:
		return signer.Sign(rand.Reader, tbs, crypto.Hash(0))
	default:
		return nil, fmt.Errorf("testpki: cannot re-sign with %v", alg)
	}
	d := h.New()
	d.Write(tbs)
	return signer.Sign(rand.Reader, d.Sum(nil), h)
}

// checkSignatureFrom is x509.Certificate.CheckSignatureFrom that also
// checks ML-DSA signatures.
func checkSignatureFrom(c, parent *x509.Certificate) error {
	s := schemeByOID(signatureOID(c))
	if s == nil {
		return c.CheckSignatureFrom(parent)
	}
	pub, err := PublicKey(parent)
	if err != nil {
		return err
	}
	if mldsaScheme(pub) != s || !s.Verify(pub.(sign.PublicKey), c.RawTBSCertificate, c.Signature, nil) {
		return errors.New("testpki: ML-DSA certificate signature does not verify")
	}
	return nil
}

func schemeByOID(oid asn1.ObjectIdentifier) sign.Scheme {
	switch {
	case oid.Equal(OIDMLDSA44):
		return mldsa44.Scheme()
	case oid.Equal(OIDMLDSA65):
		return mldsa65.Scheme()
	case oid.Equal(OIDMLDSA87):
		return mldsa87.Scheme()
	}
	return nil
}

// signatureOID returns the signatureAlgorithm OID of a certificate.
func signatureOID(c *x509.Certificate) asn1.ObjectIdentifier {
	s := cryptobyte.String(c.Raw)
	var cert, alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&cert, cryptobyte_asn1.SEQUENCE) ||
		!cert.SkipASN1(cryptobyte_asn1.SEQUENCE) ||
		!cert.ReadASN1(&alg, cryptobyte_asn1.SEQUENCE) ||
		!alg.ReadASN1ObjectIdentifier(&oid) {
		return nil
	}
	return oid
}

// PublicKey returns a certificate's public key: what crypto/x509 parsed, or
// the ML-DSA key it leaves nil.
func PublicKey(c *x509.Certificate) (crypto.PublicKey, error) {
	if c.PublicKey != nil {
		return c.PublicKey, nil
	}
	s := cryptobyte.String(c.RawSubjectPublicKeyInfo)
	var spki, alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	var bits asn1.BitString
	if !s.ReadASN1(&spki, cryptobyte_asn1.SEQUENCE) ||
		!spki.ReadASN1(&alg, cryptobyte_asn1.SEQUENCE) ||
		!alg.ReadASN1ObjectIdentifier(&oid) ||
		!spki.ReadASN1BitString(&bits) {
		return nil, errors.New("testpki: malformed SubjectPublicKeyInfo")
	}
	scheme := schemeByOID(oid)
	if scheme == nil {
		return nil, fmt.Errorf("testpki: unsupported public key algorithm %v", oid)
	}
	return scheme.UnmarshalBinaryPublicKey(bits.RightAlign())
}

// generateMLDSA returns a new ML-DSA key of the parameter set of k.
func generateMLDSA(k KeyType) (crypto.Signer, error) {
	var sk sign.PrivateKey
	var err error
	switch k {
	case MLDSA44:
		_, sk, err = mldsa44.GenerateKey(rand.Reader)
	case MLDSA65:
		_, sk, err = mldsa65.GenerateKey(rand.Reader)
	case MLDSA87:
		_, sk, err = mldsa87.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("testpki: %v is not an ML-DSA key type", k)
	}
	if err != nil {
		return nil, err
	}
	return sk.(crypto.Signer), nil
}

// marshalPKCS8 is x509.MarshalPKCS8PrivateKey, with ML-DSA keys in the
// seed-only form.
func marshalPKCS8(key crypto.Signer) ([]byte, error) {
	if IsMLDSA(key) {
		return MarshalMLDSAPKCS8(key, MLDSASeed)
	}
	return x509.MarshalPKCS8PrivateKey(key)
}
