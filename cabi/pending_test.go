package cabi

import "testing"

// TestPendingIndexed: the own<R> handles a call lifts are checked for a
// handle moved twice, and against its borrows, alike when compared one by
// one and once indexed (past scanHandles).
func TestPendingIndexed(t *testing.T) {
	for _, n := range []int{3, scanHandles, scanHandles + 1, 1000} {
		inst := NewInstance()
		for h := range uint32(n) {
			if !inst.addPending(h + 1) {
				t.Fatalf("n=%d: handle %d refused the first time", n, h+1)
			}
		}
		for _, h := range []uint32{1, uint32(n / 2), uint32(n)} {
			if inst.addPending(h) {
				t.Errorf("n=%d: handle %d accepted twice", n, h)
			}
		}
		if len(inst.pending) != n {
			t.Fatalf("n=%d: %d pending", n, len(inst.pending))
		}
		for _, borrowed := range [][]uint32{{uint32(n) + 5}, make([]uint32, 0, n)} {
			inst.borrowed = borrowed
			for i := range n {
				inst.borrowed = append(inst.borrowed, uint32(n+10+i))
			}
			if h, ok := inst.lentAndMoved(); ok {
				t.Errorf("n=%d, %d borrows: handle %d both lent and moved", n, len(inst.borrowed), h)
			}
			inst.borrowed = append(inst.borrowed, uint32(n), 2)
			if h, ok := inst.lentAndMoved(); !ok || h != 2 {
				t.Errorf("n=%d, %d borrows: lentAndMoved = %d, %v, want handle 2", n, len(inst.borrowed), h, ok)
			}
		}
		inst.resetPending()
		if !inst.addPending(1) {
			t.Errorf("n=%d: handle 1 refused in the next call", n)
		}
	}
}
