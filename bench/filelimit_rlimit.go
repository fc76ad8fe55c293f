//go:build linux || darwin

package bench

import "syscall"

// raiseFileLimit raises the soft limit on open files to at least want (up
// to the hard limit) and returns the resulting soft limit.
func raiseFileLimit(want uint64) uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	if lim.Cur < want {
		lim.Cur = min(want, lim.Max)
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	return lim.Cur
}
