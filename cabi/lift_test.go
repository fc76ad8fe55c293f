package cabi

import (
	"strings"
	"testing"
)

// TestLiftBudgetCopies: the copies a call makes of what the guest returned
// (BytesCopy, String) count against one budget, twice the guest's memory
// and a MiB, so that many lists or strings naming one region trap instead
// of making the host copy it without bound.
func TestLiftBudgetCopies(t *testing.T) {
	const memory = 1 << 20
	for _, tc := range []struct {
		name string
		lift func(c *Call)
	}{
		{"BytesCopy", func(c *Call) { c.BytesCopy(0, memory) }},
		{"String", func(c *Call) { _ = c.String(0, memory) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Call{Func: "test:x/y#f", buf: make([]byte, memory)}
			lifted := 0
			func() {
				defer func() {
					tr, ok := recover().(*Trap)
					if !ok || tr.Func != "test:x/y#f" || !strings.Contains(tr.Msg, "more than twice the guest memory") {
						t.Errorf("after %d lifts of the whole memory: %v, want a trap naming the budget", lifted, tr)
					}
				}()
				for range 100 {
					tc.lift(c)
					lifted++
				}
			}()
			if lifted != 3 {
				t.Errorf("%d lifts of the whole memory passed, want 3 (2 MiB and a MiB)", lifted)
			}
		})
	}
}
