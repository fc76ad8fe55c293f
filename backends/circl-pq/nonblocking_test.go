package circlpq

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
)

// The tests of this file hold the engine to the promise of
// backends.NonblockingConn: a transport timeout in Read leaves the
// connection intact, wherever it falls, and the next Read continues where
// the last one stopped.

// errInjectedTimeout is the timeout a flakyConn returns instead of reading.
var errInjectedTimeout net.Error = injectedTimeout{}

type injectedTimeout struct{}

func (injectedTimeout) Error() string   { return "read: i/o timeout (injected)" }
func (injectedTimeout) Timeout() bool   { return true }
func (injectedTimeout) Temporary() bool { return true }

// A flakyConn is a transport that, once armed, behaves like one that never
// blocks: on a pseudo-random schedule it fails a Read with a timeout
// instead of reading, and otherwise returns at most a few bytes, so that
// timeouts fall at every position of record headers and bodies.
type flakyConn struct {
	net.Conn
	armed atomic.Bool

	mu       sync.Mutex
	rng      *rand.Rand
	fail     error // returned by every Read from the next one on, when set
	reads    int   // transport Reads made while armed
	timeouts int   // timeouts injected
}

func newFlakyConn(c net.Conn, seed uint64) *flakyConn {
	return &flakyConn{Conn: c, rng: rand.New(rand.NewPCG(seed, 0x6e6f6e626c6f636b))}
}

func (f *flakyConn) Read(p []byte) (int, error) {
	if !f.armed.Load() {
		return f.Conn.Read(p)
	}
	f.mu.Lock()
	if f.fail != nil {
		err := f.fail
		f.mu.Unlock()
		return 0, err
	}
	f.reads++
	timeout := f.rng.IntN(3) == 0
	// Half the Reads return a few bytes, to cut headers everywhere; the
	// others up to a few KiB, to keep the test fast.
	n := 1 + f.rng.IntN(8)
	if f.rng.IntN(2) == 0 {
		n = 1 + f.rng.IntN(4096)
	}
	if timeout {
		f.timeouts++
	}
	f.mu.Unlock()
	if timeout {
		return 0, errInjectedTimeout
	}
	return f.Conn.Read(p[:min(len(p), n)])
}

// timeoutSpots counts where in the read side the timeouts seen by Read
// fell.
type timeoutSpots struct {
	betweenRecords, inHeader, inBody, inHandshakeMessage atomic.Int64
}

// note records the read state of c after a Read returned a timeout.
func (s *timeoutSpots) note(c *Conn) {
	c.in.Lock()
	pending, hand := len(c.rawIn)-c.rawOff, len(c.hand)
	c.in.Unlock()
	switch {
	case pending == 0:
		s.betweenRecords.Add(1)
	case pending < recordHeaderLen:
		s.inHeader.Add(1)
	default:
		s.inBody.Add(1)
	}
	if hand > 0 {
		s.inHandshakeMessage.Add(1)
	}
}

func (s *timeoutSpots) String() string {
	return fmt.Sprintf("between records %d, in a header %d, in a body %d, inside a fragmented handshake message %d",
		s.betweenRecords.Load(), s.inHeader.Load(), s.inBody.Load(), s.inHandshakeMessage.Load())
}

// streamOf is the pseudo-random application data one side sends.
func streamOf(seed uint64, side string) io.Reader {
	var key [32]byte
	copy(key[:], fmt.Sprintf("%s %d", side, seed))
	return rand.NewChaCha8(key)
}

// readStream reads from r until io.EOF, retrying timeouts (which must
// be net.Errors with Timeout set), and checks every byte against want.
// spots, when c is set, learns where the timeouts fell.
func readStream(r io.Reader, want io.Reader, rng *rand.Rand, c *Conn, spots *timeoutSpots) (int, error) {
	buf := make([]byte, 20000)
	exp := make([]byte, len(buf))
	total, timeouts := 0, 0
	for {
		n, err := r.Read(buf[:1+rng.IntN(len(buf))])
		if err == nil || !isTimeout(err) {
			timeouts = 0
		}
		if n > 0 {
			io.ReadFull(want, exp[:n])
			if !bytes.Equal(buf[:n], exp[:n]) {
				return total, fmt.Errorf("data differs within bytes %d to %d of the stream", total, total+n)
			}
			total += n
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return total, nil
		case errors.Is(err, errInjectedTimeout):
			if !isTimeout(err) {
				return total, fmt.Errorf("the timeout %v is not a net.Error timeout", err)
			}
			if n != 0 {
				return total, fmt.Errorf("a timeout with %d bytes", n)
			}
			// The schedule times out one Read in three: a hundred in a
			// row means Read no longer reads, the timeout was latched.
			if timeouts++; timeouts == 100 {
				return total, fmt.Errorf("%d timeouts in a row after %d bytes: the connection is stuck", timeouts, total)
			}
			if c != nil {
				spots.note(c)
			}
		default:
			return total, err
		}
	}
}

