package conformance

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/wasitls/wasitls/backends"
)

// No post-quantum downgrade: a server must not accept a classical key
// share when it and the client both support a post-quantum group it
// prefers; it asks for that group with a HelloRetryRequest (RFC 8446,
// Section 4.1.1). Node with ecdhCurve 'X25519:X25519MLKEM768' is such a
// client in the wild. No crypto/tls client can send that ClientHello
// (it always shares the hybrid it supports), so the case scripts the
// client's first flight and reads the server's answer.

// helloRetryRandom is the ServerHello.random of a HelloRetryRequest
// (RFC 8446, Section 4.1.3).
var helloRetryRandom = []byte{
	0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
	0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
}

func testNoPQDowngrade(e *env) {
	x25519, hybrid := uint16(tls.X25519), uint16(tls.X25519MLKEM768)
	for _, tc := range []struct {
		name         string
		serverGroups []uint16
		clientGroups []uint16 // supported_groups; the only share is X25519
	}{
		{"defaults/client-prefers-x25519", nil, []uint16{x25519, hybrid}},
		{"defaults/client-prefers-hybrid", nil, []uint16{hybrid, x25519}},
		{"hybrid-first/client-prefers-x25519", []uint16{hybrid, x25519}, []uint16{x25519, hybrid}},
	} {
		sc := e.pki.serverConfig(e.pki.serverA)
		sc.Groups = tc.serverGroups
		hrr, group, err := e.firstServerFlight(sc, tc.clientGroups, x25519)
		switch {
		case err != nil:
			e.t.Errorf("%s: %v", tc.name, err)
		case !hrr && group == x25519:
			e.t.Errorf("%s: the server accepted the X25519 share although both support X25519MLKEM768 (post-quantum downgrade)", tc.name)
		case !hrr:
			e.t.Errorf("%s: ServerHello for group %#04x; want a HelloRetryRequest for X25519MLKEM768", tc.name, group)
		case group != hybrid:
			e.t.Errorf("%s: HelloRetryRequest for group %#04x; want X25519MLKEM768 (0x11ec)", tc.name, group)
		}
	}
}

// firstServerFlight sends the backend's server a ClientHello that lists
// groups in supported_groups and carries one key share, for share, and
// reports the group of the server's answer: a HelloRetryRequest's
// selected_group (hrr true) or a ServerHello's key share.
func (e *env) firstServerFlight(sc *backends.ServerConfig, groups []uint16, share uint16) (hrr bool, group uint16, err error) {
	e.t.Helper()
	cRaw, sRaw := tcpPair(e.t)
	s, err := e.b.Server(sRaw, sc)
	if err != nil {
		e.t.Fatalf("%s: Server: %v", e.b.Name(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	done := make(chan struct{})
	go func() {
		s.Handshake(ctx)
		close(done)
	}()
	defer func() {
		cRaw.Close()
		cancel()
		<-done
		s.Close()
	}()

	hello, err := scriptedClientHello(groups, share)
	if err != nil {
		return false, 0, err
	}
	cRaw.SetDeadline(time.Now().Add(handshakeTimeout))
	if _, err := cRaw.Write(hello); err != nil {
		return false, 0, fmt.Errorf("writing the ClientHello: %w", err)
	}
	msg, err := readHandshakeMessage(cRaw)
	if err != nil {
		return false, 0, fmt.Errorf("reading the server's answer: %w", err)
	}
	return parseServerHelloGroup(msg)
}

// scriptedClientHello is a TLS 1.3 ClientHello record (RFC 8446, Section
// 4.1.2) offering groups with a single key share, for share, which must
// be X25519.
func scriptedClientHello(groups []uint16, share uint16) ([]byte, error) {
	if share != uint16(tls.X25519) {
		return nil, fmt.Errorf("scripted key share for %#04x: only X25519 is scripted", share)
	}
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	random := make([]byte, 32)
	sessionID := make([]byte, 32)
	rand.Read(random)
	rand.Read(sessionID)
	u16 := func(b *cryptobyte.Builder, vs ...uint16) {
		for _, v := range vs {
			b.AddUint16(v)
		}
	}
	ext := func(b *cryptobyte.Builder, typ uint16, body func(*cryptobyte.Builder)) {
		b.AddUint16(typ)
		b.AddUint16LengthPrefixed(body)
	}
	var body cryptobyte.Builder
	body.AddUint16(tls.VersionTLS12) // legacy_version
	body.AddBytes(random)
	body.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sessionID) })
	body.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		u16(b, tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256)
	})
	body.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
	body.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		ext(b, 0, func(b *cryptobyte.Builder) { // server_name
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddUint8(0)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte("a.test")) })
			})
		})
		ext(b, 10, func(b *cryptobyte.Builder) { // supported_groups
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { u16(b, groups...) })
		})
		ext(b, 13, func(b *cryptobyte.Builder) { // signature_algorithms
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				u16(b, uint16(tls.ECDSAWithP256AndSHA256), uint16(tls.ECDSAWithP384AndSHA384), uint16(tls.Ed25519),
					uint16(tls.PSSWithSHA256), uint16(tls.PSSWithSHA384), uint16(tls.PSSWithSHA512))
			})
		})
		ext(b, 43, func(b *cryptobyte.Builder) { // supported_versions
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { u16(b, tls.VersionTLS13) })
		})
		ext(b, 51, func(b *cryptobyte.Builder) { // key_share
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddUint16(share)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(priv.PublicKey().Bytes()) })
			})
		})
	})
	var msg cryptobyte.Builder
	msg.AddUint8(1) // client_hello
	msg.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(body.BytesOrPanic()) })
	var rec cryptobyte.Builder
	rec.AddUint8(22) // handshake
	rec.AddUint16(tls.VersionTLS10)
	rec.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(msg.BytesOrPanic()) })
	return rec.Bytes()
}

