package circlpq

import (
	"bytes"
	"context"
	"errors"
	"net"
	goruntime "runtime"

	"golang.org/x/crypto/cryptobyte"
	"testing"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// Downgrades and oversized answers from a hostile peer during the
// handshake, beyond the single-message cases of failure_test.go: a server
// scripted over a real socket that plays HelloRetryRequest tricks against
// clients restricted to pure ML-KEM or to X25519, and servers whose
// encrypted flight selects what was not offered or sends too much.

// readClientHelloAfterHRR reads the client's change_cipher_spec and second
// ClientHello.
func readClientHelloAfterHRR(w net.Conn) (*clientHelloMsg, error) {
	for {
		typ, body, err := readRawRecord(w)
		if err != nil {
			return nil, err
		}
		if typ == recordTypeHandshake {
			ch := new(clientHelloMsg)
			if !ch.unmarshal(body) {
				return nil, errors.New("malformed second ClientHello")
			}
			return ch, nil
		}
	}
}

// serverHelloWithShare answers ch with a valid share for group.
func serverHelloWithShare(ch *clientHelloMsg, group uint16) (*serverHelloMsg, error) {
	sh := serverHelloFor(ch)
	for _, ks := range ch.keyShares {
		if ks.group == group {
			ct, _, err := keyExchangeByID(group).encapsulate(ks.data)
			if err != nil {
				return nil, err
			}
			sh.serverShare = keyShare{group, ct}
			return sh, nil
		}
	}
	_, ct, _, err := encapsulateFor(group)
	sh.serverShare = keyShare{group, ct}
	return sh, err
}

// TestClientRefusesDowngrade answers clients restricted to pure ML-KEM,
// to X25519, and to a hybrid with a ServerHello or HelloRetryRequest that
// would take them elsewhere. Each ends with the alert named, sent to the
// server, and a client error carrying it.
func TestClientRefusesDowngrade(t *testing.T) {
	hrr := func(ch *clientHelloMsg, group uint16) *serverHelloMsg {
		sh := serverHelloFor(ch)
		sh.random = helloRetryRequestRandom[:]
		sh.selectedGroup = group
		return sh
	}
	write := func(w net.Conn, sh *serverHelloMsg) error {
		return writeRawRecord(w, recordTypeHandshake, sh.marshal())
	}
	pureMLKEM := []uint16{MLKEM768, MLKEM1024}
	for _, tc := range []struct {
		name   string
		groups []uint16
		reply  func(ch *clientHelloMsg, w net.Conn) error
		want   Alert
	}{
		{"pure-mlkem-gets-x25519", pureMLKEM, func(ch *clientHelloMsg, w net.Conn) error {
			sh, err := serverHelloWithShare(ch, X25519)
			if err != nil {
				return err
			}
			return write(w, sh)
		}, alertIllegalParameter},
		{"pure-mlkem-gets-hybrid", pureMLKEM, func(ch *clientHelloMsg, w net.Conn) error {
			sh, err := serverHelloWithShare(ch, X25519MLKEM768)
			if err != nil {
				return err
			}
			return write(w, sh)
		}, alertIllegalParameter},
		{"pure-mlkem-hrr-x25519", pureMLKEM, func(ch *clientHelloMsg, w net.Conn) error {
			return write(w, hrr(ch, X25519))
		}, alertIllegalParameter},
		{"x25519-gets-mlkem", []uint16{X25519}, func(ch *clientHelloMsg, w net.Conn) error {
			sh, err := serverHelloWithShare(ch, MLKEM768)
			if err != nil {
				return err
			}
			return write(w, sh)
		}, alertIllegalParameter},
		{"hybrid-hrr-then-other-group", []uint16{X25519MLKEM768, MLKEM768, X25519}, func(ch *clientHelloMsg, w net.Conn) error {
			if err := write(w, hrr(ch, MLKEM768)); err != nil {
				return err
			}
			ch2, err := readClientHelloAfterHRR(w)
			if err != nil {
				return err
			}
			sh, err := serverHelloWithShare(ch2, X25519)
			if err != nil {
				return err
			}
			return write(w, sh)
		}, alertIllegalParameter},
		{"hrr-then-other-suite", []uint16{X25519MLKEM768, MLKEM768}, func(ch *clientHelloMsg, w net.Conn) error {
			h := hrr(ch, MLKEM768)
			h.cipherSuite = TLS_AES_128_GCM_SHA256
			if err := write(w, h); err != nil {
				return err
			}
			ch2, err := readClientHelloAfterHRR(w)
			if err != nil {
				return err
			}
			sh, err := serverHelloWithShare(ch2, MLKEM768)
			if err != nil {
				return err
			}
			sh.cipherSuite = TLS_CHACHA20_POLY1305_SHA256
			return write(w, sh)
		}, alertIllegalParameter},
		{"hrr-then-hrr", []uint16{X25519MLKEM768, MLKEM768, X25519}, func(ch *clientHelloMsg, w net.Conn) error {
			if err := write(w, hrr(ch, MLKEM768)); err != nil {
				return err
			}
			ch2, err := readClientHelloAfterHRR(w)
			if err != nil {
				return err
			}
			return write(w, hrr(ch2, X25519))
		}, alertUnexpectedMessage},
		{"hrr-for-a-group-not-in-supported-groups", []uint16{MLKEM768}, func(ch *clientHelloMsg, w net.Conn) error {
			return write(w, hrr(ch, SecP384r1MLKEM1024))
		}, alertIllegalParameter},
		{"legacy-version-tls13", pureMLKEM, func(ch *clientHelloMsg, w net.Conn) error {
			sh, err := serverHelloWithShare(ch, MLKEM768)
			if err != nil {
				return err
			}
			sh.vers = versionTLS13
			return write(w, sh)
		}, alertIllegalParameter},
		{"supported-versions-tls12", pureMLKEM, func(ch *clientHelloMsg, w net.Conn) error {
			sh, err := serverHelloWithShare(ch, MLKEM768)
			if err != nil {
				return err
			}
			sh.supportedVersion = versionTLS12
			return write(w, sh)
		}, alertIllegalParameter},
		{"tls12-sentinel-pure-mlkem", pureMLKEM, func(ch *clientHelloMsg, w net.Conn) error {
			sh := serverHelloFor(ch)
			sh.supportedVersion = 0
			copy(sh.random[24:], downgradeCanaryTLS12)
			return write(w, sh)
		}, alertIllegalParameter},
		{"hrr-with-trailing-handshake-bytes", pureMLKEM, func(ch *clientHelloMsg, w net.Conn) error {
			// More handshake bytes behind the HelloRetryRequest, in its
			// record: the server cannot know the next ClientHello.
			return writeRawRecord(w, recordTypeHandshake, append(hrr(ch, MLKEM1024).marshal(), typeServerHello, 0, 0))
		}, alertUnexpectedMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sent Alert
			err, _ := scriptedServer(t, func(cfg *backends.ClientConfig) {
				cfg.Groups = tc.groups
			}, func(ch *clientHelloMsg, w net.Conn) error {
				if err := tc.reply(ch, w); err != nil {
					return err
				}
				sent = readPlainAlert(t, w)
				return nil
			})
			if sent != tc.want {
				t.Errorf("client sent %v; want %v", sent, tc.want)
			}
			if a, ok := errorAlert(err); !ok || a != tc.want {
				t.Errorf("client error = %v; want a local %v alert error", err, tc.want)
			}
		})
	}
}