// readAll is readStream that also wants the whole stream.
func readAll(r io.Reader, want io.Reader, rng *rand.Rand, c *Conn, spots *timeoutSpots) error {
	n, err := readStream(r, want, rng, c, spots)
	if err == nil && n < streamSize {
		err = fmt.Errorf("read %d bytes of at least %d", n, streamSize)
	}
	return err
}

// runSides runs the named functions concurrently and returns their
// errors. The first error closes the transports, so that the others end
// too.
func runSides(transports []net.Conn, sides map[string]func() error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for name, f := range sides {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				mu.Lock()
				if len(errs) == 0 {
					for _, c := range transports {
						c.Close()
					}
				}
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// sendFragmented sends a post-handshake message over several records, as
// RFC 8446, Section 5.1 allows, then rotates the write keys if it was a
// KeyUpdate.
func sendFragmented(c *Conn, msg []byte, rng *rand.Rand) error {
	c.out.Lock()
	defer c.out.Unlock()
	isKeyUpdate := msg[0] == typeKeyUpdate
	for len(msg) > 0 {
		n := 1 + rng.IntN(min(len(msg), maxPlaintext))
		if _, err := c.writeRecordLocked(recordTypeHandshake, msg[:n]); err != nil {
			return err
		}
		msg = msg[n:]
	}
	if isKeyUpdate {
		next := c.out.suite.nextTrafficSecret(c.out.trafficSecret)
		return c.out.setTrafficSecret(c.out.suite, next)
	}
	return nil
}

// ticketFor returns a NewSessionTicket of ticketLen opaque bytes: large
// ones span records.
func ticketFor(rng *rand.Rand, ticketLen int) []byte {
	t := &newSessionTicketMsg{lifetime: 3600, ageAdd: rng.Uint32(), nonce: []byte{byte(rng.IntN(256))}, ticket: make([]byte, ticketLen)}
	for i := range t.ticket {
		t.ticket[i] = byte(rng.IntN(256))
	}
	return t.marshal()
}

// peerOps is what one side may do besides sending data.
type peerOps struct {
	keyUpdate       func(requestPeer bool) error // nil: none
	fragmented      func(msg []byte) error       // nil: none
	tickets         bool                         // send NewSessionTicket (server)
	requestIdentity func() error                 // post-handshake auth (server)
}

// writeStream writes about size bytes of want in writes of varied sizes,
// with post-handshake messages in between, then closes for writing.
func writeStream(w io.Writer, want io.Reader, size int, rng *rand.Rand, ops peerOps, closeWrite func() error) error {
	buf := make([]byte, 40000)
	for sent := 0; sent < size; {
		var n int
		switch rng.IntN(4) {
		case 0:
			n = rng.IntN(64)
		case 1:
			n = 100 + rng.IntN(2000)
		case 2:
			n = maxPlaintext - 8 + rng.IntN(16)
		default:
			n = rng.IntN(len(buf))
		}
		io.ReadFull(want, buf[:n])
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
		sent += n
		switch k := rng.IntN(10); {
		case k == 0 && ops.keyUpdate != nil:
			if err := ops.keyUpdate(rng.IntN(2) == 0); err != nil {
				return err
			}
		case k == 1 && ops.fragmented != nil:
			msg := (&keyUpdateMsg{updateRequested: rng.IntN(2) == 0}).marshal()
			if err := ops.fragmented(msg); err != nil {
				return err
			}
		case k == 2 && ops.tickets && ops.fragmented != nil:
			size := 1 + rng.IntN(100)
			if rng.IntN(3) == 0 {
				size = maxPlaintext + rng.IntN(8000)
			}
			if err := ops.fragmented(ticketFor(rng, size)); err != nil {
				return err
			}
		case k == 3 && ops.requestIdentity != nil:
			if err := ops.requestIdentity(); err != nil {
				return err
			}
		}
	}
	return closeWrite()
}

// nonblockingSeeds is how many schedules each test runs.
const nonblockingSeeds = 24

// streamSize is how much application data each side sends per schedule.
const streamSize = 192 << 10

// TestNonblockingTransport runs two engines whose transports time out on a
// pseudo-random schedule after the handshake, and checks that every byte
// arrives, in order, both ways, with KeyUpdates (update_requested either
// way, whole and fragmented), session tickets (some spanning records) and
// post-handshake client authentication interleaved.
func TestNonblockingTransport(t *testing.T) {
	p := pki(t)
	var spots timeoutSpots
	var reads, timeouts int
	for seed := range uint64(nonblockingSeeds) {
		craw, sraw := tcpPair(t)
		cflaky, sflaky := newFlakyConn(craw, 2*seed), newFlakyConn(sraw, 2*seed+1)
		cc := p.clientConfig()
		cc.ClientIdentity = offer(p.client.Identity())
		client, chs := engineClient(t, cflaky, cc)
		client.SetSessionCache(NewSessionCache(1))
		server, shs := engineServer(t, sflaky, p.serverConfig(p.p256))
		if cerr, serr := both(chs, shs); cerr != nil || serr != nil {
			t.Fatalf("seed %d: handshake: client %v, server %v", seed, cerr, serr)
		}
		cflaky.armed.Store(true)
		sflaky.armed.Store(true)

		rng := func(i uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, i)) }
		// The client closes only once it read the server's close_notify:
		// after close_notify it could not answer certificate requests.
		clientReadDone := make(chan struct{})
		err := runSides([]net.Conn{craw, sraw}, map[string]func() error{
			"client write": func() error {
				r := rng(1)
				return writeStream(client, streamOf(seed, "client"), streamSize, r, peerOps{
					keyUpdate:  client.KeyUpdate,
					fragmented: func(msg []byte) error { return sendFragmented(client, msg, r) },
				}, func() error {
					<-clientReadDone
					return client.CloseWrite()
				})
			},
			"server write": func() error {
				r := rng(2)
				identities := 0
				return writeStream(server, streamOf(seed, "server"), streamSize, r, peerOps{
					keyUpdate:  server.KeyUpdate,
					fragmented: func(msg []byte) error { return sendFragmented(server, msg, r) },
					tickets:    true,
					requestIdentity: func() error {
						if identities++; identities > 2 {
							return nil
						}
						chain, err := requestIdentity(t, server)
						if err == nil && len(chain) == 0 {
							err = errors.New("the client sent no certificate")
						}
						return err
					},
				}, server.CloseWrite)
			},
			"client read": func() error {
				defer close(clientReadDone)
				return readAll(client, streamOf(seed, "server"), rng(3), client, &spots)
			},
			"server read": func() error {
				return readAll(server, streamOf(seed, "client"), rng(4), server, &spots)
			},
		})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for _, f := range []*flakyConn{cflaky, sflaky} {
			reads += f.reads
			timeouts += f.timeouts
		}
		client.Close()
		server.Close()
	}
	t.Logf("%d transport reads, %d timeouts; timeouts seen by Read: %v", reads, timeouts, &spots)
	if spots.inHeader.Load() == 0 || spots.inBody.Load() == 0 || spots.inHandshakeMessage.Load() == 0 || spots.betweenRecords.Load() == 0 {
		t.Errorf("the schedules missed a position: %v", &spots)
	}
}

