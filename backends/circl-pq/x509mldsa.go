package circlpq

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cryptobyte_asn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/wasitls/wasitls/backends/identity"
)

// Certificate chains with ML-DSA signatures.
//
// crypto/x509 in Go 1.26 parses certificates with ML-DSA keys and
// signatures but cannot check an ML-DSA signature, so its chain building
// stops at the first certificate an ML-DSA key signed. Chains without one
// (including an ML-DSA leaf under ECDSA CAs) are verified by crypto/x509
// alone. For the others, verifyChainMLDSA walks up from the leaf:
//
//   - a certificate that crypto/x509 can anchor in the pool on its own (it
//     is a root of the pool, or its classical signature leads to one) ends
//     the walk, and crypto/x509's chain above it is kept;
//   - otherwise its signature must be ML-DSA, and its issuer is looked for
//     among the certificates the peer sent and the pool's registered trust
//     anchors (same subject as the issuer name), the signature checked with
//     circl, and the walk continues from the issuer.
//
// The whole chain then gets the checks crypto/x509 would make: validity at
// the configured time, basicConstraints and pathLenConstraint, keyUsage
// keyCertSign on CAs, extended key usage nested along the chain, the host
// name on the leaf, and no unhandled critical extension. Name constraints
// in such chains are refused rather than half-enforced.
//
// An *x509.CertPool cannot be listed, so an ML-DSA root that signed the
// next certificate down is found either among the certificates the peer
// sent, or among the certificates registered for the pool with
// identity.AddTrustAnchor or identity.AppendTrustAnchorsFromPEM; either way
// crypto/x509 confirms that the pool holds it. An ECDSA, RSA or Ed25519 root
// is found in the pool as usual.

// maxChainDepth bounds the chain walk.
const maxChainDepth = 10

// A walk's work is bounded, as crypto/x509 bounds its own (100 signature
// checks per Verify). Without a bound a peer that sends certificates of
// one name and one key, each signing every other, makes the depth-first
// walk try every ordering of them: 20 such certificates are 10^11 checks,
// days of CPU for one handshake that no handshake timeout stops.
//
//   - maxChainSignatureChecks bounds the certificates the walk visits and
//     the ML-DSA signatures it checks;
//   - maxChainX509Verifies bounds the crypto/x509 Verify calls for
//     certificates with a classical signature, each of which may check up
//     to 100 signatures itself (those of ML-DSA-signed certificates fail
//     without any, since crypto/x509 cannot check them). Without it 50
//     ML-DSA keys certified by ECDSA, under 100 ECDSA intermediates of one
//     name, took 1.9 s of CPU for one handshake.
//
// A legitimate walk needs one crypto/x509 anchoring, or a few where an
// ML-DSA key is cross-certified.
//
// Of those Verify calls, only the first is given the peer's certificates
// as intermediates: the others anchor a certificate only in a trust
// anchor that signed it, which the host chose. The peer's certificates so
// cost at most what crypto/tls's one Verify spends on them (100
// signature checks, RSA-8192 ones at worst: 0.1-0.2 s), where four
// Verify calls spent four times that. A chain that needs the peer's
// intermediates above a second cross-certified certificate, after a first
// that failed, is refused; none has been seen. Verify calls for an
// ML-DSA-signed certificate, which crypto/x509 cannot check the signature
// of, only ask whether it is itself a trust anchor, and are given no
// intermediates either.
const (
	maxChainSignatureChecks = 100
	maxChainX509Verifies    = 4
)

// x509Verify is crypto/x509's Verify; this package's tests count its
// calls.
var x509Verify = (*x509.Certificate).Verify

// errChainChecks ends a walk that used up its budget.
var errChainChecks = errors.New("tls: gave up validating a certificate chain with ML-DSA signatures: too many signature checks")

// A walkBudget is what remains of a walk's work (see maxChainSignatureChecks).
type walkBudget struct {
	checks, x509Verifies int
	// intermediates are the peer's certificates, for the first classical
	// Verify; nil once it ran.
	intermediates *x509.CertPool
	// keys are the ML-DSA keys of the candidate parents parsed so far,
	// nil for a key that failed to parse (see parentKey).
	keys map[*x509.Certificate]crypto.PublicKey
}

