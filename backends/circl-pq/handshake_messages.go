package circlpq

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// Handshake messages (RFC 8446, Section 4). Each type has encode, which
// returns the whole message including its four-byte header or an
// *encodeError when a field overfills its length prefix, and unmarshal,
// which parses a whole message and reports whether it was well formed.
// Unmarshal rejects trailing bytes, duplicate extensions and malformed
// extension bodies; semantic checks are the handshake's job.
//
// Parsed messages keep their raw bytes for the transcript.

// marshalMessage frames a handshake body, or reports which message a field
// overfilled: cryptobyte.Builder records a length that exceeds its prefix
// as an error, which only BytesOrPanic would turn into a panic (see the
// package documentation, "Encoding").
func marshalMessage(typ uint8, body func(b *cryptobyte.Builder)) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(typ)
	b.AddUint24LengthPrefixed(body)
	out, err := b.Bytes()
	if err != nil {
		return nil, &encodeError{msg: typ, err: err}
	}
	return out, nil
}

// An encodeError reports a message that does not fit its length prefixes.
type encodeError struct {
	msg uint8
	err error
}

func (e *encodeError) Error() string {
	return "tls: this side's " + messageName(e.msg) + " cannot be encoded: " + e.err.Error()
}

func (e *encodeError) Unwrap() error { return e.err }

// messageName names a handshake message type for errors.
func messageName(typ uint8) string {
	switch typ {
	case typeClientHello:
		return "ClientHello"
	case typeServerHello:
		return "ServerHello"
	case typeNewSessionTicket:
		return "NewSessionTicket"
	case typeEncryptedExtensions:
		return "EncryptedExtensions"
	case typeCertificate:
		return "Certificate"
	case typeCertificateRequest:
		return "CertificateRequest"
	case typeCertificateVerify:
		return "CertificateVerify"
	case typeFinished:
		return "Finished"
	case typeKeyUpdate:
		return "KeyUpdate"
	}
	return fmt.Sprintf("handshake message %d", typ)
}

// readMessageBody checks the header of a whole message and returns its body.
func readMessageBody(data []byte, typ uint8) (cryptobyte.String, bool) {
	s := cryptobyte.String(data)
	var t uint8
	var body cryptobyte.String
	if !s.ReadUint8(&t) || t != typ || !s.ReadUint24LengthPrefixed(&body) || !s.Empty() {
		return nil, false
	}
	return body, true
}

// An extension is one entry of an extensions block.
type extension struct {
	typ  uint16
	data cryptobyte.String
}

// extensions is an extensions block readExtensions checked; next reads
// its entries in order.
type extensions cryptobyte.String

func (b *extensions) next(e *extension) bool {
	s := (*cryptobyte.String)(b)
	return s.ReadUint16(&e.typ) && s.ReadUint16LengthPrefixed(&e.data)
}

// readExtensions reads an extensions block (RFC 8446, Section 4.2),
// rejecting duplicates: "There MUST NOT be more than one extension of the
// same type in a given extension block."
func readExtensions(s *cryptobyte.String) (extensions, bool) {
	if s.Empty() {
		// Extensions are optional in the legacy ClientHello/ServerHello
		// encoding; TLS 1.3 peers always send them.
		return nil, true
	}
	var block cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&block) {
		return nil, false
	}
	return extensions(block), checkExtensions(block)
}

// checkExtensions reports whether block, the entries of an extensions
// block, is well formed and names no type twice. A block of 64 KiB holds
// up to 16,383 empty extensions: they are checked against a bit set and
// read where they lie. Before, a map of the types seen and a list of the
// entries made a ClientHello of that many cost 2.8 MB of allocations and
// its parse 9 times what a usual one costs for its length.
func checkExtensions(block cryptobyte.String) bool {
	var seen codeSet
	for !block.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !block.ReadUint16(&typ) || !block.ReadUint16LengthPrefixed(&data) || seen.has(typ) {
			return false
		}
		seen.add(typ)
	}
	return true
}

// A codeSet is a set of 16-bit code points (groups, extension types), one
// bit each: 8 KiB however many it holds, and no allocation.
type codeSet [1 << 16 / 64]uint64

