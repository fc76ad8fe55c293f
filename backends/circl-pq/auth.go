package circlpq

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"time"

	"github.com/cloudflare/circl/sign"

	"github.com/wasitls/wasitls/backends"
)

// Signatures in CertificateVerify (RFC 8446, Section 4.4.3) and certificate
// validation with crypto/x509.

const (
	serverSignatureContext = "TLS 1.3, server CertificateVerify\x00"
	clientSignatureContext = "TLS 1.3, client CertificateVerify\x00"
)

// signedMessage is what CertificateVerify signs: 64 spaces, the context
// string with its zero separator, and the transcript hash
// (RFC 8446, Section 4.4.3).
func signedMessage(context string, transcript hash.Hash) []byte {
	out := make([]byte, 0, 64+len(context)+transcript.Size())
	out = append(out, bytes.Repeat([]byte{0x20}, 64)...)
	out = append(out, context...)
	return transcript.Sum(out)
}

// schemeHash returns the digest a signature scheme signs with; 0 for
// Ed25519 and ML-DSA, which sign the message itself.
func schemeHash(scheme uint16) crypto.Hash {
	switch scheme {
	case ECDSAWithP256AndSHA256, PSSWithSHA256, PKCS1WithSHA256:
		return crypto.SHA256
	case ECDSAWithP384AndSHA384, PSSWithSHA384, PKCS1WithSHA384:
		return crypto.SHA384
	case ECDSAWithP521AndSHA512, PSSWithSHA512, PKCS1WithSHA512:
		return crypto.SHA512
	}
	return 0
}

// signatureSchemesForKey lists the TLS 1.3 CertificateVerify schemes a
// public key can produce, in this engine's preference order. TLS 1.3 binds
// ECDSA schemes to curves and forbids PKCS #1 v1.5 (RFC 8446, Section
// 4.2.3).
func signatureSchemesForKey(pub crypto.PublicKey) []uint16 {
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return []uint16{ECDSAWithP256AndSHA256}
		case elliptic.P384():
			return []uint16{ECDSAWithP384AndSHA384}
		case elliptic.P521():
			return []uint16{ECDSAWithP521AndSHA512}
		}
	case ed25519.PublicKey:
		return []uint16{Ed25519}
	case *rsa.PublicKey:
		// RSA-PSS with SHA-512 needs a key of at least 1040 bits
		// (2*64 + 2 bytes); smaller keys cannot use it.
		size := pub.Size()
		var out []uint16
		for _, s := range []uint16{PSSWithSHA256, PSSWithSHA384, PSSWithSHA512} {
			if size >= 2*schemeHash(s).Size()+2 {
				out = append(out, s)
			}
		}
		return out
	}
	// ML-DSA: one scheme per parameter set (draft-ietf-tls-mldsa).
	if p := mldsaByKey(pub); p != nil {
		return []uint16{p.scheme}
	}
	return nil
}

// selectSignatureScheme picks the first scheme of the key's list that the
// peer accepts.
func selectSignatureScheme(pub crypto.PublicKey, peer []uint16) (uint16, bool) {
	for _, s := range signatureSchemesForKey(pub) {
		if contains(peer, s) {
			return s, true
		}
	}
	return 0, false
}

// signHandshake produces a CertificateVerify signature.
func signHandshake(key crypto.Signer, scheme uint16, context string, transcript hash.Hash) ([]byte, error) {
	msg := signedMessage(context, transcript)
	h := schemeHash(scheme)
	if h == 0 {
		return key.Sign(rand.Reader, msg, crypto.Hash(0))
	}
	d := h.New()
	d.Write(msg)
	var opts crypto.SignerOpts = h
	if scheme == PSSWithSHA256 || scheme == PSSWithSHA384 || scheme == PSSWithSHA512 {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
	}
	return key.Sign(rand.Reader, d.Sum(nil), opts)
}

var (
	errSchemeMismatch = errors.New("tls: signature scheme does not match the certificate key")
	errBadSignature   = errors.New("tls: invalid CertificateVerify signature")
)

