package tlshost_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/runtime/tlshost"
	"golang.org/x/crypto/cryptobyte"
)

// TestGuestServerParsedHelloCounts: clients that each send a ClientHello
// of thousands of entries, 15,000 ALPN protocols of 3 bytes (61 KB) or
// 8,000 key shares of one byte (56 KB), and then nothing, to a wasm guest
// server whose peers may make the host hold 4 MiB
// (Config.PeerCertBytes), make the host hold about that, on both
// backends: what the backend keeps parsed of the ClientHello counts with
// the bytes read while the handshake runs, and the handshakes past the
// limit fail naming it. Before, only the bytes read counted: 48 such
// clients were all pending, holding 8 times their bytes each, some 20
// MiB.
func TestGuestServerParsedHelloCounts(t *testing.T) {
	const limit, clients = 4 << 20, 48
	p := newGuestPKI(t)
	var protos []string
	for i := range 15000 {
		protos = append(protos, fmt.Sprintf("%03d", i%1000))
	}
	hellos := map[string][]byte{
		"alpn":       clientHelloBytes(t, protos),
		"key-shares": keySharesHello(8000),
	}
	eachBackend(t, func(t *testing.T, backend string) {
		for name, hello := range hellos {
			t.Run(name, func(t *testing.T) {
				g := startGuestWith(t, tlshost.Config{BackendName: backend, PeerCertBytes: limit}, p, giveUpGuest, nil, "server", "127.0.0.1:0", "0", "1000")
				port := g.port(t)
				before := heapAfterGC()
				for range clients {
					raw, err := net.Dial("tcp", "127.0.0.1:"+port)
					if err != nil {
						t.Fatal(err)
					}
					defer raw.Close()
					if _, err := raw.Write(hello); err != nil {
						t.Fatal(err)
					}
				}
				// At most limit/(13 × the hello) of them are pending;
				// the others fail naming the limit.
				if err := g.countWithin(20*time.Second, "peer certificate bytes", clients-limit/(len(hello)*13)-1); err != nil {
					t.Error(err)
				}
				grown := int64(heapAfterGC()) - int64(before)
				t.Logf("%d clients of %d-byte ClientHellos: the host's heap grew by %d KiB", clients, len(hello), grown>>10)
				if grown > 2*limit {
					t.Errorf("%d clients of %d-byte ClientHellos made the host hold %d KiB, more than twice the %d KiB allowed", clients, len(hello), grown>>10, limit>>10)
				}
			})
		}
	})
}

// keySharesHello is a TLS 1.3 ClientHello, in records, offering n groups
// nobody implements with a key share of one byte each, then X25519 with
// a real share.
func keySharesHello(n int) []byte {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	u16s := func(b *cryptobyte.Builder, v ...uint16) {
		for _, x := range v {
			b.AddUint16(x)
		}
	}
	var b cryptobyte.Builder
	b.AddUint8(1) // client_hello
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(0x0303)
		b.AddBytes(make([]byte, 32)) // random
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(make([]byte, 32)) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { u16s(b, 0x1301) })
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			addExtension(b, 43, func(b *cryptobyte.Builder) { // supported_versions
				b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { u16s(b, 0x0304) })
			})
			addExtension(b, 10, func(b *cryptobyte.Builder) { // supported_groups
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					for i := range n {
						u16s(b, uint16(0x3000+i))
					}
					u16s(b, 0x001d)
				})
			})
			addExtension(b, 13, func(b *cryptobyte.Builder) { // signature_algorithms
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { u16s(b, 0x0804, 0x0403) })
			})
			addExtension(b, 51, func(b *cryptobyte.Builder) { // key_share
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					for i := range n {
						u16s(b, uint16(0x3000+i), 1)
						b.AddUint8(1)
					}
					u16s(b, 0x001d)
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(k.PublicKey().Bytes()) })
				})
			})
		})
	})
	return handshakeRecords(b.BytesOrPanic(), 0x0301)
}

// addExtension adds to b the extension of type typ whose body is body.
func addExtension(b *cryptobyte.Builder, typ uint16, body cryptobyte.BuilderContinuation) {
	b.AddUint16(typ)
	b.AddUint16LengthPrefixed(body)
}

