package circlpq

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Fuzz targets: every handshake message parser, the record layer after the
// handshake, and both handshakes fed arbitrary peer bytes. Seed corpora
// live in testdata/fuzz/<target>; go test -run TestWriteFuzzCorpus
// -update-corpus regenerates them.
//
// Run one target at a time, anchored, and without the unit tests:
//
//	for t in $(go test -list '^Fuzz' ./backends/circl-pq | grep ^Fuzz); do
//		go test -run '^$' -fuzz "^$t\$" -fuzztime 10m ./backends/circl-pq || break
//	done
//
// Unanchored, -fuzz FuzzCertificate also matches FuzzCertificateRequest
// and FuzzCertificateVerify, and go test exits 1 with "will not fuzz"
// and no failing input; without -run '^$' the unit tests run first, and
// any failure among them ends the run the same way.

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the fuzz seed corpora in testdata/fuzz")

// parser is a message parser under fuzzing: it parses data and, when that
// succeeds, re-marshals it.
type parser struct {
	name  string
	parse func(data []byte) (remarshal func() []byte, ok bool)
}

var parsers = []parser{
	{"FuzzClientHello", func(d []byte) (func() []byte, bool) {
		var m clientHelloMsg
		return m.marshal, m.unmarshal(d)
	}},
	{"FuzzServerHello", func(d []byte) (func() []byte, bool) {
		var m serverHelloMsg
		return m.marshal, m.unmarshal(d)
	}},
	{"FuzzEncryptedExtensions", func(d []byte) (func() []byte, bool) {
		var m encryptedExtensionsMsg
		return m.marshal, m.unmarshal(d)
	}},
	{"FuzzCertificateRequest", func(d []byte) (func() []byte, bool) {
		var m certificateRequestMsg
		return m.marshal, m.unmarshal(d)
	}},
	{"FuzzCertificate", func(d []byte) (func() []byte, bool) {
		var m certificateMsg
		return m.marshal, m.unmarshal(d)
	}},
	{"FuzzCertificateVerify", func(d []byte) (func() []byte, bool) {
		var m certificateVerifyMsg
		return m.marshal, m.unmarshal(d)
	}},
	{"FuzzFinished", func(d []byte) (func() []byte, bool) {
		var m finishedMsg
		return m.marshal, m.unmarshal(d)
	}},
	{"FuzzKeyUpdate", func(d []byte) (func() []byte, bool) {
		var m keyUpdateMsg
		ok, _ := m.unmarshal(d)
		return m.marshal, ok
	}},
	{"FuzzNewSessionTicket", func(d []byte) (func() []byte, bool) {
		var m newSessionTicketMsg
		return nil, m.unmarshal(d)
	}},
}

// fuzzParser checks that a parser never panics and that what it accepts
// re-marshals into something it accepts again.
func fuzzParser(f *testing.F, name string) {
	var p parser
	for _, q := range parsers {
		if q.name == name {
			p = q
		}
	}
	for _, seed := range seedMessages(f)[name] {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		remarshal, ok := p.parse(data)
		if !ok || remarshal == nil {
			return
		}
		again := remarshal()
		if _, ok := p.parse(again); !ok {
			t.Fatalf("re-marshalled message does not parse: %x", again)
		}
	})
}

func FuzzClientHello(f *testing.F)         { fuzzParser(f, "FuzzClientHello") }
func FuzzServerHello(f *testing.F)         { fuzzParser(f, "FuzzServerHello") }
func FuzzEncryptedExtensions(f *testing.F) { fuzzParser(f, "FuzzEncryptedExtensions") }
func FuzzCertificateRequest(f *testing.F)  { fuzzParser(f, "FuzzCertificateRequest") }
func FuzzCertificate(f *testing.F)         { fuzzParser(f, "FuzzCertificate") }
func FuzzCertificateVerify(f *testing.F)   { fuzzParser(f, "FuzzCertificateVerify") }
func FuzzFinished(f *testing.F)            { fuzzParser(f, "FuzzFinished") }
func FuzzKeyUpdate(f *testing.F)           { fuzzParser(f, "FuzzKeyUpdate") }
func FuzzNewSessionTicket(f *testing.F)    { fuzzParser(f, "FuzzNewSessionTicket") }

