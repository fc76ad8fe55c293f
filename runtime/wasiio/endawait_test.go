//go:build unix

package wasiio

import (
	"testing"
	"time"
)

// deadlineWakingSource is an inline source whose SetReadDeadline wakes a
// signal's waiters, as a transport over streams wakes its reader's wait
// when its deadline changes (streamConn.SetReadDeadline).
type deadlineWakingSource struct {
	countingSource
	sig *Signal
}

func (s *deadlineWakingSource) SetReadDeadline(t time.Time) error {
	s.sig.Fire()
	return s.countingSource.SetReadDeadline(t)
}

// waitWithin runs Wait and fails the test if it has not returned in 10 s
// (a deadlock: the goroutine is left behind).
func waitWithin(t *testing.T, sources []Source) []uint32 {
	t.Helper()
	type result struct {
		ready []uint32
		err   error
	}
	done := make(chan result, 1)
	go func() {
		ready, err := Wait(bg, sources)
		done <- result{ready, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.ready
	case <-time.After(10 * time.Second):
		t.Fatal("the wait did not return in 10 s: deadlocked")
		return nil
	}
}

// TestInlineAwaitDeadlineWakesBeside: an inline stream's Await sets its
// source's read deadline with no lock of the stream held, and EndAwait,
// which a Waker calls under the lock of another source's WaitList, takes
// none: a source whose deadline wakes the very source the wait watches
// beside the stream ends the wait, against a silent peer. (Await set the
// deadline under the stream's lock, which EndAwait took: the wait
// deadlocked.)
func TestInlineAwaitDeadlineWakesBeside(t *testing.T) {
	a, _ := tcpPair(t)
	sig := NewSignal()
	src := &deadlineWakingSource{countingSource: countingSource{c: nonblocking(t, a)}, sig: sig}
	s := NewInlineInputStream(src, nil) // not closed on failure: a deadlocked wait holds it
	ready := waitWithin(t, []Source{s, sig, NewDeadline(time.Now().Add(time.Minute))})
	if len(ready) != 1 || ready[0] != 1 {
		t.Fatalf("ready %v, want [1]", ready)
	}
	if s.endAsked.Load() {
		t.Error("the wait left a request to end an await behind")
	}
	s.Close()
}

// TestInlineEndAwaitTakesNoLock: EndAwait returns while the stream's
// locks are held, whether or not a read is in flight.
func TestInlineEndAwaitTakesNoLock(t *testing.T) {
	a, _ := tcpPair(t)
	s := NewInlineInputStream(&countingSource{c: nonblocking(t, a)}, nil) // not closed on failure: its lock is held
	for _, inFlight := range []bool{false, true} {
		if inFlight {
			s.awaitGen.Add(1)
		}
		s.mu.Lock()
		s.dmu.Lock()
		done := make(chan struct{})
		go func() {
			s.EndAwait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("EndAwait (read in flight: %v) blocked on the stream's locks", inFlight)
		}
		s.dmu.Unlock()
		s.mu.Unlock()
		s.ForgetEndAwait()
		if inFlight {
			s.awaitGen.Add(1)
		}
	}
	s.Close()
}

// readyOnWatch is a signal fired as it is watched: a source that became
// ready between a wait's first look and its registration.
type readyOnWatch struct{ *Signal }

func (s readyOnWatch) Watch(w *Waker) {
	s.Signal.Watch(w)
	s.Fire()
}

// TestInlineAwaitBesideForgetsRequest: a wake of a source beside an
// inline stream that comes when no Await reads (here, as the source is
// watched) ends the wait without an await, and leaves no request behind
// for the next wait, whose Await would return at once for it: one
// spurious wake, and one more look at every source.
func TestInlineAwaitBesideForgetsRequest(t *testing.T) {
	a, _ := tcpPair(t)
	src := &awaitCountingSource{countingSource: countingSource{c: nonblocking(t, a)}}
	s := NewInlineInputStream(src, nil)
	defer s.Close()
	ready := waitWithin(t, []Source{s, readyOnWatch{NewSignal()}, NewDeadline(time.Now().Add(time.Minute))})
	if len(ready) != 1 || ready[0] != 1 {
		t.Fatalf("ready %v, want [1]", ready)
	}
	if s.endAsked.Load() {
		t.Fatal("the wait left its request to end an await to the next wait")
	}
	if s.Await(bg, time.Now().Add(20*time.Millisecond)); src.reads.Load() != 1 {
		t.Errorf("the next Await made %d reads, want 1", src.reads.Load())
	}
}
