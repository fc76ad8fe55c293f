// Package tls13records lets tests play a hostile TLS 1.3 peer after its
// handshake: crypto/tls runs the handshake and tells its application
// traffic secret through KeyLogWriter, and a Sealer made from that secret
// writes records of the test's choosing on the raw connection, which the
// other end decrypts as the peer's: messages no crypto/tls peer sends on
// demand (session tickets, key updates, handshake messages in pieces).
// A FlightReplacer plays one in the middle of its handshake instead,
// sealing under its handshake traffic secret.
// A Sealer also opens records sealed under its secret, so a test can
// read a connection captured on the wire with the secrets of a key log.
package tls13records

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"net"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// A Sealer seals TLS 1.3 records (RFC 8446, Section 5.2) under one
// traffic secret, numbering them from 0.
type Sealer struct {
	suite  uint16
	secret []byte
	aead   cipher.AEAD
	iv     []byte
	seq    uint64
}

func suiteHash(suite uint16) func() hash.Hash {
	if suite == tls.TLS_AES_256_GCM_SHA384 {
		return sha512.New384
	}
	return sha256.New
}

// expandLabel is HKDF-Expand-Label (RFC 8446, Section 7.1) with an empty
// context.
func expandLabel(h func() hash.Hash, secret []byte, label string, n int) []byte {
	full := "tls13 " + label
	info := append([]byte{byte(n >> 8), byte(n), byte(len(full))}, full...)
	info = append(info, 0)
	out, err := hkdf.Expand(h, secret, string(info), n)
	if err != nil {
		panic(err) // n is a key or IV length, well within HKDF's bound
	}
	return out
}

// NewSealer returns a Sealer for the TLS 1.3 cipher suite and traffic
// secret.
func NewSealer(suite uint16, secret []byte) (*Sealer, error) {
	h := suiteHash(suite)
	var aead cipher.AEAD
	var err error
	switch suite {
	case tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384:
		n := 16
		if suite == tls.TLS_AES_256_GCM_SHA384 {
			n = 32
		}
		block, berr := aes.NewCipher(expandLabel(h, secret, "key", n))
		if berr != nil {
			return nil, berr
		}
		aead, err = cipher.NewGCM(block)
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		aead, err = chacha20poly1305.New(expandLabel(h, secret, "key", chacha20poly1305.KeySize))
	default:
		return nil, fmt.Errorf("tls13records: cipher suite %#04x is not a TLS 1.3 suite", suite)
	}
	if err != nil {
		return nil, err
	}
	return &Sealer{suite: suite, secret: secret, aead: aead, iv: expandLabel(h, secret, "iv", 12)}, nil
}

// Seal returns a record carrying content of type typ (22 handshake, 23
// application data, 21 alert).
func (s *Sealer) Seal(typ byte, content []byte) []byte {
	return s.SealPadded(typ, content, 0)
}

// SealPadded returns a record carrying content of type typ followed by
// padding zero bytes of padding (RFC 8446, Section 5.4).
func (s *Sealer) SealPadded(typ byte, content []byte, padding int) []byte {
	inner := make([]byte, len(content)+1+padding) // the padding is its zeros
	inner[copy(inner, content)] = typ
	n := len(inner) + s.aead.Overhead()
	hdr := []byte{23, 3, 3, byte(n >> 8), byte(n)}
	nonce := s.nonce()
	s.seq++
	return s.aead.Seal(hdr, nonce, inner, hdr)
}

// Open decrypts rec, one whole record, as the next record sealed under
// the Sealer's secret and returns its inner plaintext: content, content
// type, then any zero padding. A record that does not open leaves the
// sequence number where it was.
func (s *Sealer) Open(rec []byte) ([]byte, error) {
	if len(rec) < 5 {
		return nil, fmt.Errorf("tls13records: a record of %d bytes has no header", len(rec))
	}
	inner, err := s.aead.Open(nil, s.nonce(), rec[5:], rec[:5])
	if err != nil {
		return nil, err
	}
	s.seq++
	return inner, nil
}

// nonce is the per-record nonce of the next record (RFC 8446, Section
// 5.3): the IV with the sequence number XORed into its last 8 bytes.
func (s *Sealer) nonce() []byte {
	nonce := append([]byte(nil), s.iv...)
	for i := range 8 {
		nonce[len(nonce)-1-i] ^= byte(s.seq >> (8 * i))
	}
	return nonce
}

// KeyUpdate returns a record of a KeyUpdate asking for no answer and
// moves the Sealer to the next traffic secret (RFC 8446, Section 7.2).
func (s *Sealer) KeyUpdate() []byte {
	rec := s.Seal(22, []byte{24, 0, 0, 1, 0})
	next, err := NewSealer(s.suite, expandLabel(suiteHash(s.suite), s.secret, "traffic upd", len(s.secret)))
	if err != nil {
		panic(err) // the suite was accepted before
	}
	*s = *next
	return rec
}

// InPieces returns records of 16,000 bytes carrying a handshake message
// of type typ announcing a body of n bytes, all of it but the last byte:
// a message its receiver holds in pieces, waiting for the end.
func (s *Sealer) InPieces(typ byte, n int) []byte {
	msg := append([]byte{typ, byte(n >> 16), byte(n >> 8), byte(n)}, make([]byte, n-1)...)
	var out []byte
	for len(msg) > 0 {
		k := min(len(msg), 16000)
		out = append(out, s.Seal(22, msg[:k])...)
		msg = msg[k:]
	}
	return out
}

