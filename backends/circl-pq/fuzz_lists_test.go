package circlpq

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

// Differential targets for the peer lists the parsers make once at their
// length (countEntries), the ALPN IDs cut from one string, the first
// unknown extension of a ServerHello, and the bit set a Certificate's
// entries share: each parser is checked against a reference written here
// the plain way (lists grown entry by entry, a map of the types seen per
// block), on the same bytes. Seeds are in testdata/fuzz/<target>; go test
// runs them.

// refExtensions walks an extensions block the plain way: nil, false when
// it is malformed or names a type twice.
func refExtensions(block cryptobyte.String) ([]extension, bool) {
	seen := map[uint16]bool{}
	var out []extension
	for !block.Empty() {
		var e extension
		if !block.ReadUint16(&e.typ) || !block.ReadUint16LengthPrefixed(&e.data) || seen[e.typ] {
			return nil, false
		}
		seen[e.typ] = true
		out = append(out, e)
	}
	return out, true
}

// refCertificate is certificateMsg.unmarshal the plain way.
func refCertificate(data []byte) (chain [][]byte, staple []byte, other bool, ok bool) {
	s, ok := readMessageBody(data, typeCertificate)
	var context, list cryptobyte.String
	if !ok || !s.ReadUint8LengthPrefixed(&context) || !s.ReadUint24LengthPrefixed(&list) || !s.Empty() {
		return nil, nil, false, false
	}
	for i := 0; !list.Empty(); i++ {
		var cert, block cryptobyte.String
		if !list.ReadUint24LengthPrefixed(&cert) || cert.Empty() || !list.ReadUint16LengthPrefixed(&block) {
			return nil, nil, false, false
		}
		chain = append(chain, cert)
		exts, ok := refExtensions(block)
		if !ok {
			return nil, nil, false, false
		}
		for _, e := range exts {
			if e.typ != extensionStatusRequest || i != 0 {
				other = true
				continue
			}
			var st uint8
			var resp cryptobyte.String
			if !e.data.ReadUint8(&st) || st != statusTypeOCSP || !e.data.ReadUint24LengthPrefixed(&resp) ||
				resp.Empty() || !e.data.Empty() {
				return nil, nil, false, false
			}
			staple = resp
		}
	}
	return chain, staple, other, true
}

// FuzzCertificateDiff: the Certificate parser accepts exactly what the
// reference does and reads the same chain, staple and unsolicited flag.
// Its entries share one bit set: an extension repeated within an entry is
// refused, one repeated across entries is not.
func FuzzCertificateDiff(f *testing.F) {
	for _, s := range certificateDiffSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m certificateMsg
		got := m.unmarshal(data)
		chain, staple, other, want := refCertificate(data)
		if got != want {
			t.Fatalf("parser accepts %v, reference %v: %x", got, want, data)
		}
		if !got {
			return
		}
		if !slices.EqualFunc(m.chain, chain, bytes.Equal) || !bytes.Equal(m.ocspStaple, staple) || m.entryExtensions != other {
			t.Fatalf("parser read chain %x staple %x other %v, reference %x %x %v: %x",
				m.chain, m.ocspStaple, m.entryExtensions, chain, staple, other, data)
		}
		// The shared set is left empty: the message parses the same again.
		var again certificateMsg
		if !again.unmarshal(data) || !slices.EqualFunc(again.chain, m.chain, bytes.Equal) {
			t.Fatalf("second parse differs: %x", data)
		}
	})
}

// certMessage is a Certificate of one entry per element of entries, each
// with extensions of the types listed (status_request holding a
// response, others empty).
func certMessage(entries ...[]uint16) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {})
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		for i, types := range entries {
			b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(fmt.Sprint("cert", i))) })
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				for _, typ := range types {
					b.AddUint16(typ)
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						if typ == extensionStatusRequest {
							b.AddUint8(statusTypeOCSP)
							b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte("ocsp")) })
						}
					})
				}
			})
		}
	})
	return marshalMessageBytes(typeCertificate, b.BytesOrPanic())
}

func certificateDiffSeeds() [][]byte {
	const sct = 18
	return [][]byte{
		certMessage(nil),
		certMessage([]uint16{extensionStatusRequest}, nil),
		certMessage([]uint16{extensionStatusRequest, sct}, []uint16{sct, extensionStatusRequest}, []uint16{sct}),
		certMessage([]uint16{sct, sct}),
		certMessage(nil, []uint16{0x1234, 0x1235, 0x1234}),
		certMessage([]uint16{extensionStatusRequest, extensionStatusRequest}),
		certMessage([]uint16{0xffff, 0}, []uint16{0, 0xffff}, []uint16{0xffff, 0xffff}),
	}
}

