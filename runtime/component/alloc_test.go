package component

import (
	"errors"
	"strings"
	"testing"
)

// TestAllocNWraps checks that a Go caller's list whose byte size passes
// 4 GiB fails the call before realloc runs: uint32(len)*size wrapped to
// a small size, and the elements were then stored past what realloc gave
// (a list of 2^29 + 1 eight-byte elements asked for 8 bytes).
func TestAllocNWraps(t *testing.T) {
	var m mem // no realloc, no memory: reaching alloc fails differently
	for _, c := range []struct {
		n    int
		size uint32
	}{{1<<29 + 1, 8}, {1 << 32, 1}, {1<<25 + 3, 128}} {
		err := func() (err error) {
			defer func() {
				if v, ok := recover().(valueError); ok {
					err = v.err
				}
			}()
			m.allocN(c.n, c.size, 8)
			return errors.New("allocN returned")
		}()
		if err == nil || !strings.Contains(err.Error(), "does not fit a 32-bit memory") {
			t.Errorf("allocN(%d, %d): %v, want the 32-bit refusal", c.n, c.size, err)
		}
	}
}
