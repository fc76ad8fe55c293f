package tlshost

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// pauseBound is how late a wait with a deadline may return while the
// handshake runs on it: the backend's computation between two reads (an
// ML-KEM key pair, a certificate check), which took 137 ms on a loaded
// machine (load 10 on 2 cores, GOMAXPROCS 1). A wait that blocked in the
// read of a slow peer instead would return slowPeerDelay late.
const pauseBound = 500 * time.Millisecond

// slowPeerDelay is how long the slow peer of TestPausableHandshake waits
// before it answers the ClientHello: well past pauseBound, so that a wait
// held until the peer answered fails the bound.
const slowPeerDelay = 3 * pauseBound

// slowPeerFinish starts a deferred client handshake of b with a
// crypto/tls server (goServerAfter) that waits slowPeerDelay before it
// reads the ClientHello, over the transport a guest's socket makes; it
// returns the handshake's future and the server's result. The session is
// closed when the test ends.
func slowPeerFinish(t *testing.T, p *pki, b backends.Backend) (*future[backends.Conn], <-chan error) {
	t.Helper()
	addr, res := goServerAfter(t, &tls.Config{Certificates: []tls.Certificate{p.server.TLSCertificate()}}, slowPeerDelay)
	tr, _ := heldTransport(t, dial(t, addr))
	s := newClientSession(b, p.clientBase(), tr)
	t.Cleanup(func() { s.Close() })
	if err := s.Connect("localhost"); err != nil {
		t.Fatal(err)
	}
	return s.Finish(), res
}

// A deferred handshake that the guest waits for alone with a deadline (a Go
// guest's timer) runs on the guest's waits: each wait returns at its
// deadline with the handshake paused in its read of a slow peer, the next
// wait resumes it, and it completes; the connection's reads have no
// deadline left over from the pauses.
func TestPausableHandshake(t *testing.T) {
	p := newPKI(t)
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		checkNoLeak(t)
		f, res := slowPeerFinish(t, p, b)
		a, ok := f.source().(wasiio.Awaiter)
		if !ok {
			t.Fatalf("the future's source %T cannot run the handshake on the guest's wait", f.source())
		}
		pauses := 0
		for begin := time.Now(); ; pauses++ {
			if time.Since(begin) > waitLimit {
				t.Fatal("the handshake did not complete")
			}
			deadline := time.Now().Add(20 * time.Millisecond)
			if !a.Await(context.Background(), deadline) {
				t.Fatal("Await did not run the handshake")
			}
			if late := time.Since(deadline); late > pauseBound {
				t.Fatalf("the wait returned %v after its deadline", late)
			}
			if a.Ready() {
				break
			}
		}
		if pauses < 2 {
			t.Fatalf("%d pauses before the slow peer answered, want at least 2", pauses)
		}
		conn, err := await(t, f)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond) // past the last wait's deadline
		checkGoServerEcho(t, conn, res, "")
	})
}

// A deferred handshake that the guest waits for beside other sources (a
// server's connection goroutine and its accept loop) with a deadline runs
// on the guest's wait as well, and another source's wake pauses it: the
// wait returns as soon as that source is ready, however early the wake
// comes (before the handshake's read began included), with the peer slow
// to answer; a later wait resumes the handshake, which completes, and the
// connection's reads keep no deadline from the pauses.
func TestPausableHandshakeBeside(t *testing.T) {
	p := newPKI(t)
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		checkNoLeak(t)
		f, res := slowPeerFinish(t, p, b)
		if _, ok := f.source().(wasiio.AwaitEnder); !ok {
			t.Fatalf("the future's source %T cannot run the handshake beside other sources", f.source())
		}
		begin := time.Now()
		wait := func(what string, other wasiio.Source) []uint32 {
			t.Helper()
			start := time.Now()
			ready, err := wasiio.Wait(context.Background(), []wasiio.Source{f.source(), other, wasiio.NewDeadline(start.Add(time.Minute))})
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if took := time.Since(start); took > pauseBound+slowPeerDelay/2 && what != "the handshake" {
				t.Fatalf("%s: the wait took %v", what, took)
			}
			return ready
		}
		sig := wasiio.NewSignal()
		time.AfterFunc(30*time.Millisecond, sig.Fire)
		if ready := wait("a signal 30ms in", sig); len(ready) != 1 || ready[0] != 1 {
			t.Fatalf("ready %v, want the signal alone", ready)
		}
		// The wake comes once the wait looks at the signal: before the
		// handshake's read began (fired in Watch), or racing it (fired
		// from a goroutine Watch starts). A signal ready before the
		// wait began would have the wait return at once and start the
		// handshake on a goroutine (wasiio.Wait), which is not what
		// this test looks at.
		for i := range 20 {
			sig := &fireOnWatch{Signal: wasiio.NewSignal(), async: i%2 == 1}
			if ready := wait("a signal at once", sig); len(ready) != 1 || ready[0] != 1 {
				t.Fatalf("wait %d: ready %v, want the signal alone", i, ready)
			}
		}
		if took := time.Since(begin); took >= slowPeerDelay {
			t.Fatalf("the waits took %v, past the peer's delay", took)
		}
		d := f.source().(pendingSource).d
		d.mu.Lock()
		onWaits := d.co != nil && !d.co.toEnd && !d.co.ended
		d.mu.Unlock()
		if !onWaits {
			t.Fatal("the handshake left the guest's waits for a goroutine")
		}
		if ready := wait("the handshake", wasiio.NewSignal()); len(ready) != 1 || ready[0] != 0 {
			t.Fatalf("ready %v, want the handshake alone", ready)
		}
		conn, err := await(t, f)
		if err != nil {
			t.Fatal(err)
		}
		checkGoServerEcho(t, conn, res, "")
	})
}

