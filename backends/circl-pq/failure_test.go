package circlpq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/tls13records"
	"golang.org/x/crypto/cryptobyte"
)

// Failure tests: every protocol violation ends in the alert RFC 8446 names
// for it, an error on both sides, and neither a panic nor a hang.

// writeRawRecord writes one unprotected record.
func writeRawRecord(w io.Writer, typ recordType, payload []byte) error {
	hdr := []byte{byte(typ), 3, 3, byte(len(payload) >> 8), byte(len(payload))}
	_, err := w.Write(append(hdr, payload...))
	return err
}

// plainHandshakeRecords splits a first flight's handshake bytes into
// unprotected records of at most 2^14 bytes.
func plainHandshakeRecords(msg []byte) []byte {
	var out []byte
	for len(msg) > 0 {
		n := min(len(msg), maxPlaintext)
		out = append(out, byte(recordTypeHandshake), 3, 1, byte(n>>8), byte(n))
		out = append(out, msg[:n]...)
		msg = msg[n:]
	}
	return out
}

// readRawRecord reads one record.
func readRawRecord(r io.Reader) (recordType, []byte, error) {
	hdr := make([]byte, recordHeaderLen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return 0, nil, err
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return recordType(hdr[0]), body, nil
}

// readPlainAlert reads unprotected records until an alert and returns it.
func readPlainAlert(t *testing.T, r io.Reader) Alert {
	t.Helper()
	for {
		typ, body, err := readRawRecord(r)
		if err != nil {
			t.Fatalf("reading the alert: %v", err)
		}
		if typ == recordTypeAlert {
			if len(body) != 2 || body[0] != 2 {
				t.Fatalf("malformed or non-fatal alert %x", body)
			}
			return Alert(body[1])
		}
	}
}

// testClientHello returns a well-formed ClientHello with key shares for
// groups, all of them in supported_groups.
func testClientHello(t *testing.T, groups ...uint16) *clientHelloMsg {
	t.Helper()
	ch := &clientHelloMsg{
		vers:               versionTLS12,
		random:             make([]byte, 32),
		sessionID:          make([]byte, 32),
		cipherSuites:       []uint16{TLS_AES_128_GCM_SHA256},
		compressionMethods: []uint8{0},
		supportedGroups:    groups,
		signatureSchemes:   supportedSignatureSchemes,
		supportedVersions:  []uint16{versionTLS13},
		hasKeyShares:       true,
		serverName:         "a.test",
	}
	for _, g := range groups {
		_, ek, err := keyExchangeByID(g).generate()
		if err != nil {
			t.Fatal(err)
		}
		ch.keyShares = append(ch.keyShares, keyShare{group: g, data: ek})
	}
	return ch
}

// corruptMLKEM makes the first coefficient of an ML-KEM encapsulation key
// 4095, which is not below q = 3329: the key fails the FIPS 203, Section
// 7.2 modulus check.
func corruptMLKEM(ek []byte, offset int) []byte {
	ek = bytes.Clone(ek)
	ek[offset] = 0xff
	ek[offset+1] |= 0x0f
	return ek
}

// appendExtension appends ext, a whole extension, to the end of ch's
// extensions and returns the message.
func appendExtension(ch *clientHelloMsg, ext []byte) []byte {
	msg := append(ch.marshal(), ext...)
	n := len(msg) - 4
	msg[1], msg[2], msg[3] = byte(n>>16), byte(n>>8), byte(n)
	// The extensions' length sits after the fixed fields and the lists.
	at := 4 + 2 + 32 + 1 + len(ch.sessionID) + 2 + 2*len(ch.cipherSuites) + 1 + len(ch.compressionMethods)
	el := int(msg[at])<<8 | int(msg[at+1]) + len(ext)
	msg[at], msg[at+1] = byte(el>>8), byte(el)
	return msg
}

// withPSK adds a pre_shared_key offer of n identities this server never
// issued, each with a binder of binderLen bytes, and psk_dhe_ke.
func withPSK(ch *clientHelloMsg, n, binderLen int) *clientHelloMsg {
	ch.pskModes = []uint8{pskModeDHE}
	for range n {
		ch.pskIdentities = append(ch.pskIdentities, pskIdentity{label: make([]byte, 40)})
		ch.pskBinders = append(ch.pskBinders, make([]byte, binderLen))
	}
	return ch
}

// allGroups is every group the engine implements.
var allGroups = append(append([]uint16(nil), defaultGroups...), MLKEM512, MLKEM768, MLKEM1024)

// TestServerRejectsClientHello sends hostile first flights to an engine
// server and checks the alert it answers with.
func TestServerRejectsClientHello(t *testing.T) {
	withShare := func(g uint16, f func([]byte) []byte) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			ch := testClientHello(t, g)
			ch.keyShares[0].data = f(ch.keyShares[0].data)
			return ch.marshal()
		}
	}
	record := func(f func(t *testing.T) []byte) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return plainHandshakeRecords(f(t)) }
	}
	// hello is a ClientHello for X25519 that edit changes, as records.
	hello := func(edit func(ch *clientHelloMsg)) func(t *testing.T) []byte {
		return record(func(t *testing.T) []byte {
			ch := testClientHello(t, X25519)
			edit(ch)
			return ch.marshal()
		})
	}
	type helloCase struct {
		name string
		raw  func(t *testing.T) []byte // bytes on the wire
		want Alert
	}
	cases := []helloCase{
		{"valid-control", nil, 0},
		// What a server ignores: GREASE (RFC 8701) in every list, a share
		// for a group it does not know, a cookie it never sent, 0-RTT
		// offered without a PSK, psk_key_exchange_modes alone.
		{"grease-and-unknown-ignored", record(func(t *testing.T) []byte {
			ch := testClientHello(t, X25519MLKEM768)
			ch.cipherSuites = append([]uint16{0x1a1a}, ch.cipherSuites...)
			ch.supportedVersions = append([]uint16{0x2a2a}, ch.supportedVersions...)
			ch.signatureSchemes = append([]uint16{0x3a3a}, ch.signatureSchemes...)
			ch.supportedGroups = append([]uint16{0x4a4a}, ch.supportedGroups...)
			ch.keyShares = append([]keyShare{{0x4a4a, []byte{0}}}, ch.keyShares...)
			ch.cookie, ch.earlyData, ch.pskModes = []byte("never sent"), true, []uint8{pskModeDHE}
			return ch.marshal()
		}), 0},
		{"truncated-body", record(func(t *testing.T) []byte {
			msg := testClientHello(t, X25519).marshal()
			msg = msg[:len(msg)-10]
			n := len(msg) - 4
			msg[1], msg[2], msg[3] = byte(n>>16), byte(n>>8), byte(n)
			return msg
		}), alertDecodeError},
		{"duplicate-extension", record(func(t *testing.T) []byte {
			// A second supported_versions.
			return appendExtension(testClientHello(t, X25519), []byte{0, 43, 0, 3, 2, 3, 4})
		}), alertDecodeError},
		{"pre-shared-key-not-last", record(func(t *testing.T) []byte {
			return appendExtension(withPSK(testClientHello(t, X25519), 1, 32), []byte{0xfa, 0xfa, 0, 0})
		}), alertIllegalParameter},
		{"pre-shared-key-without-modes", hello(func(ch *clientHelloMsg) {
			withPSK(ch, 1, 32).pskModes = nil
		}), alertMissingExtension},
		{"short-binder", hello(func(ch *clientHelloMsg) { withPSK(ch, 1, 31) }), alertDecodeError},
		{"binders-fewer-than-identities", hello(func(ch *clientHelloMsg) {
			withPSK(ch, 2, 32)
			ch.pskBinders = ch.pskBinders[:1]
		}), alertIllegalParameter},
		{"session-id-33-bytes", hello(func(ch *clientHelloMsg) {
			ch.sessionID = make([]byte, 33)
		}), alertDecodeError},
		{"supported-versions-grease-only", hello(func(ch *clientHelloMsg) {
			ch.supportedVersions = []uint16{0x0a0a}
		}), alertProtocolVersion},
		{"supported-versions-tls12-only", hello(func(ch *clientHelloMsg) {
			ch.supportedVersions = []uint16{versionTLS12}
		}), alertProtocolVersion},
		{"tls12-only", hello(func(ch *clientHelloMsg) {
			ch.supportedVersions = nil
		}), alertProtocolVersion},
		{"compression", hello(func(ch *clientHelloMsg) {
			ch.compressionMethods = []uint8{1, 0}
		}), alertIllegalParameter},
		{"no-signature-algorithms", hello(func(ch *clientHelloMsg) {
			ch.signatureSchemes = nil
		}), alertMissingExtension},
		{"no-common-suite", hello(func(ch *clientHelloMsg) {
			ch.cipherSuites = []uint16{0xc02f}
		}), alertHandshakeFailure},
		{"share-not-in-supported-groups", hello(func(ch *clientHelloMsg) {
			ch.supportedGroups = []uint16{P256}
		}), alertIllegalParameter},
		{"X25519MLKEM768-fips203", record(withShare(X25519MLKEM768, func(b []byte) []byte { return corruptMLKEM(b, 0) })), alertIllegalParameter},
		{"X25519MLKEM768-low-order", record(withShare(X25519MLKEM768, func(b []byte) []byte {
			b = bytes.Clone(b)
			clear(b[1184:])
			return b
		})), alertIllegalParameter},
		{"SecP256r1MLKEM768-fips203", record(withShare(SecP256r1MLKEM768, func(b []byte) []byte { return corruptMLKEM(b, 65) })), alertIllegalParameter},
		{"SecP256r1MLKEM768-off-curve", record(withShare(SecP256r1MLKEM768, func(b []byte) []byte {
			b = bytes.Clone(b)
			b[64] ^= 1
			return b
		})), alertIllegalParameter},
		{"SecP384r1MLKEM1024-fips203", record(withShare(SecP384r1MLKEM1024, func(b []byte) []byte { return corruptMLKEM(b, 97) })), alertIllegalParameter},
		{"MLKEM512-fips203", record(withShare(MLKEM512, func(b []byte) []byte { return corruptMLKEM(b, 0) })), alertIllegalParameter},
		{"MLKEM768-fips203", record(withShare(MLKEM768, func(b []byte) []byte { return corruptMLKEM(b, 0) })), alertIllegalParameter},
		{"MLKEM1024-fips203", record(withShare(MLKEM1024, func(b []byte) []byte { return corruptMLKEM(b, 0) })), alertIllegalParameter},
		{"X25519-all-zero", record(withShare(X25519, func(b []byte) []byte { return make([]byte, 32) })), alertIllegalParameter},
		{"X25519-order-1", record(withShare(X25519, func(b []byte) []byte { return append([]byte{1}, make([]byte, 31)...) })), alertIllegalParameter},
		// RFC 7748, Section 6.1: a point of order 8, and p itself, which
		// reduces to 0; both make an all-zero shared secret.
		{"X25519-order-8", record(withShare(X25519, func(b []byte) []byte {
			return fromHex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")
		})), alertIllegalParameter},
		{"X25519-p", record(withShare(X25519, func(b []byte) []byte {
			return fromHex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
		})), alertIllegalParameter},
		{"P256-off-curve", record(withShare(P256, func(b []byte) []byte {
			b = bytes.Clone(b)
			b[64] ^= 1
			return b
		})), alertIllegalParameter},
		{"P256-compressed", record(withShare(P256, func(b []byte) []byte { return append([]byte{2}, b[1:33]...) })), alertIllegalParameter},
		{"P384-infinity", record(withShare(P384, func(b []byte) []byte { return []byte{0} })), alertIllegalParameter},
		{"oversized-plaintext-record", func(t *testing.T) []byte {
			return append([]byte{byte(recordTypeHandshake), 3, 1, 0x40, 0x01}, make([]byte, maxPlaintext+1)...)
		}, alertRecordOverflow},
		{"oversized-handshake-message", func(t *testing.T) []byte {
			return []byte{byte(recordTypeHandshake), 3, 1, 0, 4, typeClientHello, 0x10, 0, 0}
		}, alertUnexpectedMessage},
		{"empty-handshake-record", func(t *testing.T) []byte {
			return []byte{byte(recordTypeHandshake), 3, 1, 0, 0}
		}, alertUnexpectedMessage},
		{"application-data-first", func(t *testing.T) []byte {
			return []byte{byte(recordTypeApplicationData), 3, 3, 0, 1, 'x'}
		}, alertUnexpectedMessage},
		{"change-cipher-spec-first", func(t *testing.T) []byte {
			return []byte{byte(recordTypeChangeCipherSpec), 3, 3, 0, 1, 1}
		}, alertUnexpectedMessage},
		{"finished-first", func(t *testing.T) []byte {
			return append([]byte{byte(recordTypeHandshake), 3, 3, 0, 36, typeFinished, 0, 0, 32}, make([]byte, 32)...)
		}, alertUnexpectedMessage},
		{"unknown-record-type", func(t *testing.T) []byte {
			return []byte{99, 3, 3, 0, 1, 0}
		}, alertUnexpectedMessage},
		{"not-tls", func(t *testing.T) []byte { return []byte("GET / HTTP/1.1\r\n\r\n") }, alertProtocolVersion},
	}
	// A share one byte short or long, for every group, and two shares
	// for one group.
	for _, g := range allGroups {
		cases = append(cases,
			helloCase{groupName(g) + "-short-by-one", record(withShare(g, func(b []byte) []byte { return b[:len(b)-1] })), alertIllegalParameter},
			helloCase{groupName(g) + "-long-by-one", record(withShare(g, func(b []byte) []byte { return append(bytes.Clone(b), 0) })), alertIllegalParameter},
			helloCase{groupName(g) + "-twice", record(func(t *testing.T) []byte {
				ch := testClientHello(t, g)
				ch.keyShares = append(ch.keyShares, ch.keyShares[0])
				return ch.marshal()
			}), alertIllegalParameter})
	}
	p := pki(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client, server := tcpPair(t)
			cfg := p.serverConfig(p.p256)
			cfg.Groups = allGroups
			s, hs := engineServer(t, server, cfg)
			done := make(chan error, 1)
			go func() { done <- hs() }()
			raw := record(func(t *testing.T) []byte { return testClientHello(t, X25519MLKEM768).marshal() })
			if tc.raw != nil {
				raw = tc.raw
			}
			if _, err := client.Write(raw(t)); err != nil {
				t.Fatal(err)
			}
			if tc.want == 0 {
				typ, body, err := readRawRecord(client)
				if err != nil || typ != recordTypeHandshake || body[0] != typeServerHello {
					t.Fatalf("control: got record %d %x, %v; want a ServerHello", typ, body[:min(len(body), 8)], err)
				}
				client.Close()
				<-done
				return
			}
			if got := readPlainAlert(t, client); got != tc.want {
				t.Errorf("alert %v; want %v", got, tc.want)
			}
			err := <-done
			if a, ok := errorAlert(err); !ok || a != tc.want {
				t.Errorf("server error = %v; want a local %v alert error", err, tc.want)
			}
			if s.State().HandshakeComplete {
				t.Error("handshake reported complete")
			}
		})
	}
}