// handshakeRecords is the handshake message msg in plaintext records of
// at most 16 KiB, of the legacy version vers (a server takes a second
// ClientHello in records of TLS 1.2's, 0x0303, only).
func handshakeRecords(msg []byte, vers uint16) []byte {
	var out []byte
	for len(msg) > 0 {
		m := min(len(msg), 1<<14)
		out = append(out, 22, byte(vers>>8), byte(vers), byte(m>>8), byte(m))
		out = append(out, msg[:m]...)
		msg = msg[m:]
	}
	return out
}

// clientHelloBytes is what a crypto/tls client offering the ALPN
// protocols protos sends first: its ClientHello, in records.
func clientHelloBytes(t *testing.T, protos []string) []byte {
	t.Helper()
	c := &helloCapture{}
	tls.Client(c, &tls.Config{ServerName: "localhost", NextProtos: protos}).Handshake()
	if c.buf.Len() == 0 {
		t.Fatal("the client sent no ClientHello")
	}
	return c.buf.Bytes()
}

// A helloCapture is a connection that keeps what is written to it and
// ends every read: a client's handshake over it writes its ClientHello
// and fails.
type helloCapture struct {
	net.Conn
	buf bytes.Buffer
}

func (c *helloCapture) Write(p []byte) (int, error)      { return c.buf.Write(p) }
func (c *helloCapture) Read([]byte) (int, error)         { return 0, errors.New("no server") }
func (c *helloCapture) Close() error                     { return nil }
func (c *helloCapture) SetDeadline(time.Time) error      { return nil }
func (c *helloCapture) SetReadDeadline(time.Time) error  { return nil }
func (c *helloCapture) SetWriteDeadline(time.Time) error { return nil }

// TestGuestServerHelloCountReturned: what a ClientHello counts parsed is
// given back as the handshake ends. A wasm guest server whose peers may
// make the host hold 256 KiB keeps 24 ordinary clients' connections
// (1.5 KB ClientHellos, counted 13 times while their handshakes ran,
// 470 KB together), and serves the next client, on both backends; so too
// when each client's first ClientHello has no share of the one group the
// host allows, and a HelloRetryRequest asks it for a second ClientHello
// (counted 13 times too, see TestGuestServerRetryHelloCounts).
func TestGuestServerHelloCountReturned(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		for name, retry := range map[string]bool{"one-hello": false, "retry": true} {
			t.Run(name, func(t *testing.T) {
				cfg := tlshost.Config{BackendName: backend, PeerCertBytes: 256 << 10}
				client := &tls.Config{ServerName: "localhost", RootCAs: p.ca.Pool()}
				if retry {
					cfg.Groups = []uint16{uint16(tls.CurveP256)}
					client.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256}
				}
				g := startGuestWith(t, cfg, p, giveUpGuest, nil, "server", "127.0.0.1:0", "0", "1")
				port := g.port(t)
				for i := range 24 {
					c, err := tls.Dial("tcp", "127.0.0.1:"+port, client)
					if err != nil {
						t.Fatalf("client %d: %v\n%s", i, err, g.out.String())
					}
					defer c.Close()
					if got := c.ConnectionState().HelloRetryRequest; got != retry {
						t.Fatalf("client %d: HelloRetryRequest %v, want %v", i, got, retry)
					}
				}
				if err := helloClient(p, port, 10*time.Second); err != nil {
					t.Fatalf("the 25th client: %v\n%s", err, g.out.String())
				}
				g.waitExit(t, 10*time.Second)
			})
		}
	})
}