// readHandshakeMessage reads plaintext handshake records until one whole
// handshake message arrived and returns it with its header.
func readHandshakeMessage(r io.Reader) ([]byte, error) {
	var buf []byte
	for {
		if len(buf) >= 4 {
			n := 4 + (int(buf[1])<<16 | int(buf[2])<<8 | int(buf[3]))
			if len(buf) >= n {
				return buf[:n], nil
			}
		}
		var hdr [5]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, err
		}
		payload := make([]byte, binary.BigEndian.Uint16(hdr[3:]))
		if _, err := io.ReadFull(r, payload); err != nil {
			return nil, err
		}
		switch hdr[0] {
		case 22:
			buf = append(buf, payload...)
		case 21:
			if len(payload) != 2 {
				return nil, fmt.Errorf("malformed alert record %x", payload)
			}
			return nil, fmt.Errorf("alert %v", backends.Alert(payload[1]))
		default:
			return nil, fmt.Errorf("record of type %d before the ServerHello", hdr[0])
		}
	}
}

// parseServerHelloGroup reads the group of a ServerHello or
// HelloRetryRequest (RFC 8446, Sections 4.1.3 and 4.2.8).
func parseServerHelloGroup(msg []byte) (hrr bool, group uint16, err error) {
	s := cryptobyte.String(msg)
	var typ uint8
	var body, random, sessionID, exts cryptobyte.String
	var version, suite uint16
	var compression uint8
	if !s.ReadUint8(&typ) || typ != 2 || !s.ReadUint24LengthPrefixed(&body) ||
		!body.ReadUint16(&version) || !body.ReadBytes((*[]byte)(&random), 32) ||
		!body.ReadUint8LengthPrefixed(&sessionID) || !body.ReadUint16(&suite) ||
		!body.ReadUint8(&compression) || !body.ReadUint16LengthPrefixed(&exts) {
		return false, 0, fmt.Errorf("not a ServerHello: %x", msg)
	}
	hrr = bytes.Equal(random, helloRetryRandom)
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return hrr, 0, fmt.Errorf("malformed ServerHello extensions: %x", msg)
		}
		if typ == 51 && data.ReadUint16(&group) {
			return hrr, group, nil
		}
	}
	return hrr, 0, fmt.Errorf("ServerHello without key_share: %x", msg)
}