// TestServerRefusesDowngrade: a server restricted to pure ML-KEM does not
// fall back to the X25519 a client offers, nor a hybrid server to a
// classical share the client predicted (it asks for the hybrid's share).
func TestServerRefusesDowngrade(t *testing.T) {
	p := pki(t)
	t.Run("pure-mlkem-server-x25519-client", func(t *testing.T) {
		craw, sraw := tcpPair(t)
		cc := p.clientConfig()
		cc.Groups = []uint16{X25519, P256}
		sc := p.serverConfig(p.p256)
		sc.Groups = []uint16{MLKEM768, MLKEM1024}
		_, chs := engineClient(t, craw, cc)
		_, shs := engineServer(t, sraw, sc)
		cerr, serr := both(chs, shs)
		if a, ok := errorAlert(serr); !ok || a != alertHandshakeFailure {
			t.Errorf("server error = %v; want handshake_failure", serr)
		}
		var ae *AlertError
		if !errors.As(cerr, &ae) || !ae.Remote || ae.Alert != alertHandshakeFailure {
			t.Errorf("client error = %v; want a remote handshake_failure", cerr)
		}
	})
	t.Run("hybrid-server-x25519-share", func(t *testing.T) {
		craw, sraw := tcpPair(t)
		cc := p.clientConfig()
		cc.Groups = []uint16{X25519, X25519MLKEM768}
		sc := p.serverConfig(p.p256)
		sc.Groups = []uint16{X25519MLKEM768, X25519}
		c, chs := engineClient(t, craw, cc)
		s, shs := engineServer(t, sraw, sc)
		if cerr, serr := both(chs, shs); cerr != nil || serr != nil {
			t.Fatalf("handshake: client %v, server %v", cerr, serr)
		}
		if g := c.State().Group; g != X25519MLKEM768 || !s.didHRR {
			t.Errorf("group %#04x, hello retry %v; want X25519MLKEM768 after a hello retry", g, s.didHRR)
		}
	})
}