// TestServerRejectsSecondClientHello runs a hello-retry whose second
// ClientHello breaks the rules of RFC 8446, Section 4.1.2.
func TestServerRejectsSecondClientHello(t *testing.T) {
	p := pki(t)
	for _, tc := range []struct {
		name   string
		mutate func(ch *clientHelloMsg)
		want   Alert
	}{
		{"wrong-group", func(ch *clientHelloMsg) {}, alertIllegalParameter},
		{"changed-suites", func(ch *clientHelloMsg) {
			ch.cipherSuites = []uint16{TLS_AES_256_GCM_SHA384}
		}, alertIllegalParameter},
		{"two-shares", func(ch *clientHelloMsg) {
			ch.keyShares = append(ch.keyShares, ch.keyShares[0])
			ch.keyShares[1].group = P256
		}, alertIllegalParameter},
		{"no-key-share", func(ch *clientHelloMsg) {
			ch.keyShares, ch.hasKeyShares = nil, false
		}, alertIllegalParameter},
		{"early-data", func(ch *clientHelloMsg) { ch.earlyData = true }, alertIllegalParameter},
		// What crypto/tls's illegalClientHelloChange refuses too.
		{"changed-signature-algorithms-cert", func(ch *clientHelloMsg) {
			ch.signatureSchemesCert = []uint16{Ed25519}
		}, alertIllegalParameter},
		{"added-status-request", func(ch *clientHelloMsg) { ch.ocspStapling = true }, alertIllegalParameter},
		{"changed-psk-modes", func(ch *clientHelloMsg) { ch.pskModes = []uint8{0, pskModeDHE} }, alertIllegalParameter},
		// The offer may be updated, not made (RFC 8446, Section 4.1.2).
		{"added-pre-shared-key", func(ch *clientHelloMsg) { withPSK(ch, 1, 32) }, alertIllegalParameter},
		{"cookie-never-sent", func(ch *clientHelloMsg) { ch.cookie = []byte("forged") }, alertIllegalParameter},
		// Nor may it start asking for post-handshake authentication.
		{"added-post-handshake-auth", func(ch *clientHelloMsg) { ch.postHandshakeAuth = true }, alertIllegalParameter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := tcpPair(t)
			cfg := p.serverConfig(p.p256)
			cfg.Groups = []uint16{P256}
			_, hs := engineServer(t, server, cfg)
			done := make(chan error, 1)
			go func() { done <- hs() }()
			ch := testClientHello(t, X25519)
			ch.supportedGroups = []uint16{X25519, P256}
			ch.pskModes = []uint8{pskModeDHE}
			writeRawRecord(client, recordTypeHandshake, ch.marshal())
			typ, body, err := readRawRecord(client)
			var hrr serverHelloMsg
			if err != nil || typ != recordTypeHandshake || !hrr.unmarshal(body) || !hrr.isHelloRetryRequest() || hrr.selectedGroup != P256 {
				t.Fatalf("want a HelloRetryRequest for P-256; got %d %x %v", typ, body, err)
			}
			ch2 := *ch
			ch2.keyShares = []keyShare{ch.keyShares[0]} // still X25519
			if tc.name != "wrong-group" {
				_, ek, _ := keyExchangeByID(P256).generate()
				ch2.keyShares = []keyShare{{P256, ek}}
			}
			tc.mutate(&ch2)
			writeRawRecord(client, recordTypeHandshake, ch2.marshal())
			if got := readPlainAlert(t, client); got != tc.want {
				t.Errorf("alert %v; want %v", got, tc.want)
			}
			if a, ok := errorAlert(<-done); !ok || a != tc.want {
				t.Errorf("server error alert %v; want %v", a, tc.want)
			}
		})
	}
}

