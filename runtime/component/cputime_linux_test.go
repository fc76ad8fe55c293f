package component

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time the calling OS thread has used, so a
// benchmark on a machine shared with other work measures its own work.
// The caller locks its goroutine to its thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
