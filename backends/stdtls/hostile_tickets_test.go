package stdtls_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/internal/tls13records"
)

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
	key, leaf, _, roots := localhostLeaf(t)
	junk := uriCert(t)
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
			craw, sraw := testnet.TCPPairWithin(t, 20*time.Second)
			served := make(chan error, 1)
			go func() {
				_, s, err := tls13records.Handshake(sraw, &tls.Config{Certificates: []tls.Certificate{{Certificate: tc.chain, PrivateKey: key}}}, true)
				for r := 0; err == nil && r < rounds; r++ {
					var msgs []byte
					for i := range perRecord {
						msgs = append(msgs, tls13records.NewSessionTicket(byte(i), []byte(fmt.Sprintf("ticket %d.%d", r, i)))...)
					}
					_, err = sraw.Write(append(s.Seal(22, msgs), s.Seal(23, []byte{byte(r)})...))
				}
				served <- err
				io.Copy(io.Discard, sraw) // until the client is gone
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
