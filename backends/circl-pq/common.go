package circlpq

import (
	"crypto/sha256"
	"time"
)

// Protocol versions (RFC 8446, Section 4.2.1).
const (
	versionTLS12 uint16 = 0x0303
	versionTLS13 uint16 = 0x0304
)

// Record content types (RFC 8446, Section 5.1).
type recordType uint8

const (
	recordTypeChangeCipherSpec recordType = 20
	recordTypeAlert            recordType = 21
	recordTypeHandshake        recordType = 22
	recordTypeApplicationData  recordType = 23
)

// Record size limits (RFC 8446, Section 5.1 and 5.2).
const (
	recordHeaderLen = 5
	// maxPlaintext is the largest TLSPlaintext / TLSInnerPlaintext content.
	maxPlaintext = 1 << 14
	// maxCiphertext is the largest TLSCiphertext.length: 2^14 + 256.
	maxCiphertext = maxPlaintext + 256
	// maxHandshake bounds one Certificate message. Chains with
	// post-quantum keys are large, so this is crypto/tls's bound for
	// Certificate messages, four times its bound for the others.
	maxHandshake = 256 << 10
	// maxHandshakeOther bounds every other handshake message, as
	// crypto/tls does (64 KiB), and a Certificate this side is not
	// waiting for: what a peer can make a connection hold by announcing a
	// message and never finishing it.
	maxHandshakeOther = 64 << 10
	// maxEmptyRecords bounds consecutive records that carry no data, so a
	// peer cannot keep a reader spinning: 16, as crypto/tls
	// (maxUselessRecords), which has taken no more from any peer.
	maxEmptyRecords = 16
	// maxIgnoredAlerts bounds consecutive warning-level user_canceled
	// alerts, which are otherwise ignored (BoringSSL allows 4 as well).
	maxIgnoredAlerts = 4
	// maxPostHandshakeMessages bounds the whole post-handshake messages
	// (KeyUpdate, NewSessionTicket, CertificateRequest, a client's
	// answer) a connection takes between two application data records.
	maxPostHandshakeMessages = 64
	// maxKeyUpdates bounds the KeyUpdates among them: 32, as BoringSSL
	// (kMaxKeyUpdates; BoGo's TooManyKeyUpdates sends 33). Each costs a
	// key derivation for some 30 bytes on the wire.
	maxKeyUpdates = 32
	// maxPostHandshakeBytes bounds the transport bytes of the handshake
	// records a connection takes between two application data records
	// after the handshake: as much as maxPostHandshakeMessages messages
	// of the largest size. The message count alone let a peer send each
	// byte of a message in a record padded to 16 KiB, a GiB per message.
	maxPostHandshakeBytes = maxPostHandshakeMessages * maxHandshake
	// maxHandshakeBytes bounds the transport bytes of the handshake
	// records a connection takes in its handshake: as much as 8 messages
	// of the largest size, where a side takes 7 at most (a client: a
	// HelloRetryRequest, a ServerHello, EncryptedExtensions, a
	// CertificateRequest, a Certificate, a CertificateVerify, a
	// Finished). Messages are held to their own size limits, but their
	// records were not: a peer sending each byte of a message in a record
	// padded to 16 KiB made a GiB per message (a 64 KiB one), bounded by
	// the handshake's timeout alone, as maxPostHandshakeBytes bounds it
	// after the handshake.
	maxHandshakeBytes = 8 * maxHandshake
	// maxSkippedEarlyData bounds the rejected 0-RTT data a server skips.
	maxSkippedEarlyData = 1 << 18
)

// Handshake message types (RFC 8446, Section 4).
const (
	typeClientHello         uint8 = 1
	typeServerHello         uint8 = 2
	typeNewSessionTicket    uint8 = 4
	typeEndOfEarlyData      uint8 = 5
	typeEncryptedExtensions uint8 = 8
	typeCertificate         uint8 = 11
	typeCertificateRequest  uint8 = 13
	typeCertificateVerify   uint8 = 15
	typeFinished            uint8 = 20
	typeKeyUpdate           uint8 = 24
	typeMessageHash         uint8 = 254
)

