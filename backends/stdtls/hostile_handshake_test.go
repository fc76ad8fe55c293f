package stdtls_test

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/internal/tls13records"
)

// TestHostilePaddedHandshakeFragments has a crypto/tls peer, in the
// handshake, send instead of its first sealed message (a server's
// EncryptedExtensions, a client's Finished) one announcing 60,000 bytes,
// a byte of it in each record padded to 16 KiB: past 2 MiB read in the
// handshake the victim fails, client and server side, as circl-pq does
// (maxHandshakeBytes). Before, crypto/tls, which bounds a message's
// length and not its records, read on until the handshake's context
// ended: a GiB of records, a decryption each, for a 64 KiB message.
func TestHostilePaddedHandshakeFragments(t *testing.T) {
	key, leaf, _, roots := localhostLeaf(t)
	records := (2<<20)/paddedRecordLen + 2
	flood := func(typ byte) func(*tls13records.Sealer) []byte {
		return func(s *tls13records.Sealer) []byte {
			var out []byte
			for i := range records {
				out = append(out, paddedPiece(s, typ, i)...)
			}
			return out
		}
	}
	for _, victimIsClient := range []bool{true, false} {
		name := "victim-server"
		if victimIsClient {
			name = "victim-client"
		}
		t.Run(name, func(t *testing.T) {
			craw, sraw := testnet.TCPPairWithin(t, 60*time.Second)
			var victim backends.Conn
			var err error
			if victimIsClient {
				peer := &tls13records.FlightReplacer{Conn: sraw, IsServer: true, Flight: flood(8)}
				cfg := &tls.Config{MinVersion: tls.VersionTLS13, KeyLogWriter: &peer.KeyLog,
					Certificates: []tls.Certificate{{Certificate: [][]byte{leaf}, PrivateKey: key}}}
				go tls.Server(peer, cfg).Handshake()
				victim, err = stdtls.Backend{}.Client(craw, &backends.ClientConfig{ServerName: "localhost", RootCAs: roots})
			} else {
				peer := &tls13records.FlightReplacer{Conn: craw, Flight: flood(20)}
				cfg := &tls.Config{MinVersion: tls.VersionTLS13, KeyLogWriter: &peer.KeyLog, ServerName: "localhost", RootCAs: roots}
				go tls.Client(peer, cfg).Handshake()
				victim, err = stdtls.Backend{}.Server(sraw, &backends.ServerConfig{
					Identities: []*backends.Identity{{Chain: [][]byte{leaf}, Key: key}},
				})
			}
			if err != nil {
				t.Fatal(err)
			}
			defer victim.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err = victim.Handshake(ctx)
			craw.Close()
			sraw.Close()
			if err == nil || !strings.Contains(err.Error(), stdtls.ErrHandshakeBytes.Error()) {
				t.Fatalf("after up to %d padded records of one byte, victim handshake = %v; want %v", records, err, stdtls.ErrHandshakeBytes)
			}
		})
	}
}

// paddedRecordLen is the length on the wire of a record paddedPiece
// seals: a byte padded to the most plaintext a record carries, 16 KiB
// (AES-GCM and ChaCha20-Poly1305).
const paddedRecordLen = 5 + 1<<14 + 1 + 16

// paddedPiece is the i-th record of a handshake message of type typ
// announcing 60,000 bytes, sent a byte in each record padded to 16 KiB.
func paddedPiece(s *tls13records.Sealer, typ byte, i int) []byte {
	announce := []byte{typ, 0, 0xea, 0x60}
	return s.SealPadded(22, announce[min(i, len(announce)-1):][:1], 1<<14-1)
}
