package tlshost_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/wasitls/wasitls/runtime/tlshost"
	"golang.org/x/crypto/cryptobyte"
)

// TestGuestServerRetryHelloCounts: clients that make a wasm guest server
// send a HelloRetryRequest (their first ClientHello, 100 bytes, has a key
// share for no group the server implements) and answer it with a second
// ClientHello of 9,000 PSK identities (63 KB, which both backends parse
// into some 5 times its bytes and keep while the handshake runs), then
// send nothing, make the host hold about what the guest's peers may make
// it hold (Config.PeerCertBytes, 4 MiB), on both backends: the second
// ClientHello counts as the first does, its bytes times the parse factor,
// and the handshakes past the limit fail naming it. Before, only the
// first ClientHello counted parsed and the second at its bytes: all 48
// clients were pending, each counted some 66 KB, and the host's heap grew
// by 21 to 25 MiB, 5 to 6 times the limit.
func TestGuestServerRetryHelloCounts(t *testing.T) {
	const limit, clients, psks = 4 << 20, 48, 9000
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		g := startGuestWith(t, tlshost.Config{BackendName: backend, PeerCertBytes: limit}, p, giveUpGuest, nil, "server", "127.0.0.1:0", "0", "1000")
		port := g.port(t)
		before := heapAfterGC()
		var second int
		for range clients {
			raw, err := net.Dial("tcp", "127.0.0.1:"+port)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			second, err = retryClient(raw, psks)
			if err != nil {
				t.Fatal(err)
			}
		}
		// At most limit/(13 × the second hello) of them are pending;
		// the others fail naming the limit.
		if err := g.countWithin(20*time.Second, "peer certificate bytes", clients-limit/(second*13)-1); err != nil {
			t.Error(err)
		}
		grown := int64(heapAfterGC()) - int64(before)
		t.Logf("%d clients of %d-byte second ClientHellos: the host's heap grew by %d KiB", clients, second, grown>>10)
		if grown > 2*limit {
			t.Errorf("%d clients of %d-byte second ClientHellos made the host hold %d KiB, more than twice the %d KiB allowed", clients, second, grown>>10, limit>>10)
		}
	})
}

// retryClient sends a TLS 1.3 ClientHello offering X25519 with a key
// share for another group only, waits for the HelloRetryRequest and
// answers it with a ClientHello that repeats the first with an X25519
// share and psks PSK identities; it returns the second's length in
// records. Neither ClientHello offers psk_dhe_ke, so no server looks at
// the identities: they are bytes to parse.
func retryClient(c net.Conn, psks int) (int, error) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return 0, err
	}
	random := make([]byte, 32)
	rand.Read(random)
	if _, err := c.Write(retryHello(random, 0x3000, []byte{1}, 1)); err != nil {
		return 0, err
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var hdr [5]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return 0, fmt.Errorf("no HelloRetryRequest: %w", err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(c, body); err != nil {
		return 0, fmt.Errorf("no HelloRetryRequest: %w", err)
	}
	hrr := sha256.Sum256([]byte("HelloRetryRequest"))
	if hdr[0] != 22 || len(body) < 38 || body[0] != 2 || !bytes.Equal(body[6:38], hrr[:]) {
		return 0, errors.New("the server answered the first ClientHello with no HelloRetryRequest")
	}
	second := retryHello(random, 0x001d, k.PublicKey().Bytes(), psks)
	_, err = c.Write(second)
	return len(second), err
}

// retryHello is a TLS 1.3 ClientHello, in records, of the given random,
// supporting X25519 and group 0x3000, with one key share, and psks PSK
// identities of one byte behind one binder under psk_ke alone.
func retryHello(random []byte, group uint16, share []byte, psks int) []byte {
	var b cryptobyte.Builder
	b.AddUint8(1) // client_hello
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(0x0303)
		b.AddBytes(random)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(random) }) // legacy_session_id
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(0x1301) })
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			addExtension(b, 43, func(b *cryptobyte.Builder) { // supported_versions
				b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(0x0304) })
			})
			addExtension(b, 10, func(b *cryptobyte.Builder) { // supported_groups
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(0x3000); b.AddUint16(0x001d) })
			})
			addExtension(b, 13, func(b *cryptobyte.Builder) { // signature_algorithms
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(0x0804); b.AddUint16(0x0403) })
			})
			addExtension(b, 51, func(b *cryptobyte.Builder) { // key_share
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16(group)
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(share) })
				})
			})
			addExtension(b, 45, func(b *cryptobyte.Builder) { // psk_key_exchange_modes: psk_ke
				b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
			})
			addExtension(b, 41, func(b *cryptobyte.Builder) { // pre_shared_key, the last
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					for i := range psks {
						b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(byte(i)) })
						b.AddUint32(0)
					}
				})
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(make([]byte, 32)) })
				})
			})
		})
	})
	return handshakeRecords(b.BytesOrPanic(), 0x0303)
}