// scriptedServer reads the engine client's ClientHello and answers with
// the messages reply builds, unprotected.
func scriptedServer(t *testing.T, configure func(*backends.ClientConfig), reply func(ch *clientHelloMsg, client net.Conn) error) (clientErr error, conn net.Conn) {
	t.Helper()
	client, server := tcpPair(t)
	cfg := pki(t).clientConfig()
	if configure != nil {
		configure(cfg)
	}
	_, hs := engineClient(t, client, cfg)
	done := make(chan error, 1)
	go func() { done <- hs() }()
	typ, body, err := readRawRecord(server)
	var ch clientHelloMsg
	if err != nil || typ != recordTypeHandshake || !ch.unmarshal(body) {
		t.Fatalf("want a ClientHello; got %d, %v", typ, err)
	}
	if err := reply(&ch, server); err != nil {
		t.Fatal(err)
	}
	return <-done, server
}

func serverHelloFor(ch *clientHelloMsg) *serverHelloMsg {
	return &serverHelloMsg{
		vers: versionTLS12, random: make([]byte, 32), sessionID: ch.sessionID,
		cipherSuite: ch.cipherSuites[0], supportedVersion: versionTLS13,
	}
}

// TestClientRejectsServerHello answers the engine client with hostile
// ServerHello and HelloRetryRequest messages.
func TestClientRejectsServerHello(t *testing.T) {
	hrr := func(ch *clientHelloMsg, group uint16) *serverHelloMsg {
		sh := serverHelloFor(ch)
		sh.random = helloRetryRequestRandom[:]
		sh.selectedGroup = group
		return sh
	}
	for _, tc := range []struct {
		name  string
		reply func(ch *clientHelloMsg, w net.Conn) error
		want  Alert
	}{
		{"tls12-downgrade-sentinel", func(ch *clientHelloMsg, w net.Conn) error {
			sh := serverHelloFor(ch)
			sh.supportedVersion = 0
			copy(sh.random[24:], downgradeCanaryTLS12)
			return writeRawRecord(w, recordTypeHandshake, sh.marshal())
		}, alertIllegalParameter},
		{"tls11-downgrade-sentinel", func(ch *clientHelloMsg, w net.Conn) error {
			sh := serverHelloFor(ch)
			sh.supportedVersion, sh.vers = 0, 0x0302
			copy(sh.random[24:], downgradeCanaryTLS11)
			return writeRawRecord(w, recordTypeHandshake, sh.marshal())
		}, alertIllegalParameter},
		{"tls12", func(ch *clientHelloMsg, w net.Conn) error {
			sh := serverHelloFor(ch)
			sh.supportedVersion = 0
			return writeRawRecord(w, recordTypeHandshake, sh.marshal())
		}, alertProtocolVersion},
		{"unoffered-version", func(ch *clientHelloMsg, w net.Conn) error {
			sh := serverHelloFor(ch)
			sh.supportedVersion = 0x0305
			return writeRawRecord(w, recordTypeHandshake, sh.marshal())
		}, alertIllegalParameter},
		{"session-id-not-echoed", func(ch *clientHelloMsg, w net.Conn) error {
			sh := serverHelloFor(ch)
			sh.sessionID = nil
			return writeRawRecord(w, recordTypeHandshake, sh.marshal())
		}, alertIllegalParameter},
		{"unoffered-suite", func(ch *clientHelloMsg, w net.Conn) error {
			sh := serverHelloFor(ch)
			sh.cipherSuite = 0x1304
			return writeRawRecord(w, recordTypeHandshake, sh.marshal())
		}, alertIllegalParameter},
		{"missing-key-share", func(ch *clientHelloMsg, w net.Conn) error {
			return writeRawRecord(w, recordTypeHandshake, serverHelloFor(ch).marshal())
		}, alertMissingExtension},
		{"share-for-unshared-group", func(ch *clientHelloMsg, w net.Conn) error {
			sh := serverHelloFor(ch)
			_, ct, _, _ := encapsulateFor(P256)
			sh.serverShare = keyShare{P256, ct}
			return writeRawRecord(w, recordTypeHandshake, sh.marshal())
		}, alertIllegalParameter},
		{"X25519MLKEM768-short-ciphertext", func(ch *clientHelloMsg, w net.Conn) error {
			sh := serverHelloFor(ch)
			sh.serverShare = keyShare{X25519MLKEM768, make([]byte, 1088+31)}
			return writeRawRecord(w, recordTypeHandshake, sh.marshal())
		}, alertIllegalParameter},
		{"X25519MLKEM768-low-order", func(ch *clientHelloMsg, w net.Conn) error {
			sh := serverHelloFor(ch)
			sh.serverShare = keyShare{X25519MLKEM768, make([]byte, 1088+32)}
			return writeRawRecord(w, recordTypeHandshake, sh.marshal())
		}, alertIllegalParameter},
		{"hrr-twice", func(ch *clientHelloMsg, w net.Conn) error {
			if err := writeRawRecord(w, recordTypeHandshake, hrr(ch, P256).marshal()); err != nil {
				return err
			}
			for { // CCS, then the second ClientHello
				typ, _, err := readRawRecord(w)
				if err != nil {
					return err
				}
				if typ == recordTypeHandshake {
					break
				}
			}
			return writeRawRecord(w, recordTypeHandshake, hrr(ch, P384).marshal())
		}, alertUnexpectedMessage},
		{"hrr-group-already-shared", func(ch *clientHelloMsg, w net.Conn) error {
			return writeRawRecord(w, recordTypeHandshake, hrr(ch, X25519MLKEM768).marshal())
		}, alertIllegalParameter},
		{"hrr-unoffered-group", func(ch *clientHelloMsg, w net.Conn) error {
			return writeRawRecord(w, recordTypeHandshake, hrr(ch, MLKEM1024).marshal())
		}, alertIllegalParameter},
		{"hrr-no-change", func(ch *clientHelloMsg, w net.Conn) error {
			return writeRawRecord(w, recordTypeHandshake, hrr(ch, 0).marshal())
		}, alertIllegalParameter},
		// RFC 8446, Section 5.1: the client's keys change after the
		// ServerHello, so nothing may follow it in its record.
		{"server-hello-and-encrypted-extensions-in-one-record", func(ch *clientHelloMsg, w net.Conn) error {
			sh := serverHelloFor(ch)
			ct, _, err := keyExchangeByID(X25519MLKEM768).encapsulate(ch.keyShares[0].data)
			if err != nil {
				return err
			}
			sh.serverShare = keyShare{X25519MLKEM768, ct}
			return writeRawRecord(w, recordTypeHandshake, append(sh.marshal(), (&encryptedExtensionsMsg{}).marshal()...))
		}, alertUnexpectedMessage},
		{"hrr-and-server-hello-in-one-record", func(ch *clientHelloMsg, w net.Conn) error {
			return writeRawRecord(w, recordTypeHandshake, append(hrr(ch, P256).marshal(), serverHelloFor(ch).marshal()...))
		}, alertUnexpectedMessage},
		{"hrr-selects-psk", func(ch *clientHelloMsg, w net.Conn) error {
			h := hrr(ch, P256)
			h.hasPreSharedKey = true
			return writeRawRecord(w, recordTypeHandshake, h.marshal())
		}, alertUnsupportedExtension},
		{"server-hello-changes-hrr-suite", func(ch *clientHelloMsg, w net.Conn) error {
			if err := writeRawRecord(w, recordTypeHandshake, hrr(ch, P256).marshal()); err != nil {
				return err
			}
			var ch2 clientHelloMsg
			for { // CCS, then the second ClientHello
				typ, body, err := readRawRecord(w)
				if err != nil {
					return err
				}
				if typ == recordTypeHandshake && ch2.unmarshal(body) {
					break
				}
			}
			sh := serverHelloFor(&ch2)
			sh.cipherSuite = ch2.cipherSuites[1]
			ct, _, err := keyExchangeByID(P256).encapsulate(ch2.keyShares[0].data)
			if err != nil {
				return err
			}
			sh.serverShare = keyShare{P256, ct}
			return writeRawRecord(w, recordTypeHandshake, sh.marshal())
		}, alertIllegalParameter},
		{"malformed-server-hello", func(ch *clientHelloMsg, w net.Conn) error {
			msg := serverHelloFor(ch).marshal()
			return writeRawRecord(w, recordTypeHandshake, marshalMessageBytes(typeServerHello, msg[4:20]))
		}, alertDecodeError},
		{"wrong-first-message", func(ch *clientHelloMsg, w net.Conn) error {
			return writeRawRecord(w, recordTypeHandshake, []byte{typeCertificateRequest, 0, 0, 0})
		}, alertUnexpectedMessage},
		{"application-data", func(ch *clientHelloMsg, w net.Conn) error {
			return writeRawRecord(w, recordTypeApplicationData, []byte("hello"))
		}, alertUnexpectedMessage},
		{"bad-change-cipher-spec", func(ch *clientHelloMsg, w net.Conn) error {
			return writeRawRecord(w, recordTypeChangeCipherSpec, []byte{2})
		}, alertUnexpectedMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var reply func(*clientHelloMsg, net.Conn) error = tc.reply
			var sent Alert
			err, conn := scriptedServer(t, func(cfg *backends.ClientConfig) {
				cfg.Groups = []uint16{X25519MLKEM768, P256, P384}
			}, func(ch *clientHelloMsg, w net.Conn) error {
				if err := reply(ch, w); err != nil {
					return err
				}
				sent = readPlainAlert(t, w)
				return nil
			})
			_ = conn
			if sent != tc.want {
				t.Errorf("client sent %v; want %v", sent, tc.want)
			}
			if a, ok := errorAlert(err); !ok || a != tc.want {
				t.Errorf("client error = %v; want a local %v alert error", err, tc.want)
			}
		})
	}
}

