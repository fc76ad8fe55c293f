package circlpq

import (
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"
)

// Hostile peers that pace what they send to the reads of their victim.
// The host reads a connection whose transport never blocks (see
// Conn.NonblockingTransport): each of the guest's polls is a Read that
// ends with a transport timeout once the socket is drained. A bound that
// holds within one Read only is then no bound: a peer sends less than it
// between two polls.

// TestHostilePacedKeyUpdates sends KeyUpdates without data in batches of
// 8, each followed by a Read of the victim that drains it and times out.
// Past maxKeyUpdates in all, the victim fails with
// unexpected_message, as it does when they come in one Read. Before, the
// count started again at each Read, and a peer kept a connection deriving
// keys, 30 bytes a KeyUpdate, for as long as it liked without ever sending
// data.
func TestHostilePacedKeyUpdates(t *testing.T) {
	const batch = 8
	for _, victimIsClient := range []bool{true, false} {
		t.Run(sideName(victimIsClient), func(t *testing.T) {
			hp := establish(t, victimIsClient, nil)
			sent := 0
			var err error
			for sent <= 4*maxPostHandshakeMessages {
				var recs []byte
				for range batch {
					recs = append(recs, sealedKeyUpdate(hp.attacker, false)...)
				}
				if _, werr := hp.raw.Write(recs); werr != nil {
					t.Fatal(werr)
				}
				sent += batch
				// Drain the batch: Read until the transport times out.
				hp.victim.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				_, err = hp.victim.Read(make([]byte, 1))
				if !isTimeout(err) {
					break
				}
			}
			var ae *AlertError
			if !errors.As(err, &ae) || ae.Remote || ae.Alert != alertUnexpectedMessage {
				t.Fatalf("after %d KeyUpdates without data, in batches of %d, victim Read = %v; want a local unexpected_message past %d",
					sent, batch, err, maxKeyUpdates)
			}
		})
	}
}

// A pollConn is a real socket read as the host reads one whose transport
// never blocks: once armed, each transport Read must be allowed by a poll
// (allow), and without one it fails with a timeout at once.
type pollConn struct {
	net.Conn
	armed bool
	polls int   // transport Reads allowed and not yet made
	bytes int64 // bytes read while armed
}

func (p *pollConn) Read(b []byte) (int, error) {
	if !p.armed {
		return p.Conn.Read(b)
	}
	if p.polls == 0 {
		return 0, errInjectedTimeout
	}
	p.polls--
	n, err := p.Conn.Read(b)
	p.bytes += int64(n)
	return n, err
}

// pollUntilRead makes Reads of c, each allowed one transport Read, until
// p has read total bytes. Each Read must end in a timeout: the data they
// bring are not application data.
func pollUntilRead(t *testing.T, c *Conn, p *pollConn, total int64) {
	t.Helper()
	for polls := 0; p.bytes < total; polls++ {
		p.polls = 1
		if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
			t.Fatalf("after %d polls and %d of %d bytes, victim Read = %v; want a timeout", polls, p.bytes, total, err)
		}
	}
}

// TestPacedLargePostHandshakeMessages has a server send two large
// NewSessionTickets (60 KiB each, in records of 1 KiB) to a client that
// reads them poll by poll, each poll a Read ending in a timeout, the bytes
// arriving in pieces of 700. The client takes both and then the data that
// follow. Before, the bound on post-handshake messages without data
// counted each Read that went on with a message in part, not messages:
// past 64 records of them, the legitimate peer was cut off with
// unexpected_message.
func TestPacedLargePostHandshakeMessages(t *testing.T) {
	p := pki(t)
	rawClient, rawServer := tcpPair(t)
	poll := &pollConn{Conn: rawClient}
	cc := p.clientConfig()
	cc.Sessions = NewSessionCache(4)
	c, chs := engineClient(t, poll, cc)
	s, shs := engineServer(t, rawServer, p.serverConfig(p.p256))
	if cerr, serr := both(chs, shs); cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	poll.armed = true

	rng := rand.New(rand.NewPCG(1, 2))
	var wire []byte
	for range 2 {
		msg := ticketFor(rng, 60<<10)
		for len(msg) > 0 {
			n := min(len(msg), 1024)
			wire = append(wire, sealed(s, recordTypeHandshake, msg[:n])...)
			msg = msg[n:]
		}
	}
	const piece = 700
	for off := 0; off < len(wire); off += piece {
		end := min(off+piece, len(wire))
		if _, err := rawServer.Write(wire[off:end]); err != nil {
			t.Fatal(err)
		}
		pollUntilRead(t, c, poll, int64(end))
	}
	if _, err := s.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	poll.armed = false
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1)
	if _, err := c.Read(buf); err != nil || buf[0] != 'x' {
		t.Fatalf("after the tickets, client Read = %q, %v; want \"x\"", buf, err)
	}
}

