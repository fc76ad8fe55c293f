package tlshost

import (
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/wasitls/wasitls/backends"
	// The default backend is always linked, so a zero Config works; it
	// brings crypto/tls only. Other backends are linked by importing them.
	_ "github.com/wasitls/wasitls/backends/stdtls"
)

// DefaultBackend is the backend used when a Config names none. It is always
// registered.
const DefaultBackend = "stdtls"

// Config is what the host decides about TLS for every guest it runs. A guest
// can narrow these settings but never widen them: its protocol versions,
// cipher suites and groups are narrowed to the host's lists (or, where the
// host set none, to what the backend implements), and a list with nothing
// left is refused with an error naming both lists. Trust anchors and
// turning validation off are host decisions only. ALPN and the server's
// identities are the guest's own; the host sets none.
type Config struct {
	// Backend is the TLS implementation. When nil, BackendName is looked up
	// in the backends registry.
	Backend backends.Backend

	// BackendName names a registered backend; "" means DefaultBackend.
	BackendName string

	// RootCAs validate servers the guest connects to; nil means the system
	// roots. Build pools with LoadTrustAnchors (from a PEM file, as
	// wasitls run --ca does), identity.AppendTrustAnchorsFromPEM or
	// identity.AddTrustAnchor, so that backends verifying ML-DSA chains
	// themselves find roots the peer does not send.
	RootCAs *x509.CertPool

	// ClientCAs validate the certificates of clients when a guest server
	// requests one; nil means the system roots.
	ClientCAs *x509.CertPool

	// InsecureSkipVerify turns off default validation of server
	// certificates. Guest verification (verify-server-identity) still
	// applies. For tests against peers with throwaway certificates only.
	InsecureSkipVerify bool

	// Versions are the protocol versions allowed (0x0303 TLS 1.2, 0x0304
	// TLS 1.3). Nil means the backend's defaults, and every version it
	// implements is then open to guests.
	Versions []uint16

	// CipherSuites are the cipher suites allowed, in preference order
	// (IANA code points). Nil means the backend's defaults, and every
	// suite it implements is then open to guests.
	CipherSuites []uint16

	// Groups are the key-exchange groups allowed, in preference order
	// (IANA code points). Nil means the backend's defaults, and every
	// group it implements is then open to guests.
	//
	// Each list is both the default, used when a guest configures nothing,
	// and the ceiling: a guest's list keeps only what the host's list
	// holds, in the guest's order. NewHost rejects a list that names what
	// the backend does not implement.
	Groups []uint16

	// Identities are identities the host holds by name, for guests to
	// use without ever seeing the private key (host-identity in
	// wasitls:tls/extensions@0.2.0): every guest may use every one,
	// unless instantiated under WithIdentities, which names those it
	// may. Parse them with the backend's ParseIdentity (see
	// LoadIdentity), so that key types only it knows work. The host
	// keeps a copy of the map, made when it is (NewHost, or the
	// registration of New's extension): changing the map later changes
	// nothing the guests see.
	Identities map[string]*backends.Identity

	// Time returns the current time for certificate validation and
	// ticket-key rotation; nil means time.Now.
	Time func() time.Time

	// KeyLog, if set, receives the secrets of every connection of every
	// guest in the NSS key log format (SSLKEYLOGFILE), for decrypting
	// captures with Wireshark. It is the host's: no guest can turn it on,
	// off or read it. Lines are written whole, one Write each, from any
	// goroutine. Anyone who reads it can decrypt the traffic: for
	// debugging only. A failed write is logged and never fails the
	// handshake. Lines are written on a goroutine of the host's: a
	// handshake waits for its line at most 500 ms, and none waits while
	// the writer is behind (see KeyLogBytes).
	KeyLog io.Writer

	// KeyLogBytes bounds the key log lines the host holds for a KeyLog
	// writer that is behind (a Write that blocks), every connection
	// together, beyond one line; zero means DefaultKeyLogBytes. Past it
	// lines are dropped, the first of each run of drops logged; a
	// negative value holds one line at a time.
	KeyLogBytes int

	// PendingHandshakes bounds the handshakes one guest has pending at
	// once (see pending.go for when a handshake is pending); zero means
	// DefaultPendingHandshakes. Past it, connect and accept fail, naming
	// the limit.
	PendingHandshakes int

	// Connections bounds the TLS connections one guest holds at once:
	// client-connection and server-connection resources, and the draft's
	// client-handshake, from the constructor until the guest drops them,
	// whatever streams they were made over (see connections.go); zero
	// means DefaultConnections. Past it, the constructor traps, naming
	// the limit (it has no error case).
	Connections int

	// IdentityBytes bounds the key and chain bytes of the private
	// identities one guest parsed (private-identity.parse) and the host
	// still holds, with what it parsed of them (the parsed key and leaf,
	// as they hold the heap: see identitybytes.go); zero means
	// DefaultIdentityBytes. Past it, parse fails, naming the limit.
	IdentityBytes int

	// PeerCertBytes bounds the bytes the peers of one guest's
	// connections sent in their handshakes (and post-handshake
	// authentications, and what stdtls holds of a handshake message a
	// peer sends in pieces after the handshake, and what a server's
	// backend holds parsed of the ClientHello while the handshake
	// runs), certificate chains above all, that the host
	// holds for it, every connection together, in handshake and
	// established (see peercertbytes.go); zero means
	// DefaultPeerCertBytes. Past it, the handshake or request that would
	// cross it fails, naming the limit.
	PeerCertBytes int

	// ReadAheadBytes bounds the application data the backends of one
	// guest's connections read from their peers ahead of the guest's
	// reads and hold for them, every connection together (circl-pq, while
	// a server's post-handshake certificate request waits for its answer;
	// see readahead.go); zero means DefaultReadAheadBytes. Past it, a
	// backend stops reading ahead and the request waits for the guest's
	// reads: no call fails.
	ReadAheadBytes int

	// SettingsBytes bounds the bytes of the settings one guest chose for
	// its connections that the host keeps until it drops them, every
	// connection together: server names, ALPN IDs, protocol versions,
	// cipher suites, groups, server identities and a client's answer to a
	// certificate request (see settingsbytes.go); zero means
	// DefaultSettingsBytes. Past it, the call that would cross it fails,
	// naming the limit.
	SettingsBytes int

	// HandshakeTimeout bounds every TLS handshake, client and server, from
	// its first step on the network to its completion, and every
	// post-handshake client authentication, time spent in the guest's own
	// steps included. Zero means DefaultHandshakeTimeout; a negative value
	// turns the bound off. On expiry the handshake (or the
	// authentication) fails with an error wrapping ErrHandshakeTimeout,
	// which the guest reads with client-last-error or server-last-error,
	// every pollable waiting on it is ready, and the host closes the
	// connection: a silent or slow peer holds a socket and a handshake for
	// at most this long, whatever the guest does.
	HandshakeTimeout time.Duration

	// SessionCacheSize bounds the client sessions each guest's cache
	// keeps for resumption (see resumption.go): one per server name and
	// port, least recently stored first out. Zero means
	// DefaultSessionCacheSize; a negative value turns client resumption
	// off.
	SessionCacheSize int

	// TicketKeyRotation is how long each of the host's session-ticket keys
	// seals the tickets its guest servers issue; a key opens tickets for
	// as long again after the next one took over, then it is dropped, so
	// a ticket resumes for at most twice this long. Zero means
	// DefaultTicketKeyRotation; a negative value turns server resumption
	// off (no tickets are issued).
	TicketKeyRotation time.Duration

	// MaxPeerRSAKeyBits bounds the RSA keys in the certificate chains of
	// the guests' peers, servers and clients: a chain holding a larger
	// one is refused with bad_certificate before anything is verified
	// with it (backends.Options.MaxRSAKeyBits). Verifying with an RSA key
	// costs the square of its size, which the peer chooses without
	// holding the private key. Zero means backends.DefaultMaxRSAKeyBits
	// (8192, crypto/tls's bound); NewHost rejects a value below 1024. The
	// stdtls backend cannot go above crypto/tls's own bound (8192 unless
	// GODEBUG=tlsmaxrsasize raises it).
	MaxPeerRSAKeyBits int

	// Logger, if set, receives the reasons of failures that the proposal's
	// results cannot carry to the guest (they have no error payload).
	Logger *slog.Logger
}