// refHelloLists are the ClientHello lists whose parsing changed, read the
// plain way from the extensions block of a ClientHello: bad names the
// first of them that is malformed (0 when none is).
type refHelloLists struct {
	alpn     []string
	versions []uint16
	ids      []pskIdentity
	binders  [][]byte
	bad      uint16
}

// refClientHello finds the extensions of a ClientHello and reads its
// ALPN, supported_versions and pre_shared_key lists; ok is false when
// the message is malformed before them.
func refClientHello(data []byte) (r refHelloLists, ok bool) {
	s, ok := readMessageBody(data, typeClientHello)
	var vers uint16
	var sid, suites, comp, block cryptobyte.String
	if !ok || !s.ReadUint16(&vers) || !s.Skip(32) || !s.ReadUint8LengthPrefixed(&sid) ||
		!s.ReadUint16LengthPrefixed(&suites) || !s.ReadUint8LengthPrefixed(&comp) {
		return r, false
	}
	if s.Empty() {
		return r, true
	}
	if !s.ReadUint16LengthPrefixed(&block) || !s.Empty() {
		return r, false
	}
	exts, ok := refExtensions(block)
	if !ok {
		return r, false
	}
	for _, e := range exts {
		d := e.data
		good := true
		switch e.typ {
		case extensionALPN:
			var list cryptobyte.String
			good = d.ReadUint16LengthPrefixed(&list) && !list.Empty()
			for good && !list.Empty() {
				var p cryptobyte.String
				good = list.ReadUint8LengthPrefixed(&p) && !p.Empty()
				r.alpn = append(r.alpn, string(p))
			}
		case extensionSupportedVersions:
			var list cryptobyte.String
			good = d.ReadUint8LengthPrefixed(&list) && !list.Empty()
			for good && !list.Empty() {
				var v uint16
				good = list.ReadUint16(&v)
				r.versions = append(r.versions, v)
			}
		case extensionPreSharedKey:
			var ids, binders cryptobyte.String
			good = d.ReadUint16LengthPrefixed(&ids) && !ids.Empty()
			for good && !ids.Empty() {
				var id pskIdentity
				good = ids.ReadUint16LengthPrefixed((*cryptobyte.String)(&id.label)) && len(id.label) > 0 &&
					ids.ReadUint32(&id.obfuscatedTicketAge)
				r.ids = append(r.ids, id)
			}
			good = good && d.ReadUint16LengthPrefixed(&binders) && !binders.Empty()
			for good && !binders.Empty() {
				var b cryptobyte.String
				good = binders.ReadUint8LengthPrefixed(&b) && len(b) >= 32
				r.binders = append(r.binders, b)
			}
		default:
			continue
		}
		if !good || !d.Empty() {
			r.bad = e.typ
			return r, true
		}
	}
	return r, true
}

// FuzzClientHelloLists: a ClientHello the parser accepts has the ALPN,
// supported_versions and PSK lists the reference reads; one whose such
// list the reference finds malformed, the parser refuses.
func FuzzClientHelloLists(f *testing.F) {
	for _, s := range clientHelloListSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m clientHelloMsg
		got := m.unmarshal(data)
		r, ok := refClientHello(data)
		if got && !ok {
			t.Fatalf("parser accepts what the reference finds malformed: %x", data)
		}
		if !ok {
			return
		}
		if r.bad != 0 {
			if got {
				t.Fatalf("parser accepts a malformed extension %d: %x", r.bad, data)
			}
			return
		}
		if !got {
			return
		}
		idEq := func(a, b pskIdentity) bool {
			return bytes.Equal(a.label, b.label) && a.obfuscatedTicketAge == b.obfuscatedTicketAge
		}
		if !slices.Equal(m.alpnProtocols, r.alpn) || !slices.Equal(m.supportedVersions, r.versions) ||
			!slices.EqualFunc(m.pskIdentities, r.ids, idEq) || !slices.EqualFunc(m.pskBinders, r.binders, bytes.Equal) {
			t.Fatalf("parser read ALPN %q versions %x PSK %v %x, reference %q %x %v %x: %x",
				m.alpnProtocols, m.supportedVersions, m.pskIdentities, m.pskBinders,
				r.alpn, r.versions, r.ids, r.binders, data)
		}
	})
}

func clientHelloListSeeds(tb testing.TB) [][]byte {
	ch := seedMessages(tb)["FuzzClientHello"][0]
	var m clientHelloMsg
	m.unmarshal(ch)
	m.alpnProtocols = []string{"a", "bc", string(make([]byte, 255))}
	m.supportedVersions = []uint16{versionTLS13, 0x0a0a, versionTLS12}
	m.pskIdentities = append(m.pskIdentities, pskIdentity{label: []byte("t2"), obfuscatedTicketAge: 1<<32 - 1})
	m.pskBinders = append(m.pskBinders, bytes.Repeat([]byte{2}, 48))
	one := m
	one.alpnProtocols, one.supportedVersions = []string{"x"}, []uint16{versionTLS13}
	return [][]byte{ch, m.marshal(), one.marshal()}
}