// TestNonblockingTransportGoPeer runs the engine, its transport timing out
// after the handshake, against crypto/tls in both roles: crypto/tls
// answers the engine's KeyUpdates and, as a server, sends its tickets
// after the handshake.
func TestNonblockingTransportGoPeer(t *testing.T) {
	p := pki(t)
	var spots timeoutSpots
	for seed := range uint64(nonblockingSeeds / 2) {
		for _, engineIsClient := range []bool{true, false} {
			craw, sraw := tcpPair(t)
			var engine *Conn
			var flaky *flakyConn
			var peer *tls.Conn
			var ehs func() error
			if engineIsClient {
				flaky = newFlakyConn(craw, seed)
				engine, ehs = engineClient(t, flaky, p.clientConfig())
				engine.SetSessionCache(NewSessionCache(1))
				peer = tls.Server(sraw, p.goServerConfig(p.p256))
			} else {
				flaky = newFlakyConn(sraw, seed)
				engine, ehs = engineServer(t, flaky, p.serverConfig(p.p256))
				peer = tls.Client(craw, p.goClientConfig())
			}
			if eerr, perr := both(ehs, peer.Handshake); eerr != nil || perr != nil {
				t.Fatalf("seed %d: handshake: engine %v, crypto/tls %v", seed, eerr, perr)
			}
			flaky.armed.Store(true)

			rng := func(i uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, i)) }
			// crypto/tls closes only once it read everything: after its
			// close_notify it can no longer answer a KeyUpdate, and then
			// it keeps its old read keys (crypto/tls handleKeyUpdate).
			peerReadDone := make(chan struct{})
			err := runSides([]net.Conn{craw, sraw}, map[string]func() error{
				"engine write": func() error {
					r := rng(1)
					return writeStream(engine, streamOf(seed, "engine"), streamSize, r, peerOps{
						keyUpdate:  engine.KeyUpdate,
						fragmented: func(msg []byte) error { return sendFragmented(engine, msg, r) },
					}, engine.CloseWrite)
				},
				"crypto/tls write": func() error {
					return writeStream(peer, streamOf(seed, "peer"), streamSize, rng(2), peerOps{}, func() error {
						<-peerReadDone
						return peer.CloseWrite()
					})
				},
				"engine read": func() error {
					return readAll(engine, streamOf(seed, "peer"), rng(3), engine, &spots)
				},
				"crypto/tls read": func() error {
					defer close(peerReadDone)
					return readAll(peer, streamOf(seed, "engine"), rng(4), nil, nil)
				},
			})
			if err != nil {
				t.Fatalf("seed %d, engine client %v: %v", seed, engineIsClient, err)
			}
			engine.Close()
			peer.Close()
		}
	}
	t.Logf("timeouts seen by Read: %v", &spots)
	if spots.inHeader.Load() == 0 || spots.inBody.Load() == 0 {
		t.Errorf("the schedules missed a position: %v", &spots)
	}
}

