package stdtls_test

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math/big"
	"net"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/internal/testnet"
)

// A hostile TLS 1.3 server, scripted after its handshake: crypto/tls runs
// the handshake (tickets off, so it writes nothing after it), tells its
// application traffic secret through KeyLogWriter, and the test then
// writes records of its own under that secret on the raw socket:
// messages no crypto/tls server sends on demand.

// recordSealer seals TLS 1.3 records (RFC 8446, Section 5.2) under one
// traffic secret.
type recordSealer struct {
	aead cipher.AEAD
	iv   []byte
	seq  uint64
}

// expandLabel is HKDF-Expand-Label (RFC 8446, Section 7.1) with an empty
// context.
func expandLabel(h func() hash.Hash, secret []byte, label string, n int) []byte {
	full := "tls13 " + label
	info := append([]byte{byte(n >> 8), byte(n), byte(len(full))}, full...)
	info = append(info, 0)
	out, err := hkdf.Expand(h, secret, string(info), n)
	if err != nil {
		panic(err)
	}
	return out
}

func newRecordSealer(suite uint16, secret []byte) (*recordSealer, error) {
	var aead cipher.AEAD
	var err error
	h := sha256.New
	switch suite {
	case tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384:
		n := 16
		if suite == tls.TLS_AES_256_GCM_SHA384 {
			h, n = sha512.New384, 32
		}
		block, berr := aes.NewCipher(expandLabel(h, secret, "key", n))
		if berr != nil {
			return nil, berr
		}
		aead, err = cipher.NewGCM(block)
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		aead, err = chacha20poly1305.New(expandLabel(h, secret, "key", chacha20poly1305.KeySize))
	default:
		return nil, fmt.Errorf("cipher suite %#04x is not a TLS 1.3 suite", suite)
	}
	if err != nil {
		return nil, err
	}
	return &recordSealer{aead: aead, iv: expandLabel(h, secret, "iv", 12)}, nil
}

// seal returns a record carrying content of type typ.
func (s *recordSealer) seal(typ byte, content []byte) []byte {
	inner := append(append([]byte(nil), content...), typ)
	n := len(inner) + s.aead.Overhead()
	hdr := []byte{23, 3, 3, byte(n >> 8), byte(n)}
	nonce := append([]byte(nil), s.iv...)
	for i := range 8 {
		nonce[len(nonce)-1-i] ^= byte(s.seq >> (8 * i))
	}
	s.seq++
	return s.aead.Seal(hdr, nonce, inner, hdr)
}