func (s *codeSet) add(g uint16)      { s[g/64] |= 1 << (g % 64) }
func (s *codeSet) has(g uint16) bool { return s[g/64]&(1<<(g%64)) != 0 }
func (s *codeSet) remove(g uint16)   { s[g/64] &^= 1 << (g % 64) }

func readUint16List(s *cryptobyte.String, out *[]uint16) bool {
	var list cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&list) || list.Empty() || len(list)%2 != 0 {
		return false
	}
	*out = make([]uint16, 0, len(list)/2)
	for !list.Empty() {
		var v uint16
		list.ReadUint16(&v)
		*out = append(*out, v)
	}
	return true
}

func addUint16List(b *cryptobyte.Builder, list []uint16) {
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, v := range list {
			b.AddUint16(v)
		}
	})
}

// countEntries counts the entries of list, each read by read, and
// reports whether they are all there and none is empty. Lists of a
// peer's are made once at their length: 64 KiB of one-byte entries hold
// over 20,000, and a list grown entry by entry allocated 4 to 5 times its
// final size before (a CertificateRequest of 21,660 CA names 2.3 MB, a
// ClientHello of 16,203 ALPN IDs 1.2 MB, a Certificate of 43,000
// one-byte certificates, which a client's may be, some 5 MB; key shares
// and PSK identities likewise).
func countEntries(list cryptobyte.String, read func(s, entry *cryptobyte.String) bool) (int, bool) {
	n := 0
	for ; !list.Empty(); n++ {
		var entry cryptobyte.String
		if !read(&list, &entry) || entry.Empty() {
			return 0, false
		}
	}
	return n, true
}

// readALPN parses a ProtocolNameList (RFC 7301, Section 3.1).
func readALPN(s *cryptobyte.String, out *[]string) bool {
	var list cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&list) {
		return false
	}
	n, ok := countEntries(list, (*cryptobyte.String).ReadUint8LengthPrefixed)
	if !ok || n == 0 {
		return false
	}
	// One string of the list, which the IDs are cut from: a string each
	// was an allocation each, some 16,000 in a ClientHello.
	all := string(list)
	*out = make([]string, n)
	for i := range *out {
		k := int(all[0])
		(*out)[i], all = all[1:1+k], all[1+k:]
	}
	return true
}

func addALPN(b *cryptobyte.Builder, protos []string) {
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, p := range protos {
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddBytes([]byte(p))
			})
		}
	})
}

// A keyShare is a KeyShareEntry (RFC 8446, Section 4.2.8).
type keyShare struct {
	group uint16
	data  []byte
}

// clientHelloMsg is a ClientHello (RFC 8446, Section 4.1.2).
type clientHelloMsg struct {
	raw                    []byte
	vers                   uint16
	random                 []byte
	sessionID              []byte
	cipherSuites           []uint16
	compressionMethods     []uint8
	serverName             string
	supportedGroups        []uint16
	signatureSchemes       []uint16
	signatureSchemesCert   []uint16
	alpnProtocols          []string
	supportedVersions      []uint16
	keyShares              []keyShare
	hasKeyShares           bool
	cookie                 []byte
	pskModes               []uint8
	hasPreSharedKey        bool
	pskNotLast             bool // pre_shared_key is not the last extension
	hasPSKModes            bool
	pskIdentities          []pskIdentity
	pskBinders             [][]byte
	earlyData              bool
	postHandshakeAuth      bool
	ocspStapling           bool // status_request for an OCSP response (RFC 6066, Section 8)
	hasSupportedGroups     bool
	hasSignatureAlgorithms bool
}