// verifyHandshakeSignature checks a CertificateVerify. A scheme that does
// not fit the key is errSchemeMismatch (illegal_parameter); a wrong
// signature is errBadSignature (decrypt_error, RFC 8446, Section 4.4.3).
func verifyHandshakeSignature(pub crypto.PublicKey, scheme uint16, context string, transcript hash.Hash, sig []byte) error {
	if !contains(signatureSchemesForKey(pub), scheme) {
		return errSchemeMismatch
	}
	msg := signedMessage(context, transcript)
	h := schemeHash(scheme)
	var digest []byte
	if h != 0 {
		d := h.New()
		d.Write(msg)
		digest = d.Sum(nil)
	}
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			return errBadSignature
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(pub, msg, sig) {
			return errBadSignature
		}
	case *rsa.PublicKey:
		if rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) != nil {
			return errBadSignature
		}
	case sign.PublicKey:
		// Pure ML-DSA over the message, empty context
		// (draft-ietf-tls-mldsa, Section 3).
		if !verifyMLDSA(pub, msg, sig) {
			return errBadSignature
		}
	default:
		return errSchemeMismatch
	}
	return nil
}

// certificateAlert maps a crypto/x509 verification error to the alert
// RFC 8446, Section 6.2 names for it.
func certificateAlert(err error) Alert {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostname x509.HostnameError
	switch {
	case errors.As(err, &unknown):
		return alertUnknownCA
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return alertCertificateExpired
	case errors.As(err, &hostname):
		return alertBadCertificate
	}
	return alertBadCertificate
}

// leafSigningKey returns the public key of a peer's leaf certificate for
// CertificateVerify. RFC 8446, Section 4.4.2.2 (and 4.4.2.3): the
// certificate must allow signing, so a keyUsage extension without
// digitalSignature is refused, whether or not the chain is validated. A
// key of a type no TLS 1.3 signature scheme uses (X25519, DSA) is
// errUnsupportedKey, before the chain is validated.
//
// An ECDSA key on a curve no scheme uses (P-224) is not refused here: its
// chain is validated, and its CertificateVerify, whose scheme cannot fit
// the key, fails with illegal_parameter (verifyHandshakeSignature). That
// is crypto/tls's answer (it accepts every ECDSA certificate and checks
// the scheme against the key's curve). RFC 8446 names no alert for it:
// unsupported_certificate (Section 6.2, a certificate "of an unsupported
// type") fits as well as illegal_parameter (a field "inconsistent with
// other fields"), so the backends answer alike.
func leafSigningKey(leaf *x509.Certificate) (crypto.PublicKey, error) {
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, errors.New("tls: the peer's certificate does not allow digital signatures (keyUsage)")
	}
	pub, err := certificatePublicKey(leaf)
	if err != nil {
		return nil, err
	}
	if _, ecdsaKey := pub.(*ecdsa.PublicKey); !ecdsaKey && len(signatureSchemesForKey(pub)) == 0 {
		return nil, fmt.Errorf("%w: %T", errUnsupportedKey, pub)
	}
	return pub, nil
}

// errUnsupportedKey is a peer's leaf certificate whose key cannot sign a
// CertificateVerify: unsupported_certificate (RFC 8446, Section 6.2), as
// crypto/tls answers it.
var errUnsupportedKey = errors.New("tls: the peer's certificate holds a key no signature scheme uses")

// leafKeyAlert is the alert for an error of leafSigningKey.
func leafKeyAlert(err error) Alert {
	if errors.Is(err, errUnsupportedKey) {
		return alertUnsupportedCertificate
	}
	return alertBadCertificate
}

// parseChain parses a peer's chain, leaf first, and refuses RSA keys over
// maxRSABits anywhere in it (backends.Options.MaxRSAKeyBits) before
// anything is verified: verifying costs the square of the key's size,
// which the peer chooses without holding the private key.
func parseChain(chain [][]byte, maxRSABits int) ([]*x509.Certificate, error) {
	certs := make([]*x509.Certificate, len(chain))
	for i, der := range chain {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, errors.New("tls: failed to parse certificate: " + err.Error())
		}
		certs[i] = cert
	}
	if err := backends.CheckPeerRSAKeys(certs, maxRSABits); err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return certs, nil
}

// verifyChain validates certs with crypto/x509: the leaf against roots for
// the given use, the rest of the chain as intermediates. Chains with
// ML-DSA signatures, which crypto/x509 cannot check, go through
// verifyChainMLDSA.
func verifyChain(certs []*x509.Certificate, roots *x509.CertPool, dnsName string, usage x509.ExtKeyUsage, now func() time.Time) error {
	if hasMLDSASignature(certs) {
		return verifyChainMLDSA(certs, roots, dnsName, usage, now)
	}
	opts := x509.VerifyOptions{
		Roots:         roots,
		DNSName:       dnsName,
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{usage},
	}
	if now != nil {
		opts.CurrentTime = now()
	}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := certs[0].Verify(opts)
	return err
}