// newSessionTicket is a NewSessionTicket message (RFC 8446, Section
// 4.6.1) of an hour's lifetime carrying ticket.
func newSessionTicket(nonce byte, ticket []byte) []byte {
	body := binary.BigEndian.AppendUint32(nil, 3600)
	body = binary.BigEndian.AppendUint32(body, 0x01020304)
	body = append(body, 1, nonce)
	body = binary.BigEndian.AppendUint16(body, uint16(len(ticket)))
	body = append(body, ticket...)
	body = append(body, 0, 0) // no extensions
	return append([]byte{4, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
}

// scriptedTLS13Server completes a TLS 1.3 handshake as a crypto/tls
// server presenting chain, then hands script a sealer for its next
// records, on raw.
func scriptedTLS13Server(raw net.Conn, chain [][]byte, key any, script func(raw net.Conn, s *recordSealer) error) error {
	var keylog bytes.Buffer
	s := tls.Server(raw, &tls.Config{
		Certificates:           []tls.Certificate{{Certificate: chain, PrivateKey: key}},
		MinVersion:             tls.VersionTLS13,
		SessionTicketsDisabled: true, // nothing written after the handshake
		KeyLogWriter:           &keylog,
	})
	if err := s.Handshake(); err != nil {
		return err
	}
	var secret []byte
	sc := bufio.NewScanner(&keylog)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "SERVER_TRAFFIC_SECRET_0" {
			var err error
			if secret, err = hex.DecodeString(f[2]); err != nil {
				return err
			}
		}
	}
	if secret == nil {
		return fmt.Errorf("no SERVER_TRAFFIC_SECRET_0 in the key log:\n%s", keylog.String())
	}
	sealer, err := newRecordSealer(s.ConnectionState().CipherSuite, secret)
	if err != nil {
		return err
	}
	return script(raw, sealer)
}

// recordingCache is a session cache counting what it is given.
type recordingCache struct {
	backends.SessionCache
	mu           sync.Mutex
	stored, nils int
}

func (c *recordingCache) Put(key string, session any) {
	c.mu.Lock()
	if session == nil {
		c.nils++
	} else {
		c.stored++
	}
	c.mu.Unlock()
	c.SessionCache.Put(key, session)
}

// TestHostileTicketFlood: a TLS 1.3 server floods its client with
// NewSessionTicket messages, 16 to a record (as many as crypto/tls takes
// between records of data), each record followed by one byte of data.
// crypto/tls hands each ticket to the session cache, whose byte bound
// (maxSessionHeap) walked the whole session, the server's parsed chain
// included, on every ticket: behind a trusted leaf, a certificate of
// 15,000 one-letter URIs (60 KiB, 2.9 MiB parsed) made each ticket of
// some 30 bytes cost the client a walk of the 2.9 MiB, allocating some
// megabytes and milliseconds of CPU, with no bound on how often (circl-pq
// stores at most 16 tickets a connection for this reason). The walk
// happens once a connection now: the ticket flood allocates a few KiB a
// ticket, the session of the ordinary chain is stored for every ticket
// (the cache holds the latest), that of the URI chain for none. Against a
// crypto/tls server on loopback whose records after the handshake the
// test seals itself.
func TestHostileTicketFlood(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	leaf, err := x509.CreateCertificate(rand.Reader, leafTmpl, leafTmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := x509.ParseCertificate(leaf)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(parsed)
	_, junkKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	junkTmpl := &x509.Certificate{SerialNumber: big.NewInt(2)}
	for range 15000 {
		junkTmpl.URIs = append(junkTmpl.URIs, &url.URL{Scheme: "a"})
	}
	junk, err := x509.CreateCertificate(rand.Reader, junkTmpl, junkTmpl, junkKey.Public(), junkKey)
	if err != nil {
		t.Fatal(err)
	}
	const rounds, perRecord = 16, 16 // 256 tickets
	for _, tc := range []struct {
		name   string
		chain  [][]byte
		stored bool
	}{
		{"ordinary", [][]byte{leaf}, true},
		{"URIs", [][]byte{leaf, junk}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			craw, sraw := testnet.TCPPair(t)
			deadline := time.Now().Add(20 * time.Second)
			craw.SetDeadline(deadline)
			sraw.SetDeadline(deadline)
			served := make(chan error, 1)
			go func() {
				served <- scriptedTLS13Server(sraw, tc.chain, key, func(raw net.Conn, s *recordSealer) error {
					for r := range rounds {
						var msgs []byte
						for i := range perRecord {
							msgs = append(msgs, newSessionTicket(byte(i), []byte(fmt.Sprintf("ticket %d.%d", r, i)))...)
						}
						if _, err := raw.Write(append(s.seal(22, msgs), s.seal(23, []byte{byte(r)})...)); err != nil {
							return err
						}
					}
					io.Copy(io.Discard, raw) // until the client is gone
					return nil
				})
			}()
			cache := &recordingCache{SessionCache: backends.NewLRUSessionCache(4)}
			conn, err := stdtls.Backend{}.Client(craw, &backends.ClientConfig{ServerName: "localhost", RootCAs: roots, Sessions: cache})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := conn.Handshake(t.Context()); err != nil {
				t.Fatal(err)
			}
			// The first round walks the chain once; count the rest.
			b := make([]byte, 1)
			if _, err := io.ReadFull(conn, b); err != nil || b[0] != 0 {
				t.Fatalf("first byte %d, %v", b[0], err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for r := 1; r < rounds; r++ {
				if _, err := io.ReadFull(conn, b); err != nil || b[0] != byte(r) {
					t.Fatalf("byte %d: %d, %v", r, b[0], err)
				}
			}
			runtime.ReadMemStats(&after)
			conn.Close()
			if err := <-served; err != nil {
				t.Fatalf("server: %v", err)
			}
			tickets := (rounds - 1) * perRecord
			perTicket := (after.TotalAlloc - before.TotalAlloc) / uint64(tickets)
			t.Logf("%d tickets: %d bytes allocated a ticket", tickets, perTicket)
			if perTicket > 64<<10 {
				t.Errorf("each NewSessionTicket made the client allocate %d bytes; want at most 64 KiB (a walk of the session's chain for each ticket?)", perTicket)
			}
			cache.mu.Lock()
			defer cache.mu.Unlock()
			want := rounds * perRecord
			if tc.stored && (cache.stored != want || cache.nils != 0) {
				t.Errorf("sessions stored %d, forgotten %d; want %d stored", cache.stored, cache.nils, want)
			}
			if !tc.stored && (cache.stored != 0 || cache.nils != want) {
				t.Errorf("sessions stored %d, forgotten %d; want %d forgotten", cache.stored, cache.nils, want)
			}
		})
	}
}
