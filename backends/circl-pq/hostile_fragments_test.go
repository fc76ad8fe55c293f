package circlpq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Records of other types between the fragments of a handshake message,
// which RFC 8446, Section 5.1 forbids ("Handshake messages MUST NOT be
// interleaved with other record types"). The records a connection
// ignores, warning user_canceled alerts and, during the handshake,
// change_cipher_spec, are bounded in a row (maxIgnoredAlerts,
// maxEmptyRecords); a handshake record started the count again, so a peer
// that sent one byte of a handshake message between two runs of them was
// never stopped.

// TestHostileAlertsInsideHandshakeMessage sends, after the handshake,
// three KeyUpdates in one-byte fragments with maxIgnoredAlerts warning
// user_canceled alerts before each fragment. The first alert inside a
// message fails the victim with unexpected_message. Before, it ignored
// all 60 and waited for more: a 64 KiB message carried 262,140 of them,
// and a peer that never finished it went on for as long as it liked.
func TestHostileAlertsInsideHandshakeMessage(t *testing.T) {
	for _, victimIsClient := range []bool{true, false} {
		t.Run(sideName(victimIsClient), func(t *testing.T) {
			hp := establish(t, victimIsClient, nil)
			var attack []byte
			alerts := 0
			for range 3 {
				msg := (&keyUpdateMsg{}).marshal()
				for i := range msg {
					for range maxIgnoredAlerts {
						attack = append(attack, sealed(hp.attacker, recordTypeAlert, []byte{alertLevelWarning, byte(alertUserCanceled)})...)
						alerts++
					}
					attack = append(attack, sealed(hp.attacker, recordTypeHandshake, msg[i:i+1])...)
				}
				hp.attacker.out.Lock()
				hp.attacker.out.setTrafficSecret(hp.attacker.out.suite, hp.attacker.out.suite.nextTrafficSecret(hp.attacker.out.trafficSecret))
				hp.attacker.out.Unlock()
			}
			go hp.raw.Write(attack)
			hp.victim.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err := hp.victim.Read(make([]byte, 1))
			var ae *AlertError
			if !errors.As(err, &ae) || ae.Remote || ae.Alert != alertUnexpectedMessage || !strings.Contains(err.Error(), "inside a handshake message") {
				t.Fatalf("after %d user_canceled alerts between the fragments of 3 KeyUpdates, victim Read = %v; want a local unexpected_message for an alert inside a handshake message",
					alerts, err)
			}
		})
	}
}

