package tlshost

import (
	"errors"
	"testing"
)

// TestPeerBacklogHold: a connection's backlog (backends.PeerBacklogCounter)
// counts with its guest's peers' bytes, as told: it grows and shrinks with
// what the backend reports, fails naming the limit when it would cross
// it (keeping what it held), and returns to the budget when the backend
// tells 0 or the connection is released, beside what another connection
// holds.
func TestPeerBacklogHold(t *testing.T) {
	b := &peerCertBytes{limit: 1000}
	newMeter := func() *peerMeter {
		return &peerMeter{b: b, base: &peerHold{b: b, refs: 1}}
	}
	used := func() int64 {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.used
	}
	a, other := newMeter(), newMeter()
	steps := []struct {
		m    *peerMeter
		n    int64
		fail bool
		used int64
	}{
		{a, 300, false, 300},
		{a, 600, false, 600},
		{other, 300, false, 900},
		{a, 800, true, 900}, // 1,100: over, a keeps its 600
		{a, 0, false, 300},  // data came out of a
		{a, 700, false, 1000},
		{other, 0, false, 700},
	}
	for i, s := range steps {
		err := s.m.holdBacklog(s.n)
		if (err != nil) != s.fail || (err != nil && !errors.Is(err, ErrPeerCertBytes)) {
			t.Errorf("step %d: hold %d: %v; want failure %v, wrapping ErrPeerCertBytes", i, s.n, err, s.fail)
		}
		if got := used(); got != s.used {
			t.Errorf("step %d: %d bytes counted, want %d", i, got, s.used)
		}
	}
	a.release()
	if got := used(); got != 0 {
		t.Errorf("after release: %d bytes counted, want 0", got)
	}
	if err := a.holdBacklog(5000); err != nil || used() != 0 {
		t.Errorf("a released connection's backlog: %v, %d counted; want nothing counted", err, used())
	}
}
