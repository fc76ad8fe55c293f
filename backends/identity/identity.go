// Package identity parses TLS identities: a private key and its certificate
// chain, in the encodings a host or guest is likely to hold.
//
// # Model
//
// Keys are PEM or DER; PEM blocks "PRIVATE KEY" (PKCS#8), "RSA PRIVATE KEY"
// (PKCS#1) and "EC PRIVATE KEY" (SEC 1) are understood, and raw DER is tried in
// that order. Encrypted keys (PKCS#8 "ENCRYPTED PRIVATE KEY", or legacy PEM
// with a Proc-Type: 4,ENCRYPTED header) are rejected with [ErrEncryptedKey]:
// there is no passphrase to decrypt them with.
//
// A chain is a list of elements, leaf first. Each element is either one DER
// certificate or PEM text holding one or more CERTIFICATE blocks; the result
// is the flattened DER chain.
//
// The key must match the leaf's public key ([ErrKeyMismatch] otherwise;
// when it matches another certificate of the chain, the error says the
// chain is out of order).
// Backends that know key or certificate types crypto/x509 does not (ML-DSA,
// for example) supply them through [Parser].
//
// Trust anchors added with [AddTrustAnchor] or [AppendTrustAnchorsFromPEM]
// can be found again by subject ([TrustAnchors]), which an x509.CertPool
// does not allow; backends that check signatures crypto/x509 cannot need
// that to build chains to the pool's roots.
package identity

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/wasitls/wasitls/backends"
)

// ErrEncryptedKey is wrapped by errors for password-protected keys.
var ErrEncryptedKey = errors.New("identity: private key is encrypted; provide it unencrypted")

// ErrKeyMismatch is wrapped by errors for a key that does not belong to the
// leaf certificate.
var ErrKeyMismatch = errors.New("identity: private key does not match the leaf certificate's public key")

// A Parser parses identities. The zero value understands what crypto/x509
// does; the optional fields extend it.
type Parser struct {
	// ParseKey, if set, is tried on DER private keys that crypto/x509 could
	// not parse. It returns an error when it does not recognize the key
	// either.
	ParseKey func(der []byte) (crypto.Signer, error)

	// LeafPublicKey, if set, extracts the public key of a leaf certificate
	// whose key crypto/x509 could not parse. When crypto/x509 could not
	// parse the certificate at all, the identity has a nil Leaf.
	LeafPublicKey func(der []byte) (crypto.PublicKey, error)
}

// Parse parses an identity with the zero [Parser].
func Parse(privateKey []byte, chain [][]byte) (*backends.Identity, error) {
	return Parser{}.Parse(privateKey, chain)
}

// Parse parses privateKey and chain into an identity, checking that the key
// matches the leaf.
func (p Parser) Parse(privateKey []byte, chain [][]byte) (*backends.Identity, error) {
	key, err := p.ParsePrivateKey(privateKey)
	if err != nil {
		return nil, err
	}
	ders, err := ParseChain(chain)
	if err != nil {
		return nil, err
	}
	id := &backends.Identity{Chain: ders, Key: key}
	var pub crypto.PublicKey
	leaf, err := x509.ParseCertificate(ders[0])
	switch {
	case err == nil && leaf.PublicKey != nil:
		id.Leaf = leaf
		pub = leaf.PublicKey
	case err == nil && p.LeafPublicKey != nil:
		// crypto/x509 parsed the certificate but not its key algorithm
		// (ML-DSA in Go 1.26, for example).
		id.Leaf = leaf
		if pub, err = p.LeafPublicKey(ders[0]); err != nil {
			return nil, fmt.Errorf("identity: leaf certificate: %w", err)
		}
	case err == nil:
		return nil, fmt.Errorf("identity: leaf certificate has a %v key this backend does not support", leaf.PublicKeyAlgorithm)
	case p.LeafPublicKey != nil:
		var err2 error
		if pub, err2 = p.LeafPublicKey(ders[0]); err2 != nil {
			return nil, fmt.Errorf("identity: leaf certificate: %w (and: %v)", err, err2)
		}
	default:
		return nil, fmt.Errorf("identity: leaf certificate: %w", err)
	}
	if err := Matches(key, pub); err != nil {
		if i, c := keyCertificate(key, ders[1:]); c != nil {
			return nil, fmt.Errorf("%w: the chain is out of order: the key belongs to certificate %d of %d (CN=%s), not the first; put the leaf first, then the certificates that issued it", ErrKeyMismatch, i+2, len(ders), c.Subject.CommonName)
		}
		return nil, err
	}
	return id, nil
}