// refFirstUnknown returns the first extension of a ServerHello or
// EncryptedExtensions whose type is not in known.
func refFirstUnknown(data []byte, typ uint8, known ...uint16) (uint16, bool) {
	s, _ := readMessageBody(data, typ)
	if typ == typeServerHello {
		var sid cryptobyte.String
		s.Skip(2 + 32)
		s.ReadUint8LengthPrefixed(&sid)
		s.Skip(3)
	}
	var block cryptobyte.String
	s.ReadUint16LengthPrefixed(&block)
	exts, _ := refExtensions(block)
	for _, e := range exts {
		if !slices.Contains(known, e.typ) {
			return e.typ, true
		}
	}
	return 0, false
}

// FuzzUnknownExtensions: of a ServerHello it accepts, the parser keeps
// the first extension it does not know, and of EncryptedExtensions
// whether there is one, as the reference finds them.
func FuzzUnknownExtensions(f *testing.F) {
	msgs := seedMessages(f)
	for _, s := range append(msgs["FuzzServerHello"], msgs["FuzzEncryptedExtensions"]...) {
		f.Add(s)
	}
	for _, s := range unknownExtensionSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var sh serverHelloMsg
		if sh.unmarshal(data) {
			typ, has := refFirstUnknown(data, typeServerHello, extensionSupportedVersions, extensionKeyShare,
				extensionCookie, extensionPreSharedKey)
			if sh.hasUnknown != has || sh.unknown != typ {
				t.Fatalf("ServerHello: parser found unknown %v %d, reference %v %d: %x", sh.hasUnknown, sh.unknown, has, typ, data)
			}
		}
		var ee encryptedExtensionsMsg
		if ee.unmarshal(data) {
			_, has := refFirstUnknown(data, typeEncryptedExtensions, extensionALPN, extensionEarlyData,
				extensionServerName, extensionSupportedGroups)
			if ee.unsolicited != has {
				t.Fatalf("EncryptedExtensions: parser found unsolicited %v, reference %v: %x", ee.unsolicited, has, data)
			}
		}
	})
}

func unknownExtensionSeeds() [][]byte {
	// block is an extensions block of empty extensions of types.
	block := func(types ...uint16) []byte {
		var entries []byte
		for _, typ := range types {
			entries = binary.BigEndian.AppendUint16(entries, typ)
			entries = append(entries, 0, 0)
		}
		return append(binary.BigEndian.AppendUint16(nil, uint16(len(entries))), entries...)
	}
	ee := func(types ...uint16) []byte { return marshalMessageBytes(typeEncryptedExtensions, block(types...)) }
	sh := func(types ...uint16) []byte {
		body := append([]byte{3, 3}, make([]byte, 32)...)
		body = append(body, 0, 0x13, 0x01, 0)
		return marshalMessageBytes(typeServerHello, append(body, block(types...)...))
	}
	return [][]byte{ee(0x1234), ee(0x77, 0x78), ee(extensionEarlyData, 0x99), sh(0x1234, 0x1235), sh(0x55, 0x54, 0x53)}
}