// encapsulateFor returns a valid server share for a group.
func encapsulateFor(group uint16) (ek, ct, secret []byte, err error) {
	kx := keyExchangeByID(group)
	_, ek, err = kx.generate()
	if err != nil {
		return nil, nil, nil, err
	}
	ct, secret, err = kx.encapsulate(ek)
	return ek, ct, secret, err
}

// mutateMessage returns a testMutate hook that rewrites messages of one
// type.
func mutateMessage(typ uint8, f func(msg []byte) []byte) func([]byte) []byte {
	return func(msg []byte) []byte {
		if msg[0] == typ {
			return f(bytes.Clone(msg))
		}
		return msg
	}
}

// TestEncryptedFlightFailures runs engine against engine with one side
// rewriting a message of its encrypted flight.
func TestEncryptedFlightFailures(t *testing.T) {
	p := pki(t)
	flipLast := func(msg []byte) []byte { msg[len(msg)-1] ^= 0x80; return msg }
	for _, tc := range []struct {
		name         string
		serverMutate func([]byte) []byte
		clientMutate func([]byte) []byte
		mtls         bool
		want         Alert
		clientSends  bool // the client detects it (else the server)
	}{
		{name: "bad-server-finished", serverMutate: mutateMessage(typeFinished, flipLast), want: alertDecryptError, clientSends: true},
		{name: "bad-server-signature", serverMutate: mutateMessage(typeCertificateVerify, func(m []byte) []byte {
			m[12] ^= 1
			return m
		}), want: alertDecryptError, clientSends: true},
		{name: "server-signature-scheme-mismatch", serverMutate: mutateMessage(typeCertificateVerify, func(m []byte) []byte {
			m[4], m[5] = 0x08, 0x04
			return m
		}), want: alertIllegalParameter, clientSends: true},
		{name: "server-pkcs1-signature", serverMutate: mutateMessage(typeCertificateVerify, func(m []byte) []byte {
			m[4], m[5] = 0x04, 0x01
			return m
		}), want: alertIllegalParameter, clientSends: true},
		{name: "empty-server-certificate", serverMutate: mutateMessage(typeCertificate, func(m []byte) []byte {
			return (&certificateMsg{}).marshal()
		}), want: alertDecodeError, clientSends: true},
		{name: "garbage-server-certificate", serverMutate: mutateMessage(typeCertificate, func(m []byte) []byte {
			return (&certificateMsg{chain: [][]byte{[]byte("not a certificate")}}).marshal()
		}), want: alertBadCertificate, clientSends: true},
		{name: "unexpected-message-instead-of-encrypted-extensions", serverMutate: mutateMessage(typeEncryptedExtensions, func(m []byte) []byte {
			m[0] = typeCertificate
			return m
		}), want: alertUnexpectedMessage, clientSends: true},
		{name: "unsolicited-extension", serverMutate: mutateMessage(typeEncryptedExtensions, func(m []byte) []byte {
			return marshalMessageBytes(typeEncryptedExtensions, []byte{0, 4, 0xfe, 0xfe, 0, 0})
		}), want: alertUnsupportedExtension, clientSends: true},
		{name: "server-key-share-low-order", serverMutate: mutateMessage(typeServerHello, func(m []byte) []byte {
			var sh serverHelloMsg
			sh.unmarshal(m)
			sh.serverShare.data = make([]byte, 32)
			return sh.marshal()
		}), want: alertIllegalParameter, clientSends: true},
		// Messages a server must not send where this one puts them: after
		// its Finished in the same record (RFC 8446, Section 5.1: the
		// client's read keys change there), twice, or out of order.
		{name: "ticket-after-server-finished-in-its-record", serverMutate: mutateMessage(typeFinished, func(m []byte) []byte {
			return append(m, tls13records.NewSessionTicket(0, []byte("ticket"))...)
		}), want: alertUnexpectedMessage, clientSends: true},
		{name: "key-update-in-server-flight", serverMutate: mutateMessage(typeEncryptedExtensions, func(m []byte) []byte {
			return append(m, (&keyUpdateMsg{}).marshal()...)
		}), want: alertUnexpectedMessage, clientSends: true},
		{name: "ticket-before-server-finished", serverMutate: mutateMessage(typeCertificateVerify, func(m []byte) []byte {
			return append(m, tls13records.NewSessionTicket(0, []byte("ticket"))...)
		}), want: alertUnexpectedMessage, clientSends: true},
		{name: "certificate-request-twice", mtls: true, serverMutate: mutateMessage(typeCertificateRequest, func(m []byte) []byte {
			return append(m, m...)
		}), want: alertUnexpectedMessage, clientSends: true},
		{name: "certificate-request-with-context", mtls: true, serverMutate: mutateMessage(typeCertificateRequest, func(m []byte) []byte {
			var cr certificateRequestMsg
			cr.unmarshal(m)
			cr.context = []byte{1}
			return cr.marshal()
		}), want: alertIllegalParameter, clientSends: true},
		{name: "certificate-request-without-signature-algorithms", mtls: true, serverMutate: mutateMessage(typeCertificateRequest, func(m []byte) []byte {
			return marshalMessageBytes(typeCertificateRequest, []byte{0, 0, 0})
		}), want: alertMissingExtension, clientSends: true},
		// RFC 8446, Section 4.2: no extension twice in a block, a
		// CertificateEntry's included (before: unsupported_extension,
		// the second taken as an unsolicited one).
		{name: "server-certificate-entry-extension-twice", serverMutate: mutateMessage(typeCertificate, func(m []byte) []byte {
			return withEntryExtensions(t, m, []byte{0xfe, 0xfe, 0, 0, 0xfe, 0xfe, 0, 0})
		}), want: alertDecodeError, clientSends: true},
		{name: "client-certificate-entry-extension-twice", mtls: true, clientMutate: mutateMessage(typeCertificate, func(m []byte) []byte {
			return withEntryExtensions(t, m, []byte{0xfe, 0xfe, 0, 0, 0xfe, 0xfe, 0, 0})
		}), want: alertDecodeError},
		{name: "bad-client-finished", clientMutate: mutateMessage(typeFinished, flipLast), want: alertDecryptError},
		{name: "bad-client-signature", mtls: true, clientMutate: mutateMessage(typeCertificateVerify, func(m []byte) []byte {
			m[12] ^= 1
			return m
		}), want: alertDecryptError},
		{name: "client-certificate-wrong-context", mtls: true, clientMutate: mutateMessage(typeCertificate, func(m []byte) []byte {
			var cm certificateMsg
			cm.unmarshal(m)
			cm.context = []byte{1}
			return cm.marshal()
		}), want: alertIllegalParameter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := tcpPair(t)
			ccfg := p.clientConfig()
			ccfg.Groups = []uint16{X25519}
			scfg := p.serverConfig(p.p256)
			if tc.mtls {
				scfg.ClientAuth = backends.RequireClientCert
				ccfg.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
					return []*backends.Identity{p.client.Identity()}, nil
				}
			}
			c, chs := engineClient(t, client, ccfg)
			s, shs := engineServer(t, server, scfg)
			c.testMutate, s.testMutate = tc.clientMutate, tc.serverMutate
			cerr, serr := both(chs, shs)
			detector, victim := cerr, serr
			if !tc.clientSends {
				detector, victim = serr, cerr
				// The client finishes before the server checks its
				// flight; it learns of the failure on its first read.
				if victim == nil {
					_, victim = c.Read(make([]byte, 1))
				}
			}
			var ae *AlertError
			if !errors.As(detector, &ae) || ae.Alert != tc.want || ae.Remote {
				t.Errorf("detecting side error = %v; want a local %v", detector, tc.want)
			}
			if !errors.As(victim, &ae) || ae.Alert != tc.want || !ae.Remote {
				t.Errorf("other side error = %v; want a remote %v", victim, tc.want)
			}
		})
	}
}