// keyCertificate returns the first of ders whose public key is key's,
// and its index in ders, if any: a chain given root or intermediate
// first.
func keyCertificate(key crypto.Signer, ders [][]byte) (int, *x509.Certificate) {
	for i, der := range ders {
		if c, err := x509.ParseCertificate(der); err == nil && Matches(key, c.PublicKey) == nil {
			return i, c
		}
	}
	return 0, nil
}

// Matches reports, as an error wrapping [ErrKeyMismatch], whether key is not
// the private half of pub.
func Matches(key crypto.Signer, pub crypto.PublicKey) error {
	eq, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return fmt.Errorf("identity: cannot compare a %T key with the certificate", key)
	}
	if !eq.Equal(pub) {
		return fmt.Errorf("%w (key %T, certificate %T)", ErrKeyMismatch, key.Public(), pub)
	}
	return nil
}

// ParsePrivateKey parses a PEM or DER private key with the zero [Parser].
func ParsePrivateKey(b []byte) (crypto.Signer, error) {
	return Parser{}.ParsePrivateKey(b)
}

// ParsePrivateKey parses a PEM or DER private key.
func (p Parser) ParsePrivateKey(b []byte) (crypto.Signer, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("identity: empty private key")
	}
	if !isPEM(b) {
		if !isSequence(b) {
			return nil, errors.New("identity: the private key is neither PEM (no -----BEGIN line) nor DER (no ASN.1 SEQUENCE); want a PKCS#8, PKCS#1 or SEC 1 key")
		}
		return p.parseKeyDER(b, "")
	}
	rest := b
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("identity: no private key block in PEM data")
		}
		switch block.Type {
		case "EC PARAMETERS":
			// openssl ecparam -genkey writes these before the key.
			continue
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("%w (PEM %q block)", ErrEncryptedKey, block.Type)
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if block.Headers["Proc-Type"] == "4,ENCRYPTED" || block.Headers["DEK-Info"] != "" {
				return nil, fmt.Errorf("%w (legacy PEM encryption, Proc-Type: 4,ENCRYPTED)", ErrEncryptedKey)
			}
			return p.parseKeyDER(block.Bytes, block.Type)
		case "CERTIFICATE":
			return nil, errors.New("identity: PEM holds a CERTIFICATE where a private key was expected")
		default:
			if bytes.HasSuffix([]byte(block.Type), []byte("PRIVATE KEY")) {
				return p.parseKeyDER(block.Bytes, block.Type)
			}
			return nil, fmt.Errorf("identity: unexpected PEM block %q where a private key was expected", block.Type)
		}
	}
}