// FuzzListRoundTrip encodes a ClientHello with ALPN IDs, versions, PSK
// identities and binders cut from the fuzzer's bytes, and a Certificate
// with a chain cut likewise, and checks they parse back to the same lists.
func FuzzListRoundTrip(f *testing.F) {
	f.Add([]byte("h2\x00http/1.1"), []byte{3, 4, 3, 3}, []byte("ticket\x00t2"), uint8(32))
	f.Add([]byte("\x00\x00a"), []byte{0x0a, 0x0a}, []byte("x"), uint8(255))
	f.Fuzz(func(t *testing.T, alpn, versions, labels []byte, binderLen uint8) {
		// cut splits b at zero bytes into non-empty pieces of at most max.
		cut := func(b []byte, max int) (out [][]byte) {
			for _, p := range bytes.Split(b, []byte{0}) {
				if len(p) > 0 {
					out = append(out, p[:min(len(p), max)])
				}
			}
			return out
		}
		m := clientHelloMsg{vers: versionTLS12, random: make([]byte, 32), cipherSuites: defaultCipherSuites,
			compressionMethods: []uint8{0}}
		for _, p := range cut(alpn, 255) {
			m.alpnProtocols = append(m.alpnProtocols, string(p))
		}
		for i := 0; i+1 < len(versions) && i < 254; i += 2 {
			m.supportedVersions = append(m.supportedVersions, binary.BigEndian.Uint16(versions[i:]))
		}
		for i, p := range cut(labels, 1<<10) {
			m.pskIdentities = append(m.pskIdentities, pskIdentity{label: p, obfuscatedTicketAge: uint32(i) * 0x01010101})
			m.pskBinders = append(m.pskBinders, bytes.Repeat([]byte{byte(i)}, max(32, int(binderLen))))
		}
		m.hasPreSharedKey = len(m.pskIdentities) > 0
		data, err := m.encode()
		if err != nil {
			return // past the extensions' 64 KiB
		}
		var got clientHelloMsg
		if !got.unmarshal(data) {
			t.Fatalf("encoded ClientHello does not parse: %x", data)
		}
		idEq := func(a, b pskIdentity) bool {
			return bytes.Equal(a.label, b.label) && a.obfuscatedTicketAge == b.obfuscatedTicketAge
		}
		if !slices.Equal(got.alpnProtocols, m.alpnProtocols) || !slices.Equal(got.supportedVersions, m.supportedVersions) ||
			!slices.EqualFunc(got.pskIdentities, m.pskIdentities, idEq) || !slices.EqualFunc(got.pskBinders, m.pskBinders, bytes.Equal) {
			t.Fatalf("round trip changed the lists: %x", data)
		}
		cert := certificateMsg{chain: cut(alpn, 1<<12), ocspStaple: labels}
		if data, err = cert.encode(); err != nil {
			return
		}
		var gotCert certificateMsg
		if !gotCert.unmarshal(data) || !slices.EqualFunc(gotCert.chain, cert.chain, bytes.Equal) ||
			len(cert.chain) > 0 && !bytes.Equal(gotCert.ocspStaple, cert.ocspStaple) {
			t.Fatalf("Certificate round trip changed the chain: %x", data)
		}
	})
}

// FuzzClientHelloCryptoTLS hands the same ClientHello to crypto/tls's
// server, as a peer's first flight, and compares the lists both read
// (crypto/tls's ClientHelloInfo, which its GetConfigForClient sees once
// its parser took the message): server name, cipher suites, versions,
// groups, signature schemes and ALPN IDs. The two parsers refuse
// different things (crypto/tls no key share, this engine a short PSK
// binder), so only what both take is compared.
func FuzzClientHelloCryptoTLS(f *testing.F) {
	for _, s := range clientHelloListSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m clientHelloMsg
		if len(data) > 1<<16 || !m.unmarshal(data) {
			return
		}
		var records []byte
		for rest := data; len(rest) > 0; {
			k := min(len(rest), 1<<14)
			records = append(records, 22, 3, 1, byte(k>>8), byte(k))
			records = append(records, rest[:k]...)
			rest = rest[k:]
		}
		var info *tls.ClientHelloInfo
		errSeen := errors.New("seen")
		srv := tls.Server(&feedConn{r: bytes.NewReader(records)}, &tls.Config{
			GetConfigForClient: func(chi *tls.ClientHelloInfo) (*tls.Config, error) {
				info = chi
				return nil, errSeen
			},
		})
		srv.Handshake()
		if info == nil {
			return
		}
		if info.ServerName != m.serverName && m.serverName != "" {
			t.Fatalf("server name %q, crypto/tls %q: %x", m.serverName, info.ServerName, data)
		}
		alpn := m.alpnProtocols
		if alpn == nil {
			alpn = []string{}
		}
		protos := info.SupportedProtos
		if protos == nil {
			protos = []string{}
		}
		if !slices.Equal(info.CipherSuites, m.cipherSuites) || !slices.Equal(protos, alpn) ||
			!slices.Equal(tlsCurves(info.SupportedCurves), m.supportedGroups) ||
			!slices.Equal(tlsSchemes(info.SignatureSchemes), m.signatureSchemes) ||
			len(m.supportedVersions) > 0 && !slices.Equal(info.SupportedVersions, m.supportedVersions) {
			t.Fatalf("lists differ from crypto/tls's:\nsuites %x %x\nALPN %q %q\ngroups %x %x\nschemes %x %x\nversions %x %x\n%x",
				m.cipherSuites, info.CipherSuites, alpn, protos, m.supportedGroups, info.SupportedCurves,
				m.signatureSchemes, info.SignatureSchemes, m.supportedVersions, info.SupportedVersions, data)
		}
	})
}

func tlsCurves(c []tls.CurveID) []uint16 {
	var out []uint16
	for _, id := range c {
		out = append(out, uint16(id))
	}
	return out
}

func tlsSchemes(c []tls.SignatureScheme) []uint16 {
	var out []uint16
	for _, id := range c {
		out = append(out, uint16(id))
	}
	return out
}
