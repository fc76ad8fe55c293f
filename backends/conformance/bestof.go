package conformance

import (
	"cmp"
	"runtime"
	"time"
)

// bestOf runs small and large alternately, five times each, collecting
// garbage before each run, and returns the least each gave (a duration,
// an allocation count): the run the rest of a shared machine disturbed
// least. The cost checks compare the two.
func bestOf[T cmp.Ordered](small, large func() T) (T, T) {
	var best [2]T
	for round := range 5 {
		for i, run := range [2]func() T{small, large} {
			runtime.GC()
			if v := run(); round == 0 || v < best[i] {
				best[i] = v
			}
		}
	}
	return best[0], best[1]
}

// timeRatio is how many times longer large takes than small, the best of
// bestOf, measured again up to twice while it stays above limit: a shared
// machine's load can slow one round of the large runs past a linear
// cost's limit, while a cost quadratic in the input stays above it in
// every round. It returns the least ratio and the durations it came from.
func timeRatio(limit float64, small, large func() time.Duration) (ratio float64, bestSmall, bestLarge time.Duration) {
	for attempt := range 3 {
		s, l := bestOf(small, large)
		if r := float64(l) / float64(s); attempt == 0 || r < ratio {
			ratio, bestSmall, bestLarge = r, s, l
		}
		if ratio <= limit {
			break
		}
	}
	return ratio, bestSmall, bestLarge
}