// TestHostilePaddedFragments has a peer announce a 60,000-byte KeyUpdate
// and send it one byte a record, each record padded to the 16 KiB limit,
// so that the message never completes within the bound on message count.
// The victim fails with unexpected_message once maxPostHandshakeBytes
// are in. Before, nothing bounded it short of some 60,000 records, a GiB
// of decryption, per message: here the peer gives up after twice the
// bound and closes, and the victim saw the transport end instead.
func TestHostilePaddedFragments(t *testing.T) {
	for _, victimIsClient := range []bool{true, false} {
		t.Run(sideName(victimIsClient), func(t *testing.T) {
			hp := establish(t, victimIsClient, nil)
			msg := []byte{typeKeyUpdate, 0, 0xea, 0x60}
			recordLen := recordHeaderLen + maxPlaintext + 1 + hp.attacker.out.aead.Overhead()
			records := 2 * (maxPostHandshakeBytes/recordLen + 1)
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				defer hp.raw.Close()
				for i := range records {
					inner := make([]byte, maxPlaintext+1)
					inner[0] = msg[min(i, len(msg)-1)]
					inner[1] = byte(recordTypeHandshake)
					if _, err := hp.raw.Write(sealedInner(hp.attacker, inner)); err != nil {
						return
					}
				}
			}()
			_, err := hp.victim.Read(make([]byte, 1))
			hp.victim.Close()
			<-sent
			var ae *AlertError
			if !errors.As(err, &ae) || ae.Remote || ae.Alert != alertUnexpectedMessage {
				t.Fatalf("after up to %d padded records of one byte, victim Read = %v; want a local unexpected_message", records, err)
			}
		})
	}
}

// TestHostilePaddedHandshakeFragments has a peer, in the handshake, send
// its first encrypted message (a server's EncryptedExtensions, a client's
// Finished) announcing 60,000 bytes, one byte of it in each record padded
// to 16 KiB: past maxHandshakeBytes of handshake records the victim fails
// with unexpected_message, client and server side. Before, only the
// handshake's timeout ended it: the message's own bound let a GiB of
// records in, a decryption each.
func TestHostilePaddedHandshakeFragments(t *testing.T) {
	p := pki(t)
	for _, victimIsClient := range []bool{true, false} {
		t.Run(sideName(victimIsClient), func(t *testing.T) {
			craw, sraw := tcpPair(t)
			c, chs := engineClient(t, craw, p.clientConfig())
			s, shs := engineServer(t, sraw, p.serverConfig(p.p256))
			attacker, raw, typ, victimHandshake := s, sraw, typeEncryptedExtensions, chs
			if !victimIsClient {
				attacker, raw, typ, victimHandshake = c, craw, typeFinished, shs
			}
			recordLen := recordHeaderLen + maxPlaintext + 1 + 16 // AES-GCM and ChaCha20-Poly1305
			records := maxHandshakeBytes/recordLen + 2
			attacker.testMutate = mutateMessage(typ, func(msg []byte) []byte {
				// writeHandshake holds attacker.out: its handshake keys,
				// and what it buffered of its flight, sent first.
				if _, err := raw.Write(attacker.sendBuf); err != nil {
					return msg
				}
				attacker.sendBuf = attacker.sendBuf[:0]
				announce := []byte{typ, 0, 0xea, 0x60}
				for i := range records {
					inner := make([]byte, maxPlaintext+1)
					inner[0] = announce[min(i, len(announce)-1)]
					inner[1] = byte(recordTypeHandshake)
					if _, err := raw.Write(sealedInnerLocked(attacker, inner)); err != nil {
						break
					}
				}
				return msg
			})
			victimDone := make(chan error, 1)
			go func() { victimDone <- victimHandshake() }()
			attackerHandshake := shs
			if !victimIsClient {
				attackerHandshake = chs
			}
			go attackerHandshake()
			var err error
			select {
			case err = <-victimDone:
			case <-time.After(20 * time.Second):
				t.Fatalf("the victim's handshake still runs after %d padded records of one byte", records)
			}
			craw.Close()
			sraw.Close()
			var ae *AlertError
			if !errors.As(err, &ae) || ae.Remote || ae.Alert != alertUnexpectedMessage || !strings.Contains(err.Error(), "too many handshake bytes") {
				t.Fatalf("after up to %d padded records of one byte, victim handshake = %v; want a local unexpected_message for too many handshake bytes", records, err)
			}
		})
	}
}
