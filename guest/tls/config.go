package wasitls

// TLS protocol versions (IANA code points).
const (
	VersionTLS12 uint16 = 0x0303
	VersionTLS13 uint16 = 0x0304
)

// Key-exchange groups (IANA code points) for [Config.CurvePreferences].
const (
	X25519             uint16 = 0x001d
	P256               uint16 = 0x0017
	P384               uint16 = 0x0018
	P521               uint16 = 0x0019
	X25519MLKEM768     uint16 = 0x11ec
	SecP256r1MLKEM768  uint16 = 0x11eb
	SecP384r1MLKEM1024 uint16 = 0x11ed
	MLKEM512           uint16 = 0x0200
	MLKEM768           uint16 = 0x0201
	MLKEM1024          uint16 = 0x0202
)

// ClientAuthType says whether a server asks for a client certificate during
// the handshake.
type ClientAuthType int

const (
	// NoClientCert asks for no certificate.
	NoClientCert ClientAuthType = iota
	// RequestClientCert asks for a certificate; the client may send none.
	RequestClientCert
	// RequireAnyClientCert asks for a certificate and fails the handshake
	// (with an alert) when the client sends none. The host validates any
	// certificate sent against the CAs it is configured with.
	RequireAnyClientCert
)

// ClientHelloInfo is what a server learns from the ClientHello
// (receive-client-hello).
type ClientHelloInfo struct {
	ServerName      string
	SupportedProtos []string
	CipherSuites    []uint16
	// SupportedVersions, SupportedCurves and SignatureSchemes are the
	// client's offer, in its order (IANA code points), from
	// wasitls:tls/extensions@0.2.0.
	SupportedVersions []uint16
	SupportedCurves   []uint16
	SignatureSchemes  []uint16
}

// CertificateRequestInfo describes a server's request for a client
// certificate (wasitls:tls/extensions@0.2.0).
type CertificateRequestInfo struct {
	// AcceptableCAs are the DER distinguished names of the CAs the server
	// accepts; empty means any.
	AcceptableCAs [][]byte
	// SignatureSchemes are the signature schemes the server accepts, in
	// its order (IANA code points).
	SignatureSchemes []uint16
}
