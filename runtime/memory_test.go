package runtime

import (
	"bytes"
	"testing"
)

// The budget holds a guest's memories together to its limit; a memory
// keeps its contents as it grows, on either backing; a freed memory grows
// no more.
func TestMemoryBudget(t *testing.T) {
	const page = 64 << 10
	for _, backing := range []string{"system", "slice"} {
		t.Run(backing, func(t *testing.T) {
			b := newMemoryBudget(8) // 8 pages for the guest
			alloc := func(max uint64) *linearMemory {
				m := b.Allocate(page, max).(*linearMemory)
				if backing == "slice" && m.mapped {
					m.unmap()
					*m = linearMemory{budget: b, limit: m.limit}
				}
				return m
			}
			m1, m2 := alloc(16*page), alloc(2*page)
			if m1.limit != 8*page || m2.limit != 2*page {
				t.Fatalf("reservations %d, %d pages; want 8 (the limit), 2 (the maximum)", m1.limit/page, m2.limit/page)
			}
			buf := m1.Reallocate(page)
			copy(buf, "guest data")
			if m2.Reallocate(page) == nil {
				t.Fatal("second memory's minimum refused")
			}
			buf = m1.Reallocate(7 * page) // 7 + 1 = the budget
			if buf == nil || !bytes.HasPrefix(buf, []byte("guest data")) || len(buf) != 7*page {
				t.Fatalf("growth to 7 pages: %d bytes, prefix %q", len(buf), buf[:min(len(buf), 10)])
			}
			buf[len(buf)-1] = 1
			if m2.Reallocate(2*page) != nil || m1.Reallocate(8*page) != nil {
				t.Error("growth past the guest's budget allowed")
			}
			if got := b.inUse(); got != 8*page {
				t.Errorf("in use %d pages, want 8", got/page)
			}
			m2.Free()
			if m2.Reallocate(page) != nil {
				t.Error("a freed memory grew")
			}
			if m1.Reallocate(8*page) == nil {
				t.Error("the budget a freed memory gave back is not usable")
			}
			b.release()
			if m1.Reallocate(page) != nil && backing == "system" {
				t.Error("a released memory is still usable")
			}
		})
	}
}