// parentKey returns the key of a candidate parent when it is an ML-DSA
// key of parameter set p, nil otherwise. The parameter set is read from
// the algorithm identifier of the certificate's SubjectPublicKeyInfo, and
// only a key of p's set is parsed, once per walk: parsing one costs circl
// the expansion of its public matrix (some 70 µs for ML-DSA-87, six
// ML-DSA-44 verifications), outside the budget of signature checks.
// Before, the walk parsed the key of every candidate at every
// certificate it visited, and a peer that added candidates of another
// parameter set, which are never tried, multiplied the time of the walk
// by 66 to 100 (TestHostileChainForeignKeys).
func (b *walkBudget) parentKey(parent *x509.Certificate, p *mldsaParams) crypto.PublicKey {
	if parent.PublicKey != nil {
		return nil // a key crypto/x509 parsed: not ML-DSA
	}
	if pub, ok := b.keys[parent]; ok {
		return pub
	}
	spki := cryptobyte.String(parent.RawSubjectPublicKeyInfo)
	var body cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !spki.ReadASN1(&body, cryptobyte_asn1.SEQUENCE) || !readAlgorithmOID(&body, &oid) || mldsaByOID(oid) != p {
		return nil
	}
	pub, err := parseMLDSAKey(parent.RawSubjectPublicKeyInfo)
	if err != nil || mldsaByKey(pub) != p {
		pub = nil
	}
	if b.keys == nil {
		b.keys = make(map[*x509.Certificate]crypto.PublicKey)
	}
	b.keys[parent] = pub
	return pub
}

// verifyOptions returns the options of a crypto/x509 Verify of a
// certificate: the peer's certificates as intermediates for the first
// classical one, none otherwise (see maxChainX509Verifies).
func (b *walkBudget) verifyOptions(opts x509.VerifyOptions, classical bool) x509.VerifyOptions {
	opts.Intermediates = nil
	if classical {
		opts.Intermediates, b.intermediates = b.intermediates, nil
	}
	return opts
}

// spend takes one check, and one crypto/x509 Verify when x509 is set; it
// reports false when the budget is used up.
func (b *walkBudget) spend(x509 bool) bool {
	b.checks--
	if x509 {
		b.x509Verifies--
	}
	return b.checks >= 0 && b.x509Verifies >= 0
}

// hasMLDSASignature reports whether a certificate of certs is signed with
// ML-DSA.
func hasMLDSASignature(certs []*x509.Certificate) bool {
	for _, c := range certs {
		if mldsaByOID(certificateSignatureOID(c)) != nil {
			return true
		}
	}
	return false
}

// verifyChainMLDSA validates a peer's chain (leaf first) in which ML-DSA
// signatures occur. Errors are crypto/x509 error types where one fits, so
// certificateAlert maps them to the right alert.
func verifyChainMLDSA(certs []*x509.Certificate, roots *x509.CertPool, dnsName string, usage x509.ExtKeyUsage, now func() time.Time) error {
	t := time.Now()
	if now != nil {
		t = now()
	}
	leaf := certs[0]
	if dnsName != "" {
		if err := leaf.VerifyHostname(dnsName); err != nil {
			return err
		}
	}
	intermediates := x509.NewCertPool()
	for _, c := range certs[1:] {
		intermediates.AddCert(c)
	}
	opts := x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: t,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	budget := walkBudget{checks: maxChainSignatureChecks, x509Verifies: maxChainX509Verifies, intermediates: intermediates}
	chain, err := walkChain([]*x509.Certificate{leaf}, certs[1:], opts, &budget)
	if err != nil {
		return err
	}
	return checkChainPolicy(chain, usage, t)
}