// DefaultHandshakeTimeout is the handshake timeout when Config sets none:
// 30 seconds, in the range of what servers facing the Internet use.
// nginx bounds a TLS handshake by 60 s by default (ssl_handshake_timeout
// in its stream module; client_header_timeout, also 60 s, in its HTTP
// server). Envoy bounds its listener filters, the TLS inspector reading
// the ClientHello among them, by 15 s (listener_filters_timeout), and
// leaves its whole-handshake bound (transport_socket_connect_timeout)
// unset unless configured. HAProxy has no default for timeout client, the
// bound its timeout client-hs for TLS handshakes falls back to, and warns
// when it is missing; its documented examples set tens of seconds. Go's
// http.DefaultTransport gives a client handshake 10 s. A handshake takes a
// few round trips, plus the time the guest spends at its own steps
// (checking a certificate, choosing an identity), which the bound
// includes: 30 s leaves slow links and deliberate guests ample room, while
// a peer that stalls holds a socket and a handshake for half as long as
// nginx would let it.
const DefaultHandshakeTimeout = 30 * time.Second

// DefaultKeyLogBytes is the default of Config.KeyLogBytes: 1 MiB, the
// lines of some 2,000 TLS 1.3 handshakes (five lines of about 100 bytes
// each).
const DefaultKeyLogBytes = 1 << 20

