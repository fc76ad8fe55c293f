package stdtls_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/internal/tls13records"
)

// backlogConn is a transport counting the backlog it is told of
// (backends.PeerBacklogCounter) against limit. reached, when not nil, is
// closed once it is told of at least at bytes.
type backlogConn struct {
	net.Conn
	limit   int64
	at      int64
	reached chan struct{}
	mu      sync.Mutex
	held    int64 // what it was last told
	most    int64 // the most it was told
	calls   int
}

var errBacklog = errors.New("test transport: backlog over its limit")

func (c *backlogConn) HoldPeerBacklog(n int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if n > c.limit {
		return fmt.Errorf("%w (%d bytes)", errBacklog, n)
	}
	if c.reached != nil && n >= c.at && c.most < c.at {
		close(c.reached)
	}
	c.held, c.most = n, max(c.most, n)
	return nil
}

func (c *backlogConn) state() (held, most int64, calls int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held, c.most, c.calls
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestHostilePeerBacklog: a peer that, after the handshake, sends a
// handshake message in pieces and never its last byte makes crypto/tls
// buffer it whole: a Certificate of 256 KiB (the bound crypto/tls gives
// Certificate messages, though it takes none after the handshake),
// measured at some 560 KiB of heap a connection where an idle one holds
// 7 KiB, uncounted. The backend now tells its transport (a
// backends.PeerBacklogCounter) how much it read since data last came out
// of Read: a counter told of the 256 KiB fails the read with its error,
// a counter with room holds it until the victim is closed, and bulk
// data, 1 MiB of it, with KeyUpdates between, tells it nothing. TLS 1.3,
// the victim a client and a server, the peer crypto/tls with records
// after its handshake sealed by the test.
func TestHostilePeerBacklog(t *testing.T) {
	const certMsg = 1<<18 - 1 // the largest Certificate crypto/tls buffers
	inPieces := func(s *tls13records.Sealer) []byte { return s.InPieces(11, certMsg) }
	bulk := func(s *tls13records.Sealer) []byte {
		var out []byte
		for i := range 64 {
			out = append(out, s.Seal(23, make([]byte, 16384))...)
			if i%8 == 0 {
				out = append(out, s.KeyUpdate()...)
				out = append(out, s.Seal(23, []byte{1})...)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		limit  int64
		script func(s *tls13records.Sealer) []byte
		want   int // bytes Read returns
		fails  bool
	}{
		{"refused", 128 << 10, inPieces, 0, true},
		{"held", 1 << 20, inPieces, 0, false},
		{"bulk", 0, bulk, 64*16384 + 8, false},
	} {
		for _, victimIsClient := range []bool{true, false} {
			name := tc.name + "/victim-server"
			if victimIsClient {
				name = tc.name + "/victim-client"
			}
			t.Run(name, func(t *testing.T) {
				craw, sraw := testnet.TCPPairWithin(t, 20*time.Second)
				victimRaw, peerRaw := net.Conn(craw), net.Conn(sraw)
				if !victimIsClient {
					victimRaw, peerRaw = sraw, craw
				}
				// Less what crypto/tls read of the first record with the
				// handshake's last.
				const toldAtLeast = certMsg - 16<<10
				counted := &backlogConn{Conn: victimRaw, limit: tc.limit}
				if !tc.fails && tc.want == 0 {
					// The message stays in pieces: stop reading once the
					// counter was told of it (else at the deadline).
					counted.at, counted.reached = toldAtLeast, make(chan struct{})
					go func() {
						select {
						case <-counted.reached:
							victimRaw.SetReadDeadline(time.Now())
						case <-t.Context().Done():
						}
					}()
				}
				peerDone := make(chan error, 1)
				victim := backlogPair(t, victimIsClient, counted, peerRaw, func(s *tls13records.Sealer, err error) {
					if err == nil {
						_, err = peerRaw.Write(tc.script(s))
					}
					peerDone <- err
				})
				// Read while the peer writes: its script need not fit in
				// the sockets' buffers.
				got, err := io.ReadAtLeast(victim, make([]byte, tc.want+16384), max(tc.want, 1))
				if err := <-peerDone; err != nil {
					t.Fatalf("peer: %v", err)
				}
				held, most, calls := counted.state()
				t.Logf("read %d bytes, %v; backlog held %d, at most %d, %d calls", got, err, held, most, calls)
				switch {
				case tc.fails && !errors.Is(err, errBacklog):
					t.Errorf("read: %v; want the counter's refusal", err)
				case !tc.fails && tc.want == 0 && !isTimeout(err):
					t.Errorf("read: %v; want a timeout, the message held", err)
				case !tc.fails && tc.want == 0 && most < toldAtLeast:
					t.Errorf("the counter was told of at most %d bytes; want the message's %d", most, certMsg)
				case tc.want > 0 && (err != nil || got != tc.want):
					t.Errorf("read %d bytes, %v; want %d", got, err, tc.want)
				case tc.want > 0 && (held != 0 || most != 0):
					t.Errorf("bulk data told the counter of %d bytes (holding %d); want none", most, held)
				}
				// Closed with the message in pieces, the connection holds
				// nothing: the counter is told so. Before, it kept the
				// message counted for good unless it had a release of its
				// own (the host's has).
				victim.Close()
				if held, _, _ := counted.state(); held != 0 {
					t.Errorf("the victim closed, the counter holds %d bytes; want 0", held)
				}
			})
		}
	}
}

// TestHostilePaddedBacklog: a peer that, after the handshake, sends a
// handshake message announcing 60,000 bytes a byte in each record padded
// to 16 KiB, 17 MiB of records, never data. The victim's Read fails past
// 16 MiB read without data (maxPostHandshakeBytes, as circl-pq), and its
// counter is told of 320 KiB at most, what the connection may hold,
// whatever the padding; with no counter the Read fails too. Before,
// crypto/tls read on for as long as the peer sent (a GiB of records per
// message), and the counter was told of every byte of padding, as if held:
// one peer spent the guest's budget of peer certificate bytes.
func TestHostilePaddedBacklog(t *testing.T) {
	records := (16<<20)/paddedRecordLen + 8
	for _, counter := range []bool{true, false} {
		for _, victimIsClient := range []bool{true, false} {
			name := fmt.Sprintf("counter-%v/victim-server", counter)
			if victimIsClient {
				name = fmt.Sprintf("counter-%v/victim-client", counter)
			}
			t.Run(name, func(t *testing.T) {
				craw, sraw := testnet.TCPPairWithin(t, 30*time.Second)
				victimRaw, peerRaw := net.Conn(craw), net.Conn(sraw)
				typ := byte(4) // NewSessionTicket
				if !victimIsClient {
					victimRaw, peerRaw = sraw, craw
					typ = 24 // KeyUpdate
				}
				counted := &backlogConn{Conn: victimRaw, limit: 1 << 30}
				transport := net.Conn(counted)
				if !counter {
					transport = victimRaw
				}
				victim := backlogPair(t, victimIsClient, transport, peerRaw, func(s *tls13records.Sealer, err error) {
					if err != nil {
						return
					}
					for i := range records {
						if _, err := peerRaw.Write(paddedPiece(s, typ, i)); err != nil {
							return
						}
					}
				})
				victimRaw.SetReadDeadline(time.Now().Add(20 * time.Second))
				n, err := victim.Read(make([]byte, 1))
				if n != 0 || err == nil || !strings.Contains(err.Error(), stdtls.ErrPostHandshakeBytes.Error()) {
					t.Errorf("after up to %d padded records of one byte, Read = %d, %v; want %v", records, n, err, stdtls.ErrPostHandshakeBytes)
				}
				// Without a counter, counted is not in the victim's path: only
				// the Read's failure is checked.
				if _, most, _ := counted.state(); counter && most > 1<<18+64<<10 {
					t.Errorf("the counter was told of %d bytes; want at most 320 KiB, what the connection may hold", most)
				}
			})
		}
	}
}

// backlogPair runs a TLS 1.3 handshake between a stdtls victim over
// transport and a crypto/tls peer on peerRaw, which then runs after with
// the Sealer of its records (or the handshake's error) and reads until
// the connection ends; it returns the victim, its handshake complete.
func backlogPair(t *testing.T, victimIsClient bool, transport, peerRaw net.Conn, after func(*tls13records.Sealer, error)) backends.Conn {
	t.Helper()
	key, leaf, parsed, roots := localhostLeaf(t)
	go func() {
		cfg := &tls.Config{ServerName: "localhost", RootCAs: roots}
		if victimIsClient {
			cfg = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf}, PrivateKey: key}}}
		}
		_, s, err := tls13records.Handshake(peerRaw, cfg, victimIsClient)
		after(s, err)
		io.Copy(io.Discard, peerRaw)
	}()
	var victim backends.Conn
	var err error
	if victimIsClient {
		victim, err = stdtls.Backend{}.Client(transport, &backends.ClientConfig{ServerName: "localhost", RootCAs: roots})
	} else {
		victim, err = stdtls.Backend{}.Server(transport, &backends.ServerConfig{Identities: []*backends.Identity{{
			Chain: [][]byte{leaf}, Key: key, Leaf: parsed}}})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { victim.Close() })
	if err := victim.Handshake(t.Context()); err != nil {
		t.Fatal(err)
	}
	return victim
}