// walkChain extends chain (whose last certificate is not yet anchored) to a
// trust anchor, within budget.
func walkChain(chain []*x509.Certificate, candidates []*x509.Certificate, opts x509.VerifyOptions, budget *walkBudget) ([]*x509.Certificate, error) {
	c := chain[len(chain)-1]
	p := mldsaByOID(certificateSignatureOID(c))
	if !budget.spend(p == nil) {
		return nil, errChainChecks
	}
	// crypto/x509 anchors c if it is a root of the pool or its signature
	// is classical and leads to one.
	anchored, x509Err := x509Verify(c, budget.verifyOptions(opts, p == nil))
	if x509Err == nil {
		return append(chain[:len(chain)-1], anchored[0]...), nil
	}
	if p == nil {
		return nil, x509Err
	}
	if len(chain) >= maxChainDepth {
		return nil, x509.UnknownAuthorityError{Cert: c}
	}
	var lastErr error = x509.UnknownAuthorityError{Cert: c}
	// Trust anchors first: a chain that can end here does, before the
	// peer's certificates spend the budget.
	anchors := identity.TrustAnchors(opts.Roots, c.RawIssuer)
	parents := append(anchors[:len(anchors):len(anchors)], candidates...)
	for _, parent := range parents {
		if !bytes.Equal(parent.RawSubject, c.RawIssuer) || containsCert(chain, parent) {
			continue
		}
		pub := budget.parentKey(parent, p)
		if pub == nil {
			continue
		}
		if !budget.spend(false) {
			return nil, errChainChecks
		}
		// RFC 9881, Section 3: the signature is over the DER
		// TBSCertificate with an empty context.
		if !verifyMLDSA(pub, c.RawTBSCertificate, c.Signature) {
			lastErr = fmt.Errorf("tls: %s signature of %q by %q does not verify", p.sign.Name(), c.Subject, parent.Subject)
			continue
		}
		full, err := walkChain(append(chain, parent), candidates, opts, budget)
		if err == nil || err == errChainChecks {
			return full, err
		}
		lastErr = err
	}
	return nil, lastErr
}

func containsCert(chain []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range chain {
		if bytes.Equal(x.Raw, c.Raw) {
			return true
		}
	}
	return false
}

// checkChainPolicy applies RFC 5280's path rules to a built chain, leaf
// first, anchor last.
func checkChainPolicy(chain []*x509.Certificate, usage x509.ExtKeyUsage, t time.Time) error {
	for i, c := range chain {
		// RFC 5280, Section 4.1.2.5: validity.
		if t.Before(c.NotBefore) || t.After(c.NotAfter) {
			return x509.CertificateInvalidError{Cert: c, Reason: x509.Expired,
				Detail: fmt.Sprintf("current time %s is outside [%s, %s]", t.UTC().Format(time.RFC3339),
					c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))}
		}
		if len(c.UnhandledCriticalExtensions) > 0 {
			return x509.UnhandledCriticalExtension{}
		}
		// Name constraints in a chain crypto/x509 did not build alone
		// would be checked only in part; such chains are refused.
		if c.PermittedDNSDomainsCritical || len(c.PermittedDNSDomains)+len(c.ExcludedDNSDomains)+
			len(c.PermittedIPRanges)+len(c.ExcludedIPRanges)+len(c.PermittedEmailAddresses)+
			len(c.ExcludedEmailAddresses)+len(c.PermittedURIDomains)+len(c.ExcludedURIDomains) > 0 {
			return x509.CertificateInvalidError{Cert: c, Reason: x509.CANotAuthorizedForThisName,
				Detail: "name constraints are not supported in chains with ML-DSA signatures"}
		}
		// RFC 5280, Section 4.2.1.3 and 4.2.1.9: issuers are CAs allowed
		// to sign certificates, within their path length.
		if i > 0 {
			if !c.BasicConstraintsValid || !c.IsCA {
				return x509.CertificateInvalidError{Cert: c, Reason: x509.NotAuthorizedToSign}
			}
			if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0 {
				return x509.CertificateInvalidError{Cert: c, Reason: x509.NotAuthorizedToSign}
			}
			if (c.MaxPathLen > 0 || c.MaxPathLenZero) && i-1 > c.MaxPathLen {
				return x509.CertificateInvalidError{Cert: c, Reason: x509.TooManyIntermediates}
			}
		}
		// Extended key usage nests: every certificate that restricts it
		// must allow the use (crypto/x509's rule).
		if len(c.ExtKeyUsage) > 0 && !contains(c.ExtKeyUsage, usage) && !contains(c.ExtKeyUsage, x509.ExtKeyUsageAny) {
			return x509.CertificateInvalidError{Cert: chain[0], Reason: x509.IncompatibleUsage}
		}
	}
	if len(chain) == 0 {
		return errors.New("tls: empty certificate chain")
	}
	return nil
}
