package circlpq

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An encodedField is a length-prefixed field of one of this side's
// messages, with who chooses its length: the peer (a ticket, a cookie, a
// context it sent), the guest or application through the backend contract
// (server name, ALPN IDs, an identity's chain and signature), the host's
// configuration (ClientCAs names, an OCSP response) or the engine itself.
// KeyUpdate has no field of variable length.
type encodedField struct {
	msg, field, controller string
	// bound is the longest value the field's own length prefix holds;
	// past it encoding must fail. At or under it, encoding may still
	// fail when the value fills a block it shares.
	bound int
	// count is set for a field that is a number of items, not bytes:
	// lengths past the bound then stay within a few times it.
	count bool
	// build returns the message with the field n bytes long, and a parser
	// for what it encodes.
	build func(n int) (encoder, func([]byte) bool)
}

func filled(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }

// baseClientHello is a valid ClientHello offering a ticket.
func baseClientHello() *clientHelloMsg {
	return &clientHelloMsg{
		vers: versionTLS12, random: make([]byte, 32), sessionID: make([]byte, 32),
		cipherSuites: defaultCipherSuites, compressionMethods: []uint8{0},
		serverName: "a.test", supportedGroups: []uint16{X25519},
		signatureSchemes: supportedSignatureSchemes, alpnProtocols: []string{"h2"},
		supportedVersions: []uint16{versionTLS13}, pskModes: []uint8{1}, hasKeyShares: true,
		keyShares:       []keyShare{{X25519, filled(32)}},
		pskIdentities:   []pskIdentity{{label: []byte("ticket")}},
		pskBinders:      [][]byte{filled(32)},
		hasPreSharedKey: true,
	}
}

func parseAs[M any, PM interface {
	*M
	unmarshal([]byte) bool
}]() func([]byte) bool {
	return func(b []byte) bool { return PM(new(M)).unmarshal(b) }
}

// sessionEncoder makes the ticket state an encoder.
type sessionEncoder struct{ *sessionState }

func (s sessionEncoder) encode() ([]byte, error) { return s.marshal() }