// TestNonblockingErrorLatches checks that a transport error other than a
// timeout still ends the read side: later Reads return it without
// touching the transport, even once the transport works again.
func TestNonblockingErrorLatches(t *testing.T) {
	p := pki(t)
	craw, sraw := tcpPair(t)
	flaky := newFlakyConn(craw, 1)
	client, chs := engineClient(t, flaky, p.clientConfig())
	server, shs := engineServer(t, sraw, p.serverConfig(p.p256))
	if cerr, serr := both(chs, shs); cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	echo(t, client, server)

	// A timeout first: the connection survives it.
	flaky.armed.Store(true)
	flaky.mu.Lock()
	flaky.fail = errInjectedTimeout
	flaky.mu.Unlock()
	if _, err := client.Read(make([]byte, 1)); !errors.Is(err, errInjectedTimeout) {
		t.Fatalf("Read over a timing-out transport: %v, want the timeout", err)
	}
	flaky.armed.Store(false)
	echo(t, client, server)

	broken := errors.New("transport broken")
	flaky.mu.Lock()
	flaky.fail = broken
	flaky.mu.Unlock()
	flaky.armed.Store(true)
	if _, err := client.Read(make([]byte, 1)); !errors.Is(err, broken) {
		t.Fatalf("Read over a broken transport: %v, want %v", err, broken)
	}
	flaky.armed.Store(false)
	if _, err := server.Write([]byte("more")); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Read(make([]byte, 4)); !errors.Is(err, broken) {
		t.Fatalf("second Read: %v, want the latched %v", err, broken)
	}
}

// TestNonblockingHandshakeTimeoutIsFatal checks that a transport timeout
// during the handshake fails it for good: the handshake cannot resume.
func TestNonblockingHandshakeTimeoutIsFatal(t *testing.T) {
	p := pki(t)
	craw, sraw := tcpPair(t)
	flaky := newFlakyConn(craw, 1)
	flaky.fail = errInjectedTimeout
	flaky.armed.Store(true)
	client, chs := engineClient(t, flaky, p.clientConfig())
	_, shs := engineServer(t, sraw, p.serverConfig(p.p256))
	go shs()
	err := chs()
	if !isTimeout(err) {
		t.Fatalf("Handshake: %v, want the transport timeout", err)
	}
	flaky.armed.Store(false)
	if again := client.Handshake(context.Background()); again != err {
		t.Fatalf("second Handshake: %v, want the first error %v", again, err)
	}
	if _, rerr := client.Read(make([]byte, 1)); rerr == nil {
		t.Fatal("Read after a failed handshake succeeded")
	}
	client.Close()
}

var _ backends.NonblockingConn = (*Conn)(nil)

// TestNonblockingRequestClientIdentity has a server with no Read of its
// own authenticate the client over a transport that times out: it polls
// until the answer is in. Over a transport that only times out, the wait
// ends with ctx and leaves the connection intact.
func TestNonblockingRequestClientIdentity(t *testing.T) {
	p := pki(t)
	client, server := phaPair(t, offer(p.client.Identity()), nil)
	sflaky := newFlakyConn(server.conn, 3)
	server.conn = sflaky
	sflaky.armed.Store(true)
	done := clientReader(client)

	chain, err := requestIdentity(t, server)
	if err != nil || len(chain) == 0 {
		t.Fatalf("RequestClientIdentity over a timing-out transport: %d certificates, %v", len(chain), err)
	}
	sflaky.mu.Lock()
	timeouts := sflaky.timeouts
	sflaky.mu.Unlock()
	if timeouts == 0 {
		t.Error("the transport never timed out")
	}

	sflaky.mu.Lock()
	sflaky.fail = errInjectedTimeout
	sflaky.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := server.RequestClientIdentity(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RequestClientIdentity over a transport that only times out: %v, want the deadline", err)
	}
	sflaky.armed.Store(false)
	// The late answer is still read, checked and dropped; data follows.
	if _, err := client.Write([]byte("still here")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("still here"))
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "still here" {
		t.Fatalf("Read after the abandoned request: %q, %v", buf, err)
	}
	server.Close()
	<-done
}
