// Package backends is the contract between the wasi:tls host and the TLS
// implementations behind it, plus the registry that picks one by name.
//
// # Model
//
// The guest drives a handshake in direct style: it resumes the handshake to a
// point of interest, waits on a future, looks at what arrived, reconfigures,
// and resumes again. TLS libraries work the other way round: they run the
// handshake to completion and call back into the application at points of
// interest. The wasi:tls host bridges the two; a backend only has to be an
// ordinary callback-style TLS implementation:
//
//   - [Backend.Client] and [Backend.Server] wrap a transport ([net.Conn]) and
//     return a [Conn] whose Handshake runs on a goroutine owned by the host.
//   - At each point of interest the backend calls the matching hook in
//     [ClientConfig] or [ServerConfig]. The hook blocks the handshake
//     goroutine until the guest has decided; its return value is the guest's
//     decision. A hook returning an error aborts the handshake: the backend
//     sends the alert the error asks for (see [SendAlertError]; otherwise a
//     suitable alert for the step) and Handshake returns an error.
//   - Hooks run strictly in handshake order, each at most once per
//     handshake, and never after Handshake has returned, except
//     [Conn.RequestClientIdentity] for post-handshake authentication.
//
// Custom verification is always in addition to the backend's default
// validation: VerifyServer and VerifyClient are called only with chains that
// already passed it, unless the host (never the guest) disabled validation.
//
// Identities carry their private key as a [crypto.Signer]; the key never
// leaves the host. Backends that know more key types than crypto/x509 (such
// as ML-DSA) offer their own [Backend.ParseIdentity].
//
// # Writing a backend
//
// A backend of your own runs in your own program: give it to the wasi:tls
// host as tlshost.Config.Backend, or [Register] it and name it in
// tlshost.Config.BackendName. The shortest way to one is to wrap a backend
// that exists: embed a [Describer] (such as stdtls.Backend{}), which brings
// ParseIdentity, Supported and Defaults, and give your type a Name of its
// own and Client and Server methods that decorate the configs' hooks and the
// returned [Conn]. Build that Conn on [WrappedConn], not on a bare Conn:
// the host finds what a Conn can do beyond its methods by type assertion
// ([ApplicationDataCounter], [NonblockingConn], [KeyingMaterialExporter]),
// and a struct embedding a bare Conn hides them, losing a post-handshake
// authentication's accounting, the fast path and the exporter without
// another symptom; WrappedConn forwards them. Decorate the Conn, not the
// transport, whose own optional interfaces ([PeerHeapCounter] and the
// others) bound what a peer makes the backend hold. examples/custom-backend
// does all of this. Test a backend with the suite every backend here
// passes, conformance.Run(t, b)
// from package backends/conformance, declaring in conformance.Options what
// it does beyond the baseline (a wrapper, what the backend it wraps does:
// examples/custom-backend runs the suite wrapping stdtls and circl-pq).
package backends

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// A Backend is a TLS implementation the wasi:tls host can delegate to.
// Implementations must be safe for concurrent use.
type Backend interface {
	// Name is the registry name, such as "stdtls" or "circl-pq".
	Name() string

	// ParseIdentity parses a private key (PEM or DER: PKCS#8, PKCS#1, SEC1,
	// or whatever else the backend supports) and its certificate chain
	// (each element PEM or DER, leaf first; a PEM element may hold several
	// certificates). The key must match the leaf.
	ParseIdentity(privateKey []byte, chain [][]byte) (*Identity, error)

	// Client returns a client connection over transport. No I/O happens
	// until Handshake.
	Client(transport net.Conn, config *ClientConfig) (Conn, error)

	// Server returns a server connection over transport. No I/O happens
	// until Handshake.
	Server(transport net.Conn, config *ServerConfig) (Conn, error)
}

