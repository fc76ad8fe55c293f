package circlpq

import (
	"bytes"
	"errors"
	"hash"
	"net"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/syncbuf"
	"github.com/wasitls/wasitls/internal/tls13records"
)

// A hostile client against the engine server, past its ClientHello: it
// reads the server's flight with the secrets the server logs, and seals
// what it sends under the client handshake secret, messages no engine
// client sends on demand.

// keyLogSecret returns the secret of label the key log keylog holds,
// which the server writes while the test reads it.
func keyLogSecret(t *testing.T, keylog *syncbuf.Buffer, label string) []byte {
	t.Helper()
	s, err := tls13records.KeyLogSecret(keylog.String(), label)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rawClient is a client that has read the engine server's first flight.
type rawClient struct {
	raw        net.Conn
	server     *Conn
	done       chan error // the server's handshake result
	sealer     *tls13records.Sealer
	suite      *cipherSuite
	secret     []byte    // client handshake traffic secret
	transcript hash.Hash // through the server's Finished
	requested  bool      // the server asked for a certificate
}

// finished is the client Finished the transcript calls for.
func (rc *rawClient) finished() []byte {
	return (&finishedMsg{verifyData: rc.suite.finishedHash(rc.secret, rc.transcript)}).marshal()
}

// dialRawClient sends a ClientHello for X25519 to an engine server of
// configuration cfg and reads its flight through its Finished.
func dialRawClient(t *testing.T, cfg *backends.ServerConfig) *rawClient {
	t.Helper()
	client, server := tcpPair(t)
	var keylog syncbuf.Buffer
	cfg.KeyLog = &keylog
	s, hs := engineServer(t, server, cfg)
	rc := &rawClient{raw: client, server: s, done: make(chan error, 1), suite: cipherSuiteByID(TLS_AES_128_GCM_SHA256)}
	go func() { rc.done <- hs() }()
	ch := testClientHello(t, X25519).marshal()
	if err := writeRawRecord(client, recordTypeHandshake, ch); err != nil {
		t.Fatal(err)
	}
	rc.transcript = rc.suite.newHash()
	rc.transcript.Write(ch)
	var open *tls13records.Sealer
	var hand []byte
	for {
		typ, body, err := readRawRecord(client)
		if err != nil {
			t.Fatalf("reading the server's flight: %v", err)
		}
		switch {
		case typ == recordTypeChangeCipherSpec:
			continue
		case typ == recordTypeHandshake && open == nil:
			rc.transcript.Write(body) // the ServerHello
			rc.secret = keyLogSecret(t, &keylog, keyLogClientHandshake)
			if rc.sealer, err = tls13records.NewSealer(TLS_AES_128_GCM_SHA256, rc.secret); err != nil {
				t.Fatal(err)
			}
			if open, err = tls13records.NewSealer(TLS_AES_128_GCM_SHA256, keyLogSecret(t, &keylog, keyLogServerHandshake)); err != nil {
				t.Fatal(err)
			}
			continue
		case typ != recordTypeApplicationData || open == nil:
			t.Fatalf("server sent record type %d in its flight", typ)
		}
		inner, err := open.Open(append([]byte{byte(typ), 3, 3, byte(len(body) >> 8), byte(len(body))}, body...))
		if err != nil {
			t.Fatalf("opening the server's flight: %v", err)
		}
		inner = bytes.TrimRight(inner, "\x00")
		hand = append(hand, inner[:len(inner)-1]...)
		for len(hand) >= 4 {
			n := 4 + (int(hand[1])<<16 | int(hand[2])<<8 | int(hand[3]))
			if len(hand) < n {
				break
			}
			msg := hand[:n]
			hand = hand[n:]
			rc.transcript.Write(msg)
			switch msg[0] {
			case typeCertificateRequest:
				rc.requested = true
			case typeFinished:
				return rc
			}
		}
	}
}

// wantServerAlert checks that the server's handshake failed with a local
// alert a whose message holds why, and that it sent a that alert.
func (rc *rawClient) wantServerAlert(t *testing.T, a Alert, why string) {
	t.Helper()
	var err error
	select {
	case err = <-rc.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("server handshake still running; want a %v alert", a)
	}
	var ae *AlertError
	if !errors.As(err, &ae) || ae.Remote || ae.Alert != a || !strings.Contains(err.Error(), why) {
		t.Fatalf("server handshake = %v; want a local %v alert: %s", err, a, why)
	}
	if rc.server.State().HandshakeComplete {
		t.Error("handshake reported complete")
	}
	rc.server.in.Lock()
	held := len(rc.server.hand) + cap(rc.server.rawIn)
	rc.server.in.Unlock()
	if held != 0 {
		t.Errorf("the failed server holds %d bytes of read buffers", held)
	}
}

// TestHostileClientSecondFlight sends the engine server second flights a
// client must not send. Each fails the handshake with its alert, and the
// server holds no read buffer and no goroutine after.
func TestHostileClientSecondFlight(t *testing.T) {
	p := pki(t)
	before := goruntime.NumGoroutine()
	defer waitGoroutines(t, before)
	keyUpdate := (&keyUpdateMsg{}).marshal()
	emptyCert := (&certificateMsg{}).marshal()
	clientCert := (&certificateMsg{chain: p.client.Identity().Chain}).marshal()
	// announce is the header of a message of typ announcing n bytes.
	announce := func(typ uint8, n int) []byte { return []byte{typ, byte(n >> 16), byte(n >> 8), byte(n)} }
	for _, tc := range []struct {
		name    string
		require bool // the server asks for a client certificate
		attack  func(rc *rawClient) []byte
		want    Alert
		why     string
	}{
		{name: "control", attack: func(rc *rawClient) []byte {
			return rc.sealer.Seal(byte(recordTypeHandshake), rc.finished())
		}},
		// RFC 8446, Section 5.1: a handshake message must not span a key
		// change, nor may one follow the Finished in its record.
		{name: "finished-then-key-update-fragment", attack: func(rc *rawClient) []byte {
			return rc.sealer.Seal(byte(recordTypeHandshake), append(rc.finished(), keyUpdate[:2]...))
		}, want: alertUnexpectedMessage, why: "spans a key change"},
		{name: "finished-then-key-update", attack: func(rc *rawClient) []byte {
			return rc.sealer.Seal(byte(recordTypeHandshake), append(rc.finished(), keyUpdate...))
		}, want: alertUnexpectedMessage, why: "spans a key change"},
		{name: "key-update-before-finished", attack: func(rc *rawClient) []byte {
			return rc.sealer.Seal(byte(recordTypeHandshake), keyUpdate)
		}, want: alertUnexpectedMessage, why: "expected client Finished"},
		{name: "unrequested-certificate", attack: func(rc *rawClient) []byte {
			return rc.sealer.Seal(byte(recordTypeHandshake), emptyCert)
		}, want: alertUnexpectedMessage, why: "expected client Finished"},
		{name: "application-data-before-finished", attack: func(rc *rawClient) []byte {
			return rc.sealer.Seal(byte(recordTypeApplicationData), []byte("early"))
		}, want: alertUnexpectedMessage, why: "application data"},
		{name: "protected-change-cipher-spec", attack: func(rc *rawClient) []byte {
			return rc.sealer.Seal(byte(recordTypeChangeCipherSpec), []byte{1})
		}, want: alertUnexpectedMessage, why: "unexpected record type"},
		// crypto/tls takes a run of 16 change_cipher_spec records in the
		// handshake, not 17 (maxUselessRecords).
		{name: "change-cipher-spec-run", attack: func(rc *rawClient) []byte {
			return append(bytes.Repeat(changeCipherSpec, cryptoTLSUselessRecords), rc.sealer.Seal(byte(recordTypeHandshake), rc.finished())...)
		}},
		{name: "change-cipher-spec-flood", attack: func(rc *rawClient) []byte {
			return append(bytes.Repeat(changeCipherSpec, cryptoTLSUselessRecords+1), rc.sealer.Seal(byte(recordTypeHandshake), rc.finished())...)
		}, want: alertUnexpectedMessage, why: "too many records without data"},
		{name: "empty-records-flood", attack: func(rc *rawClient) []byte {
			var out []byte
			for range maxEmptyRecords + 1 {
				out = append(out, rc.sealer.Seal(byte(recordTypeApplicationData), nil)...)
			}
			return out
		}, want: alertUnexpectedMessage, why: "application data during the handshake"},
		{name: "oversized-protected-record", attack: func(rc *rawClient) []byte {
			n := maxCiphertext + 1
			return append([]byte{byte(recordTypeApplicationData), 3, 3, byte(n >> 8), byte(n)}, make([]byte, n)...)
		}, want: alertRecordOverflow, why: "oversized record"},
		{name: "finished-in-pieces-then-key-update", attack: func(rc *rawClient) []byte {
			fin := rc.finished()
			return append(rc.sealer.Seal(byte(recordTypeHandshake), fin[:10]),
				rc.sealer.Seal(byte(recordTypeHandshake), append(fin[10:], keyUpdate[:1]...))...)
		}, want: alertUnexpectedMessage, why: "spans a key change"},
		{name: "wrong-finished", attack: func(rc *rawClient) []byte {
			fin := rc.finished()
			fin[len(fin)-1] ^= 1
			return rc.sealer.Seal(byte(recordTypeHandshake), fin)
		}, want: alertDecryptError, why: "invalid client Finished"},
		{name: "short-finished", attack: func(rc *rawClient) []byte {
			fin := rc.finished()
			return rc.sealer.Seal(byte(recordTypeHandshake), marshalMessageBytes(typeFinished, fin[4:20]))
		}, want: alertDecryptError, why: "invalid client Finished"}, // as crypto/tls
		{name: "finished-without-certificate", require: true, attack: func(rc *rawClient) []byte {
			return rc.sealer.Seal(byte(recordTypeHandshake), rc.finished())
		}, want: alertUnexpectedMessage, why: "expected client Certificate"},
		{name: "empty-certificate-required", require: true, attack: func(rc *rawClient) []byte {
			return rc.sealer.Seal(byte(recordTypeHandshake), emptyCert)
		}, want: alertCertificateRequired, why: "sent no certificate"},
		// The bounds of docs/security.md: a Certificate announced past
		// 256 KiB when asked for, past 64 KiB when not, fails at its
		// header.
		{name: "requested-certificate-over-bound", require: true, attack: func(rc *rawClient) []byte {
			return rc.sealer.Seal(byte(recordTypeHandshake), announce(typeCertificate, maxHandshake+1))
		}, want: alertUnexpectedMessage, why: "exceeds the limit of 262144"},
		{name: "unrequested-certificate-over-bound", attack: func(rc *rawClient) []byte {
			return rc.sealer.Seal(byte(recordTypeHandshake), announce(typeCertificate, maxHandshakeOther+1))
		}, want: alertUnexpectedMessage, why: "exceeds the limit of 65536"},
		{name: "certificate-verify-empty", require: true, attack: func(rc *rawClient) []byte {
			return rc.sealer.Seal(byte(recordTypeHandshake), append(clientCert, marshalMessageBytes(typeCertificateVerify, []byte{4, 3, 0, 0})...))
		}, want: alertDecodeError, why: "malformed client CertificateVerify"},
		{name: "certificate-verify-short-signature", require: true, attack: func(rc *rawClient) []byte {
			cv := &certificateVerifyMsg{scheme: ECDSAWithP256AndSHA256, signature: []byte{0x30, 0}}
			return rc.sealer.Seal(byte(recordTypeHandshake), append(clientCert, cv.marshal()...))
		}, want: alertDecryptError, why: "signature"},
		{name: "certificate-verify-scheme-of-another-key", require: true, attack: func(rc *rawClient) []byte {
			cv := &certificateVerifyMsg{scheme: Ed25519, signature: make([]byte, 64)}
			return rc.sealer.Seal(byte(recordTypeHandshake), append(clientCert, cv.marshal()...))
		}, want: alertIllegalParameter, why: "does not match the certificate key"},
		{name: "finished-without-certificate-verify", require: true, attack: func(rc *rawClient) []byte {
			return rc.sealer.Seal(byte(recordTypeHandshake), append(clientCert, rc.finished()...))
		}, want: alertUnexpectedMessage, why: "expected client CertificateVerify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := p.serverConfig(p.p256)
			if tc.require {
				cfg.ClientAuth = backends.RequireClientCert
			}
			rc := dialRawClient(t, cfg)
			if rc.requested != tc.require {
				t.Fatalf("certificate requested: %v; want %v", rc.requested, tc.require)
			}
			if _, err := rc.raw.Write(tc.attack(rc)); err != nil {
				t.Fatal(err)
			}
			if tc.want == 0 {
				if err := <-rc.done; err != nil {
					t.Fatalf("control: server handshake = %v", err)
				}
				return
			}
			rc.wantServerAlert(t, tc.want, tc.why)
		})
	}
}