// encode encodes a ClientHello, or reports that it does not fit
// its length prefixes: its extensions take at most 65,535 bytes together,
// and the application's ALPN IDs, the server's HelloRetryRequest cookie
// and its session ticket are among them.
func (m *clientHelloMsg) encode() ([]byte, error) {
	return marshalMessage(typeClientHello, func(b *cryptobyte.Builder) {
		b.AddUint16(m.vers)
		b.AddBytes(m.random)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.sessionID) })
		addUint16List(b, m.cipherSuites)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.compressionMethods) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			if m.serverName != "" {
				// RFC 6066, Section 3.
				b.AddUint16(extensionServerName)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						b.AddUint8(0) // host_name
						b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
							b.AddBytes([]byte(m.serverName))
						})
					})
				})
			}
			if len(m.supportedGroups) > 0 {
				b.AddUint16(extensionSupportedGroups)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { addUint16List(b, m.supportedGroups) })
			}
			if len(m.signatureSchemes) > 0 {
				b.AddUint16(extensionSignatureAlgorithms)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { addUint16List(b, m.signatureSchemes) })
			}
			if len(m.signatureSchemesCert) > 0 {
				b.AddUint16(extensionSignatureAlgorithmsCert)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { addUint16List(b, m.signatureSchemesCert) })
			}
			if len(m.alpnProtocols) > 0 {
				b.AddUint16(extensionALPN)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { addALPN(b, m.alpnProtocols) })
			}
			if len(m.supportedVersions) > 0 {
				b.AddUint16(extensionSupportedVersions)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
						for _, v := range m.supportedVersions {
							b.AddUint16(v)
						}
					})
				})
			}
			if len(m.cookie) > 0 {
				b.AddUint16(extensionCookie)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.cookie) })
				})
			}
			if len(m.pskModes) > 0 {
				b.AddUint16(extensionPSKModes)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.pskModes) })
				})
			}
			if m.postHandshakeAuth {
				b.AddUint16(extensionPostHandshakeAuth)
				b.AddUint16(0)
			}
			if m.ocspStapling {
				// RFC 6066, Section 8: status_type ocsp, no responder IDs,
				// no request extensions.
				b.AddUint16(extensionStatusRequest)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint8(statusTypeOCSP)
					b.AddUint16(0)
					b.AddUint16(0)
				})
			}
			if m.earlyData {
				b.AddUint16(extensionEarlyData)
				b.AddUint16(0)
			}
			if m.hasKeyShares {
				b.AddUint16(extensionKeyShare)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						for _, ks := range m.keyShares {
							b.AddUint16(ks.group)
							b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ks.data) })
						}
					})
				})
			}
			if len(m.pskIdentities) > 0 {
				// RFC 8446, Section 4.2.11: always the last extension.
				b.AddUint16(extensionPreSharedKey)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						for _, id := range m.pskIdentities {
							b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(id.label) })
							b.AddUint32(id.obfuscatedTicketAge)
						}
					})
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						for _, binder := range m.pskBinders {
							b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(binder) })
						}
					})
				})
			}
		})
	})
}

