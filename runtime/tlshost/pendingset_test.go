package tlshost

import "testing"

type fakePending struct{ ended bool }

func (f *fakePending) handshakeEnded() bool { return f.ended }

// TestPendingSetSweepsEnded: a guest making one handshake after another
// leaves few ended handshakes in its set (each holds a connection until
// swept), pending ones are never swept, and the limit still counts only
// pending ones.
func TestPendingSetSweepsEnded(t *testing.T) {
	p := &pendingSet{limit: 1024}
	var live []*fakePending
	for i := range 5000 {
		s := &fakePending{}
		if err := p.admit(s); err != nil {
			t.Fatalf("admit %d: %v", i, err)
		}
		if i%100 == 0 {
			live = append(live, s) // stays pending
		} else {
			s.ended = true
		}
		if most := 2*len(live) + pendingSweepMin; len(p.sessions) > most {
			t.Fatalf("after %d admissions with %d pending the set holds %d, want at most %d", i+1, len(live), len(p.sessions), most)
		}
	}
	for _, s := range live {
		found := false
		for _, x := range p.sessions {
			found = found || x == s
		}
		if !found {
			t.Fatal("a pending handshake was swept")
		}
	}

	full := &pendingSet{limit: 3}
	for range 3 {
		if err := full.admit(&fakePending{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := full.admit(&fakePending{}); err == nil {
		t.Fatal("a fourth pending handshake was admitted with a limit of 3")
	}
}
