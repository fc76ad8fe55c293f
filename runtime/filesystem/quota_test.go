package filesystem

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteEnd: a write's end saturates at the largest offset rather than
// wrapping to a negative size, which the quota would take for no growth.
func TestWriteEnd(t *testing.T) {
	for _, tt := range []struct {
		off  int64
		n    int
		size int64
		want int64
	}{
		{0, 10, 5, 10},
		{-1, 10, 5, 15},
		{math.MaxInt64 - 10, 100, 0, math.MaxInt64},
		{-1, 100, math.MaxInt64 - 10, math.MaxInt64},
	} {
		if got := writeEnd(tt.off, tt.n)(tt.size); got != tt.want {
			t.Errorf("writeEnd(%d, %d)(%d) = %d, want %d", tt.off, tt.n, tt.size, got, tt.want)
		}
	}
}

// TestQuotaAtLargestOffset: a write whose end passes the largest offset is
// refused for the quota, before the host is asked.
func TestQuotaAtLargestOffset(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	q := &diskQuota{limit: 1 << 20}
	ran := false
	err = q.sizeChange(f, writeEnd(math.MaxInt64-10, 100), func() error { ran = true; return nil })
	if !errors.Is(err, ErrDiskQuota) || ran {
		t.Errorf("a write ending past the largest offset: %v (ran %v), want refused for the quota", err, ran)
	}
}
