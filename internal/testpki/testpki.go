// Package testpki mints throwaway certificate authorities and certificates in
// memory, for tests, benchmarks and the demo.
//
// # Model
//
// A [CA] is a self-signed root with its private key. [CA.Issue] signs a
// [Leaf]: a certificate for the names and uses in [LeafOptions], with a fresh
// key of the requested [KeyType], and the chain to present (leaf first, the
// root excluded, as TLS peers expect). [CA.Intermediate] makes a subordinate
// CA whose leaves carry the intermediate in their chain.
//
// Key types include ML-DSA-44/65/87 (FIPS 204), as leaf, intermediate or
// root keys, mixed freely with classical ones. crypto/x509 in Go 1.26 can
// neither create nor verify ML-DSA certificates; mldsa.go mints them (and
// [PublicKey] extracts their keys), and a test cross-checks the encoding
// with Go 1.27's crypto/x509 on request.
//
// Nothing here is meant for production: keys are never persisted, serial
// numbers are random, and validity windows default to one hour around now.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/backends/identity"
)

// KeyType selects the algorithm of a generated key.
type KeyType int

const (
	// ECDSAP256 is ECDSA over NIST P-256 (the default).
	ECDSAP256 KeyType = iota
	// Ed25519 is EdDSA over edwards25519.
	Ed25519
	// RSA2048 is a 2048-bit RSA key (slow to generate: use sparingly).
	RSA2048
	// MLDSA44, MLDSA65 and MLDSA87 are ML-DSA keys (FIPS 204) of the three
	// parameter sets. crypto/x509 parses their certificates but cannot
	// verify them; see [PublicKey] and mldsa.go.
	MLDSA44
	MLDSA65
	MLDSA87
)

func (k KeyType) String() string {
	switch k {
	case ECDSAP256:
		return "ECDSA-P256"
	case Ed25519:
		return "Ed25519"
	case RSA2048:
		return "RSA-2048"
	case MLDSA44:
		return "ML-DSA-44"
	case MLDSA65:
		return "ML-DSA-65"
	case MLDSA87:
		return "ML-DSA-87"
	}
	return fmt.Sprintf("KeyType(%d)", int(k))
}

// GenerateKey returns a new private key of type k.
func GenerateKey(k KeyType) (crypto.Signer, error) {
	switch k {
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case Ed25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case MLDSA44, MLDSA65, MLDSA87:
		return generateMLDSA(k)
	}
	return nil, fmt.Errorf("testpki: unknown key type %v", k)
}

// A CA is a certificate authority: a CA certificate and its key.
type CA struct {
	// Cert is the parsed CA certificate.
	Cert *x509.Certificate
	// Key signs what the CA issues.
	Key crypto.Signer
	// parents is the chain above Cert up to, but excluding, the root; empty
	// for a root.
	parents [][]byte
}

// CAs are valid from two days ago for thirty days, so that leaves with
// validity windows in the recent past (expired leaves, tests with a fixed
// clock) still chain to a valid CA.
const (
	caBackdate = 48 * time.Hour
	caLifetime = 30 * 24 * time.Hour
)

// NewCA returns a self-signed ECDSA P-256 root named "wasitls test CA".
func NewCA() (*CA, error) {
	return NewCAWith("wasitls test CA", ECDSAP256)
}

