package tlshost

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/bindings/wasitls/tls/v0.3.0/extensions"
	"github.com/wasitls/wasitls/cabi"
)

// maxExport bounds export-*-keying-material: HKDF-Expand's limit for
// SHA-256 (RFC 5869, Section 2.3), and far above what channel bindings
// and SCRAM use. It keeps a guest from making the host allocate without
// bound.
const maxExport = 255 * 32

func (e extensionsHost) ExportClientKeyingMaterial(_ context.Context, c extensions.ClientConnection, label string, ctx cabi.Option[[]byte], length uint32) ([]byte, error) {
	return e.export("export-client-keying-material", &c.(*clientConnection).s.ending, label, ctx, length)
}

func (e extensionsHost) ExportServerKeyingMaterial(_ context.Context, c extensions.ServerConnection, label string, ctx cabi.Option[[]byte], length uint32) ([]byte, error) {
	return e.export("export-server-keying-material", &c.(*serverConnection).s.ending, label, ctx, length)
}

// export runs the backend's exporter on the connection of a completed
// handshake.
func (e extensionsHost) export(what string, end *ending, label string, ctx cabi.Option[[]byte], length uint32) ([]byte, error) {
	if length < 1 || length > maxExport {
		return nil, e.result(what, fmt.Errorf("tlshost: %s: length %d, want 1 to %d", what, length, maxExport))
	}
	conn := end.Conn()
	if conn == nil {
		return nil, e.result(what, fmt.Errorf("tlshost: %s: the handshake has not completed", what))
	}
	// The guest chooses the label, which TLS 1.3 puts in an
	// HKDF-Expand-Label of 255 bytes: refused here whatever the backend
	// would do with it (crypto/tls panics). The length first: only an
	// overlong label asks the backend for its State.
	if len(label) > backends.MaxTLS13ExporterLabel && conn.State().Version == tls.VersionTLS13 {
		return nil, e.result(what, fmt.Errorf("tlshost: %s: exporter label of %d bytes: at most %d in TLS 1.3", what, len(label), backends.MaxTLS13ExporterLabel))
	}
	x, ok := conn.(backends.KeyingMaterialExporter)
	if !ok {
		return nil, e.result(what, fmt.Errorf("tlshost: %s: %s: %w", what, e.h.backend.Name(), backends.ErrNotSupported))
	}
	var context []byte // nil: no context
	if v, some := ctx.Get(); some {
		context = append([]byte{}, v...) // a view of guest memory; empty but not nil
	}
	out, err := x.ExportKeyingMaterial(label, context, int(length))
	if err != nil {
		return nil, e.result(what, inCall(what, err))
	}
	if len(out) != int(length) {
		return nil, e.result(what, errors.New("tlshost: "+what+": the backend returned the wrong length"))
	}
	return out, nil
}
