package wasiio

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	circlpq "github.com/wasitls/wasitls/backends/circl-pq"
)

// bigCAPool is a pool of CAs whose names take some 53 KiB together: a
// server's post-handshake CertificateRequest naming them is four records.
func bigCAPool(t *testing.T) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	for i := range 4 {
		var units []string
		for j := range 200 {
			units = append(units, fmt.Sprintf("unit %d.%d %s", i, j, strings.Repeat("u", 48)))
		}
		name := pkix.Name{CommonName: fmt.Sprintf("ca %d", i), OrganizationalUnit: units}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: name,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		pool.AddCert(cert)
	}
	if n := len(backends.CANames(pool)); n != 4 {
		t.Fatalf("the request names %d of the 4 CAs", n)
	}
	return pool
}

// hookWriter runs hook (once, when set) at the start of its next Write.
type hookWriter struct {
	w    io.Writer
	hook func()
}

func (h *hookWriter) Write(p []byte) (int, error) {
	if f := h.hook; f != nil {
		h.hook = nil
		f()
	}
	return h.w.Write(p)
}

// stuckRequest is a circl-pq server over a socket's transport whose
// unsent budget is spent (its peer, a client, reads nothing after the
// handshake), with the inline output stream a guest writes through.
type stuckRequest struct {
	q      *sendQueue
	b      *UnsentBudget
	srv    *circlpq.Conn
	writer *hookWriter
	s      *OutputStream
}

func newStuckRequest(t *testing.T) *stuckRequest {
	t.Helper()
	tc, peer, b, ca, leaf := spentTLSPair(t)
	t.Cleanup(func() { tc.Close() }) // ends a write still waiting
	srv, err := circlpq.Server(tc, &backends.ServerConfig{Identities: []*backends.Identity{leaf.Identity()}, ClientCAs: bigCAPool(t)})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := circlpq.Client(peer, &backends.ClientConfig{ServerName: "localhost", RootCAs: ca.Pool(),
		ClientIdentity: func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) { return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	hs := make(chan error, 1)
	go func() { hs <- srv.Handshake(bg) }()
	if err := cl.Handshake(bg); err != nil {
		t.Fatal(err)
	}
	if err := <-hs; err != nil {
		t.Fatal(err)
	}
	r := &stuckRequest{q: tc.(NonblockingTransport).Backlog().(*sendQueue), b: b, srv: srv}
	r.writer = &hookWriter{w: srv}
	r.s = NewInlineOutputStream(r.writer, r.q, nil)
	if n, err := r.s.CheckWrite(bg); n == 0 || err != nil {
		t.Fatalf("check-write: %d, %v", n, err)
	}
	return r
}

// fill has the server write data until its socket is full (the peer
// reads nothing) and half its queue's floor is unsent, so that the
// request's records stay unsent whatever room the socket finds later.
func (r *stuckRequest) fill() error {
	chunk := make([]byte, 1024)
	for range 16 << 10 {
		if n, _ := r.q.Unsent(); n >= UnsentFloor/2 {
			return nil
		}
		if _, err := r.srv.Write(chunk); err != nil {
			return err
		}
	}
	return errors.New("the socket never filled")
}

// request starts the server's post-handshake certificate request, and
// returns once its write waits for room (the budget's) or the request
// ended, whose result done then has. It may run off the test's goroutine.
func (r *stuckRequest) request(t *testing.T) (done chan error) {
	done = make(chan error, 1)
	if err := r.fill(); err != nil {
		t.Error(err)
		done <- err
		return done
	}
	ctx, cancel := context.WithCancel(bg)
	t.Cleanup(cancel)
	go func() {
		_, err := r.srv.RequestClientIdentity(ctx)
		done <- err
	}()
	for guard := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		r.b.mu.Lock()
		_, waits := r.b.blocked[r.q]
		r.b.mu.Unlock()
		if waits || len(done) > 0 {
			return done
		}
		if time.Now().After(guard) { // a hang guard only
			t.Error("the certificate request neither waited for room nor ended")
			return done
		}
	}
}

// returns fails the test unless f returns before its hang guard, naming
// what did not.
func returns(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // a hang guard only
		t.Fatalf("%s did not return", what)
	}
}