// NewCAWith returns a self-signed root with the given common name and key
// type.
func NewCAWith(commonName string, k KeyType) (*CA, error) {
	key, err := GenerateKey(k)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"wasitls test PKI"}},
		NotBefore:             now.Add(-caBackdate),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := createCertificate(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("testpki: create CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Intermediate returns a subordinate CA signed by ca.
func (ca *CA) Intermediate(commonName string, k KeyType) (*CA, error) {
	key, err := GenerateKey(k)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"wasitls test PKI"}},
		NotBefore:             now.Add(-caBackdate),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := createCertificate(tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("testpki: create intermediate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	parents := append([][]byte{}, ca.parents...)
	if len(ca.parents) > 0 || !isSelfSigned(ca.Cert) {
		parents = append([][]byte{ca.Cert.Raw}, parents...)
	}
	return &CA{Cert: cert, Key: key, parents: parents}, nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return checkSignatureFrom(c, c) == nil
}

// Pool returns a pool holding only this CA's certificate, registered with
// identity.AddTrustAnchor so that backends verifying ML-DSA signatures find
// it.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	identity.AddTrustAnchor(p, ca.Cert)
	return p
}

// CertPEM returns the CA certificate in PEM.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// Usage says what a leaf certificate may be used for.
type Usage int

const (
	// ServerAuth marks a TLS server certificate (the default).
	ServerAuth Usage = 1 << iota
	// ClientAuth marks a TLS client certificate.
	ClientAuth
)

// LeafOptions describes a certificate to issue. The zero value is a server
// certificate for "localhost", 127.0.0.1 and ::1 with an ECDSA P-256 key,
// valid from an hour ago for a day.
type LeafOptions struct {
	// CommonName defaults to the first DNS name, or "wasitls test leaf".
	CommonName string
	// DNSNames and IPAddresses are the subject alternative names. When both
	// are empty, "localhost", 127.0.0.1 and ::1 are used.
	DNSNames    []string
	IPAddresses []net.IP
	// EmailAddresses are added as rfc822Name SANs (useful for client
	// certificates).
	EmailAddresses []string
	// Usage defaults to ServerAuth.
	Usage Usage
	// Key is the key type of the new key pair (ignored when PrivateKey is
	// set).
	Key KeyType
	// PrivateKey, if set, is certified instead of a fresh key.
	PrivateKey crypto.Signer
	// NotBefore and NotAfter default to an hour ago and a day from now.
	NotBefore, NotAfter time.Time
}

// A Leaf is an issued end-entity certificate with its key.
type Leaf struct {
	// Cert is the parsed leaf.
	Cert *x509.Certificate
	// Chain is what a TLS peer presents: the leaf, then any intermediates
	// (DER), root excluded.
	Chain [][]byte
	// Key is the leaf's private key.
	Key crypto.Signer
}

// Issue signs a new leaf certificate.
func (ca *CA) Issue(opts LeafOptions) (*Leaf, error) {
	key := opts.PrivateKey
	if key == nil {
		var err error
		if key, err = GenerateKey(opts.Key); err != nil {
			return nil, err
		}
	}
	now := time.Now()
	notBefore, notAfter := opts.NotBefore, opts.NotAfter
	if notBefore.IsZero() {
		notBefore = now.Add(-time.Hour)
	}
	if notAfter.IsZero() {
		notAfter = now.Add(24 * time.Hour)
	}
	if !notAfter.After(notBefore) {
		return nil, errors.New("testpki: NotAfter must be after NotBefore")
	}
	dns, ips := opts.DNSNames, opts.IPAddresses
	if len(dns) == 0 && len(ips) == 0 && len(opts.EmailAddresses) == 0 {
		dns = []string{"localhost"}
		ips = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	cn := opts.CommonName
	if cn == "" {
		cn = "wasitls test leaf"
		if len(dns) > 0 {
			cn = dns[0]
		}
	}
	usage := opts.Usage
	if usage == 0 {
		usage = ServerAuth
	}
	var eku []x509.ExtKeyUsage
	if usage&ServerAuth != 0 {
		eku = append(eku, x509.ExtKeyUsageServerAuth)
	}
	if usage&ClientAuth != 0 {
		eku = append(eku, x509.ExtKeyUsageClientAuth)
	}
	ku := x509.KeyUsageDigitalSignature
	if _, isRSA := key.(*rsa.PrivateKey); isRSA {
		ku |= x509.KeyUsageKeyEncipherment
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial(),
		Subject:        pkix.Name{CommonName: cn, Organization: []string{"wasitls test PKI"}},
		NotBefore:      notBefore,
		NotAfter:       notAfter,
		KeyUsage:       ku,
		ExtKeyUsage:    eku,
		DNSNames:       dns,
		IPAddresses:    ips,
		EmailAddresses: opts.EmailAddresses,
	}
	der, err := createCertificate(tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("testpki: issue leaf: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	chain := [][]byte{der}
	if !isSelfSigned(ca.Cert) {
		chain = append(chain, ca.Cert.Raw)
		chain = append(chain, ca.parents...)
	}
	return &Leaf{Cert: cert, Chain: chain, Key: key}, nil
}

// Identity returns the leaf as a backend identity.
func (l *Leaf) Identity() *backends.Identity {
	return &backends.Identity{Chain: l.Chain, Leaf: l.Cert, Key: l.Key}
}

// TLSCertificate returns the leaf for crypto/tls.
func (l *Leaf) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: l.Chain, PrivateKey: l.Key, Leaf: l.Cert}
}

// ChainPEM returns the chain as concatenated PEM CERTIFICATE blocks.
func (l *Leaf) ChainPEM() []byte {
	var out []byte
	for _, der := range l.Chain {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return out
}

// KeyPKCS8 returns the private key as PKCS#8 DER (ML-DSA keys in the
// seed-only form; see [MarshalMLDSAPKCS8] for the others).
func (l *Leaf) KeyPKCS8() []byte {
	der, err := marshalPKCS8(l.Key)
	if err != nil {
		// Every key type GenerateKey makes is marshalable.
		panic("testpki: " + err.Error())
	}
	return der
}

// KeyPEM returns the private key as a PEM "PRIVATE KEY" (PKCS#8) block.
func (l *Leaf) KeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: l.KeyPKCS8()})
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("testpki: " + err.Error())
	}
	return n.Add(n, big.NewInt(1))
}
