//go:build unix

package sockets

import (
	"math"
	"syscall"
)

// fileLimit is the process's soft limit on open descriptors, or
// defaultFileLimit when it cannot be read.
func fileLimit() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == 0 {
		return defaultFileLimit
	}
	return int(min(lim.Cur, math.MaxInt32))
}
