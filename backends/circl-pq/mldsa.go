package circlpq

import (
	"crypto"
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

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/backends/identity"
)

// ML-DSA (FIPS 204) keys, signatures and certificates, with circl.
//
// In TLS 1.3, CertificateVerify with ML-DSA is pure ML-DSA over the usual
// signed content, with an empty context string (draft-ietf-tls-mldsa,
// Section 3). In certificates, the same algorithm identifier names the key
// and the signature, with absent parameters, and a signature covers the DER
// TBSCertificate with an empty context (RFC 9881, Sections 2 and 3).

// ML-DSA signature schemes (draft-ietf-tls-mldsa, Section 3).
const (
	MLDSA44 uint16 = 0x0904
	MLDSA65 uint16 = 0x0905
	MLDSA87 uint16 = 0x0906
)

// mldsaParams ties an ML-DSA parameter set's TLS code point, certificate
// OID and circl scheme together.
type mldsaParams struct {
	scheme uint16
	oid    asn1.ObjectIdentifier
	sign   sign.Scheme
}

var mldsaParamSets = []*mldsaParams{
	{MLDSA44, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 17}, mldsa44.Scheme()},
	{MLDSA65, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 18}, mldsa65.Scheme()},
	{MLDSA87, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 19}, mldsa87.Scheme()},
}

func mldsaByOID(oid asn1.ObjectIdentifier) *mldsaParams {
	for _, p := range mldsaParamSets {
		if p.oid.Equal(oid) {
			return p
		}
	}
	return nil
}

// mldsaByKey returns the parameter set of an ML-DSA public or private key,
// or nil for any other key.
func mldsaByKey(key any) *mldsaParams {
	switch key.(type) {
	case *mldsa44.PublicKey, *mldsa44.PrivateKey:
		return mldsaParamSets[0]
	case *mldsa65.PublicKey, *mldsa65.PrivateKey:
		return mldsaParamSets[1]
	case *mldsa87.PublicKey, *mldsa87.PrivateKey:
		return mldsaParamSets[2]
	}
	return nil
}

// verifyMLDSA checks a pure ML-DSA signature with an empty context.
// Signatures of the wrong length fail without reaching circl.
func verifyMLDSA(pub crypto.PublicKey, msg, sig []byte) bool {
	p := mldsaByKey(pub)
	if p == nil || len(sig) != p.sign.SignatureSize() {
		return false
	}
	return p.sign.Verify(pub.(sign.PublicKey), msg, sig, nil)
}

// readAlgorithmOID reads an AlgorithmIdentifier whose parameters must be
// absent, as ML-DSA's are (RFC 9881, Section 2).
func readAlgorithmOID(s *cryptobyte.String, oid *asn1.ObjectIdentifier) bool {
	var alg cryptobyte.String
	return s.ReadASN1(&alg, cryptobyte_asn1.SEQUENCE) && alg.ReadASN1ObjectIdentifier(oid) && alg.Empty()
}

// parseMLDSAPublicKeyInfo parses a SubjectPublicKeyInfo holding an ML-DSA
// key: the BIT STRING is the raw FIPS 204 public key (RFC 9881, Section 4).
func parseMLDSAPublicKeyInfo(der []byte) (crypto.PublicKey, error) {
	s := cryptobyte.String(der)
	var spki cryptobyte.String
	var oid asn1.ObjectIdentifier
	var bits asn1.BitString
	if !s.ReadASN1(&spki, cryptobyte_asn1.SEQUENCE) || !s.Empty() ||
		!readAlgorithmOID(&spki, &oid) || !spki.ReadASN1BitString(&bits) || !spki.Empty() {
		return nil, errors.New("tls: malformed ML-DSA SubjectPublicKeyInfo")
	}
	p := mldsaByOID(oid)
	if p == nil {
		return nil, fmt.Errorf("%w: algorithm %v", errUnsupportedKey, oid)
	}
	if bits.BitLength%8 != 0 {
		return nil, errors.New("tls: malformed ML-DSA public key")
	}
	pub, err := p.sign.UnmarshalBinaryPublicKey(bits.Bytes)
	if err != nil {
		return nil, fmt.Errorf("tls: %s public key: %v", p.sign.Name(), err)
	}
	return pub, nil
}

// certificatePublicKey returns a certificate's public key: what crypto/x509
// parsed, or the ML-DSA key it leaves nil.
func certificatePublicKey(cert *x509.Certificate) (crypto.PublicKey, error) {
	if cert.PublicKey != nil {
		return cert.PublicKey, nil
	}
	return parseMLDSAKey(cert.RawSubjectPublicKeyInfo)
}