var encodedFields = []encodedField{
	{"ClientHello", "server_name", "guest", 65535 - 5, false, func(n int) (encoder, func([]byte) bool) {
		m := baseClientHello()
		m.serverName = strings.Repeat("a", n)
		return m, parseAs[clientHelloMsg]()
	}},
	{"ClientHello", "ALPN ID", "guest", 255, false, func(n int) (encoder, func([]byte) bool) {
		m := baseClientHello()
		m.alpnProtocols = []string{strings.Repeat("a", n)}
		return m, parseAs[clientHelloMsg]()
	}},
	{"ClientHello", "ALPN IDs of 255 bytes (count)", "guest", 65535 / 256, true, func(n int) (encoder, func([]byte) bool) {
		m := baseClientHello()
		m.alpnProtocols = nil
		for range n {
			m.alpnProtocols = append(m.alpnProtocols, strings.Repeat("a", 255))
		}
		return m, parseAs[clientHelloMsg]()
	}},
	{"ClientHello", "cookie", "peer", 65535 - 2, false, func(n int) (encoder, func([]byte) bool) {
		m := baseClientHello()
		m.cookie = filled(n)
		return m, parseAs[clientHelloMsg]()
	}},
	{"ClientHello", "PSK identity (ticket)", "peer", 65535, false, func(n int) (encoder, func([]byte) bool) {
		m := baseClientHello()
		m.pskIdentities[0].label = filled(n)
		return m, parseAs[clientHelloMsg]()
	}},
	{"ClientHello", "PSK binder", "engine", 255, false, func(n int) (encoder, func([]byte) bool) {
		m := baseClientHello()
		m.pskBinders[0] = filled(n)
		return m, parseAs[clientHelloMsg]()
	}},
	{"ClientHello", "key share", "engine", 65535, false, func(n int) (encoder, func([]byte) bool) {
		m := baseClientHello()
		m.keyShares[0].data = filled(n)
		return m, parseAs[clientHelloMsg]()
	}},
	{"ClientHello", "legacy_session_id", "engine", 255, false, func(n int) (encoder, func([]byte) bool) {
		m := baseClientHello()
		m.sessionID = filled(n)
		return m, func(b []byte) bool { return n > 32 || parseAs[clientHelloMsg]()(b) } // the parser takes 32 at most
	}},
	{"ServerHello", "key share", "engine", 65535 - 4, false, func(n int) (encoder, func([]byte) bool) {
		m := &serverHelloMsg{vers: versionTLS12, random: make([]byte, 32), cipherSuite: TLS_AES_128_GCM_SHA256,
			supportedVersion: versionTLS13, serverShare: keyShare{X25519, filled(n)}}
		return m, parseAs[serverHelloMsg]()
	}},
	{"ServerHello", "legacy_session_id echo", "peer", 255, false, func(n int) (encoder, func([]byte) bool) {
		m := &serverHelloMsg{vers: versionTLS12, random: make([]byte, 32), sessionID: filled(n), cipherSuite: TLS_AES_128_GCM_SHA256,
			supportedVersion: versionTLS13, serverShare: keyShare{X25519, filled(32)}}
		return m, func(b []byte) bool { return n > 32 || parseAs[serverHelloMsg]()(b) }
	}},
	{"ServerHello", "HelloRetryRequest cookie", "engine", 65535 - 2, false, func(n int) (encoder, func([]byte) bool) {
		m := &serverHelloMsg{vers: versionTLS12, random: helloRetryRequestRandom[:], cipherSuite: TLS_AES_128_GCM_SHA256,
			supportedVersion: versionTLS13, selectedGroup: P256, cookie: filled(n)}
		return m, parseAs[serverHelloMsg]()
	}},
	{"EncryptedExtensions", "ALPN protocol", "guest", 255, false, func(n int) (encoder, func([]byte) bool) {
		return &encryptedExtensionsMsg{alpnProtocol: strings.Repeat("a", n), serverNameAck: true}, parseAs[encryptedExtensionsMsg]()
	}},
	{"CertificateRequest", "context", "engine", 255, false, func(n int) (encoder, func([]byte) bool) {
		return &certificateRequestMsg{context: filled(n), signatureSchemes: supportedSignatureSchemes}, parseAs[certificateRequestMsg]()
	}},
	{"CertificateRequest", "CA name", "config", 65535, false, func(n int) (encoder, func([]byte) bool) {
		return &certificateRequestMsg{signatureSchemes: supportedSignatureSchemes, certificateAuthorities: [][]byte{filled(n)}},
			parseAs[certificateRequestMsg]()
	}},
	{"CertificateRequest", "CA names of 100 bytes (count)", "config", 65535 / 102, true, func(n int) (encoder, func([]byte) bool) {
		m := &certificateRequestMsg{signatureSchemes: supportedSignatureSchemes}
		for range n {
			m.certificateAuthorities = append(m.certificateAuthorities, filled(100))
		}
		return m, parseAs[certificateRequestMsg]()
	}},
	{"Certificate", "context", "peer", 255, false, func(n int) (encoder, func([]byte) bool) {
		return &certificateMsg{context: filled(n), chain: [][]byte{filled(10)}}, parseAs[certificateMsg]()
	}},
	{"Certificate", "certificate", "guest", 1<<24 - 1 - 5, false, func(n int) (encoder, func([]byte) bool) {
		return &certificateMsg{chain: [][]byte{filled(n)}}, parseAs[certificateMsg]()
	}},
	{"Certificate", "chain of two certificates (each)", "guest", (1<<24-1)/2 - 5, false, func(n int) (encoder, func([]byte) bool) {
		c := filled(n)
		return &certificateMsg{chain: [][]byte{c, c}}, parseAs[certificateMsg]()
	}},
	{"Certificate", "OCSP response", "config", 65535 - 4 - 4, false, func(n int) (encoder, func([]byte) bool) {
		return &certificateMsg{chain: [][]byte{filled(10)}, ocspStaple: filled(n)}, parseAs[certificateMsg]()
	}},
	{"CertificateVerify", "signature", "guest", 65535, false, func(n int) (encoder, func([]byte) bool) {
		return &certificateVerifyMsg{scheme: Ed25519, signature: filled(n)}, parseAs[certificateVerifyMsg]()
	}},
	{"Finished", "verify_data", "engine", 1<<24 - 1, false, func(n int) (encoder, func([]byte) bool) {
		return &finishedMsg{verifyData: filled(n)}, parseAs[finishedMsg]()
	}},
	{"NewSessionTicket", "nonce", "engine", 255, false, func(n int) (encoder, func([]byte) bool) {
		return &newSessionTicketMsg{nonce: filled(n), ticket: filled(10)}, parseAs[newSessionTicketMsg]()
	}},
	{"NewSessionTicket", "ticket", "engine", 65535, false, func(n int) (encoder, func([]byte) bool) {
		return &newSessionTicketMsg{nonce: filled(1), ticket: filled(n)}, parseAs[newSessionTicketMsg]()
	}},
	{"session state", "PSK", "engine", 255, false, func(n int) (encoder, func([]byte) bool) {
		return sessionEncoder{&sessionState{suite: TLS_AES_128_GCM_SHA256, psk: filled(n)}},
			func(b []byte) bool { return (&sessionState{}).unmarshal(b) }
	}},
}

// past is how far past its bound a field's length goes: to 2^25 bytes at
// most, 4 times the bound for a count.
func (f encodedField) past() int {
	if f.count {
		return 3 * f.bound
	}
	return 1<<25 - f.bound
}