// withEntryExtensions returns the Certificate msg with the extensions
// block of its first entry replaced by exts.
func withEntryExtensions(t *testing.T, msg, exts []byte) []byte {
	var cm certificateMsg
	if !cm.unmarshal(msg) || len(cm.chain) == 0 {
		t.Fatalf("not a Certificate: %x", msg)
	}
	var b cryptobyte.Builder
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(cm.context) })
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		for i, cert := range cm.chain {
			b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(cert) })
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				if i == 0 {
					b.AddBytes(exts)
				}
			})
		}
	})
	return marshalMessageBytes(typeCertificate, b.BytesOrPanic())
}

func marshalMessageBytes(typ uint8, body []byte) []byte {
	n := len(body)
	return append([]byte{typ, byte(n >> 16), byte(n >> 8), byte(n)}, body...)
}

// established returns a connected engine pair.
func established(t *testing.T) (c, s *Conn, rawClient, rawServer net.Conn) {
	t.Helper()
	p := pki(t)
	rawClient, rawServer = tcpPair(t)
	c, chs := engineClient(t, rawClient, p.clientConfig())
	s, shs := engineServer(t, rawServer, p.serverConfig(p.p256))
	if cerr, serr := both(chs, shs); cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	return c, s, rawClient, rawServer
}