// Identity is a certificate chain with its private key.
type Identity struct {
	// Chain is the DER certificate chain, leaf first. Its certificates'
	// bytes are not changed in place once the identity is in use; while
	// no handshake uses it, an element may be given another certificate
	// (and a copy of the identity another chain).
	Chain [][]byte
	// Leaf is the parsed leaf certificate. It may be nil when crypto/x509
	// cannot parse the leaf's key type.
	Leaf *x509.Certificate
	// Key is the private key. It never flows back to a guest.
	Key crypto.Signer
	// OCSP, if set, is a DER OCSP response for the leaf that a server
	// staples when it presents this identity to a client that asks
	// (status_request; RFC 6066, Section 8; RFC 8446, Section 4.4.2.1).
	// The backend sends it as it is; keeping it fresh is the host's job.
	OCSP []byte

	// chainNames is the *chainNames of Chain (identitynames.go).
	chainNames atomic.Value
}

// Options common to both sides. Zero values mean the backend's secure
// defaults. Lists are in preference order; code points are IANA's.
type Options struct {
	// Versions are the protocol versions allowed (0x0303, 0x0304).
	Versions []uint16
	// CipherSuites are the cipher suites allowed.
	CipherSuites []uint16
	// Groups are the key-exchange groups allowed.
	Groups []uint16
	// KeyShares is how many of Groups the client sends key shares for in
	// its first ClientHello (0 means the backend's default).
	KeyShares int
	// ALPN lists the application protocols offered (client) or accepted
	// (server).
	ALPN []string
	// Time returns the current time for certificate validation; nil means
	// time.Now.
	Time func() time.Time
	// KeyLog, if set, receives the connection's secrets in the NSS key log
	// format (SSLKEYLOGFILE) for debugging with Wireshark: one line per
	// Write. Only the host sets it; it never reaches a guest.
	KeyLog io.Writer
	// MaxRSAKeyBits bounds the RSA keys of the peer's certificates: a
	// chain holding a larger one anywhere is refused with bad_certificate
	// (see CheckPeerRSAKeys). Verifying with an RSA key costs the square
	// of its size, and a peer chooses the size without holding the
	// private key, since its victim finds a signature is garbage only
	// after the work. Zero means DefaultMaxRSAKeyBits. Only the host sets
	// it. A backend may have a bound of its own as well: crypto/tls's is
	// 8192 bits unless GODEBUG=tlsmaxrsasize changes it.
	MaxRSAKeyBits int
}

// DefaultMaxRSAKeyBits is the default of Options.MaxRSAKeyBits, crypto/tls's
// bound (CVE-2023-29409): verifying with an 8192-bit key costs about 1 ms,
// with a 65536-bit one about 0.1 s, with a 262144-bit one seconds.
const DefaultMaxRSAKeyBits = 8192

// RSAKeyBitsLimit resolves MaxRSAKeyBits.
func (o *Options) RSAKeyBitsLimit() int {
	if o.MaxRSAKeyBits > 0 {
		return o.MaxRSAKeyBits
	}
	return DefaultMaxRSAKeyBits
}

// CheckPeerRSAKeys reports the first certificate of a peer's chain whose
// RSA key is larger than maxBits, for a backend to refuse before it
// verifies anything with the chain.
func CheckPeerRSAKeys(chain []*x509.Certificate, maxBits int) error {
	for i, c := range chain {
		if pub, ok := c.PublicKey.(*rsa.PublicKey); ok && pub.N.BitLen() > maxBits {
			return fmt.Errorf("the peer's certificate %d (%q) holds an RSA key larger than %d bits (%d)", i, c.Subject.CommonName, maxBits, pub.N.BitLen())
		}
	}
	return nil
}