// checkEncode encodes f's message with the field n bytes long: it must not
// panic, must fail past the field's bound (with an error naming the
// message), and what it encodes must parse.
func checkEncode(t *testing.T, f encodedField, n int) {
	t.Helper()
	m, parse := f.build(n)
	var out []byte
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("%s %s (%s) of %d bytes: encoding panicked: %v", f.msg, f.field, f.controller, n, r)
			}
		}()
		out, err = m.encode()
	}()
	switch {
	case err != nil:
		var ee *encodeError
		if _, session := m.(sessionEncoder); !session && (!errors.As(err, &ee) || !strings.Contains(err.Error(), f.msg)) {
			t.Errorf("%s %s of %d bytes: error %v does not name the message", f.msg, f.field, n, err)
		}
		if out != nil {
			t.Errorf("%s %s of %d bytes: %d bytes encoded with the error", f.msg, f.field, n, len(out))
		}
	case n > f.bound:
		t.Errorf("%s %s (%s) of %d bytes, past its bound of %d: encoded %d bytes", f.msg, f.field, f.controller, n, f.bound, len(out))
	case n >= 32 && !parse(out):
		// Shorter values may be well formed but refused by the parser
		// (an empty ticket, a binder under 32 bytes).
		t.Errorf("%s %s of %d bytes: the encoding does not parse", f.msg, f.field, n)
	}
}

// TestEncodersNeverPanic fills each length-prefixed field of each message
// this side sends to its bound, one past it, and to random lengths past
// it (to 2^25), whoever controls it: encoding fails with an error past the
// bound, never panics, and what it encodes parses. The handshake turns
// such an error into internal_error (or leaves an optional field out);
// the tests of each case over sockets are TestHostileSessionTicket,
// TestHostileHelloRetryCookie, TestClientHelloTooLarge and
// TestOwnMessagesTooLarge.
func TestEncodersNeverPanic(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for _, f := range encodedFields {
		t.Run(f.msg+"/"+f.field, func(t *testing.T) {
			lengths := []int{0, 1, 32, f.bound - 1, f.bound, f.bound + 1}
			random := 3
			if f.bound > 1<<16 {
				random = 1 // fields of megabytes: keep the test short
			}
			for range random {
				lengths = append(lengths, f.bound+1+rng.IntN(f.past()))
			}
			for _, n := range lengths {
				checkEncode(t, f, n)
			}
		})
	}
	t.Run("controllers", func(t *testing.T) {
		seen := map[string]bool{}
		for _, f := range encodedFields {
			seen[f.controller] = true
		}
		for _, c := range []string{"peer", "guest", "config", "engine"} {
			if !seen[c] {
				t.Errorf("no field controlled by the %s", c)
			}
		}
	})
}

// FuzzEncode is TestEncodersNeverPanic over lengths the fuzzer chooses.
func FuzzEncode(f *testing.F) {
	for i, e := range encodedFields {
		f.Add(uint8(i), uint32(e.bound))
		f.Add(uint8(i), uint32(e.bound+1))
	}
	f.Fuzz(func(t *testing.T, field uint8, n uint32) {
		e := encodedFields[int(field)%len(encodedFields)]
		// Past the bound, by at most 2^16 bytes for short fields, 2^20
		// for the rest, or 3 times a count: what matters is the prefix's
		// reach, and huge values only slow the fuzzer.
		past := min(e.past(), 1<<16)
		if e.bound > 1<<16 {
			past = 1 << 20
		}
		checkEncode(t, e, int(n%uint32(e.bound+past+1)))
	})
}

// TestExporterBounds: the exporter's label and length come from the
// application (a guest's export-*-keying-material), and HKDF-Expand-Label
// holds 249 bytes of label and a length of 255 hashes: past them the
// exporter fails instead of panicking, with every suite. A context of any
// length is hashed first.
func TestExporterBounds(t *testing.T) {
	for _, id := range defaultCipherSuites {
		s := cipherSuiteByID(id)
		secret := filled(s.hash.Size())
		for _, c := range []struct {
			label   int
			context int
			length  int
			ok      bool
		}{
			{249, 0, 32, true}, {249, 1 << 20, 255 * s.hash.Size(), true}, {0, 300, 1, true},
			{250, 0, 32, false}, {300, 0, 32, false}, {1 << 20, 0, 32, false},
			{10, 0, 255*s.hash.Size() + 1, false}, {10, 0, -1, false}, {10, 0, 1 << 20, false},
		} {
			name := fmt.Sprintf("%#04x label %d context %d length %d", id, c.label, c.context, c.length)
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("%s: panicked: %v", name, r)
					}
				}()
				out, err := s.exportKeyingMaterial(secret, strings.Repeat("l", c.label), filled(c.context), c.length)
				if c.ok && (err != nil || len(out) != c.length) {
					t.Errorf("%s: %d bytes, %v", name, len(out), err)
				}
				if !c.ok && err == nil {
					t.Errorf("%s: exported %d bytes", name, len(out))
				}
			}()
		}
	}
}

// TestNoPanickingBuilder: the engine's sources never ask cryptobyte to
// panic on an overflowing length (BytesOrPanic); its message encoders have
// no panicking form outside tests (encode_must_test.go), which the
// compiler checks.
func TestNoPanickingBuilder(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		if bytes.Contains(src, []byte(".BytesOrPanic(")) {
			t.Errorf("%s calls cryptobyte's BytesOrPanic: use Bytes and return its error", name)
		}
	}
	if checked < 10 {
		t.Fatalf("checked %d source files; run from the package directory", checked)
	}
}
