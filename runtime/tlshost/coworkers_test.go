package tlshost

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
)

// handshakeOnWaits makes a client session of b with workers (nil: none)
// to a crypto/tls server and runs its deferred handshake on waits with a
// deadline (a Go guest's timer) until it completes, then checks the
// connection. The session is closed when the test ends.
func handshakeOnWaits(t *testing.T, p *pki, b backends.Backend, workers *coWorkers) *clientSession {
	t.Helper()
	addr, res := goServerAfter(t, &tls.Config{Certificates: []tls.Certificate{p.server.TLSCertificate()}}, 0)
	s, a := deferredSession(t, b, p, dial(t, addr), -1, workers)
	for begin := time.Now(); !a.Ready(); {
		if time.Since(begin) > waitLimit {
			t.Fatal("the handshake did not complete")
		}
		if !a.Await(context.Background(), time.Now().Add(20*time.Millisecond)) {
			t.Fatal("Await did not run the handshake")
		}
	}
	conn, err := await(t, s.streamsFut)
	if err != nil {
		t.Fatal(err)
	}
	checkGoServerEcho(t, conn, res, "")
	return s
}

// idleSoon waits until workers keeps want idle coroutines: a coroutine
// goes back once the resumption that saw its handshake end returned,
// just after the handshake's future resolved (on a goroutine, for a
// handshake someone other than a lone wait looked at).
func idleSoon(t *testing.T, workers *coWorkers, want int) {
	t.Helper()
	for begin := time.Now(); workers.idleCount() != want; time.Sleep(time.Millisecond) {
		if time.Since(begin) > waitLimit {
			t.Fatalf("%d idle coroutines, want %d", workers.idleCount(), want)
		}
	}
}

// idleCount reports how many coroutines p keeps.
func (p *coWorkers) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// The handshakes a guest's waits run one after the other share one
// coroutine, kept between them; closing the guest's set stops it, and a
// session without a set (no guest) makes its own and leaves nothing.
func TestPausableCoroutineReused(t *testing.T) {
	p := newPKI(t)
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		checkNoLeak(t)
		workers := newCoWorkers(time.Minute)
		var first *coWorker
		for i := range 3 {
			handshakeOnWaits(t, p, b, workers).Close()
			idleSoon(t, workers, 1)
			workers.mu.Lock()
			w := workers.idle[0]
			workers.mu.Unlock()
			if first == nil {
				first = w
			} else if w != first {
				t.Fatalf("handshake %d ran on a new coroutine", i)
			}
		}
		workers.Close()
		if n := workers.idleCount(); n != 0 {
			t.Fatalf("%d idle coroutines after Close", n)
		}
		// Without a set: a coroutine of its own, stopped at its end.
		handshakeOnWaits(t, p, b, nil)
	})
}

// Handshakes paused against silent peers each hold a coroutine of the
// guest's; dropped, they end on goroutines and give their coroutines
// back, of which the guest keeps maxIdleCoWorkers. A set closed while
// handshakes are paused (the guest's close) stops its idle coroutines at
// once and the others when their handshakes end, and a guest that stops
// making handshakes keeps none past idleFor: no goroutine is left.
func TestPausableCoroutinesReleased(t *testing.T) {
	b, err := backends.ByName("stdtls")
	if err != nil {
		t.Fatal(err)
	}
	pausedToSilent := func(t *testing.T, workers *coWorkers) *clientSession {
		ours, _, helloed := silentServer(t)
		s, a := deferredSession(t, b, newPKI(t), ours, -1, workers)
		if !a.Await(context.Background(), time.Now().Add(30*time.Millisecond)) {
			t.Fatal("Await did not run the handshake")
		}
		within(t, waitLimit, helloed, "the ClientHello")
		if a.Ready() {
			t.Fatal("the handshake completed against a silent peer")
		}
		return s
	}
	dropAll := func(t *testing.T, ss []*clientSession) {
		for _, s := range ss {
			closeWithin(t, giveUpBound, s)
			wantErr(t, futureErr(t, giveUpBound, s.streamsFut, "finish"), "aborted")
		}
	}
	t.Run("dropped", func(t *testing.T) {
		checkNoLeak(t)
		workers := newCoWorkers(time.Minute)
		var ss []*clientSession
		for range maxIdleCoWorkers + 2 {
			ss = append(ss, pausedToSilent(t, workers))
		}
		if n := workers.idleCount(); n != 0 {
			t.Fatalf("%d idle coroutines while every handshake is paused, want 0", n)
		}
		dropAll(t, ss)
		idleSoon(t, workers, maxIdleCoWorkers)
		workers.Close()
		idleSoon(t, workers, 0)
	})
	t.Run("idle", func(t *testing.T) {
		// Kept coroutines are stopped once idle for idleFor, with the
		// guest alive.
		checkNoLeak(t)
		workers := newCoWorkers(50 * time.Millisecond)
		dropAll(t, []*clientSession{pausedToSilent(t, workers), pausedToSilent(t, workers)})
		idleSoon(t, workers, 0)
	})
	t.Run("guest-closed-while-paused", func(t *testing.T) {
		checkNoLeak(t)
		workers := newCoWorkers(time.Minute)
		ss := []*clientSession{pausedToSilent(t, workers), pausedToSilent(t, workers)}
		workers.Close()
		dropAll(t, ss)
		idleSoon(t, workers, 0)
	})
}