// keyLogBytes resolves KeyLogBytes.
func (c *Config) keyLogBytes() int {
	return resolve(c.KeyLogBytes, DefaultKeyLogBytes)
}

// DefaultSessionCacheSize is the default of Config.SessionCacheSize: 64
// server names per guest, each session a few kilobytes at most (a ticket,
// its secret and the server's chain).
const DefaultSessionCacheSize = 64

// DefaultTicketKeyRotation is the default of Config.TicketKeyRotation: a
// new key every 24 hours, as crypto/tls rotates the keys it makes itself,
// so that a stolen key opens at most two days of tickets.
const DefaultTicketKeyRotation = 24 * time.Hour

// sessionCacheSize resolves SessionCacheSize: 0 for no client resumption.
func (c *Config) sessionCacheSize() int {
	return resolve(c.SessionCacheSize, DefaultSessionCacheSize)
}

// ticketKeyRotation resolves TicketKeyRotation: 0 for no server
// resumption.
func (c *Config) ticketKeyRotation() time.Duration {
	return resolve(c.TicketKeyRotation, DefaultTicketKeyRotation)
}

// handshakeTimeout resolves HandshakeTimeout: 0 for no bound.
func (c *Config) handshakeTimeout() time.Duration {
	return resolve(c.HandshakeTimeout, DefaultHandshakeTimeout)
}

// resolve is a setting whose zero value means def and whose negative
// values mean off (0).
func resolve[T int | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// backend resolves the configured backend.
func (c *Config) backend() (backends.Backend, error) {
	if c.Backend != nil {
		return c.Backend, nil
	}
	name := c.BackendName
	if name == "" {
		name = DefaultBackend
	}
	b, err := backends.ByName(name)
	if err != nil {
		return nil, fmt.Errorf("tlshost: %w; a backend other than stdtls is linked by importing its package, "+
			"as in import _ \"github.com/wasitls/wasitls/backends/circl-pq\", or registered with backends.Register", err)
	}
	return b, nil
}

// clientBase is the client configuration before the guest adds to it.
func (c *Config) clientBase() backends.ClientConfig {
	return backends.ClientConfig{
		Options:            c.options(),
		RootCAs:            c.RootCAs,
		InsecureSkipVerify: c.InsecureSkipVerify,
	}
}

// serverBase is the server configuration before the guest adds to it.
func (c *Config) serverBase() backends.ServerConfig {
	return backends.ServerConfig{
		Options:   c.options(),
		ClientCAs: c.ClientCAs,
	}
}

// options are the host's lists. Every connection shares them: NewHost
// copied them from the embedder's Config, a guest's configure-* replaces
// a list rather than changing it, and backends only read them.
func (c *Config) options() backends.Options {
	return backends.Options{
		Versions:      c.Versions,
		CipherSuites:  c.CipherSuites,
		Groups:        c.Groups,
		Time:          c.Time,
		KeyLog:        c.KeyLog,
		MaxRSAKeyBits: c.MaxPeerRSAKeyBits,
	}
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append([]T(nil), s...)
}

func cloneChain(chain [][]byte) [][]byte {
	if chain == nil {
		return nil
	}
	out := make([][]byte, len(chain))
	for i, c := range chain {
		out[i] = append([]byte(nil), c...)
	}
	return out
}
