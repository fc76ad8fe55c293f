package tlshost

import "testing"

// FuzzPeerBacklogHold is TestPeerBacklogHold over sequences the fuzzer
// chooses: three connections' backlogs told at random and released, in
// any order. The budget counts exactly the backlogs of the connections
// not released as last accepted, never crosses its limit nor goes
// negative, and returns to 0 once every connection is released.
func FuzzPeerBacklogHold(f *testing.F) {
	f.Add([]byte{0, 3, 1, 6, 0, 8, 2, 9, 3, 0, 4, 0})
	f.Add([]byte{0, 255, 1, 255, 3, 0, 0, 0, 5, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const limit = 1000
		b := &peerCertBytes{limit: limit}
		var meters [3]*peerMeter
		var want [3]int64 // the model: what each holds, 0 once released
		for i := range meters {
			meters[i] = &peerMeter{b: b, base: &peerHold{b: b, refs: 1}}
		}
		check := func(step int) {
			b.mu.Lock()
			used := b.used
			b.mu.Unlock()
			if used != want[0]+want[1]+want[2] || used < 0 || used > limit {
				t.Fatalf("step %d: %d bytes counted; the connections hold %v", step, used, want)
			}
		}
		for i := 0; i+1 < len(ops); i += 2 {
			k := int(ops[i]) % 6
			m := meters[k%3]
			if k >= 3 { // release
				m.release()
				want[k%3] = 0
				check(i)
				continue
			}
			n := int64(ops[i+1]) * 8 // 0 to 2,040: past the limit alone
			err := m.holdBacklog(n)
			others := want[0] + want[1] + want[2] - want[k]
			switch {
			case m.released:
				if err != nil {
					t.Fatalf("step %d: a released connection's hold failed: %v", i, err)
				}
			case n > want[k] && others+n > limit:
				if err == nil {
					t.Fatalf("step %d: a hold of %d over the limit succeeded", i, n)
				}
			case err != nil:
				t.Fatalf("step %d: a hold of %d within the limit failed: %v", i, n, err)
			default:
				want[k] = n
			}
			check(i)
		}
		for i, m := range meters {
			m.release()
			want[i] = 0
		}
		check(len(ops))
	})
}
