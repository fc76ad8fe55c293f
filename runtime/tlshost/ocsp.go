package tlshost

import (
	"bytes"
	"context"
	"encoding/asn1"
	"errors"
	"fmt"

	"golang.org/x/crypto/ocsp"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/bindings/wasitls/tls/v0.3.0/extensions"
)

// OCSP stapling.
//
// A guest client reads the response its server stapled with
// client-ocsp-response (wasitls:tls/extensions@0.3.0); both backends ask
// every server for one. A guest server staples the response the host
// attached to an identity it holds (Identity.OCSP, LoadOCSP, `wasitls run
// --identity NAME=CERT,KEY,OCSP`): the guest takes the identity with
// host-identity, and the backend staples its response to clients that ask.
// The host neither fetches nor refreshes responses: it staples what it was
// given, and a client gets the bytes as sent.

// ClientOCSPResponse is client-ocsp-response: the stapled response of a
// completed handshake.
func (e extensionsHost) ClientOCSPResponse(_ context.Context, c extensions.ClientConnection) ([]byte, bool) {
	st, ok := c.(*clientConnection).s.State()
	if !ok || !st.HandshakeComplete || len(st.OCSPResponse) == 0 {
		return nil, false
	}
	return append([]byte(nil), st.OCSPResponse...), true
}

// MaxStapledOCSP is the longest OCSP response a TLS 1.3 Certificate
// message holds: its status_request extension takes 65,535 bytes, 4 of
// them framing (RFC 8446, Section 4.4.2.1).
const MaxStapledOCSP = 65531

// LoadOCSP reads a DER OCSP response (RFC 6960) from file and attaches it
// to id, whose server connections then staple it. It must parse, and be
// about id's leaf certificate when crypto/x509 can read the leaf, and take
// at most MaxStapledOCSP bytes (a file of at most MaxOCSPFile is read);
// its status and freshness are the host's business.
func LoadOCSP(id *backends.Identity, file string) error {
	der, err := readHostFile(file, "an OCSP response", MaxOCSPFile)
	if err != nil {
		return err
	}
	// Longer, no TLS 1.3 handshake could staple it: each would fail
	// (both backends), so the host refuses it at start-up instead.
	if len(der) > MaxStapledOCSP {
		return fmt.Errorf("tlshost: %s: an OCSP response of %d bytes, more than the %d a TLS 1.3 Certificate message holds", file, len(der), MaxStapledOCSP)
	}
	resp, err := ocsp.ParseResponse(der, nil)
	var structural asn1.StructuralError
	var syntax asn1.SyntaxError
	switch {
	case err == nil:
	case bytes.HasPrefix(bytes.TrimLeft(der, " \t\r\n"), []byte("-----BEGIN ")):
		return fmt.Errorf("tlshost: %s: not an OCSP response but PEM text; want the DER response, as openssl ocsp -respout writes it", file)
	case errors.As(err, &structural) || errors.As(err, &syntax):
		// Not a dump of Go's ASN.1 decoder state.
		return fmt.Errorf("tlshost: %s: not an OCSP response: not the DER of one", file)
	default:
		return fmt.Errorf("tlshost: %s: not an OCSP response: %w", file, err)
	}
	if id.Leaf != nil && resp.SerialNumber.Cmp(id.Leaf.SerialNumber) != 0 {
		return fmt.Errorf("tlshost: %s: the OCSP response is about serial number %x, the certificate's is %x", file, resp.SerialNumber, id.Leaf.SerialNumber)
	}
	id.OCSP = der
	return nil
}