// parseMLDSAKey is parseMLDSAPublicKeyInfo, which tests replace to count
// the keys a validation parses.
var parseMLDSAKey = parseMLDSAPublicKeyInfo

// certificateSignatureOID returns the signatureAlgorithm of a certificate,
// which crypto/x509 reports only as unknown for ML-DSA.
func certificateSignatureOID(cert *x509.Certificate) asn1.ObjectIdentifier {
	s := cryptobyte.String(cert.Raw)
	var c cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&c, cryptobyte_asn1.SEQUENCE) || !c.SkipASN1(cryptobyte_asn1.SEQUENCE) ||
		!readAlgorithmOID(&c, &oid) {
		return nil
	}
	return oid
}

// parseMLDSAPrivateKey parses a PKCS#8 PrivateKeyInfo or OneAsymmetricKey
// (RFC 5958) holding an ML-DSA key in any of the three forms of
// ML-DSA-PrivateKey (RFC 9881, Section 6):
//
//	ML-DSA-PrivateKey ::= CHOICE {
//	  seed [0] IMPLICIT OCTET STRING (SIZE (32)),
//	  expandedKey OCTET STRING,
//	  both SEQUENCE { seed OCTET STRING, expandedKey OCTET STRING } }
//
// When both are present they must agree.
func parseMLDSAPrivateKey(der []byte) (crypto.Signer, error) {
	s := cryptobyte.String(der)
	var info, privateKey cryptobyte.String
	var version int64
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&info, cryptobyte_asn1.SEQUENCE) || !s.Empty() ||
		!info.ReadASN1Integer(&version) || (version != 0 && version != 1) ||
		!readAlgorithmOID(&info, &oid) ||
		!info.ReadASN1(&privateKey, cryptobyte_asn1.OCTET_STRING) {
		return nil, errors.New("ML-DSA: not a PKCS#8 ML-DSA private key")
	}
	// attributes [0] and publicKey [1] (OneAsymmetricKey) may follow; the
	// public key is derived from the private key anyway.
	p := mldsaByOID(oid)
	if p == nil {
		return nil, fmt.Errorf("ML-DSA: not an ML-DSA key (algorithm %v)", oid)
	}
	seedTag := cryptobyte_asn1.Tag(0).ContextSpecific()
	var seed, expanded cryptobyte.String
	switch {
	case privateKey.PeekASN1Tag(seedTag):
		if !privateKey.ReadASN1(&seed, seedTag) {
			return nil, errors.New("ML-DSA: malformed seed")
		}
	case privateKey.PeekASN1Tag(cryptobyte_asn1.OCTET_STRING):
		if !privateKey.ReadASN1(&expanded, cryptobyte_asn1.OCTET_STRING) {
			return nil, errors.New("ML-DSA: malformed expanded key")
		}
	default:
		var both cryptobyte.String
		if !privateKey.ReadASN1(&both, cryptobyte_asn1.SEQUENCE) ||
			!both.ReadASN1(&seed, cryptobyte_asn1.OCTET_STRING) ||
			!both.ReadASN1(&expanded, cryptobyte_asn1.OCTET_STRING) || !both.Empty() {
			return nil, errors.New("ML-DSA: malformed private key")
		}
	}
	if !privateKey.Empty() {
		return nil, errors.New("ML-DSA: trailing data after the private key")
	}
	var sk sign.PrivateKey
	if seed != nil {
		if len(seed) != p.sign.SeedSize() {
			return nil, fmt.Errorf("ML-DSA: seed of %d bytes, want %d", len(seed), p.sign.SeedSize())
		}
		_, sk = p.sign.DeriveKey(seed)
	}
	if expanded != nil {
		ek, err := p.sign.UnmarshalBinaryPrivateKey(expanded)
		if err != nil {
			return nil, fmt.Errorf("ML-DSA: expanded key: %v", err)
		}
		if sk != nil && !sk.Equal(ek) {
			return nil, errors.New("ML-DSA: the seed and the expanded key disagree")
		}
		if sk == nil {
			sk = ek
		}
	}
	return sk.(crypto.Signer), nil
}

// identityParser is the identity parser of this backend: crypto/x509's key
// types and ML-DSA.
var identityParser = identity.Parser{
	ParseKey: parseMLDSAPrivateKey,
	LeafPublicKey: func(der []byte) (crypto.PublicKey, error) {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		return certificatePublicKey(cert)
	},
}

// ParseIdentity is Backend.ParseIdentity. Keys are ECDSA, Ed25519, RSA or
// ML-DSA-44/65/87 (PKCS#8 with the seed, the expanded key, or both).
func ParseIdentity(privateKey []byte, chain [][]byte) (*backends.Identity, error) {
	return identityParser.Parse(privateKey, chain)
}
