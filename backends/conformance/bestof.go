package conformance

import (
	"cmp"
	"runtime"
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
