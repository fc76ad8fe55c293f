package circlpq

import (
	"errors"
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
// Past maxPostHandshakeMessages in all, the victim fails with
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
					sent, batch, err, maxPostHandshakeMessages)
			}
		})
	}
}
