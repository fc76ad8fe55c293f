package stdtls_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	circlpq "github.com/wasitls/wasitls/backends/circl-pq"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/internal/testnet"
)

// refusingConn is a transport whose writes fail once refuse is set, as
// the host's socket transport fails a write inside a read when the peer
// has not read what it was sent (wasiio.MaxUnsent).
type refusingConn struct {
	net.Conn
	refuse atomic.Bool
}

var errNotReading = errors.New("test transport: the peer is not reading")

func (c *refusingConn) Write(p []byte) (int, error) {
	if c.refuse.Load() {
		return 0, errNotReading
	}
	return c.Conn.Write(p)
}

// TestKeyUpdateAnswerFails: a peer asks for a key update when writing to
// it fails, then sends data under its new keys. crypto/tls cannot write
// its answer, and then does not update its read keys either: the data
// fails as bad_record_mac. The Read error names the failed write as the
// cause, client and server side. Before, it was only "local error: tls:
// bad record MAC", as if the peer had tampered with its records. A record
// the peer did forge, when writing fails too, still reads as that alone.
func TestKeyUpdateAnswerFails(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		victimIsClient, tampered bool
	}{{true, false}, {false, false}, {true, true}, {false, true}} {
		victimIsClient, tampered := tc.victimIsClient, tc.tampered
		name := "victim-server"
		if victimIsClient {
			name = "victim-client"
		}
		if tampered {
			name += "-forged-record"
		}
		t.Run(name, func(t *testing.T) {
			craw, sraw := testnet.TCPPairWithin(t, 10*time.Second)
			victimRaw, attackerRaw := &refusingConn{Conn: craw}, net.Conn(sraw)
			if !victimIsClient {
				victimRaw, attackerRaw = &refusingConn{Conn: sraw}, craw
			}
			victim, attacker := keyUpdatePair(t, f, victimIsClient, victimRaw, attackerRaw)
			victimRaw.refuse.Store(true)
			if tampered {
				// A forged record: its bad_record_mac is the peer's
				// doing, and the failed write of the alert says nothing.
				if _, err := attackerRaw.Write(append([]byte{23, 3, 3, 0, 20}, make([]byte, 20)...)); err != nil {
					t.Fatal(err)
				}
				_, err := victim.Read(make([]byte, 1))
				if err == nil || !strings.Contains(err.Error(), "bad record MAC") || strings.Contains(err.Error(), "KeyUpdate") {
					t.Fatalf("victim Read: %v; want bad record MAC alone", err)
				}
				return
			}
			if err := attacker.KeyUpdate(true); err != nil {
				t.Fatal(err)
			}
			if _, err := attacker.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			_, err := victim.Read(make([]byte, 1))
			if err == nil || !strings.Contains(err.Error(), errNotReading.Error()) || !strings.Contains(err.Error(), "answers no KeyUpdate") {
				t.Fatalf("victim Read: %v; want an error naming the failed write of the KeyUpdate answer", err)
			}
			t.Log(err)
		})
	}
}

// keyUpdatePair handshakes a stdtls victim over victimRaw, the client
// when victimIsClient and else the server, with a circl-pq attacker over
// attackerRaw; both are closed as the test ends.
func keyUpdatePair(t *testing.T, f *fixture, victimIsClient bool, victimRaw, attackerRaw net.Conn) (victim backends.Conn, attacker *circlpq.Conn) {
	t.Helper()
	var err error
	if victimIsClient {
		victim, err = stdtls.Backend{}.Client(victimRaw, &backends.ClientConfig{ServerName: "a.test", RootCAs: f.ca.Pool()})
		if err == nil {
			attacker, err = circlpq.Server(attackerRaw, &backends.ServerConfig{Identities: []*backends.Identity{f.server.Identity()}})
		}
	} else {
		victim, err = stdtls.Backend{}.Server(victimRaw, &backends.ServerConfig{Identities: []*backends.Identity{f.server.Identity()}})
		if err == nil {
			attacker, err = circlpq.Client(attackerRaw, &backends.ClientConfig{ServerName: "a.test", RootCAs: f.ca.Pool()})
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		attacker.Close()
		victim.Close()
	})
	done := make(chan error, 1)
	go func() { done <- attacker.Handshake(context.Background()) }()
	if err := victim.Handshake(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return victim, attacker
}