// TestRecordLayerFailures injects bad records after the handshake.
func TestRecordLayerFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inject func(c *Conn, raw net.Conn) error
		want   Alert
	}{
		{"bad-record-mac", func(c *Conn, raw net.Conn) error {
			return writeRawRecord(raw, recordTypeApplicationData, make([]byte, 40))
		}, alertBadRecordMAC},
		{"oversized-ciphertext", func(c *Conn, raw net.Conn) error {
			_, err := raw.Write(append([]byte{23, 3, 3, 0x41, 0x01}, make([]byte, maxCiphertext+1)...))
			return err
		}, alertRecordOverflow},
		{"oversized-inner-plaintext", func(c *Conn, raw net.Conn) error {
			c.out.Lock()
			defer c.out.Unlock()
			// 2^14+1 bytes of content plus the type byte, sealed by hand.
			inner := append(make([]byte, maxPlaintext+1), byte(recordTypeApplicationData))
			n := len(inner) + c.out.aead.Overhead()
			hdr := []byte{23, 3, 3, byte(n >> 8), byte(n)}
			nonce := c.out.nonce()
			rec := c.out.aead.Seal(hdr, nonce[:], inner, hdr)
			c.out.seq++
			_, err := raw.Write(rec)
			return err
		}, alertRecordOverflow},
		{"unprotected-record", func(c *Conn, raw net.Conn) error {
			return writeRawRecord(raw, recordTypeHandshake, []byte{typeKeyUpdate, 0, 0, 1, 0})
		}, alertUnexpectedMessage},
		{"change-cipher-spec-after-handshake", func(c *Conn, raw net.Conn) error {
			return writeRawRecord(raw, recordTypeChangeCipherSpec, []byte{1})
		}, alertUnexpectedMessage},
		{"invalid-key-update", func(c *Conn, raw net.Conn) error {
			c.out.Lock()
			defer c.out.Unlock()
			_, err := c.writeRecordLocked(recordTypeHandshake, []byte{typeKeyUpdate, 0, 0, 1, 2})
			return err
		}, alertIllegalParameter},
		{"malformed-key-update", func(c *Conn, raw net.Conn) error {
			c.out.Lock()
			defer c.out.Unlock()
			_, err := c.writeRecordLocked(recordTypeHandshake, []byte{typeKeyUpdate, 0, 0, 2, 0, 0})
			return err
		}, alertDecodeError},
		{"client-hello-after-handshake", func(c *Conn, raw net.Conn) error {
			c.out.Lock()
			defer c.out.Unlock()
			_, err := c.writeRecordLocked(recordTypeHandshake, []byte{typeClientHello, 0, 0, 0})
			return err
		}, alertUnexpectedMessage},
		{"session-ticket-from-client", func(c *Conn, raw net.Conn) error {
			c.out.Lock()
			defer c.out.Unlock()
			_, err := c.writeRecordLocked(recordTypeHandshake, []byte{typeNewSessionTicket, 0, 0, 0})
			return err
		}, alertUnexpectedMessage},
		{"certificate-without-request", func(c *Conn, raw net.Conn) error {
			_, err := raw.Write(sealed(c, recordTypeHandshake, (&certificateMsg{context: []byte{1}}).marshal()))
			return err
		}, alertUnexpectedMessage},
		{"finished-after-handshake", func(c *Conn, raw net.Conn) error {
			_, err := raw.Write(sealed(c, recordTypeHandshake, marshalMessageBytes(typeFinished, make([]byte, 32))))
			return err
		}, alertUnexpectedMessage},
		{"unprotected-alert-after-handshake", func(c *Conn, raw net.Conn) error {
			return writeRawRecord(raw, recordTypeAlert, []byte{alertLevelWarning, byte(alertUserCanceled)})
		}, alertUnexpectedMessage},
		{"empty-records-flood", func(c *Conn, raw net.Conn) error {
			c.out.Lock()
			defer c.out.Unlock()
			for range maxEmptyRecords + 1 {
				// writeRecordLocked sends no record for empty data, so
				// seal empty application data records by hand.
				inner := []byte{byte(recordTypeApplicationData)}
				n := len(inner) + c.out.aead.Overhead()
				hdr := []byte{23, 3, 3, byte(n >> 8), byte(n)}
				nonce := c.out.nonce()
				rec := c.out.aead.Seal(hdr, nonce[:], inner, hdr)
				c.out.seq++
				if _, err := raw.Write(rec); err != nil {
					return err
				}
			}
			return nil
		}, alertUnexpectedMessage},
		{"all-padding-record", func(c *Conn, raw net.Conn) error {
			c.out.Lock()
			defer c.out.Unlock()
			inner := make([]byte, 10)
			n := len(inner) + c.out.aead.Overhead()
			hdr := []byte{23, 3, 3, byte(n >> 8), byte(n)}
			nonce := c.out.nonce()
			rec := c.out.aead.Seal(hdr, nonce[:], inner, hdr)
			c.out.seq++
			_, err := raw.Write(rec)
			return err
		}, alertUnexpectedMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, s, rawClient, _ := established(t)
			if err := tc.inject(c, rawClient); err != nil {
				t.Fatal(err)
			}
			_, err := s.Read(make([]byte, 10))
			var ae *AlertError
			if !errors.As(err, &ae) || ae.Alert != tc.want || ae.Remote {
				t.Fatalf("server Read error = %v; want a local %v", err, tc.want)
			}
			// The client, if its keys still match, reads the alert.
			rawClient.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = c.Read(make([]byte, 10))
			if err == nil {
				t.Error("client Read succeeded after the server failed")
			}
			// The failure is sticky.
			if _, err2 := s.Read(make([]byte, 10)); err2 == nil {
				t.Error("second server Read succeeded")
			}
		})
	}
}