// TestHostileCCSInsideServerHello has a scripted server answer the
// engine client's ClientHello with a ServerHello in one-byte fragments,
// maxEmptyRecords-1 change_cipher_spec records before each. The first
// change_cipher_spec inside the message fails the client with
// unexpected_message. Before, it ignored every one (9,900 for a ServerHello
// of 100 bytes), bounded only by the handshake's context.
func TestHostileCCSInsideServerHello(t *testing.T) {
	p := pki(t)
	craw, sraw := tcpPair(t)
	c, _ := engineClient(t, craw, p.clientConfig())
	ccs := []byte{byte(recordTypeChangeCipherSpec), 3, 3, 0, 1, 1}
	go func() {
		// The ClientHello: one record.
		hdr := make([]byte, recordHeaderLen)
		if _, err := io.ReadFull(sraw, hdr); err != nil {
			return
		}
		if _, err := io.ReadFull(sraw, make([]byte, int(hdr[3])<<8|int(hdr[4]))); err != nil {
			return
		}
		msg := marshalMessageBytes(typeServerHello, make([]byte, 96))
		var flight []byte
		for i := range msg {
			for range maxEmptyRecords - 1 {
				flight = append(flight, ccs...)
			}
			flight = append(flight, byte(recordTypeHandshake), 3, 3, 0, 1, msg[i])
		}
		sraw.Write(flight)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.Handshake(ctx)
	var ae *AlertError
	if !errors.As(err, &ae) || ae.Remote || ae.Alert != alertUnexpectedMessage || !strings.Contains(err.Error(), "inside a handshake message") {
		t.Fatalf("client handshake = %v; want a local unexpected_message for change_cipher_spec inside a handshake message", err)
	}
}

// TestHostileEmptyRecordsAroundMessages sends, after the handshake, runs
// of records without data that each stay within their bound, with a whole
// KeyUpdate between two runs: empty application data records, padding-only
// ones, and warning user_canceled alerts. Past maxEmptyRecords
// (maxIgnoredAlerts) of them without data in all, the victim fails with
// unexpected_message, as crypto/tls does: after the handshake only
// application data is progress. Before, each KeyUpdate started the count
// again, and maxPostHandshakeMessages of them let 6,400 empty records
// (16 KiB of padding each, 100 MiB) or 256 alerts through without data.
func TestHostileEmptyRecordsAroundMessages(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit int
		empty func(a *Conn) []byte
	}{
		{"empty-records", maxEmptyRecords, func(a *Conn) []byte {
			return sealed(a, recordTypeApplicationData, nil)
		}},
		{"padding-only-records", maxEmptyRecords, func(a *Conn) []byte {
			// A TLSInnerPlaintext of no content: the type, then zeros.
			return sealedInner(a, append([]byte{byte(recordTypeApplicationData)}, make([]byte, maxPlaintext)...))
		}},
		{"user-canceled-warnings", maxIgnoredAlerts, func(a *Conn) []byte {
			return sealed(a, recordTypeAlert, []byte{alertLevelWarning, byte(alertUserCanceled)})
		}},
	} {
		for _, victimIsClient := range []bool{true, false} {
			t.Run(sideName(victimIsClient)+"/"+tc.name, func(t *testing.T) {
				hp := establish(t, victimIsClient, nil)
				var attack []byte
				sent := 0
				for range 3 {
					for range tc.limit - 1 {
						attack = append(attack, tc.empty(hp.attacker)...)
						sent++
					}
					attack = append(attack, sealedKeyUpdate(hp.attacker, false)...)
				}
				go hp.raw.Write(attack)
				hp.victim.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err := hp.victim.Read(make([]byte, 1))
				var ae *AlertError
				if !errors.As(err, &ae) || ae.Remote || ae.Alert != alertUnexpectedMessage {
					t.Fatalf("after %d records without data in runs of %d between KeyUpdates, victim Read = %v; want a local unexpected_message past %d",
						sent, tc.limit-1, err, tc.limit)
				}
			})
		}
	}
}

// cryptoTLSUselessRecords is crypto/tls's bound on records without data
// in a row (maxUselessRecords in crypto/tls/conn.go).
const cryptoTLSUselessRecords = 16

// changeCipherSpec is the unprotected change_cipher_spec record.
var changeCipherSpec = []byte{byte(recordTypeChangeCipherSpec), 3, 3, 0, 1, 1}

// TestEmptyRecordsAsCryptoTLS sends the engine server and crypto/tls's,
// after the handshake, runs of 16 and 17 empty application data records
// before a byte of data. Each takes the first run and fails the second.
// Before, the engine took up to 100.
func TestEmptyRecordsAsCryptoTLS(t *testing.T) {
	p := pki(t)
	for _, victim := range []string{"engine", "crypto/tls"} {
		for _, run := range []int{cryptoTLSUselessRecords, cryptoTLSUselessRecords + 1} {
			t.Run(fmt.Sprintf("%s/%d", victim, run), func(t *testing.T) {
				rawClient, rawServer := tcpPair(t)
				c, chs := engineClient(t, rawClient, p.clientConfig())
				var s net.Conn
				var shs func() error
				if victim == "engine" {
					s, shs = engineServer(t, rawServer, p.serverConfig(p.p256))
				} else {
					gs := goServer(rawServer, p)
					s, shs = gs, func() error { return gs.HandshakeContext(context.Background()) }
				}
				if cerr, serr := both(chs, shs); cerr != nil || serr != nil {
					t.Fatalf("handshake: client %v, server %v", cerr, serr)
				}
				t.Cleanup(func() { c.Close(); s.Close() })
				var attack []byte
				for range run {
					attack = append(attack, sealed(c, recordTypeApplicationData, nil)...)
				}
				attack = append(attack, sealed(c, recordTypeApplicationData, []byte("x"))...)
				if _, err := rawClient.Write(attack); err != nil {
					t.Fatal(err)
				}
				s.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, err := s.Read(make([]byte, 1))
				if run <= cryptoTLSUselessRecords && err != nil {
					t.Fatalf("after %d empty records, %s Read = %v; want the data", run, victim, err)
				}
				if run > cryptoTLSUselessRecords && (err == nil || isTimeout(err)) {
					t.Fatalf("after %d empty records, %s Read = %v; want a failure", run, victim, err)
				}
			})
		}
	}
}