func (m *clientHelloMsg) unmarshal(data []byte) bool {
	*m = clientHelloMsg{raw: data}
	s, ok := readMessageBody(data, typeClientHello)
	if !ok {
		return false
	}
	var random, sessionID, compression cryptobyte.String
	if !s.ReadUint16(&m.vers) || !s.ReadBytes((*[]byte)(&random), 32) ||
		!s.ReadUint8LengthPrefixed(&sessionID) || len(sessionID) > 32 {
		return false
	}
	m.random, m.sessionID = random, sessionID
	if !readUint16List(&s, &m.cipherSuites) {
		return false
	}
	if !s.ReadUint8LengthPrefixed(&compression) || compression.Empty() {
		return false
	}
	m.compressionMethods = compression
	exts, ok := readExtensions(&s)
	if !ok || !s.Empty() {
		return false
	}
	for e := (extension{}); exts.next(&e); {
		d := e.data
		switch e.typ {
		case extensionServerName:
			// RFC 6066, Section 3: at most one host_name.
			var list cryptobyte.String
			if !d.ReadUint16LengthPrefixed(&list) || list.Empty() {
				return false
			}
			for !list.Empty() {
				var nameType uint8
				var name cryptobyte.String
				if !list.ReadUint8(&nameType) || !list.ReadUint16LengthPrefixed(&name) || name.Empty() {
					return false
				}
				if nameType != 0 {
					continue
				}
				if m.serverName != "" {
					return false
				}
				m.serverName = string(name)
			}
		case extensionSupportedGroups:
			if !readUint16List(&d, &m.supportedGroups) {
				return false
			}
			m.hasSupportedGroups = true
		case extensionSignatureAlgorithms:
			if !readUint16List(&d, &m.signatureSchemes) {
				return false
			}
			m.hasSignatureAlgorithms = true
		case extensionSignatureAlgorithmsCert:
			if !readUint16List(&d, &m.signatureSchemesCert) {
				return false
			}
		case extensionALPN:
			if !readALPN(&d, &m.alpnProtocols) {
				return false
			}
		case extensionSupportedVersions:
			var list cryptobyte.String
			if !d.ReadUint8LengthPrefixed(&list) || list.Empty() || len(list)%2 != 0 {
				return false
			}
			m.supportedVersions = make([]uint16, len(list)/2)
			for i := range m.supportedVersions {
				list.ReadUint16(&m.supportedVersions[i])
			}
		case extensionCookie:
			var c cryptobyte.String
			if !d.ReadUint16LengthPrefixed(&c) || c.Empty() {
				return false
			}
			m.cookie = c
		case extensionPSKModes:
			var modes cryptobyte.String
			if !d.ReadUint8LengthPrefixed(&modes) {
				return false
			}
			m.pskModes = modes
			m.hasPSKModes = true
		case extensionPostHandshakeAuth:
			m.postHandshakeAuth = true
		case extensionStatusRequest:
			// RFC 6066, Section 8: other status types are ignored.
			var statusType uint8
			var ids, reqExts cryptobyte.String
			if !d.ReadUint8(&statusType) {
				return false
			}
			if statusType != statusTypeOCSP {
				continue
			}
			if !d.ReadUint16LengthPrefixed(&ids) || !d.ReadUint16LengthPrefixed(&reqExts) {
				return false
			}
			m.ocspStapling = true
		case extensionEarlyData:
			m.earlyData = true
		case extensionKeyShare:
			// RFC 8446, Section 4.2.8.
			var list cryptobyte.String
			if !d.ReadUint16LengthPrefixed(&list) {
				return false
			}
			m.hasKeyShares = true
			n, ok := countEntries(list, func(s, kx *cryptobyte.String) bool {
				var group uint16
				return s.ReadUint16(&group) && s.ReadUint16LengthPrefixed(kx)
			})
			if !ok {
				return false
			}
			m.keyShares = make([]keyShare, n)
			for i := range m.keyShares {
				list.ReadUint16(&m.keyShares[i].group)
				list.ReadUint16LengthPrefixed((*cryptobyte.String)(&m.keyShares[i].data))
			}
		case extensionPreSharedKey:
			// "The pre_shared_key extension MUST be the last extension
			// in the ClientHello" (RFC 8446, Section 4.2.11); the
			// server refuses it otherwise with illegal_parameter.
			m.pskNotLast = len(exts) > 0
			m.hasPreSharedKey = true
			var ids, binders cryptobyte.String
			if !d.ReadUint16LengthPrefixed(&ids) {
				return false
			}
			n, ok := countEntries(ids, func(s, label *cryptobyte.String) bool {
				var age uint32
				return s.ReadUint16LengthPrefixed(label) && s.ReadUint32(&age)
			})
			if !ok || n == 0 {
				return false
			}
			m.pskIdentities = make([]pskIdentity, n)
			for i := range m.pskIdentities {
				ids.ReadUint16LengthPrefixed((*cryptobyte.String)(&m.pskIdentities[i].label))
				ids.ReadUint32(&m.pskIdentities[i].obfuscatedTicketAge)
			}
			if !d.ReadUint16LengthPrefixed(&binders) {
				return false
			}
			// A binder is an HMAC: 32 bytes at least (RFC 8446, Section
			// 4.2.11).
			n, ok = countEntries(binders, func(s, binder *cryptobyte.String) bool {
				return s.ReadUint8LengthPrefixed(binder) && len(*binder) >= 32
			})
			if !ok || n == 0 {
				return false
			}
			m.pskBinders = make([][]byte, n)
			for i := range m.pskBinders {
				binders.ReadUint8LengthPrefixed((*cryptobyte.String)(&m.pskBinders[i]))
			}
		default:
			// Unknown extensions are ignored (RFC 8446, Section 4.2).
			continue
		}
		if !d.Empty() {
			return false
		}
	}
	return true
}

// A pskIdentity is one offered PSK (RFC 8446, Section 4.2.11).
type pskIdentity struct {
	label               []byte
	obfuscatedTicketAge uint32
}