// ClientConfig configures a client connection.
type ClientConfig struct {
	Options

	// ServerName is sent as SNI (unless it is an IP address) and is the name
	// the server's certificate is validated against.
	ServerName string

	// RootCAs are the trust anchors; nil means the system roots.
	RootCAs *x509.CertPool

	// InsecureSkipVerify turns off default server validation. Only the host
	// may set it, never a guest.
	InsecureSkipVerify bool

	// VerifyServer is called after the server's chain passed default
	// validation (or validation is off), with the chain as the server sent
	// it, leaf first. Returning an error aborts the handshake with
	// bad_certificate (or the alert a SendAlertError names). The chain's
	// bytes are never modified afterwards: the caller may keep them (the
	// host shares them with its guest rather than copying them).
	VerifyServer func(ctx context.Context, chain [][]byte) error

	// ClientIdentity is called when the server requests a client
	// certificate, during the handshake or after it (post-handshake
	// authentication). It returns the candidate identities in preference
	// order; the backend sends the first one compatible with the request,
	// or none. Nil means: send no certificate.
	ClientIdentity func(ctx context.Context, req *IdentityRequest) ([]*Identity, error)

	// NoClientIdentityRequest is called, if set, when the handshake has
	// passed the point where the server could have requested a client
	// certificate and it did not (after the server's Finished).
	NoClientIdentityRequest func(ctx context.Context)

	// Sessions, if set, is where the client looks for a session to resume
	// and keeps the sessions servers issue (session tickets). Nil means no
	// resumption: the client offers none and keeps none. Only the host
	// sets it; sessions hold secrets and never reach a guest. A resumed
	// handshake calls VerifyServer with the chain of the session it
	// resumed. A connection that presented a client certificate keeps no
	// session: a resumption sends none, so the server would take a later
	// connection for that identity whatever its ClientIdentity answers.
	Sessions SessionCache
}

// A SessionCache keeps client sessions for resumption, keyed by the
// backend's choice (the server name). The values are the backend's own and
// hold the session's secrets; the cache keeps them as they are, bounded,
// and never shows them to anyone. It is safe for concurrent use.
type SessionCache interface {
	// Get returns the session stored under key.
	Get(key string) (session any, ok bool)
	// Put stores session under key; a nil session removes key.
	Put(key string, session any)
}

// TicketKey is a key that seals session tickets (32 bytes, as crypto/tls's
// Config.SetSessionTicketKeys takes them).
type TicketKey = [32]byte

// IdentityRequest describes a server's certificate request.
type IdentityRequest struct {
	// SignatureSchemes the server accepts, IANA code points.
	SignatureSchemes []uint16
	// AcceptableCAs are DER distinguished names; empty means any.
	AcceptableCAs [][]byte
	// PostHandshake is true for a TLS 1.3 post-handshake request.
	PostHandshake bool
}

// ServerConfig configures a server connection.
type ServerConfig struct {
	Options

	// Identities are the server certificates in preference order; the
	// backend picks the first that fits the ClientHello (SNI, signature
	// schemes).
	Identities []*Identity

	// ClientHello is called once the ClientHello arrived. It may return a
	// replacement configuration for the rest of the handshake (hooks in it
	// are ignored; the ones of this config stay in force), or nil to keep
	// this one.
	ClientHello func(ctx context.Context, hello *ClientHello) (*ServerConfig, error)

	// ClientAuth says whether the server requests a client certificate
	// during the handshake. It is read after the ClientHello hook returned.
	ClientAuth ClientAuth

	// ClientCAs validate client certificates; nil means the system roots.
	ClientCAs *x509.CertPool

	// VerifyClient is called when the client answered a certificate request
	// (in the handshake or after it) with a chain that passed default
	// validation; chain is empty when the client sent none and ClientAuth
	// allowed that. Returning an error aborts with bad_certificate (or the
	// alert a SendAlertError names). As with VerifyServer, the chain's
	// bytes are never modified afterwards, nor are those of the chain
	// RequestClientIdentity returns.
	VerifyClient func(ctx context.Context, chain [][]byte) error

	// TicketKeys, if set, returns the keys that protect session tickets,
	// newest first: the first seals the tickets the server issues, every
	// one opens the tickets clients offer. Nil (or no keys) means the
	// server issues no tickets and resumes no session. Only the host sets
	// it, and rotates the keys; they never reach a guest. It is read once
	// the ClientHello hook returned, so the hook's replacement
	// configuration decides.
	TicketKeys func() []TicketKey
}

// ClientAuth is the server's client certificate policy.
type ClientAuth int

const (
	// NoClientCert: no certificate request is sent.
	NoClientCert ClientAuth = iota
	// RequestClientCert: a request is sent; an empty answer is accepted.
	RequestClientCert
	// RequireClientCert: a request is sent; an empty answer fails the
	// handshake with certificate_required.
	RequireClientCert
)

