package tlshost

import (
	"crypto/x509"
	"fmt"
	"io"
	"os"

	"github.com/wasitls/wasitls/backends/identity"
)

// The host's identity and trust files (LoadIdentity, LoadOCSP,
// LoadTrustAnchors; `wasitls run --identity`, `--ca`, `--client-ca`) are
// read whole, up to a cap well above what each can
// usefully hold, so that a path naming a device, a pipe or a huge file by
// mistake is an error naming the cap, never a read without bound.
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
// bytes.
func readHostFile(file, what string, max int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		clear(b)
		return nil, fmt.Errorf("tlshost: %s: larger than %d KiB, the most %s may take", file, max>>10, what)
	}
	return b, nil
}