func (p Parser) parseKeyDER(der []byte, pemType string) (crypto.Signer, error) {
	var errs []error
	try := func(name string, f func([]byte) (any, error)) crypto.Signer {
		k, err := f(der)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return nil
		}
		if s, ok := k.(crypto.Signer); ok {
			return s
		}
		errs = append(errs, fmt.Errorf("%s: key type %T cannot sign", name, k))
		return nil
	}
	pkcs1 := func(b []byte) (any, error) { return x509.ParsePKCS1PrivateKey(b) }
	sec1 := func(b []byte) (any, error) { return x509.ParseECPrivateKey(b) }
	switch pemType {
	case "RSA PRIVATE KEY":
		if k := try("PKCS#1", pkcs1); k != nil {
			return k, nil
		}
	case "EC PRIVATE KEY":
		if k := try("SEC 1", sec1); k != nil {
			return k, nil
		}
	default:
		if k := try("PKCS#8", x509.ParsePKCS8PrivateKey); k != nil {
			return k, nil
		}
		if pemType == "" {
			if isEncryptedPKCS8(der) {
				return nil, fmt.Errorf("%w (DER EncryptedPrivateKeyInfo)", ErrEncryptedKey)
			}
			if k := try("PKCS#1", pkcs1); k != nil {
				return k, nil
			}
			if k := try("SEC 1", sec1); k != nil {
				return k, nil
			}
		}
	}
	if p.ParseKey != nil {
		k, err := p.ParseKey(der)
		if err == nil {
			return k, nil
		}
		errs = append(errs, err)
	}
	what := "DER private key"
	if pemType != "" {
		what = fmt.Sprintf("PEM %q block", pemType)
	}
	return nil, fmt.Errorf("identity: %s is not a PKCS#8, PKCS#1 or SEC 1 key this backend supports: %w", what, errors.Join(errs...))
}

// isEncryptedPKCS8 reports whether der is an EncryptedPrivateKeyInfo
// (RFC 5958, Section 3): a SEQUENCE of an AlgorithmIdentifier and an OCTET
// STRING, where an unencrypted PrivateKeyInfo starts with an INTEGER.
func isEncryptedPKCS8(der []byte) bool {
	var epki struct {
		Algo pkix.AlgorithmIdentifier
		Data []byte
	}
	rest, err := asn1.Unmarshal(der, &epki)
	return err == nil && len(rest) == 0 && len(epki.Data) > 0
}

// ParseChain flattens chain elements (DER, or PEM with one or more
// CERTIFICATE blocks) into DER certificates, leaf first. DER elements are
// checked to be single ASN.1 SEQUENCEs but not parsed, so certificates of
// key types crypto/x509 does not know pass through.
func ParseChain(chain [][]byte) ([][]byte, error) {
	if len(chain) == 0 {
		return nil, errors.New("identity: empty certificate chain")
	}
	var out [][]byte
	for i, elem := range chain {
		if !isPEM(elem) {
			if err := checkDER(elem); err != nil {
				return nil, fmt.Errorf("identity: chain element %d is neither PEM nor a DER certificate: %w", i, err)
			}
			out = append(out, bytes.Clone(elem))
			continue
		}
		rest, n := elem, 0
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				return nil, fmt.Errorf("identity: chain element %d: unexpected PEM block %q (want CERTIFICATE)", i, block.Type)
			}
			if err := checkDER(block.Bytes); err != nil {
				return nil, fmt.Errorf("identity: chain element %d, certificate %d: %w", i, n, err)
			}
			out = append(out, block.Bytes)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("identity: chain element %d: no CERTIFICATE block in PEM data", i)
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			return nil, fmt.Errorf("identity: chain element %d: trailing data after the last PEM block", i)
		}
	}
	return out, nil
}

func checkDER(b []byte) error {
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(b, &raw)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errors.New("trailing data after the certificate")
	}
	if raw.Class != asn1.ClassUniversal || raw.Tag != asn1.TagSequence || !raw.IsCompound {
		return errors.New("not an ASN.1 SEQUENCE")
	}
	return nil
}

// isSequence reports whether b starts with an ASN.1 SEQUENCE, as every DER
// private key does.
func isSequence(b []byte) bool {
	var raw asn1.RawValue
	_, err := asn1.Unmarshal(b, &raw)
	return err == nil && raw.Class == asn1.ClassUniversal && raw.Tag == asn1.TagSequence && raw.IsCompound
}

func isPEM(b []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("-----BEGIN "))
}