// TestHostileServerFlight has an engine server's encrypted flight select
// what the client did not offer or carry more than it takes.
func TestHostileServerFlight(t *testing.T) {
	p := pki(t)
	m := mldsaTestPKI(t)
	ee := func(f func(*encryptedExtensionsMsg)) func([]byte) []byte {
		return mutateMessage(typeEncryptedExtensions, func(b []byte) []byte {
			var e encryptedExtensionsMsg
			if !e.unmarshal(b) {
				panic("EncryptedExtensions")
			}
			f(&e)
			return e.marshal()
		})
	}
	for _, tc := range []struct {
		name      string
		configure func(cc *backends.ClientConfig, sc *backends.ServerConfig, c, s *Conn)
		want      Alert
	}{
		{"alpn-not-offered", func(cc *backends.ClientConfig, sc *backends.ServerConfig, c, s *Conn) {
			cc.ALPN = []string{"http/1.1"}
			s.testMutate = ee(func(e *encryptedExtensionsMsg) { e.alpnProtocol = "h2" })
		}, alertUnsupportedExtension},
		{"alpn-none-offered", func(cc *backends.ClientConfig, sc *backends.ServerConfig, c, s *Conn) {
			s.testMutate = ee(func(e *encryptedExtensionsMsg) { e.alpnProtocol = "h2" })
		}, alertUnsupportedExtension},
		{"early-data-accepted-unasked", func(cc *backends.ClientConfig, sc *backends.ServerConfig, c, s *Conn) {
			s.testMutate = mutateMessage(typeEncryptedExtensions, func([]byte) []byte {
				return marshalMessageBytes(typeEncryptedExtensions, []byte{0, 4, byte(extensionEarlyData >> 8), byte(extensionEarlyData), 0, 0})
			})
		}, alertUnsupportedExtension},
		{"mldsa-signature-ecdsa-only", func(cc *backends.ClientConfig, sc *backends.ServerConfig, c, s *Conn) {
			// The client accepts only ECDSA; its ClientHello is made to
			// offer ML-DSA too, as a server that ignores the list would
			// behave, and the server signs with ML-DSA-65.
			c.testVerifyPrefs = []uint16{ECDSAWithP256AndSHA256}
			c.testMutate = mutateMessage(typeClientHello, func(b []byte) []byte {
				var ch clientHelloMsg
				ch.unmarshal(b)
				ch.signatureSchemes = append(ch.signatureSchemes, MLDSA65)
				return ch.marshal()
			})
			cc.RootCAs = poolOf(m.roots[testpki.MLDSA65])
			sc.Identities = []*backends.Identity{{Chain: pqServerChain(m.servers[testpki.MLDSA65], m.roots[testpki.MLDSA65]), Key: m.servers[testpki.MLDSA65].Key}}
		}, alertIllegalParameter},
		{"ocsp-staple-on-every-certificate", func(cc *backends.ClientConfig, sc *backends.ServerConfig, c, s *Conn) {
			// A status_request response on each of 30 entries, 4 KiB each:
			// only the leaf's may carry one.
			s.testMutate = mutateMessage(typeCertificate, func(b []byte) []byte {
				var cm certificateMsg
				cm.unmarshal(b)
				var body cryptobyte.Builder
				body.AddUint8(0)
				body.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
					for range 30 {
						b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(cm.chain[0]) })
						b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
							b.AddUint16(extensionStatusRequest)
							b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
								b.AddUint8(statusTypeOCSP)
								b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(bytes.Repeat([]byte{0x30}, 4096)) })
							})
						})
					}
				})
				return marshalMessageBytes(typeCertificate, body.BytesOrPanic())
			})
		}, alertUnsupportedExtension},
		{"chain-over-256KiB", func(cc *backends.ClientConfig, sc *backends.ServerConfig, c, s *Conn) {
			id := *p.p256.Identity()
			for len(id.Chain) < maxHandshake/len(p.root.Cert.Raw)+1 {
				id.Chain = append(id.Chain, p.root.Cert.Raw)
			}
			sc.Identities = []*backends.Identity{&id}
		}, alertUnexpectedMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			craw, sraw := tcpPair(t)
			cc, sc := p.clientConfig(), p.serverConfig(p.p256)
			c, err := Client(craw, cc)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Server(sraw, sc)
			if err != nil {
				t.Fatal(err)
			}
			tc.configure(cc, sc, c, s)
			cerr, _ := both(func() error { return c.Handshake(context.Background()) }, func() error { return s.Handshake(context.Background()) })
			var ae *AlertError
			if !errors.As(cerr, &ae) || ae.Remote || ae.Alert != tc.want {
				t.Errorf("client error = %v; want a local %v", cerr, tc.want)
			}
			if c.State().HandshakeComplete {
				t.Error("the client completed the handshake")
			}
		})
	}
}

