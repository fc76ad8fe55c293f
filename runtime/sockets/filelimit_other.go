//go:build !unix

package sockets

// fileLimit is defaultFileLimit: the system has no RLIMIT_NOFILE.
func fileLimit() int { return defaultFileLimit }