// TestGuestWriteDuringStuckEngineWrite: a write the TLS engine makes on
// its own from a goroutine after the handshake (here a guest server's
// post-handshake CertificateRequest naming 53 KiB of CAs; also a KeyUpdate
// answer or an alert) waits for room in the socket's send queue when the
// peer reads nothing and the guest's unsent budget is spent, holding the
// engine's write lock. A guest's write that reaches the engine meanwhile
// waits for that lock, on the guest's call: the write that passed the
// stream's check of the queue just before the request began, or the push
// of its gathered bytes when it drops the stream. Before, either waited
// until the request was given up on (30 s by default). Now the engine's
// write, once past what the queue takes uncounted during a guest's write,
// fails the connection instead (the peer is not reading), as one inside a
// read already did, and the guest's call returns.
func TestGuestWriteDuringStuckEngineWrite(t *testing.T) {
	t.Run("write", func(t *testing.T) {
		r := newStuckRequest(t)
		var done chan error
		// The request begins after the stream saw nothing unsent.
		r.writer.hook = func() { done = r.request(t) }
		returns(t, "the guest's write", func() { r.s.Write(bg, []byte("x")) })
		if done == nil {
			t.Fatal("the request did not begin")
		}
	})
	t.Run("drop", func(t *testing.T) {
		r := newStuckRequest(t)
		done := r.request(t)
		if len(done) > 0 {
			t.Fatalf("the request ended at once: %v", <-done)
		}
		// Meanwhile the stream takes the guest's calls without waiting:
		// it gathers a write, grants nothing more, flushes, and is not ready.
		returns(t, "the guest's write", func() {
			if err := r.s.Write(bg, []byte("x")); err != nil {
				t.Errorf("write within the permit: %v", err)
			}
		})
		returns(t, "check-write", func() {
			if n, err := r.s.CheckWrite(bg); n != 0 || err != nil {
				t.Errorf("check-write behind the request: %d, %v", n, err)
			}
		})
		returns(t, "flush", func() { r.s.Flush(bg) })
		returns(t, "ready", func() {
			if r.s.Ready() {
				t.Error("the stream is ready behind the request")
			}
		})
		// Dropping the stream pushes the gathered byte through the engine.
		returns(t, "dropping the stream", func() { r.s.Close() })
	})
}

// lockedWriter writes to q holding mu: a TLS engine's write lock, which
// its own write from a goroutine holds across its records, and which the
// guest's write needs.
type lockedWriter struct {
	mu *sync.Mutex
	q  *sendQueue
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.q.Write(p)
}

// TestGuestWriteWakesEngineWaitingForRoom: an engine's write that already
// waits for room, holding the engine's write lock, when a guest's write
// begins is woken by the guest's write (guestWrite), takes what the queue
// exempts and then fails the connection, so that the guest's write, which
// waits for that lock, returns. The socket is full before the engine
// writes (a silent peer): the queue's flusher makes no progress, which
// would otherwise wake the waiting write too. Without the wake-up the
// guest's write waited for as long as the peer read nothing.
func TestGuestWriteWakesEngineWaitingForRoom(t *testing.T) {
	if !nonblockingCapable {
		t.Skip("the streams are inline only where the platform allows non-blocking sockets")
	}
	a, _ := silentPair(t)
	// Fill the socket: the peer reads nothing, so nothing moves after.
	chunk := make([]byte, 64<<10)
	for range 2 {
		a.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		for {
			if _, err := a.Write(chunk); err != nil {
				break
			}
		}
	}
	a.SetWriteDeadline(time.Time{})
	b := NewUnsentBudget(0, nil) // spent
	in, out, _ := SocketStreamsBudget(a, nil, a.Close, 0, b)
	tc, err := Transport(in, out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() }) // ends a write still waiting
	q := tc.(NonblockingTransport).Backlog().(*sendQueue)

	var mu sync.Mutex
	engine := make(chan error, 1)
	go func() {
		// The engine's own write of many records (a post-handshake
		// CertificateRequest), holding its lock throughout.
		mu.Lock()
		defer mu.Unlock()
		record := make([]byte, 4<<10)
		for {
			if _, err := q.Write(record); err != nil {
				engine <- err
				return
			}
		}
	}()
	for guard := time.Now().Add(10 * time.Second); q.waiting.Load() == 0; time.Sleep(time.Millisecond) {
		if len(engine) > 0 {
			t.Fatalf("the engine's write ended without waiting: %v", <-engine)
		}
		if time.Now().After(guard) { // a hang guard only
			t.Fatal("the engine's write never waited for room")
		}
	}
	var guestErr error
	returns(t, "the guest's write", func() {
		_, guestErr = q.guestWrite(lockedWriter{&mu, q}, []byte("x"))
	})
	engineErr := <-engine
	if engineErr == nil || !strings.Contains(engineErr.Error(), "not reading") {
		t.Errorf("the engine's write: %v, want the peer not reading", engineErr)
	}
	if guestErr == nil || !strings.Contains(guestErr.Error(), "not reading") {
		t.Errorf("the guest's write: %v, want the connection failed", guestErr)
	}
	if n := q.waiting.Load(); n != 0 {
		t.Errorf("%d writes still counted as waiting", n)
	}
	if budgetBlocked(b, q) {
		t.Error("the queue is still registered as waiting for the budget")
	}
}