// hostileHello is a ClientHello whose supported_groups and key_share
// lists are as long as its extensions allow (groups groups and groups/2
// one-byte shares, none that the server implements).
func hostileHello(groups int) *clientHelloMsg {
	ch := &clientHelloMsg{
		vers: versionTLS12, random: make([]byte, 32), sessionID: make([]byte, 32),
		cipherSuites: []uint16{TLS_AES_128_GCM_SHA256}, compressionMethods: []uint8{0},
		signatureSchemes: supportedSignatureSchemes, supportedVersions: []uint16{versionTLS13},
		hasKeyShares: true, serverName: "a.test",
	}
	for g := range groups {
		ch.supportedGroups = append(ch.supportedGroups, uint16(0x3000+g))
	}
	for g := range groups / 2 {
		ch.keyShares = append(ch.keyShares, keyShare{group: uint16(0x3000 + groups - 1 - g), data: []byte{1}})
	}
	return ch
}

// manyExtensions is a ClientHello of ch's fields and then as many empty
// extensions of unknown types as a server takes (maxHandshakeOther).
func manyExtensions(ch *clientHelloMsg) []byte {
	room := maxHandshakeOther - (len(ch.marshal()) - 4)
	var exts []byte
	for i := range room / 4 {
		exts = append(exts, byte(0x80+i>>8), byte(i), 0, 0)
	}
	return appendExtension(ch, exts)
}