// TestPaddedRecords checks that padding in TLSInnerPlaintext is accepted
// (RFC 8446, Section 5.4).
func TestPaddedRecords(t *testing.T) {
	c, s, rawClient, _ := established(t)
	c.out.Lock()
	inner := append([]byte("padded"), byte(recordTypeApplicationData))
	inner = append(inner, make([]byte, 300)...)
	n := len(inner) + c.out.aead.Overhead()
	hdr := []byte{23, 3, 3, byte(n >> 8), byte(n)}
	nonce := c.out.nonce()
	rec := c.out.aead.Seal(hdr, nonce[:], inner, hdr)
	c.out.seq++
	c.out.Unlock()
	if _, err := rawClient.Write(rec); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "padded" {
		t.Fatalf("Read = %q, %v", buf, err)
	}
}

// TestTruncatedTransport closes the transport in the middle of a
// handshake and of a record: errors, no hang.
func TestTruncatedTransport(t *testing.T) {
	p := pki(t)
	client, server := tcpPair(t)
	_, hs := engineServer(t, server, p.serverConfig(p.p256))
	done := make(chan error, 1)
	go func() { done <- hs() }()
	msg := testClientHello(t, X25519).marshal()
	client.Write(append([]byte{22, 3, 1, byte(len(msg) >> 8), byte(len(msg))}, msg[:len(msg)/2]...))
	client.Close()
	if err := <-done; !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("server error = %v; want io.ErrUnexpectedEOF", err)
	}

	c, s, rawClient, _ := established(t)
	_ = c
	rawClient.Write([]byte{23, 3, 3, 0, 100, 1, 2, 3})
	rawClient.Close()
	if _, err := s.Read(make([]byte, 10)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Read error = %v; want io.ErrUnexpectedEOF", err)
	}
}