// bindersLength is the encoded length of the binders list, which ends the
// ClientHello: PSK binders are computed over the ClientHello without it
// (RFC 8446, Section 4.2.11.2).
func (m *clientHelloMsg) bindersLength() int {
	n := 2
	for _, b := range m.pskBinders {
		n += 1 + len(b)
	}
	return n
}

// serverHelloMsg is a ServerHello or a HelloRetryRequest
// (RFC 8446, Section 4.1.3 and 4.1.4).
type serverHelloMsg struct {
	raw               []byte
	vers              uint16
	random            []byte
	sessionID         []byte
	cipherSuite       uint16
	compressionMethod uint8
	supportedVersion  uint16
	serverShare       keyShare
	selectedGroup     uint16 // HelloRetryRequest only
	cookie            []byte // HelloRetryRequest only
	hasPreSharedKey   bool
	selectedIdentity  uint16
	// unknown is the first other extension, if hasUnknown; a TLS 1.3
	// client offers none that a ServerHello may answer, so each is
	// unsolicited. Only the first is kept: a ServerHello holds some
	// 16,000 (a list of them grew to 64 KiB entry by entry).
	unknown    uint16
	hasUnknown bool
}

// isHelloRetryRequest reports whether the message is a HelloRetryRequest.
func (m *serverHelloMsg) isHelloRetryRequest() bool {
	return string(m.random) == string(helloRetryRequestRandom[:])
}

func (m *serverHelloMsg) encode() ([]byte, error) {
	return marshalMessage(typeServerHello, func(b *cryptobyte.Builder) {
		b.AddUint16(m.vers)
		b.AddBytes(m.random)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.sessionID) })
		b.AddUint16(m.cipherSuite)
		b.AddUint8(m.compressionMethod)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			if m.supportedVersion != 0 {
				b.AddUint16(extensionSupportedVersions)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(m.supportedVersion) })
			}
			if m.serverShare.group != 0 {
				b.AddUint16(extensionKeyShare)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16(m.serverShare.group)
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.serverShare.data) })
				})
			}
			if m.selectedGroup != 0 {
				b.AddUint16(extensionKeyShare)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(m.selectedGroup) })
			}
			if len(m.cookie) > 0 {
				b.AddUint16(extensionCookie)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.cookie) })
				})
			}
			if m.hasPreSharedKey {
				b.AddUint16(extensionPreSharedKey)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(m.selectedIdentity) })
			}
		})
	})
}

func (m *serverHelloMsg) unmarshal(data []byte) bool {
	*m = serverHelloMsg{raw: data}
	s, ok := readMessageBody(data, typeServerHello)
	if !ok {
		return false
	}
	var random, sessionID cryptobyte.String
	if !s.ReadUint16(&m.vers) || !s.ReadBytes((*[]byte)(&random), 32) ||
		!s.ReadUint8LengthPrefixed(&sessionID) || len(sessionID) > 32 ||
		!s.ReadUint16(&m.cipherSuite) || !s.ReadUint8(&m.compressionMethod) {
		return false
	}
	m.random, m.sessionID = random, sessionID
	exts, ok := readExtensions(&s)
	if !ok || !s.Empty() {
		return false
	}
	hrr := m.isHelloRetryRequest()
	for e := (extension{}); exts.next(&e); {
		d := e.data
		switch e.typ {
		case extensionSupportedVersions:
			if !d.ReadUint16(&m.supportedVersion) {
				return false
			}
		case extensionKeyShare:
			if hrr {
				// RFC 8446, Section 4.2.8: the HelloRetryRequest carries
				// only the selected group.
				if !d.ReadUint16(&m.selectedGroup) {
					return false
				}
			} else {
				var kx cryptobyte.String
				if !d.ReadUint16(&m.serverShare.group) || !d.ReadUint16LengthPrefixed(&kx) || kx.Empty() {
					return false
				}
				m.serverShare.data = kx
			}
		case extensionCookie:
			var c cryptobyte.String
			if !d.ReadUint16LengthPrefixed(&c) || c.Empty() {
				return false
			}
			m.cookie = c
		case extensionPreSharedKey:
			if !d.ReadUint16(&m.selectedIdentity) {
				return false
			}
			m.hasPreSharedKey = true
		default:
			// The handshake refuses extensions it did not offer; the
			// parser keeps the message structure only.
			if !m.hasUnknown {
				m.unknown, m.hasUnknown = e.typ, true
			}
			continue
		}
		if !d.Empty() {
			return false
		}
	}
	return true
}

