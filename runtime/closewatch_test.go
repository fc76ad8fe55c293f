package runtime

import (
	"sync"
	"testing"
	"time"
)

// TestCloseWatchWaitIdleWakes: the close watch's wait for a call into
// the guest in progress looks again only when told the call may have
// returned, not on a clock: blocked on a call that does not return, it
// looks once, however long it waits, and returns once the call's wake
// comes (a spurious one, the call still in progress, costs one look
// more). Before, it looked every millisecond: some 50 looks in the 50 ms
// the test watches.
func TestCloseWatchWaitIdleWakes(t *testing.T) {
	var mu sync.Mutex
	looks, inCall := 0, true
	wake := make(chan struct{})
	// The wait's own bound is no part of the test: an hour.
	w := &closeWatch{wait: time.Hour, busy: func() <-chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		looks++
		if !inCall {
			return nil
		}
		return wake
	}}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return looks
	}
	done := make(chan struct{})
	go func() {
		w.waitIdle()
		close(done)
	}()
	// settle waits for the wait's look number want (a hang guard only),
	// then 50 ms more, and checks that it looked no more.
	settle := func(want int, what string) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); count() < want; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the wait looked %d times, want %d", what, count(), want)
			}
		}
		time.Sleep(50 * time.Millisecond)
		if n := count(); n != want {
			t.Fatalf("%s: the wait looked %d times, want %d", what, n, want)
		}
	}
	settle(1, "no wake")
	// A wake with the call still in progress: one look more.
	mu.Lock()
	close(wake)
	wake = make(chan struct{})
	mu.Unlock()
	settle(2, "one spurious wake")
	mu.Lock()
	inCall = false
	close(wake)
	mu.Unlock()
	select {
	case <-done:
	case <-time.After(time.Minute): // a hang guard
		t.Fatal("the wait did not return once the call returned")
	}
	if n := count(); n != 3 || w.gaveUp.Load() {
		t.Errorf("the wait looked %d times in all and gave up: %v; want 3, false", n, w.gaveUp.Load())
	}
}