// TestHostileExtensionCount sends a ClientHello of 16,000 empty
// extensions of unknown types, which a server ignores (RFC 8446, Section
// 4.2): the handshake goes on, and parsing it allocates less than its
// length. Before, the map of the types seen and the list of them took
// 2.8 MB a parse, 44 times the message.
func TestHostileExtensionCount(t *testing.T) {
	msg := manyExtensions(testClientHello(t, X25519))
	var ch clientHelloMsg
	if !ch.unmarshal(msg) {
		t.Fatal("the ClientHello does not parse")
	}
	if n := allocated(func() { ch.unmarshal(msg) }); n > len(msg) {
		t.Errorf("parsing a ClientHello of %d bytes allocated %d bytes", len(msg), n)
	}

	client, server := tcpPair(t)
	_, hs := engineServer(t, server, pki(t).serverConfig(pki(t).p256))
	done := make(chan error, 1)
	go func() { done <- hs() }()
	if _, err := client.Write(plainHandshakeRecords(msg)); err != nil {
		t.Fatal(err)
	}
	typ, body, err := readRawRecord(client)
	if err != nil || typ != recordTypeHandshake || body[0] != typeServerHello {
		t.Fatalf("got record %d, %v; want a ServerHello", typ, err)
	}
	client.Close()
	<-done
}

// allocated is what one call of parse allocates, on average over 10.
func allocated(parse func()) int {
	const runs = 10
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	for range runs {
		parse()
	}
	goruntime.ReadMemStats(&after)
	return int((after.TotalAlloc - before.TotalAlloc) / runs)
}

// TestHostileListAllocations parses messages whose lists hold as many
// entries as fit: a ClientHello of 16,000 three-byte ALPN IDs, one of
// 9,300 one-byte key shares and as many supported_groups, one of 9,300
// PSK identities of one byte,
// a CertificateRequest of 21,000 one-byte CA names, and a Certificate of
// 256 KiB of one-byte certificates (a client's, to a server that asked).
// Each list is made once, so the parse allocates less than 10 times the
// message (its entries' headers and strings). Before, the lists grew
// entry by entry: 19 to 35 times the message.
func TestHostileListAllocations(t *testing.T) {
	ch := testClientHello(t, X25519)
	base := len(ch.marshal())
	for i := range (maxHandshakeOther - base) / 4 {
		ch.alpnProtocols = append(ch.alpnProtocols, string([]byte{'a', byte(i), byte(i >> 8)}))
	}
	var cr certificateRequestMsg
	cr.signatureSchemes = []uint16{ECDSAWithP256AndSHA256}
	for i := range (maxHandshakeOther - 32) / 3 {
		cr.certificateAuthorities = append(cr.certificateAuthorities, []byte{byte(i)})
	}
	shares := testClientHello(t)
	for i := range (maxHandshakeOther - base) / 7 { // 2 bytes a group, 5 a share
		shares.supportedGroups = append(shares.supportedGroups, uint16(0x3000+i))
		shares.keyShares = append(shares.keyShares, keyShare{group: uint16(0x3000 + i), data: []byte{1}})
	}
	psks := withPSK(testClientHello(t, X25519), (maxHandshakeOther-base-40)/7, 32)
	for i := range psks.pskIdentities {
		psks.pskIdentities[i].label = []byte{1}
	}
	psks.pskBinders = psks.pskBinders[:1]
	var cm certificateMsg
	for range maxHandshake / 6 {
		cm.chain = append(cm.chain, []byte{1})
	}
	for _, tc := range []struct {
		name  string
		msg   []byte
		parse func([]byte) bool
	}{
		{"alpn", ch.marshal(), parseClientHello},
		{"key-shares", shares.marshal(), parseClientHello},
		{"psk-identities", psks.marshal(), parseClientHello},
		{"certificates", cm.marshal(), parseCertificate},
		{"certificate-authorities", cr.marshal(), parseCertificateRequest},
	} {
		if !tc.parse(tc.msg) {
			t.Fatalf("%s: the message of %d bytes does not parse", tc.name, len(tc.msg))
		}
		if n := allocated(func() { tc.parse(tc.msg) }); n > 10*len(tc.msg) {
			t.Errorf("%s: parsing a message of %d bytes allocated %d bytes", tc.name, len(tc.msg), n)
		}
	}
}

