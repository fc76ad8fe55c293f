package stdtls

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/wasitls/wasitls/backends"
)

var _ backends.KeyingMaterialExporter = (*conn)(nil)

// ExportKeyingMaterial is crypto/tls's exporter: TLS 1.3 (RFC 8446,
// Section 7.5), or TLS 1.2 with extended master secret (RFC 5705, RFC
// 7627); crypto/tls refuses TLS 1.2 without it.
func (c *conn) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	cs := c.tls.ConnectionState()
	if !cs.HandshakeComplete {
		return nil, errors.New("stdtls: keying material export before the handshake completed")
	}
	// crypto/tls panics on a TLS 1.3 label that HKDF-Expand-Label cannot
	// hold ("tls13: label or context too long"), and the application
	// chooses the label.
	if cs.Version == tls.VersionTLS13 && len(label) > backends.MaxTLS13ExporterLabel {
		return nil, fmt.Errorf("stdtls: exporter label of %d bytes: at most %d in TLS 1.3 (RFC 8446, Section 7.1)", len(label), backends.MaxTLS13ExporterLabel)
	}
	out, err := cs.ExportKeyingMaterial(label, context, length)
	if err != nil {
		return nil, fmt.Errorf("stdtls: %w", err)
	}
	return out, nil
}