// fireOnWatch is a signal that fires when a wait first watches it, in
// Watch itself or, async, from a goroutine Watch starts.
type fireOnWatch struct {
	*wasiio.Signal
	async bool
}

func (f *fireOnWatch) Watch(w *wasiio.Waker) {
	f.Signal.Watch(w)
	if f.async {
		go f.Fire()
	} else {
		f.Fire()
	}
}

// A paused handshake ends like one on its goroutine: a look other than a
// lone wait resumes it on a goroutine, and giving up on it (the handshake
// timeout, a drop) interrupts it there, against a silent peer.
func TestPausableHandshakeGivesUp(t *testing.T) {
	for _, name := range []string{"stdtls", "circl-pq"} {
		b, err := backends.ByName(name)
		if err != nil {
			t.Fatal(err)
		}
		start := func(t *testing.T, timeout time.Duration) (*clientSession, wasiio.Awaiter) {
			s, a, _, helloed := deferredToSilent(t, b, timeout)
			deadline := time.Now().Add(30 * time.Millisecond)
			if !a.Await(context.Background(), deadline) {
				t.Fatal("Await did not run the handshake")
			}
			if late := time.Since(deadline); late > pauseBound {
				t.Fatalf("the wait returned %v after its deadline", late)
			}
			within(t, waitLimit, helloed, "the ClientHello")
			if a.Ready() {
				t.Fatal("the handshake completed against a silent peer")
			}
			return s, a
		}
		t.Run(name, func(t *testing.T) {
			t.Run("timeout", func(t *testing.T) {
				// Paused, nobody waits: the timeout ends it.
				checkNoLeak(t)
				s, _ := start(t, 200*time.Millisecond)
				err := futureErr(t, giveUpBound, s.streamsFut, "finish")
				if !errors.Is(err, ErrHandshakeTimeout) {
					t.Fatalf("error %v, want ErrHandshakeTimeout", err)
				}
				closeWithin(t, giveUpBound, s)
			})
			t.Run("watched-then-dropped", func(t *testing.T) {
				checkNoLeak(t)
				s, a := start(t, -1)
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				defer cancel()
				if _, err := wasiio.Wait(ctx, []wasiio.Source{a, wasiio.NewSignal()}); err == nil {
					t.Fatal("the handshake completed against a silent peer")
				}
				closeWithin(t, giveUpBound, s)
				wantErr(t, futureErr(t, giveUpBound, s.streamsFut, "finish"), "aborted")
			})
			t.Run("instance-closed", func(t *testing.T) {
				checkNoLeak(t)
				s, a := start(t, -1)
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				defer cancel()
				begin := time.Now()
				a.Await(ctx, time.Time{})
				if d := time.Since(begin); d > 100*time.Millisecond+giveUpBound {
					t.Fatalf("the wait took %v", d)
				}
				if err := futureErr(t, waitLimit, s.streamsFut, "finish"); err == nil {
					t.Fatal("the handshake succeeded against a silent peer")
				}
				closeWithin(t, giveUpBound, s)
			})
		})
	}
}