// ClientHello is what the server hook sees of the client's hello: the
// server name it sent ("" for none), the ALPN protocols it offered, and the
// cipher suites, protocol versions, key-exchange groups and signature
// schemes it offered, by IANA code point; every list in the client's order.
type ClientHello struct {
	ServerName       string
	ALPN             []string
	CipherSuites     []uint16
	Versions         []uint16
	Groups           []uint16
	SignatureSchemes []uint16
}

// A Conn is a TLS connection over a transport. Read and Write may be called
// concurrently with each other (one reader, one writer), but not before
// Handshake returned successfully.
type Conn interface {
	// Handshake runs the handshake to completion, calling the hooks of its
	// config on the way. Cancelling ctx aborts it (the peer gets an alert)
	// and unblocks it. The host does not rely on that alone: when it gives
	// up on a handshake it also makes every Read and Write of the
	// transport fail, and goes on without a backend that still does not
	// return.
	Handshake(ctx context.Context) error

	// Read reads application data. It returns io.EOF after the peer's
	// close_notify, and an error for a connection closed without it.
	Read(p []byte) (int, error)

	// Write writes application data.
	Write(p []byte) (int, error)

	// CloseWrite sends close_notify; the reading side stays open.
	CloseWrite() error

	// Close closes the connection and its transport.
	Close() error

	// State reports what was negotiated. Before the handshake completed it
	// reports what is known so far.
	State() State

	// RequestClientIdentity performs TLS 1.3 post-handshake client
	// authentication (server side only) and returns the client's chain.
	// Backends that cannot do it return an error wrapping
	// ErrNotSupported that says why.
	RequestClientIdentity(ctx context.Context) ([][]byte, error)
}

// A NonblockingConn is a Conn that works over a transport that never blocks,
// which lets the host run Read and Write on the guest's own calls instead
// of handing each one to a goroutine (a hand-off costs more than encrypting
// a 16 KiB record). A backend promises, by returning true:
//
//   - when a Read of the transport fails with a [net.Error] whose Timeout
//     reports true, Read returns that error (or one wrapping it) and keeps
//     its state: bytes of a partial record stay buffered and a later Read
//     continues where this one stopped, as crypto/tls does;
//   - Read and Write block only in the transport's Read and Write, never
//     on anything else the guest must do first; so does Handshake when no
//     hook suspends it (the host then may run it on the guest's call, and
//     relies on an interrupted transport to end it), and so do CloseWrite
//     and Close (which the host runs on the guest's call as well).
//
// The host's transport then accepts every Write at once (queueing what the
// socket does not take yet) and, for Reads made on the guest's calls,
// fails with such a timeout error instead of blocking. Backends that do
// not implement it get a goroutine per stream, as any io.Reader would.
type NonblockingConn interface {
	Conn
	NonblockingTransport() bool
}

// An ApplicationDataCounter is a Conn that reports how many bytes of its
// transport carried application data: the records read so far whose
// content type was application_data, headers, encryption and padding
// included. The host takes them out of what it counts of a client's
// post-handshake authentication (runtime/tlshost's peer certificate
// bytes), which is to count the client's handshake messages, its chain,
// not the data it sends meanwhile. It may be called while Read or
// RequestClientIdentity runs.
type ApplicationDataCounter interface {
	ApplicationDataRead() int64
}

// A PeerHeapCounter is a transport that counts, against a bound of its
// own, what the backend keeps of the peer's handshake beside the bytes
// it read: the wasi:tls host's transports are one (runtime/tlshost's
// peer certificate bytes, which count the bytes read as they are read).
// A backend that keeps the peer's chain parsed, as crypto/tls does for
// the connection's life, reports what the parsed certificates hold on
// the heap ([HeapBytes], the chain's DER aside) as soon as it parsed
// them, and fails the handshake with the error it returns: parsed, a
// certificate of one-letter URI names holds some 40 times its bytes. The
// count ends with the handshake, and what it counted is held until the
// connection is released.
type PeerHeapCounter interface {
	CountPeerHeap(n int64) error
}