// certificateRequest encodes a CertificateRequest of this server with the
// given context, naming the subjects of its ClientCAs pool when they fit
// (backends.CANames). Some 500 CAs do not: the request names none, which
// RFC 8446 allows (certificate_authorities is optional, Section 4.2.4),
// and the client chooses among all its identities. Before, encoding it
// panicked, at every handshake that asked for a certificate; then such a
// request was encoded twice, the first time in vain (430 KiB allocated
// for 500 CAs' 85 KB of names, 1.3 to 1.6 times the handshake's time),
// and names within a few bytes of the extensions' 65,535 could make a
// request over the 65,536 bytes crypto/tls's client reads of a message.
func (c *Conn) certificateRequest(config *backends.ServerConfig, context []byte) ([]byte, error) {
	cr := &certificateRequestMsg{context: context, signatureSchemes: c.verifySchemes(), certificateAuthorities: backends.CANames(config.ClientCAs)}
	return cr.encode()
}

// certificateMessage encodes this side's Certificate, or fails with
// internal_error when its chain or OCSP response does not fit the
// message's length prefixes (a host's OCSP file may take 64 KiB, one
// byte more than the extension holds; crypto/tls fails such a handshake
// too). Before, encoding it panicked.
func (c *Conn) certificateMessage(cm *certificateMsg) ([]byte, error) {
	msg, err := cm.encode()
	if err != nil {
		return nil, c.fail(alertInternalError, "%v (%d certificates, an OCSP response of %d bytes)", err, len(cm.chain), len(cm.ocspStaple))
	}
	return msg, nil
}

// hookAlert is the alert for an error a hook returned: the one a
// SendAlertError asks for, and otherwise def, the alert of the step.
func hookAlert(err error, def Alert) Alert {
	var ae *backends.SendAlertError
	if errors.As(err, &ae) {
		return ae.Alert
	}
	return def
}

// readClientCertificate parses a client's Certificate message answering the
// CertificateRequest whose context is want, during the handshake or after it
// (RFC 8446, Sections 4.4.2 and 4.6.2).
func (c *Conn) readClientCertificate(msg, want []byte) (certificateMsg, error) {
	var cm certificateMsg
	if !cm.unmarshal(msg) {
		return cm, c.fail(alertDecodeError, "tls: malformed client Certificate")
	}
	// RFC 8446, Section 4.4.2: the context echoes the request's.
	if !hmac.Equal(cm.context, want) {
		return cm, c.fail(alertIllegalParameter, "tls: client Certificate with the wrong request context")
	}
	// This engine's CertificateRequest asks for no OCSP response.
	if cm.entryExtensions || cm.ocspStaple != nil {
		return cm, c.fail(alertUnsupportedExtension, "tls: client sent unsolicited certificate extensions")
	}
	return cm, nil
}

// readCertificateVerify checks the peer's CertificateVerify (peer is
// "server" or "client") against the transcript so far, records the
// signature scheme and adds the message to the transcript (RFC 8446,
// Section 4.4.3). The same check serves the handshake on both sides and
// post-handshake authentication.
func (c *Conn) readCertificateVerify(msg []byte, peerKey crypto.PublicKey, peer string, transcript hash.Hash) error {
	var cv certificateVerifyMsg
	if !cv.unmarshal(msg) {
		return c.fail(alertDecodeError, "tls: malformed %s CertificateVerify", peer)
	}
	if !contains(c.verifySchemes(), cv.scheme) {
		return c.fail(alertIllegalParameter, "tls: %s used an unoffered signature scheme 0x%04x", peer, cv.scheme)
	}
	context := clientSignatureContext
	if peer == "server" {
		context = serverSignatureContext
	}
	switch err := verifyHandshakeSignature(peerKey, cv.scheme, context, transcript, cv.signature); err {
	case nil:
	case errSchemeMismatch:
		return c.fail(alertIllegalParameter, "%v", err)
	default:
		return c.fail(alertDecryptError, "%v", err)
	}
	c.peerSignatureScheme = cv.scheme
	transcript.Write(msg)
	return nil
}