// TestHostileListAllocationCounts parses each list of a peer's message
// with 2 entries and with 1,000: the parse allocates as often for both,
// each list made once at its length, whatever it holds. Before, PSK
// binders, supported_versions and the types of a ServerHello's or
// EncryptedExtensions' unknown extensions were grown entry by entry
// (some 10 more allocations for 1,000), and each ALPN ID was an
// allocation of its own (1,000 more).
func TestHostileListAllocationCounts(t *testing.T) {
	unknownExts := func(n int) []byte {
		var b []byte
		for i := range n {
			b = append(b, byte(0xa0+i>>8), byte(i), 0, 0)
		}
		return b
	}
	withExts := func(fixed, exts []byte) []byte {
		return append(append(fixed, byte(len(exts)>>8), byte(len(exts))), exts...)
	}
	for _, tc := range []struct {
		name  string
		msg   func(t *testing.T, n int) []byte
		parse func([]byte) bool
	}{
		{"alpn", func(t *testing.T, n int) []byte {
			ch := testClientHello(t, X25519)
			for i := range n {
				ch.alpnProtocols = append(ch.alpnProtocols, string([]byte{'a', byte(i), byte(i >> 8)}))
			}
			return ch.marshal()
		}, parseClientHello},
		{"key-shares", func(t *testing.T, n int) []byte {
			ch := testClientHello(t)
			for i := range n {
				ch.supportedGroups = append(ch.supportedGroups, uint16(0x3000+i))
				ch.keyShares = append(ch.keyShares, keyShare{group: uint16(0x3000 + i), data: []byte{1}})
			}
			return ch.marshal()
		}, parseClientHello},
		{"psk-identities-and-binders", func(t *testing.T, n int) []byte {
			ch := withPSK(testClientHello(t, X25519), n, 32)
			for i := range ch.pskIdentities {
				ch.pskIdentities[i].label = []byte{1}
			}
			return ch.marshal()
		}, parseClientHello},
		{"supported-versions", func(t *testing.T, n int) []byte {
			ch := testClientHello(t, X25519)
			for i := range n / 10 { // at most 127 fit
				ch.supportedVersions = append(ch.supportedVersions, uint16(0x7f00+i))
			}
			return ch.marshal()
		}, parseClientHello},
		{"certificate-authorities", func(t *testing.T, n int) []byte {
			cr := certificateRequestMsg{signatureSchemes: []uint16{ECDSAWithP256AndSHA256}}
			for i := range n {
				cr.certificateAuthorities = append(cr.certificateAuthorities, []byte{byte(i)})
			}
			return cr.marshal()
		}, parseCertificateRequest},
		{"certificates", func(t *testing.T, n int) []byte {
			var cm certificateMsg
			for i := range n {
				cm.chain = append(cm.chain, []byte{byte(i)})
			}
			return cm.marshal()
		}, parseCertificate},
		{"server-hello-extensions", func(t *testing.T, n int) []byte {
			fixed := append([]byte{3, 3}, make([]byte, 32)...)
			fixed = append(fixed, 0, 0x13, 0x01, 0)
			return marshalMessageBytes(typeServerHello, withExts(fixed, append([]byte{0, 0x2b, 0, 2, 3, 4}, unknownExts(n)...)))
		}, func(m []byte) bool { var sh serverHelloMsg; return sh.unmarshal(m) }},
		{"encrypted-extensions", func(t *testing.T, n int) []byte {
			return marshalMessageBytes(typeEncryptedExtensions, withExts(nil, unknownExts(n)))
		}, func(m []byte) bool { var ee encryptedExtensionsMsg; return ee.unmarshal(m) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			few, many := tc.msg(t, 2), tc.msg(t, 1000)
			if !tc.parse(few) || !tc.parse(many) {
				t.Fatal("the messages do not parse")
			}
			a := testing.AllocsPerRun(10, func() { tc.parse(few) })
			b := testing.AllocsPerRun(10, func() { tc.parse(many) })
			if b != a {
				t.Errorf("parsing %d bytes allocated %v times, %d bytes %v times; want as often", len(few), a, len(many), b)
			}
		})
	}
}

