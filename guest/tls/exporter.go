//go:build wasip1

package wasitls

import (
	"errors"
	"fmt"

	"github.com/wasitls/wasitls/guest/wasi/tlsext"
)

// ExportKeyingMaterial returns length bytes of keying material exported
// from the connection (RFC 8446, Section 7.5; RFC 5705 in TLS 1.2), as
// crypto/tls's ConnectionState.ExportKeyingMaterial does: for channel
// bindings (RFC 9266: label "EXPORTER-Channel-Binding", nil context, 32
// bytes) and SCRAM-*-PLUS. A nil context is no context. The host computes
// it; the secrets stay there.
func (c *Conn) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	if length < 1 || length > 1<<16 {
		return nil, fmt.Errorf("wasitls: keying material length %d out of range", length)
	}
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	var (
		b   []byte
		err error
	)
	switch {
	case !c.done:
		return nil, errors.New("wasitls: ExportKeyingMaterial before the handshake completed")
	case c.cc != 0:
		b, err = tlsext.ExportClientKeyingMaterial(c.cc, label, context, uint32(length))
	case c.sc != 0:
		b, err = tlsext.ExportServerKeyingMaterial(c.sc, label, context, uint32(length))
	default:
		return nil, errors.New("wasitls: no TLS connection")
	}
	if err != nil {
		return nil, fmt.Errorf("wasitls: the host could not export keying material: %w", err)
	}
	return b, nil
}