// TestGuestServerKeptHellosCount: the copy of a ClientHello's lists the
// host makes for a guest server that asked for it (receive-client-hello)
// counts against Config.PeerCertBytes for as long as the guest holds it,
// the future's value or the client-hello, after the handshake ended too.
// A wasm guest server under 1 MiB that takes the client-hello of each of
// 24 clients offering 15,000 ALPN protocols of 3 bytes (61 KB, a 75 KB
// copy), never finishes the handshakes and keeps everything once the host
// gave up on them (its handshake timeout) takes 3 of them (beside the
// copies, a ClientHello counts 13 times while its handshake runs), the
// rest failing naming the limit, on both backends. Before, the copies
// counted nowhere once the handshakes ended: 23 to 24 were taken, and the
// default 4,096 TLS connections of a guest kept some 300 MiB of them past
// the 64 MiB default.
func TestGuestServerKeptHellosCount(t *testing.T) {
	const limit, n = 1 << 20, 24
	var protos []string
	for i := range 15000 {
		protos = append(protos, fmt.Sprintf("%03d", i%1000))
	}
	hello := clientHelloBytes(t, protos)
	eachBackend(t, func(t *testing.T, backend string) {
		cfg := tlshost.Config{BackendName: backend, PeerCertBytes: limit, HandshakeTimeout: 300 * time.Millisecond}
		g := startPeerChains(t, cfg, "hellos", fmt.Sprint(n))
		addr := strings.TrimPrefix(g.next(t, "listening on "), "listening on ")
		before := heapAfterGC()
		go func() {
			for range n {
				raw, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer raw.Close()
				raw.Write(hello)
			}
			<-t.Context().Done()
		}()
		out := g.next(t, "hellos ")
		grown := int64(heapAfterGC()) - int64(before)
		t.Logf("%s; host heap grew by %d KiB", out, grown>>10)
		var taken int
		fmt.Sscanf(out, "hellos %d of", &taken)
		if max := limit / (75 << 10); taken < 1 || taken > max {
			t.Errorf("%s: want 1 to %d client-hellos taken", out, max)
		}
		if taken < n {
			mustContain(t, out, "tlshost.Config.PeerCertBytes")
		}
		if bound := int64(limit + n*32<<10); grown > bound {
			t.Errorf("the host's heap grew by %d KiB for a guest whose peers' handshakes may hold %d KiB, want under %d KiB", grown>>10, limit>>10, bound>>10)
		}
		g.end(t)
	})
}

// TestGuestClientKeptRequestsCount: the copy of a certificate request the
// host makes for a guest client that asked for it
// (receive-client-identity-request) counts against Config.PeerCertBytes
// for as long as the guest holds it, the future's value or the
// client-identity-request, after the handshake ended too. A wasm guest
// client under 1 MiB that takes the request of each of 24 handshakes with
// a server naming a CA of 50 KB (a 50 KB copy), never answers and keeps
// everything once the host gave up on the handshakes (its handshake
// timeout) takes 13 of them, the rest failing naming the limit, on both
// backends. Before, the copies counted nowhere once the handshakes ended:
// all 24 were taken.
func TestGuestClientKeptRequestsCount(t *testing.T) {
	const limit, n = 1 << 20, 24
	leaf := bigCertificate(t, 0)
	cas := x509.NewCertPool()
	cas.AddCert(bigNameCA(t, 4500))
	port := serveTLS(t, &tls.Config{Certificates: []tls.Certificate{leaf}, ClientAuth: tls.RequestClientCert, ClientCAs: cas})
	eachBackend(t, func(t *testing.T, backend string) {
		cfg := tlshost.Config{BackendName: backend, RootCAs: pool(t, leaf), PeerCertBytes: limit, HandshakeTimeout: 300 * time.Millisecond}
		g := startPeerChains(t, cfg, "requests", "localhost", port, fmt.Sprint(n))
		before := heapAfterGC()
		out := g.next(t, "requests ")
		grown := int64(heapAfterGC()) - int64(before)
		t.Logf("%s; host heap grew by %d KiB", out, grown>>10)
		var taken int
		fmt.Sscanf(out, "requests %d of", &taken)
		if taken < 1 || taken >= n {
			t.Errorf("%s: want 1 to %d client-identity-requests taken", out, n-1)
		}
		mustContain(t, out, "tlshost.Config.PeerCertBytes")
		if bound := int64(limit + n*32<<10); grown > bound {
			t.Errorf("the host's heap grew by %d KiB for a guest whose peers' handshakes may hold %d KiB, want under %d KiB", grown>>10, limit>>10, bound>>10)
		}
		g.end(t)
	})
}

// bigNameCA is a CA certificate whose subject holds attrs organizational
// units of one letter, some 11 bytes each.
func bigNameCA(t *testing.T, attrs int) *x509.Certificate {
	t.Helper()
	name := pkix.Name{CommonName: "big"}
	for range attrs {
		name.ExtraNames = append(name.ExtraNames, pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: "a"})
	}
	cert := selfSigned(t, &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: name,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	})
	c, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}