// NewSessionTicket is a NewSessionTicket message (RFC 8446, Section
// 4.6.1) of an hour's lifetime carrying ticket.
func NewSessionTicket(nonce byte, ticket []byte) []byte {
	body := binary.BigEndian.AppendUint32(nil, 3600)
	body = binary.BigEndian.AppendUint32(body, 0x01020304)
	body = append(body, 1, nonce)
	body = binary.BigEndian.AppendUint16(body, uint16(len(ticket)))
	body = append(body, ticket...)
	body = append(body, 0, 0) // no extensions
	return append([]byte{4, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
}

// Handshake completes a TLS 1.3 handshake on raw as a crypto/tls server
// (config non-nil with Certificates, isServer) or client, and returns a
// Sealer for the records this side sends next. A server issues no
// tickets (config.SessionTicketsDisabled is set), so it sends nothing
// after its handshake and the Sealer numbers from the first record. The
// config is modified: versions, key log.
func Handshake(raw net.Conn, config *tls.Config, isServer bool) (*tls.Conn, *Sealer, error) {
	var keylog bytes.Buffer
	config.MinVersion, config.KeyLogWriter = tls.VersionTLS13, &keylog
	var c *tls.Conn
	label := "CLIENT_TRAFFIC_SECRET_0"
	if isServer {
		config.SessionTicketsDisabled = true
		c = tls.Server(raw, config)
		label = "SERVER_TRAFFIC_SECRET_0"
	} else {
		c = tls.Client(raw, config)
	}
	if err := c.Handshake(); err != nil {
		return nil, nil, err
	}
	secret, err := KeyLogSecret(keylog.String(), label)
	if err != nil {
		return nil, nil, err
	}
	s, err := NewSealer(c.ConnectionState().CipherSuite, secret)
	return c, s, err
}

// A FlightReplacer is the transport of a crypto/tls peer, in a handshake
// whose config's KeyLogWriter is KeyLog, that replaces the first records
// the peer seals under its handshake traffic secret (a server's flight
// from EncryptedExtensions on, a client's second flight) with what Flight
// returns, sealed by a Sealer of that secret, and drops all the peer
// writes after: a peer misbehaving in the middle of its handshake. The
// peer's plaintext records (ServerHello, change_cipher_spec) go through.
type FlightReplacer struct {
	net.Conn
	IsServer bool
	KeyLog   bytes.Buffer
	Flight   func(*Sealer) []byte

	suite    uint16 // from the ServerHello, written or read
	replaced bool
}

// Read reads the peer's transport, and the cipher suite of the ServerHello
// a client reads (the first record it reads, found whole in its first
// read, as it is over loopback).
func (f *FlightReplacer) Read(p []byte) (int, error) {
	n, err := f.Conn.Read(p)
	if !f.IsServer && f.suite == 0 {
		f.suite = serverHelloSuite(p[:n])
	}
	return n, err
}

// Write writes the plaintext records of p until the first sealed one,
// which it replaces with Flight's records; it drops the rest, and all
// later writes.
func (f *FlightReplacer) Write(p []byte) (int, error) {
	if f.replaced {
		return len(p), nil
	}
	if f.IsServer && f.suite == 0 {
		f.suite = serverHelloSuite(p)
	}
	rest := p
	for len(rest) >= 5 && rest[0] != 23 {
		k := min(len(rest), 5+int(binary.BigEndian.Uint16(rest[3:5])))
		if _, err := f.Conn.Write(rest[:k]); err != nil {
			return 0, err
		}
		rest = rest[k:]
	}
	if len(rest) == 0 {
		return len(p), nil
	}
	f.replaced = true
	label := "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
	if f.IsServer {
		label = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
	}
	secret, err := KeyLogSecret(f.KeyLog.String(), label)
	if err != nil {
		return 0, err
	}
	s, err := NewSealer(f.suite, secret)
	if err != nil {
		return 0, err
	}
	if _, err := f.Conn.Write(f.Flight(s)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// serverHelloSuite is the cipher suite of the ServerHello record b starts
// with, or 0.
func serverHelloSuite(b []byte) uint16 {
	// Record header (5), message type and length (4), version (2),
	// random (32), session ID (1 + its length), cipher suite (2).
	if len(b) < 5+4+2+32+1 || b[0] != 22 || b[5] != 2 {
		return 0
	}
	at := 5 + 4 + 2 + 32
	at += 1 + int(b[at])
	if len(b) < at+2 {
		return 0
	}
	return binary.BigEndian.Uint16(b[at:])
}

// KeyLogSecret is the secret of label (CLIENT_HANDSHAKE_TRAFFIC_SECRET,
// say) in keylog, key log text in the NSS format.
func KeyLogSecret(keylog, label string) ([]byte, error) {
	sc := bufio.NewScanner(strings.NewReader(keylog))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == label {
			return hex.DecodeString(f[2])
		}
	}
	return nil, fmt.Errorf("tls13records: no %s in the key log", label)
}