// Extension types (RFC 8446, Section 4.2, and RFC 7301 for ALPN).
const (
	extensionServerName              uint16 = 0
	extensionStatusRequest           uint16 = 5
	extensionSupportedGroups         uint16 = 10
	extensionSignatureAlgorithms     uint16 = 13
	extensionALPN                    uint16 = 16
	extensionPreSharedKey            uint16 = 41
	extensionEarlyData               uint16 = 42
	extensionSupportedVersions       uint16 = 43
	extensionCookie                  uint16 = 44
	extensionPSKModes                uint16 = 45
	extensionCertificateAuthorities  uint16 = 47
	extensionPostHandshakeAuth       uint16 = 49
	extensionSignatureAlgorithmsCert uint16 = 50
	extensionKeyShare                uint16 = 51
)

// Cipher suites (RFC 8446, Appendix B.4).
const (
	TLS_AES_128_GCM_SHA256       uint16 = 0x1301
	TLS_AES_256_GCM_SHA384       uint16 = 0x1302
	TLS_CHACHA20_POLY1305_SHA256 uint16 = 0x1303
)

// Key-exchange groups (IANA "TLS Supported Groups").
const (
	P256               uint16 = 0x0017
	P384               uint16 = 0x0018
	P521               uint16 = 0x0019
	X25519             uint16 = 0x001d
	MLKEM512           uint16 = 0x0200
	MLKEM768           uint16 = 0x0201
	MLKEM1024          uint16 = 0x0202
	SecP256r1MLKEM768  uint16 = 0x11eb
	X25519MLKEM768     uint16 = 0x11ec
	SecP384r1MLKEM1024 uint16 = 0x11ed
)

// Signature schemes (RFC 8446, Section 4.2.3).
const (
	PKCS1WithSHA256        uint16 = 0x0401
	PKCS1WithSHA384        uint16 = 0x0501
	PKCS1WithSHA512        uint16 = 0x0601
	ECDSAWithP256AndSHA256 uint16 = 0x0403
	ECDSAWithP384AndSHA384 uint16 = 0x0503
	ECDSAWithP521AndSHA512 uint16 = 0x0603
	PSSWithSHA256          uint16 = 0x0804
	PSSWithSHA384          uint16 = 0x0805
	PSSWithSHA512          uint16 = 0x0806
	Ed25519                uint16 = 0x0807
)

// defaultGroups is the client's and server's group preference when the
// configuration names none: hybrids first, then their classical halves.
// Pure ML-KEM is opt-in.
var defaultGroups = []uint16{
	X25519MLKEM768, X25519,
	SecP256r1MLKEM768, P256,
	SecP384r1MLKEM1024, P384,
	P521,
}

// defaultKeyShares is how many key shares a client sends when the
// configuration does not say.
const defaultKeyShares = 1

// defaultCipherSuites is the cipher suite preference when none is
// configured.
var defaultCipherSuites = []uint16{
	TLS_AES_128_GCM_SHA256,
	TLS_AES_256_GCM_SHA384,
	TLS_CHACHA20_POLY1305_SHA256,
}

// supportedSignatureSchemes is what this engine verifies, in the order it
// advertises them in signature_algorithms. PKCS #1 v1.5 is listed for
// certificate signatures only; it is refused in CertificateVerify
// (RFC 8446, Section 4.2.3).
var supportedSignatureSchemes = []uint16{
	ECDSAWithP256AndSHA256,
	Ed25519,
	PSSWithSHA256,
	ECDSAWithP384AndSHA384,
	PSSWithSHA384,
	ECDSAWithP521AndSHA512,
	PSSWithSHA512,
	PKCS1WithSHA256,
	PKCS1WithSHA384,
	PKCS1WithSHA512,
	MLDSA44,
	MLDSA65,
	MLDSA87,
}

// helloRetryRequestRandom is the ServerHello.random that marks a
// HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446, Section 4.1.3).
var helloRetryRequestRandom = sha256.Sum256([]byte("HelloRetryRequest"))

// Downgrade sentinels a TLS 1.3 server puts in the last eight bytes of its
// random when it negotiates TLS 1.2 or below (RFC 8446, Section 4.1.3).
const (
	downgradeCanaryTLS12 = "DOWNGRD\x01"
	downgradeCanaryTLS11 = "DOWNGRD\x00"
)

// closeNotifyTimeout bounds the close_notify write in Close, so a peer that
// does not read cannot block Close.
const closeNotifyTimeout = 5 * time.Second