// parseClientHello, parseCertificate and parseCertificateRequest report
// whether m parses as their message.
func parseClientHello(m []byte) bool        { var ch clientHelloMsg; return ch.unmarshal(m) }
func parseCertificate(m []byte) bool        { var cm certificateMsg; return cm.unmarshal(m) }
func parseCertificateRequest(m []byte) bool { var cr certificateRequestMsg; return cr.unmarshal(m) }

// TestListsRefuseEmptyEntries parses each list countEntries reads with
// its last entry empty, which the RFCs forbid (an ALPN ID, a key
// share's key_exchange, a PSK identity, a CA name, a certificate: each
// is <1..2^n-1>), and the same list without it: the first is refused,
// the second taken.
func TestListsRefuseEmptyEntries(t *testing.T) {
	hello := func(t *testing.T, edit func(*clientHelloMsg, []byte)) func(last []byte) []byte {
		return func(last []byte) []byte {
			ch := testClientHello(t, X25519)
			edit(ch, last)
			return ch.marshal()
		}
	}
	for _, tc := range []struct {
		name  string
		msg   func(last []byte) []byte // the message, its list ending in last
		parse func([]byte) bool
	}{
		{"alpn", hello(t, func(ch *clientHelloMsg, last []byte) {
			ch.alpnProtocols = []string{"h2", string(last)}
		}), parseClientHello},
		{"key-share", hello(t, func(ch *clientHelloMsg, last []byte) {
			ch.keyShares = append(ch.keyShares, keyShare{group: 0x4a4a, data: last})
		}), parseClientHello},
		{"psk-identity", hello(t, func(ch *clientHelloMsg, last []byte) {
			withPSK(ch, 2, 32).pskIdentities[1].label = last
		}), parseClientHello},
		{"certificate-authority", func(last []byte) []byte {
			cr := certificateRequestMsg{signatureSchemes: []uint16{ECDSAWithP256AndSHA256}, certificateAuthorities: [][]byte{{1}, last}}
			return cr.marshal()
		}, parseCertificateRequest},
		{"certificate", func(last []byte) []byte {
			return (&certificateMsg{chain: [][]byte{{1}, last}}).marshal()
		}, parseCertificate},
	} {
		if !tc.parse(tc.msg([]byte{2})) {
			t.Errorf("%s: a list without an empty entry does not parse", tc.name)
		}
		if tc.parse(tc.msg(nil)) {
			t.Errorf("%s: a list ending in an empty entry parses", tc.name)
		}
	}
}

// BenchmarkHostileClientHello is the server's work on a ClientHello that
// shares no group with it: 4 groups, 10,000 groups with 5,000 key shares
// (45 KB), and 4 groups with 16,000 empty extensions (64 KB). Compare them
// in one run: long lists should cost in proportion to their length, not
// its square, and many extensions no more than long lists.
func BenchmarkHostileClientHello(b *testing.B) {
	p := pki(b)
	cfg := p.serverConfig(p.p256)
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"groups=4", plainHandshakeRecords(hostileHello(4).marshal())},
		{"groups=10000", plainHandshakeRecords(hostileHello(10000).marshal())},
		{"groups=4,extensions=16000", plainHandshakeRecords(manyExtensions(hostileHello(4)))},
	} {
		in := tc.in
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				c, err := Server(&feedConn{r: bytes.NewReader(in)}, cfg)
				if err != nil {
					b.Fatal(err)
				}
				if a, ok := errorAlert(c.Handshake(context.Background())); !ok || a != alertHandshakeFailure {
					b.Fatalf("handshake ended with %v; want handshake_failure", a)
				}
			}
		})
	}
}
