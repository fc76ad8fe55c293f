package circlpq

import (
	"bytes"
	goruntime "runtime"
	"testing"
	"time"
)

// TestHostileStalledRecord has the attacker send the start of a record of
// the largest size, on 16 connections at once, and stop: the record
// header alone, a few hundred bytes of it, or the header of the next
// record right after one of the largest size that the victim read whole,
// or nothing more after that record (the victim had read in quantity and
// must still wait for the next record without the pooled buffer).
// The victim reads until its transport times out, and must then hold no
// more than its built-in smallIn buffer while fewer than smallInLen bytes
// of the record are in: the pooled buffer of two records (33 KiB) is
// taken only for as much of a record as does not fit there. Before, five
// bytes of a header made each connection hold the pooled buffer, twice
// what crypto/tls allocates for the same header, and a host polling
// thousands of connections held it for each.
func TestHostileStalledRecord(t *testing.T) {
	const conns = 16
	for _, victimIsClient := range []bool{true, false} {
		for _, tc := range []struct {
			name   string
			before int // bytes of application data sent whole first
			sent   int // bytes of the next record sent
		}{
			{"header", 0, recordHeaderLen},
			{"header-and-300-bytes", 0, 300},
			{"header-after-a-large-record", maxPlaintext, recordHeaderLen},
			{"nothing-after-a-large-record", maxPlaintext, 0},
		} {
			t.Run(sideName(victimIsClient)+"/"+tc.name, func(t *testing.T) {
				pairs := make([]hostilePair, conns)
				for i := range pairs {
					pairs[i] = establish(t, victimIsClient, nil)
				}
				before := heapInUse()
				large := 0
				for _, hp := range pairs {
					var recs []byte
					if tc.before > 0 {
						recs = sealed(hp.attacker, recordTypeApplicationData, make([]byte, tc.before))
					}
					next := sealed(hp.attacker, recordTypeApplicationData, bytes.Repeat([]byte{1}, maxPlaintext))
					recs = append(recs, next[:tc.sent]...)
					if _, err := hp.raw.Write(recs); err != nil {
						t.Fatal(err)
					}
					buf := make([]byte, maxPlaintext)
					for got := 0; got < tc.before; {
						n, err := hp.victim.Read(buf)
						if err != nil {
							t.Fatal(err)
						}
						got += n
					}
					// Read until everything sent is in, and the transport
					// times out inside the record.
					var held, pending int
					for deadline, first := time.Now().Add(5*time.Second), true; first || pending < tc.sent && time.Now().Before(deadline); first = false {
						hp.victim.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
						if _, err := hp.victim.Read(buf); !isTimeout(err) {
							t.Fatalf("victim Read = %v; want a timeout inside the record", err)
						}
						hp.victim.in.Lock()
						held, pending = cap(hp.victim.rawIn), len(hp.victim.rawIn)-hp.victim.rawOff
						hp.victim.in.Unlock()
					}
					if pending != tc.sent {
						t.Fatalf("victim holds %d bytes of the record; want %d", pending, tc.sent)
					}
					if held > smallInLen {
						large = held
					}
				}
				if large > 0 {
					t.Errorf("victims hold a read buffer of %d bytes for %d bytes of a record; want at most smallIn (%d)", large, tc.sent, smallInLen)
				}
				perConn := (heapInUse() - before) / conns
				t.Logf("heap held per connection: %d bytes", perConn)
				if perConn > 8<<10 {
					t.Errorf("each connection holds %d KiB; want at most 8 KiB", perConn>>10)
				}
				goruntime.KeepAlive(pairs)
			})
		}
	}
}