// TestKeyUpdate updates keys both ways, with and without a request, and
// checks data keeps flowing.
func TestKeyUpdate(t *testing.T) {
	c, s, _, _ := established(t)
	for i, tc := range []struct {
		from    *Conn
		request bool
	}{{c, false}, {c, true}, {s, false}, {s, true}, {c, true}} {
		if err := tc.from.KeyUpdate(tc.request); err != nil {
			t.Fatalf("step %d: KeyUpdate: %v", i, err)
		}
		echo(t, c, s)
	}
	if c.out.seq > 5 || s.in.seq > 5 {
		t.Errorf("sequence numbers were not reset by the updates: %d, %d", c.out.seq, s.in.seq)
	}
}

// TestGoKeyUpdate has crypto/tls answer the engine's KeyUpdate requests.
func TestGoKeyUpdate(t *testing.T) {
	p := pki(t)
	client, server := tcpPair(t)
	ec, hs := engineClient(t, client, p.clientConfig())
	gs := goServer(server, p)
	if cerr, serr := both(hs, func() error { return gs.HandshakeContext(context.Background()) }); cerr != nil || serr != nil {
		t.Fatalf("handshake: %v, %v", cerr, serr)
	}
	for range 3 {
		if err := ec.KeyUpdate(true); err != nil {
			t.Fatal(err)
		}
		echo(t, ec, gs)
	}
}

// TestCloseNotify checks close_notify reads as io.EOF, and that writes
// after CloseWrite fail.
func TestCloseNotify(t *testing.T) {
	c, s, _, _ := established(t)
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Error("Write after CloseWrite succeeded")
	}
	if n, err := s.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("Read = %d, %v; want io.EOF", n, err)
	}
	// The other direction still works.
	if _, err := s.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "late" {
		t.Fatalf("Read = %q, %v", buf, err)
	}
	s.Close()
	if _, err := c.Read(buf); err != io.EOF {
		t.Errorf("Read after peer Close = %v; want io.EOF", err)
	}
}

// TestCloseUnblocksWrite closes a connection whose Write is blocked on a
// peer that does not read: Close must return and the Write must fail.
func TestCloseUnblocksWrite(t *testing.T) {
	c, _, _, _ := established(t)
	werr := make(chan error, 1)
	go func() {
		big := make([]byte, 64<<20)
		_, err := c.Write(big)
		werr <- err
	}()
	time.Sleep(100 * time.Millisecond) // let the Write fill the socket buffers
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked behind a Write")
	}
	select {
	case err := <-werr:
		if err == nil {
			t.Error("Write succeeded after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Write still blocked after Close")
	}
}

// TestClientSecondHello checks the ClientHello a client sends after a
// HelloRetryRequest with a cookie (RFC 8446, Section 4.1.2 and 4.2.2).
func TestClientSecondHello(t *testing.T) {
	var ch1, ch2 clientHelloMsg
	var sawCCS bool
	scriptedServer(t, func(cfg *backends.ClientConfig) {
		cfg.Groups = []uint16{X25519MLKEM768, P256}
		cfg.ALPN = []string{"h2"}
	}, func(ch *clientHelloMsg, w net.Conn) error {
		ch1 = *ch
		hrr := serverHelloFor(ch)
		hrr.random = helloRetryRequestRandom[:]
		hrr.selectedGroup = P256
		hrr.cookie = []byte("a cookie")
		if err := writeRawRecord(w, recordTypeHandshake, hrr.marshal()); err != nil {
			return err
		}
		for {
			typ, body, err := readRawRecord(w)
			if err != nil {
				return err
			}
			if typ == recordTypeChangeCipherSpec {
				sawCCS = true
				continue
			}
			if typ != recordTypeHandshake || !ch2.unmarshal(body) {
				return fmt.Errorf("want the second ClientHello, got record type %d", typ)
			}
			break
		}
		w.Close()
		return nil
	})
	if !sawCCS {
		t.Error("no compatibility change_cipher_spec before the second ClientHello")
	}
	if string(ch2.cookie) != "a cookie" {
		t.Errorf("cookie %q not echoed", ch2.cookie)
	}
	if len(ch2.keyShares) != 1 || ch2.keyShares[0].group != P256 || len(ch2.keyShares[0].data) != 65 {
		t.Errorf("second key shares %+v; want one P-256 share", ch2.keyShares)
	}
	if string(ch2.random) != string(ch1.random) || string(ch2.sessionID) != string(ch1.sessionID) ||
		!slices.Equal(ch2.cipherSuites, ch1.cipherSuites) || !slices.Equal(ch2.alpnProtocols, ch1.alpnProtocols) ||
		ch2.serverName != ch1.serverName {
		t.Error("the second ClientHello changed more than key_share and cookie")
	}
}