// seedMessages returns valid messages of every type.
func seedMessages(tb testing.TB) map[string][][]byte {
	ch := &clientHelloMsg{
		vers: versionTLS12, random: make([]byte, 32), sessionID: make([]byte, 32),
		cipherSuites: defaultCipherSuites, compressionMethods: []uint8{0},
		serverName: "a.test", supportedGroups: []uint16{X25519, P256},
		signatureSchemes: supportedSignatureSchemes, signatureSchemesCert: []uint16{Ed25519},
		alpnProtocols: []string{"h2", "http/1.1"}, supportedVersions: []uint16{versionTLS13},
		cookie: []byte("cookie"), pskModes: []uint8{1}, postHandshakeAuth: true, hasKeyShares: true,
		keyShares:       []keyShare{{X25519, bytes.Repeat([]byte{9}, 32)}},
		pskIdentities:   []pskIdentity{{label: []byte("ticket"), obfuscatedTicketAge: 7}},
		pskBinders:      [][]byte{bytes.Repeat([]byte{1}, 32)},
		hasPreSharedKey: true,
	}
	sh := &serverHelloMsg{vers: versionTLS12, random: make([]byte, 32), sessionID: make([]byte, 32),
		cipherSuite: TLS_AES_128_GCM_SHA256, supportedVersion: versionTLS13,
		serverShare: keyShare{X25519, bytes.Repeat([]byte{9}, 32)}}
	hrr := &serverHelloMsg{vers: versionTLS12, random: helloRetryRequestRandom[:], cipherSuite: TLS_AES_128_GCM_SHA256,
		supportedVersion: versionTLS13, selectedGroup: P256, cookie: []byte("c")}
	ticket := marshalMessageBytes(typeNewSessionTicket, []byte{0, 0, 1, 0, 1, 2, 3, 4, 1, 7, 0, 2, 't', 'k', 0, 0})
	return map[string][][]byte{
		"FuzzClientHello":         {ch.marshal()},
		"FuzzServerHello":         {sh.marshal(), hrr.marshal()},
		"FuzzEncryptedExtensions": {(&encryptedExtensionsMsg{alpnProtocol: "h2"}).marshal(), (&encryptedExtensionsMsg{}).marshal()},
		"FuzzCertificateRequest": {(&certificateRequestMsg{signatureSchemes: supportedSignatureSchemes,
			signatureSchemesCert: []uint16{Ed25519}, certificateAuthorities: [][]byte{[]byte("dn")}}).marshal()},
		"FuzzCertificate":       {(&certificateMsg{chain: [][]byte{[]byte("cert1"), []byte("cert2")}}).marshal()},
		"FuzzCertificateVerify": {(&certificateVerifyMsg{scheme: Ed25519, signature: make([]byte, 64)}).marshal()},
		"FuzzFinished":          {(&finishedMsg{verifyData: make([]byte, 32)}).marshal()},
		"FuzzKeyUpdate":         {(&keyUpdateMsg{updateRequested: true}).marshal()},
		"FuzzNewSessionTicket":  {ticket},
	}
}

// TestMessageRoundTrips checks every seed message round-trips exactly and
// that no strict prefix of it parses.
func TestMessageRoundTrips(t *testing.T) {
	for name, msgs := range seedMessages(t) {
		var p parser
		for _, q := range parsers {
			if q.name == name {
				p = q
			}
		}
		for _, msg := range msgs {
			remarshal, ok := p.parse(msg)
			if !ok {
				t.Errorf("%s: seed does not parse", name)
				continue
			}
			if remarshal != nil && !bytes.Equal(remarshal(), msg) {
				t.Errorf("%s: round trip changed the message:\n%x\n%x", name, msg, remarshal())
			}
			for i := range len(msg) {
				if _, ok := p.parse(msg[:i]); ok {
					t.Errorf("%s: prefix of %d bytes parses", name, i)
				}
			}
		}
	}
}

// feedConn is a transport that reads from a fixed input and discards what
// is written.
type feedConn struct {
	r io.Reader
}

