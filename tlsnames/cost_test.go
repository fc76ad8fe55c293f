package tlsnames_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/wasitls/wasitls/tlsnames"
)

// TestListCost: List costs the same per code point however long the list.
// A guest's configure-client-cipher-suites may name all 65,536 code
// points, and the error that none is allowed lists them: before, List
// grew its string one name at a time, copying it whole each time, and
// such a call took 13.5 seconds of host CPU. The time per code point of
// lists of 1,024 and 16,384 alternate, best of five: 24 times as
// much before, 1 after. It measures a ratio: not under -short.
func TestListCost(t *testing.T) {
	if testing.Short() {
		t.Skip("measures a ratio")
	}
	ids := make([]uint16, 1<<14)
	for i := range ids {
		ids[i] = uint16(i)
	}
	perID := func(n int) time.Duration {
		runtime.GC()
		start := time.Now()
		tlsnames.List(tlsnames.CipherSuite, ids[:n])
		return time.Since(start) / time.Duration(n)
	}
	const small, large = 1 << 10, 1 << 14
	best := [2]time.Duration{1 << 62, 1 << 62}
	for range 5 {
		for i, n := range []int{small, large} {
			best[i] = min(best[i], perID(n))
		}
	}
	ratio := float64(best[1]) / float64(best[0])
	t.Logf("per code point: %v for %d, %v for %d (ratio %.1f)", best[0], small, best[1], large, ratio)
	if ratio > 5 {
		t.Errorf("a code point of a list of %d costs %.1f times one of a list of %d: List is not linear", large, ratio, small)
	}
}
