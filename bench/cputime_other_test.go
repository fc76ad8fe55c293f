//go:build !unix

package bench

import "time"

// processCPU is not read on this platform.
func processCPU() (time.Duration, bool) { return 0, false }