// encryptedExtensionsMsg is EncryptedExtensions (RFC 8446, Section 4.3.1).
type encryptedExtensionsMsg struct {
	raw          []byte
	alpnProtocol string
	earlyData    bool
	// serverNameAck is the empty server_name extension a server sends
	// when it used the client's SNI (RFC 6066, Section 3).
	serverNameAck bool
	// unsolicited is set when the message holds an extension the client
	// must refuse because it never offers it.
	unsolicited bool
}

func (m *encryptedExtensionsMsg) encode() ([]byte, error) {
	return marshalMessage(typeEncryptedExtensions, func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			if m.serverNameAck {
				b.AddUint16(extensionServerName)
				b.AddUint16(0)
			}
			if m.alpnProtocol != "" {
				b.AddUint16(extensionALPN)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { addALPN(b, []string{m.alpnProtocol}) })
			}
		})
	})
}

func (m *encryptedExtensionsMsg) unmarshal(data []byte) bool {
	*m = encryptedExtensionsMsg{raw: data}
	s, ok := readMessageBody(data, typeEncryptedExtensions)
	if !ok || s.Empty() {
		return false
	}
	exts, ok := readExtensions(&s)
	if !ok || !s.Empty() {
		return false
	}
	for e := (extension{}); exts.next(&e); {
		d := e.data
		switch e.typ {
		case extensionALPN:
			// RFC 7301, Section 3.1: exactly one protocol.
			var protos []string
			if !readALPN(&d, &protos) || len(protos) != 1 {
				return false
			}
			m.alpnProtocol = protos[0]
		case extensionEarlyData:
			m.earlyData = true
		case extensionServerName:
			// The acknowledgement of SNI is empty (RFC 6066, Section 3).
			m.serverNameAck = true
		case extensionSupportedGroups:
			// Informational (RFC 8446, Section 4.2.7).
			d = nil
		default:
			m.unsolicited = true
			d = nil
		}
		if !d.Empty() {
			return false
		}
	}
	return true
}

// certificateRequestMsg is a TLS 1.3 CertificateRequest
// (RFC 8446, Section 4.3.2).
type certificateRequestMsg struct {
	raw                    []byte
	context                []byte
	signatureSchemes       []uint16
	signatureSchemesCert   []uint16
	certificateAuthorities [][]byte
}

// encode encodes a CertificateRequest, or reports that its
// extensions (the names of the ClientCAs pool above all) take more than
// the 65,535 bytes they share.
func (m *certificateRequestMsg) encode() ([]byte, error) {
	return marshalMessage(typeCertificateRequest, func(b *cryptobyte.Builder) {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.context) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			// signature_algorithms is mandatory (RFC 8446, Section 4.3.2);
			// the handshake enforces that, the encoding only mirrors.
			if len(m.signatureSchemes) > 0 {
				b.AddUint16(extensionSignatureAlgorithms)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { addUint16List(b, m.signatureSchemes) })
			}
			if len(m.signatureSchemesCert) > 0 {
				b.AddUint16(extensionSignatureAlgorithmsCert)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { addUint16List(b, m.signatureSchemesCert) })
			}
			if len(m.certificateAuthorities) > 0 {
				b.AddUint16(extensionCertificateAuthorities)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						for _, ca := range m.certificateAuthorities {
							b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ca) })
						}
					})
				})
			}
		})
	})
}

