// Package stdtls is the wasi:tls backend on Go's crypto/tls. Importing it
// registers it as "stdtls".
//
// # Model
//
// [Backend.Client] and [Backend.Server] translate a [backends.ClientConfig]
// or [backends.ServerConfig] into a [tls.Config] whose callbacks call the
// hooks, and wrap the transport in a [tls.Conn]. The hooks map onto crypto/tls
// as follows:
//
//   - ClientConfig.VerifyServer: tls.Config.VerifyConnection, which runs after
//     crypto/tls validated the chain against RootCAs (or skipped that, when the
//     host set InsecureSkipVerify), on full handshakes and resumptions alike.
//   - ClientConfig.ClientIdentity: tls.Config.GetClientCertificate; the first
//     candidate that CertificateRequestInfo.SupportsCertificate accepts is
//     sent, or none.
//   - ClientConfig.NoClientIdentityRequest: crypto/tls does not report the
//     absence of a CertificateRequest, so it is called once the handshake
//     completed without GetClientCertificate having been called.
//   - ServerConfig.ClientHello: tls.Config.GetConfigForClient; a returned
//     replacement becomes a new tls.Config carrying the original hooks.
//   - ServerConfig.Identities: tls.Config.GetCertificate picks the first
//     identity ClientHelloInfo.SupportsCertificate accepts (SNI and signature
//     schemes); when none matches the server name, the first one the client
//     can verify the signature of, so that the client reports a precise
//     hostname error.
//   - ServerConfig.VerifyClient: tls.Config.VerifyConnection, when a
//     certificate was requested, after crypto/tls validated the chain
//     against ClientCAs.
//   - ServerConfig.ClientCAs: tls.Config.ClientCAs, whose names crypto/tls
//     lists in its CertificateRequest. When they do not fit there (the list
//     holds 65,535 bytes: some 500 CAs), crypto/tls would fail every
//     handshake that asks for a certificate; the request then names no CAs
//     (the list is optional), crypto/tls is told to verify nothing, and the
//     backend verifies the chain against ClientCAs itself, as crypto/tls
//     would (in VerifyConnection, before VerifyClient, and again on a
//     resumption), with crypto/tls's alerts where they are plaintext (TLS
//     1.2: unknown_ca, certificate_expired, bad_certificate) and
//     bad_certificate in TLS 1.3. A resumed session whose chain no longer
//     verifies fails, where crypto/tls would fall back to a full handshake.
//
// # What crypto/tls does not let us honour
//
//   - Alerts: a VerifyServer or VerifyClient error always sends
//     bad_certificate. A ClientIdentity error sends internal_error in TLS 1.2
//     and no alert at all in TLS 1.3 (crypto/tls returns without one); after
//     any failed handshake the backend half-closes the transport, so the peer
//     then sees the connection end. These alerts are encrypted in TLS 1.3, so
//     the choice is crypto/tls's. Errors from
//     the server's ClientHello hook and certificate selection happen before
//     the ServerHello, while alerts are still plaintext records: there the
//     alert a [backends.SendAlertError] names is sent (handshake_failure for
//     [backends.ErrAborted], handshake_failure when no identity fits, and
//     internal_error otherwise).
//   - Cancelling the context of Handshake while crypto/tls waits for the peer
//     closes the transport: the peer sees the connection close, not an alert.
//     Cancellation while a hook is blocked makes the hook fail, which sends the
//     alert of that step.
//   - Groups: crypto/tls uses the listed groups as a set, in its own
//     preference order (since Go 1.24 it ignores the order of
//     CurvePreferences); code points it does not implement are dropped, and
//     an error is returned when none remains. KeyShares is ignored:
//     crypto/tls sends a key share for its most preferred group and, when
//     that is X25519MLKEM768 and X25519 is listed, an X25519 share as well.
//     The wasi:tls host documents this to guests (configure-client-groups)
//     rather than refusing an order, so that a guest runs unchanged on
//     either backend.
//   - Cipher suites: TLS 1.2 suites are honoured as a set (crypto/tls orders
//     them). TLS 1.3 suites cannot be restricted: a list that names some but
//     not all of the three TLS 1.3 suites is rejected with an error wrapping
//     [backends.ErrNotSupported]; a list that names none of them disables
//     TLS 1.3.
//   - Post-handshake client authentication (RFC 8446, Section 4.6.2) is not
//     implemented by crypto/tls, on either side: RequestClientIdentity
//     returns an error wrapping [backends.ErrNotSupported]; the client does
//     not offer the post_handshake_auth extension, and a post-handshake
//     CertificateRequest fails the connection with unexpected_message.
//   - Resumption: each connection gets its own tls.Config; a server seals
//     tickets with the keys of ServerConfig.TicketKeys (SetSessionTicketKeys)
//     and issues none without them; a ticket carries the hash of the leaf
//     the server presented and resumes only at a server holding that
//     identity (tickets.go); a session too large for a ticket a
//     crypto/tls client takes (a client chain of some 64 KiB or more) gets
//     a ticket that resumes nothing. A client keeps its sessions in
//     ClientConfig.Sessions (as a tls.ClientSessionCache, keyed by server
//     name). crypto/tls resumes in TLS 1.2 and 1.3, with client
//     certificates too, and calls VerifyServer and VerifyClient with the
//     session's chain. A TLS 1.2 resumption runs no key exchange, so a
//     client or a server whose Groups do not hold the group of the
//     handshake that made the session makes a full handshake instead
//     (client.go's clientSession, tickets.go's group entry).
//   - Truncation: crypto/tls accepts a transport EOF at a record boundary as
//     io.EOF. The backend watches the transport and reports such a close
//     without close_notify as an error wrapping io.ErrUnexpectedEOF.
//
// The package does not import CIRCL.
package stdtls

import (
	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/backends/identity"
)

// Name is the registry name of this backend.
const Name = "stdtls"

func init() {
	backends.Register(Backend{})
}

// Backend is the crypto/tls backend. The zero value is ready to use and safe
// for concurrent use.
type Backend struct{}

var _ backends.Backend = Backend{}

// Name returns "stdtls".
func (Backend) Name() string { return Name }

// ParseIdentity parses a PEM or DER key (PKCS#8, PKCS#1 or SEC 1) and its
// chain; see package identity. Key types crypto/x509 does not know, such as
// ML-DSA, are rejected.
func (Backend) ParseIdentity(privateKey []byte, chain [][]byte) (*backends.Identity, error) {
	return identity.Parse(privateKey, chain)
}