// A PeerBacklogCounter is a transport that counts, against a bound of
// its own, what a backend holds of what the peer sent after the handshake
// without application data coming of it yet: the wasi:tls host's
// transports are one (runtime/tlshost's peer certificate bytes). A peer
// may start a post-handshake handshake message and send it in pieces, a
// Certificate of 256 KiB to crypto/tls (which buffers it whole before it
// finds it unexpected), without a byte of data between: the connection
// holds it, and a guest's thousands of connections would hold thousands
// of them. A backend reports how many bytes it holds of such messages, n,
// each time that changes (circl-pq: what it has of a message in pieces,
// 0 once the message is whole), or, if it cannot tell them from data,
// how many bytes it read from the transport since Read last returned data
// (stdtls, past what its record buffer holds anyway; 0 once it did), and
// 0 at Close, after which it tells nothing ([PeerBacklog] does all this);
// it fails the read with the error returned, which means the bound would
// be crossed.
type PeerBacklogCounter interface {
	HoldPeerBacklog(n int64) error
}

// A ReadAheadCounter is a transport that counts, against a bound of its
// own, the application data a backend read from it ahead of the
// application's Reads and holds for them: the wasi:tls host's transports
// are one (runtime/tlshost's read-ahead bytes, every connection of a guest
// together). A backend that reads records no Read asked for, as circl-pq's
// RequestClientIdentity does to find the client's answer behind the data
// the client sends meanwhile, reports how many bytes it holds so, n (its
// buffers' capacity, not only the data in them), before it reads a record
// that would add to them (the buffers grown to take what the record may
// carry) and each time that changes; 0 once a Read took the last of the
// data and at Close, after which it tells nothing ([ReadAhead] does all
// this).
// An error means the bound would be crossed, and is no failure: the
// backend stops reading ahead, as at a bound of its own, and leaves the
// rest to the application's Reads. A backend that reads only for a Read,
// holding at most the rest of one record, as crypto/tls does, has nothing
// to report.
type ReadAheadCounter interface {
	HoldReadAhead(n int64) error
}

// A ReadAheadNotifier is a ReadAheadCounter that tells when what it
// counts goes down: the channel ReadAheadFreed returns is closed the next
// time it does, for this connection or any other counted against the same
// bound (a nil channel: it refuses nothing). A backend it refused waits
// for that, taking the channel before it asks, instead of asking again on
// a timer.
type ReadAheadNotifier interface {
	ReadAheadFreed() <-chan struct{}
}

// A KeyingMaterialExporter is a Conn that exports keying material once its
// handshake completed (RFC 8446, Section 7.5; RFC 5705 in TLS 1.2). A nil
// context is no context, which differs from an empty one in TLS 1.2 only.
// The application chooses the label, which in TLS 1.3 becomes an
// HKDF-Expand-Label label: one longer than MaxTLS13ExporterLabel is an
// error (crypto/tls panics on it).
type KeyingMaterialExporter interface {
	ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error)
}

// MaxTLS13ExporterLabel is the longest TLS 1.3 exporter label: the
// HkdfLabel label holds 255 bytes, "tls13 " and the label (RFC 8446,
// Section 7.1).
const MaxTLS13ExporterLabel = 255 - len("tls13 ")

// State is what a connection negotiated. Version, CipherSuite and Group
// are IANA code points; ServerName is the server name the client asked for.
type State struct {
	HandshakeComplete bool
	Version           uint16
	CipherSuite       uint16
	Group             uint16 // key-exchange group; 0 when unknown
	ALPN              string // "" when none was negotiated
	ServerName        string
	// PeerChain is the peer's certificate chain as sent, leaf first; its
	// bytes are never modified (the caller may keep them).
	PeerChain [][]byte
	// LocalIdentity is the identity this side presented, if any.
	LocalIdentity *Identity
	// DidResume reports session resumption.
	DidResume bool
	// OCSPResponse is the OCSP response the server stapled (client side),
	// as sent, unchecked; on a resumption, the one of the session's
	// handshake. Nil when none.
	OCSPResponse []byte
}

// ErrNotSupported is wrapped by errors for features a backend lacks.
var ErrNotSupported = errors.New("not supported by this backend")

// ErrAborted is what hooks return when the guest aborted the handshake.
var ErrAborted = errors.New("tls: handshake aborted by the application")