func (m *certificateRequestMsg) unmarshal(data []byte) bool {
	*m = certificateRequestMsg{raw: data}
	s, ok := readMessageBody(data, typeCertificateRequest)
	if !ok {
		return false
	}
	var context cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&context) {
		return false
	}
	m.context = context
	exts, ok := readExtensions(&s)
	if !ok || !s.Empty() {
		return false
	}
	for e := (extension{}); exts.next(&e); {
		d := e.data
		switch e.typ {
		case extensionSignatureAlgorithms:
			if !readUint16List(&d, &m.signatureSchemes) {
				return false
			}
		case extensionSignatureAlgorithmsCert:
			if !readUint16List(&d, &m.signatureSchemesCert) {
				return false
			}
		case extensionCertificateAuthorities:
			// RFC 8446, Section 4.2.4.
			var list cryptobyte.String
			if !d.ReadUint16LengthPrefixed(&list) {
				return false
			}
			n, ok := countEntries(list, (*cryptobyte.String).ReadUint16LengthPrefixed)
			if !ok || n == 0 {
				return false
			}
			m.certificateAuthorities = make([][]byte, 0, n)
			for !list.Empty() {
				var dn cryptobyte.String
				list.ReadUint16LengthPrefixed(&dn)
				m.certificateAuthorities = append(m.certificateAuthorities, dn)
			}
		default:
			continue
		}
		if !d.Empty() {
			return false
		}
	}
	return true
}

// certificateMsg is a TLS 1.3 Certificate (RFC 8446, Section 4.4.2).
type certificateMsg struct {
	raw     []byte
	context []byte
	chain   [][]byte
	// ocspStaple is the OCSP response in the leaf's status_request
	// extension (RFC 8446, Section 4.4.2.1), if any.
	ocspStaple []byte
	// entryExtensions is set when a CertificateEntry carries any other
	// extension, or status_request on another certificate than the leaf:
	// this engine requests none other (SCT, ...), so they are unsolicited
	// (RFC 8446, Section 4.4.2).
	entryExtensions bool
}

// statusTypeOCSP is CertificateStatusType ocsp (RFC 6066, Section 8).
const statusTypeOCSP uint8 = 1

// encode encodes a Certificate, or reports that the chain (2^24
// bytes at most, with 5 bytes per certificate) or the OCSP response
// (65,531 bytes at most) does not fit its length prefix.
func (m *certificateMsg) encode() ([]byte, error) {
	return marshalMessage(typeCertificate, func(b *cryptobyte.Builder) {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.context) })
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
			for i, cert := range m.chain {
				b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(cert) })
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					if i != 0 || len(m.ocspStaple) == 0 {
						return
					}
					// CertificateStatus (RFC 6066, Section 8).
					b.AddUint16(extensionStatusRequest)
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						b.AddUint8(statusTypeOCSP)
						b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.ocspStaple) })
					})
				})
			}
		})
	})
}

// readEntryExtensions reads the extensions of the i-th CertificateEntry
// in one pass, rejecting duplicates as readExtensions does (RFC 8446,
// Section 4.2: "There MUST NOT be more than one extension of the same
// type in a given extension block"); seen is an empty set it leaves
// empty, the types it added kept in added (returned, for the next entry)
// so that clearing them walks no block again.
func (m *certificateMsg) readEntryExtensions(i int, exts cryptobyte.String, seen *codeSet, added []uint16) ([]uint16, bool) {
	added = added[:0]
	ok := true
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) || seen.has(typ) {
			ok = false
			break
		}
		seen.add(typ)
		added = append(added, typ)
		if typ != extensionStatusRequest || i != 0 || m.ocspStaple != nil {
			m.entryExtensions = true
			continue
		}
		var statusType uint8
		var resp cryptobyte.String
		if !data.ReadUint8(&statusType) || statusType != statusTypeOCSP ||
			!data.ReadUint24LengthPrefixed(&resp) || resp.Empty() || !data.Empty() {
			ok = false
			break
		}
		m.ocspStaple = resp
	}
	for _, typ := range added {
		seen.remove(typ)
	}
	return added, ok
}

func (m *certificateMsg) unmarshal(data []byte) bool {
	*m = certificateMsg{raw: data}
	s, ok := readMessageBody(data, typeCertificate)
	if !ok {
		return false
	}
	var context, list cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&context) || !s.ReadUint24LengthPrefixed(&list) || !s.Empty() {
		return false
	}
	m.context = context
	n, ok := countEntries(list, func(s, cert *cryptobyte.String) bool {
		var exts cryptobyte.String
		return s.ReadUint24LengthPrefixed(cert) && s.ReadUint16LengthPrefixed(&exts)
	})
	if !ok {
		return false
	}
	if n > 0 {
		m.chain = make([][]byte, n)
	}
	var seen codeSet
	var added [8]uint16 // the types of an entry's block; more grow it
	types := added[:0]
	for i := range m.chain {
		var exts cryptobyte.String
		list.ReadUint24LengthPrefixed((*cryptobyte.String)(&m.chain[i]))
		list.ReadUint16LengthPrefixed(&exts)
		if types, ok = m.readEntryExtensions(i, exts, &seen, types); !ok {
			return false
		}
	}
	return true
}

