package tlshost

import (
	"crypto/x509"
	"fmt"

	"github.com/wasitls/wasitls/backends/identity"
	"github.com/wasitls/wasitls/internal/hostfile"
)

// The host's identity and trust files (LoadIdentity, LoadOCSP,
// LoadTrustAnchors; `wasitls run --identity`, `--ca`, `--client-ca`) are
// read whole, up to a cap well above what each can
// usefully hold, so that a path naming a device, a pipe or a huge file by
// mistake is an error naming the cap, never a read without bound; a pipe
// nobody writes to is an error too, never a wait without bound
// (internal/hostfile).
const (
	// MaxChainFile bounds a PEM certificate chain: what a Certificate
	// message carries is at most 256 KiB of DER (both backends refuse a
	// larger one), about 350 KiB of PEM.
	MaxChainFile = 1 << 20
	// MaxKeyFile bounds a PEM or DER private key: the largest the
	// backends parse, an ML-DSA-87 key, is under 7 KiB of PEM.
	MaxKeyFile = 64 << 10
	// MaxOCSPFile bounds a DER OCSP response: usually 1-3 KiB; 64 KiB is
	// the largest handshake message crypto/tls's clients accept, which a
	// TLS 1.2 CertificateStatus must fit.
	MaxOCSPFile = 64 << 10
	// MaxTrustFile bounds a PEM file of trust anchors: a system's whole
	// bundle of public roots is some 200 KiB.
	MaxTrustFile = 16 << 20
)

// LoadTrustAnchors adds the certificates of the PEM file to pool, for
// Config.RootCAs or Config.ClientCAs, registering them as trust anchors
// too (identity.AppendTrustAnchorsFromPEM), so that backends verifying
// ML-DSA chains themselves find roots the peer does not send. A file
// without a certificate is an error naming it.
func LoadTrustAnchors(pool *x509.CertPool, file string) error {
	pem, err := readHostFile(file, "a file of trust anchors", MaxTrustFile)
	if err != nil {
		return err
	}
	if !identity.AppendTrustAnchorsFromPEM(pool, pem) {
		return fmt.Errorf("tlshost: %s: no PEM certificate in the file", file)
	}
	return nil
}

// readHostFile reads file, what it is (for the error), of at most max
// bytes, without waiting on a pipe or reading a device without bound.
func readHostFile(file, what string, max int64) ([]byte, error) {
	b, err := hostfile.Read(file, hostfile.Kind{What: what, Max: max})
	if err != nil {
		return nil, fmt.Errorf("tlshost: %w", err)
	}
	return b, nil
}