func (c *feedConn) Read(p []byte) (int, error)         { return c.r.Read(p) }
func (c *feedConn) Write(p []byte) (int, error)        { return len(p), nil }
func (c *feedConn) Close() error                       { return nil }
func (c *feedConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (c *feedConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (c *feedConn) SetDeadline(t time.Time) error      { return nil }
func (c *feedConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *feedConn) SetWriteDeadline(t time.Time) error { return nil }

// fuzzSecret keys the record-layer target.
var fuzzSecret = bytes.Repeat([]byte{0x42}, 32)

// recordConn returns a connection past its handshake whose read side is
// keyed with fuzzSecret under suite, reading from input.
func recordConn(input []byte, suite *cipherSuite) *Conn {
	c := newConn(&feedConn{r: bytes.NewReader(input)}, false)
	c.in.setTrafficSecret(suite, fuzzSecret)
	c.out.setTrafficSecret(suite, fuzzSecret)
	c.handshakeDone.Store(true)
	return c
}

// sealRecords protects records the way recordConn's peer would.
func sealRecords(suite *cipherSuite, records ...[]byte) []byte {
	w := new(bytes.Buffer)
	c := newConn(&feedConn{}, true)
	c.out.setTrafficSecret(suite, fuzzSecret)
	c.conn = writerConn{w}
	for _, r := range records {
		c.writeRecordLocked(recordType(r[0]), r[1:])
	}
	return w.Bytes()
}

type writerConn struct{ w io.Writer }

func (c writerConn) Read(p []byte) (int, error)         { return 0, io.EOF }
func (c writerConn) Write(p []byte) (int, error)        { return c.w.Write(p) }
func (c writerConn) Close() error                       { return nil }
func (c writerConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (c writerConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (c writerConn) SetDeadline(t time.Time) error      { return nil }
func (c writerConn) SetReadDeadline(t time.Time) error  { return nil }
func (c writerConn) SetWriteDeadline(t time.Time) error { return nil }

func recordSeeds() [][]byte {
	suite := cipherSuiteByID(TLS_AES_128_GCM_SHA256)
	return [][]byte{
		sealRecords(suite, append([]byte{byte(recordTypeApplicationData)}, "hello"...)),
		sealRecords(suite, []byte{byte(recordTypeHandshake), typeKeyUpdate, 0, 0, 1, 1},
			append([]byte{byte(recordTypeApplicationData)}, "after update"...)),
		sealRecords(suite, []byte{byte(recordTypeAlert), 1, 0}),
		sealRecords(suite, append([]byte{byte(recordTypeHandshake)}, marshalMessageBytes(typeNewSessionTicket,
			[]byte{0, 0, 1, 0, 1, 2, 3, 4, 1, 7, 0, 2, 't', 'k', 0, 0})...)),
	}
}

// FuzzRecordLayer feeds arbitrary bytes to Read on an established
// connection: it must end in data or an error, never a panic or a loop.
func FuzzRecordLayer(f *testing.F) {
	for _, s := range recordSeeds() {
		f.Add(s)
	}
	suite := cipherSuiteByID(TLS_AES_128_GCM_SHA256)
	f.Fuzz(func(t *testing.T, data []byte) {
		c := recordConn(data, suite)
		buf := make([]byte, 1024)
		for range 1000 {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
		t.Fatal("Read neither ran out of input nor failed")
	})
}

// handshakeSeeds are first flights: a ClientHello (for the server target)
// and a ServerHello (for the client target), as records.
func handshakeSeeds(tb testing.TB) (client, server [][]byte) {
	rec := func(msgs ...[]byte) []byte {
		var out []byte
		for _, m := range msgs {
			out = append(out, byte(recordTypeHandshake), 3, 3, byte(len(m)>>8), byte(len(m)))
			out = append(out, m...)
		}
		return out
	}
	msgs := seedMessages(tb)
	for _, g := range []uint16{X25519, X25519MLKEM768, P256} {
		_, ek, _ := keyExchangeByID(g).generate()
		ch := &clientHelloMsg{vers: versionTLS12, random: make([]byte, 32), sessionID: make([]byte, 32),
			cipherSuites: defaultCipherSuites, compressionMethods: []uint8{0}, supportedGroups: []uint16{g},
			signatureSchemes: supportedSignatureSchemes, supportedVersions: []uint16{versionTLS13},
			hasKeyShares: true, keyShares: []keyShare{{g, ek}}}
		client = append(client, rec(ch.marshal()))
	}
	server = append(server, rec(msgs["FuzzServerHello"]...))
	return client, server
}

// FuzzServerHandshake feeds arbitrary client bytes to a server handshake.
func FuzzServerHandshake(f *testing.F) {
	seeds, _ := handshakeSeeds(f)
	for _, s := range seeds {
		f.Add(s)
	}
	p := pki(f)
	cfg := p.serverConfig(p.p256)
	cfg.Groups = allGroups
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Server(&feedConn{r: bytes.NewReader(data)}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if c.Handshake(context.Background()) == nil {
			t.Fatal("handshake succeeded on fuzzed input")
		}
	})
}

// FuzzClientHandshake feeds arbitrary server bytes to a client handshake.
func FuzzClientHandshake(f *testing.F) {
	_, seeds := handshakeSeeds(f)
	for _, s := range seeds {
		f.Add(s)
	}
	p := pki(f)
	cfg := p.clientConfig()
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Client(&feedConn{r: bytes.NewReader(data)}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if c.Handshake(context.Background()) == nil {
			t.Fatal("handshake succeeded on fuzzed input")
		}
	})
}

// TestWriteFuzzCorpus writes the seed corpora under testdata/fuzz when run
// with -update-corpus.
func TestWriteFuzzCorpus(t *testing.T) {
	if !*updateCorpus {
		t.Skip("run with -update-corpus to rewrite testdata/fuzz")
	}
	client, server := handshakeSeeds(t)
	all := seedMessages(t)
	all["FuzzRecordLayer"] = recordSeeds()
	all["FuzzServerHandshake"] = client
	all["FuzzClientHandshake"] = server
	for name, seeds := range all {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(s)))
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