// certificateVerifyMsg is CertificateVerify (RFC 8446, Section 4.4.3).
type certificateVerifyMsg struct {
	raw       []byte
	scheme    uint16
	signature []byte
}

func (m *certificateVerifyMsg) encode() ([]byte, error) {
	return marshalMessage(typeCertificateVerify, func(b *cryptobyte.Builder) {
		b.AddUint16(m.scheme)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.signature) })
	})
}

func (m *certificateVerifyMsg) unmarshal(data []byte) bool {
	*m = certificateVerifyMsg{raw: data}
	s, ok := readMessageBody(data, typeCertificateVerify)
	if !ok {
		return false
	}
	var sig cryptobyte.String
	if !s.ReadUint16(&m.scheme) || !s.ReadUint16LengthPrefixed(&sig) || sig.Empty() || !s.Empty() {
		return false
	}
	m.signature = sig
	return true
}

// finishedMsg is Finished (RFC 8446, Section 4.4.4).
type finishedMsg struct {
	raw        []byte
	verifyData []byte
}

func (m *finishedMsg) encode() ([]byte, error) {
	return marshalMessage(typeFinished, func(b *cryptobyte.Builder) { b.AddBytes(m.verifyData) })
}

func (m *finishedMsg) unmarshal(data []byte) bool {
	*m = finishedMsg{raw: data}
	s, ok := readMessageBody(data, typeFinished)
	if !ok {
		return false
	}
	m.verifyData = s
	return true
}

// keyUpdateMsg is KeyUpdate (RFC 8446, Section 4.6.3).
type keyUpdateMsg struct {
	raw             []byte
	updateRequested bool
}

func (m *keyUpdateMsg) encode() ([]byte, error) {
	return marshalMessage(typeKeyUpdate, func(b *cryptobyte.Builder) {
		if m.updateRequested {
			b.AddUint8(1)
		} else {
			b.AddUint8(0)
		}
	})
}

// unmarshal parses a KeyUpdate. A request_update other than 0 or 1 is
// reported as well formed but invalid by the second result, since RFC 8446,
// Section 4.6.3 makes it illegal_parameter rather than decode_error.
func (m *keyUpdateMsg) unmarshal(data []byte) (ok, valid bool) {
	*m = keyUpdateMsg{raw: data}
	s, ok := readMessageBody(data, typeKeyUpdate)
	if !ok {
		return false, false
	}
	var v uint8
	if !s.ReadUint8(&v) || !s.Empty() {
		return false, false
	}
	m.updateRequested = v == 1
	return true, v <= 1
}

// newSessionTicketMsg is NewSessionTicket (RFC 8446, Section 4.6.1).
type newSessionTicketMsg struct {
	raw      []byte
	lifetime uint32
	ageAdd   uint32
	nonce    []byte
	ticket   []byte
}

func (m *newSessionTicketMsg) encode() ([]byte, error) {
	return marshalMessage(typeNewSessionTicket, func(b *cryptobyte.Builder) {
		b.AddUint32(m.lifetime)
		b.AddUint32(m.ageAdd)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.nonce) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.ticket) })
		b.AddUint16(0) // no extensions: no early data
	})
}

func (m *newSessionTicketMsg) unmarshal(data []byte) bool {
	*m = newSessionTicketMsg{raw: data}
	s, ok := readMessageBody(data, typeNewSessionTicket)
	if !ok {
		return false
	}
	var nonce, ticket, exts cryptobyte.String
	if !s.ReadUint32(&m.lifetime) || !s.ReadUint32(&m.ageAdd) ||
		!s.ReadUint8LengthPrefixed(&nonce) || !s.ReadUint16LengthPrefixed(&ticket) || ticket.Empty() ||
		!s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return false
	}
	m.nonce, m.ticket = nonce, ticket
	// Unknown extensions are ignored (RFC 8446, Section 4.6.1), but the
	// block must be well formed and without duplicates (Section 4.2).
	return checkExtensions(exts)
}
