// Package circlpq is a TLS 1.3 engine (RFC 8446) whose key exchange comes
// from github.com/cloudflare/circl, registered as the "circl-pq" backend.
//
// # Model
//
// A [Conn] is a client or server connection over a [net.Conn] transport,
// configured with the backends contract's [backends.ClientConfig] or
// [backends.ServerConfig]. Nothing happens until [Conn.Handshake], which
// runs the whole handshake on the caller's goroutine and calls the
// configuration's hooks at the points the wasi:tls proposal can pause at:
// ClientHello (server), VerifyServer, ClientIdentity and
// NoClientIdentityRequest (client), VerifyClient (server). After a
// successful handshake one goroutine may Read while another Writes.
//
// The package is cut like crypto/tls:
//
//   - conn.go: the record layer. Records are at most 2^14 bytes of content
//     (2^14+256 protected, larger ones are record_overflow), protected
//     with the suite's AEAD under a per-direction sequence number; inner
//     plaintext padding is accepted; handshake messages may span records
//     but not key changes, with no record of another type between their
//     fragments (RFC 8446, Section 5.1), and are at most 64 KiB, 256 KiB for a
//     Certificate this side waits for (a server only when it asked), checked as soon as their header is
//     in (so a peer that announces more and trickles it is refused at
//     once, and one that stays within the bound makes a connection hold
//     no more than that). A transport timeout in Read is not an error of
//     the connection: the next Read resumes the record it cut, so a Conn
//     works over a transport that never blocks
//     ([backends.NonblockingConn]).
//   - record_buffers.go: record buffers come from pools and go back once
//     drained, so an idle established connection holds none.
//   - handshake_messages.go: every handshake message with marshal and
//     unmarshal over cryptobyte.
//   - handshake_client_tls13.go, handshake_server_tls13.go: one struct per
//     handshake whose handshake method runs ordered steps.
//   - key_schedule.go: HKDF-Expand-Label, Derive-Secret, traffic keys,
//     Finished, KeyUpdate and the exporter (RFC 8446, Section 7).
//   - keylog.go: Options.KeyLog, the NSS key log lines of each handshake.
//   - key_exchange.go: every group as a KEM (encapsulation key out,
//     ciphertext back): X25519, P-256/384/521 from crypto/ecdh; ML-KEM-
//     512/768/1024 (0x0200-0x0202, opt-in) and X25519MLKEM768 (0x11EC) from
//     circl; SecP256r1MLKEM768 (0x11EB) and SecP384r1MLKEM1024 (0x11ED)
//     composed from crypto/ecdh and circl ML-KEM.
//   - auth.go: CertificateVerify signatures (ECDSA P-256/384/521, Ed25519,
//     RSA-PSS, ML-DSA) and chain validation with crypto/x509.
//   - mldsa.go, x509mldsa.go: ML-DSA-44/65/87 (0x0904-0x0906) keys,
//     signatures and PKCS#8 identities from circl, and validation of chains
//     with ML-DSA signatures, which crypto/x509 in Go 1.26 cannot check.
//   - post_handshake_auth.go: post-handshake client authentication.
//   - alert.go: short names for the alerts of package backends, and
//     [AlertError], the error of a connection that failed with one.
//
// # Negotiation
//
// Only TLS 1.3 is spoken: a peer that offers only TLS 1.2 gets
// protocol_version, and a TLS 1.2 ServerHello carrying the RFC 8446
// downgrade sentinel gets illegal_parameter. The group list of the
// configuration is a preference order that is respected: a client sends
// key shares for its first KeyShares groups (default 1); a server selects
// the first of its groups that the client lists in supported_groups and
// uses the client's share for it, or asks for one with a
// HelloRetryRequest (RFC 8446, Section 4.1.1). Cipher suites and ALPN
// follow the server's order.
//
// A server never takes a share for a group it ranks lower instead, even
// though that would save the round trip. The key_share list is only the
// client's guess of the server's choice, any subset of supported_groups
// (RFC 8446, Section 4.2.8): a client that supports X25519MLKEM768 but
// predicts X25519 (Node with ecdhCurve 'X25519:X25519MLKEM768' does) would
// otherwise get X25519 from a server that prefers the hybrid, a downgrade
// of the key exchange to one a quantum computer breaks, which is what
// hybrids exist to prevent (draft-ietf-tls-hybrid-design;
// draft-ietf-tls-key-share-prediction-01, Section 4, on servers that
// select by key share). crypto/tls softens the rule: post-quantum groups
// first, then, within each class, a group already shared. OpenSSL 3.5
// lets the configuration form tuples of equal groups within which a
// shared one wins, and its defaults put the hybrid in a tuple of its own.
// We keep the strict rule, which is BoringSSL's and rustls's: the backend
// contract's group list is a plain order with no way to say "equal", and
// ranking by a built-in class would override a configured order such as
// MLKEM1024 before X25519MLKEM768. The cost is one round trip when a
// client's prediction misses the server's first choice; the default order
// puts X25519MLKEM768 first, which crypto/tls, OpenSSL 3.5 and current
// browsers share by default.
//
// A server given ticket keys (ServerConfig.TicketKeys) resumes sessions
// (session.go): it sends a ticket sealed with the newest key and bound to
// the certificate it presented to clients that offer psk_dhe_ke, unless it
// requests client certificates, and accepts such tickets, sealed with any
// of its keys, with a fresh key exchange. A client resumes when given a
// session cache (ClientConfig.Sessions, or a [SessionCache] through
// [Conn.SetSessionCache]; session_client.go); otherwise it offers no
// tickets and drops those it receives. A session is offered only where
// its chain validates again under the connection's RootCAs, server name
// and clock (never one made with InsecureSkipVerify to a connection that
// validates), and a resumption hands the session's chain to VerifyServer. 0-RTT data is never sent or
// accepted: a server skips what a client sends under a PSK, within a bound
// (256 KiB, record headers included).
//
// OCSP stapling (RFC 6066, Section 8, as TLS 1.3 carries it: RFC 8446,
// Section 4.4.2.1): a client always sends status_request and reports the
// response stapled to the leaf's CertificateEntry in State.OCSPResponse,
// unchecked, as crypto/tls does; a server staples Identity.OCSP to clients
// that asked. Neither side asks for or sends OCSP responses for client
// certificates, nor SCTs: such entry extensions are unsolicited.
//
// # Authentication
//
// Identities and peers may use ML-DSA (draft-ietf-tls-mldsa): pure ML-DSA
// over the CertificateVerify content, with certificates per RFC 9881, alone
// or mixed with classical keys in one chain. Since a CertPool cannot be
// listed, an ML-DSA root that signed the next certificate is found among
// the certificates the peer sent or those registered for the pool with
// identity.AddTrustAnchor (or AppendTrustAnchorsFromPEM), and crypto/x509
// confirms the pool holds it; classical roots are found in the pool as
// usual. Validating such a chain takes at most 100 signature checks, as
// crypto/x509 allows itself, and 4 crypto/x509 Verify calls, of which only
// the first is given the peer's certificates as intermediates (so that they
// cost no more than crypto/tls's one Verify), however the peer's
// certificates sign each other, and parses each ML-DSA key among the
// candidate issuers once at most. A peer's chain with an RSA key over
// Options.MaxRSAKeyBits (8192 by default, as crypto/tls) is refused before
// anything is verified.
//
// Post-handshake client authentication (RFC 8446, Section 4.6.2) works both
// ways: a client with a ClientIdentity hook offers post_handshake_auth and
// answers requests while it reads, 16 in a connection at most; a server
// asks with [Conn.RequestClientIdentity], which reads the answer itself
// when no Read does, keeping interleaved application data for Read.
//
// # Encoding
//
// A length-prefixed field of a message may hold what the peer chose (a
// session ticket, a HelloRetryRequest cookie), what the application chose
// through the backend contract (ALPN IDs, the server name, an identity's
// chain, an exporter label), or the host's configuration (the names of a
// ClientCAs pool, an OCSP response), and any of them may overfill its
// prefix or the block it shares with others. Encoding such a message is
// never a panic: every message's encode returns an error, which is
// internal_error on the connection (an optional extension that does not
// fit, a ticket or the CA names, is left out instead, and the application's
// ALPN IDs or server name fail the handshake before anything is sent).
// cryptobyte.Builder already records a length that overflows its prefix
// as an error and skips everything after it; only BytesOrPanic turns that
// into a panic, so the engine calls Bytes and has no encoder that panics:
// the panicking marshal helpers exist in tests only (encode_must_test.go),
// and TestEncodersNeverPanic and FuzzEncode fill every field past its
// bound. This was preferred to a recover at the entry of each encoder,
// which would also have hidden real bugs (an index out of range) as
// encoding errors. HKDF-Expand-Label is given fixed labels and contexts
// of a hash's size, except by the exporter, whose label (249 bytes at most)
// and length the application chooses and which it checks before deriving.
//
// # Errors
//
// A protocol violation sends the alert RFC 8446 names for it and returns an
// [*AlertError] (Remote false); an alert from the peer is an [*AlertError]
// with Remote set, except close_notify (io.EOF) and a warning-level
// user_canceled, which is ignored until the close_notify that follows it
// (RFC 8446, Section 6.1; four without data in between at most). A
// KeyUpdate asking for an update is answered once before the next
// application data record, so a burst of requests gets a single KeyUpdate
// (RFC 8446, Section 4.6.3).
// Invalid key shares (wrong lengths, ML-KEM encapsulation keys failing the
// FIPS 203 modulus check, low-order X25519 points, off-curve points) are
// illegal_parameter.
//
// A peer cannot keep a connection working without progress: a Read fails
// with unexpected_message past 64 whole post-handshake messages, 16 MiB
// of their records, or 16 records without data (empty records,
// change_cipher_spec) since the last data (after the handshake, only
// application data restarts any count), counted across Reads (a host
// polling a transport that never blocks makes one Read per poll, and a
// message may take many), and a
// client stores 16 session tickets of a connection at most, dropping the
// rest. A connection whose read side failed drops its read buffers.
package circlpq
