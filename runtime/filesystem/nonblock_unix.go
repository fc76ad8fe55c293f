//go:build unix

package filesystem

import "syscall"

// openNonblock is added to every open-at: opening a named pipe waits for
// its other end without it (open(2)), without bound and beyond the reach
// of the guest's context. It changes nothing for regular files and
// directories; a pipe or device opened with it is read and written through
// Go's poller, whose waits end when the descriptor is dropped.
const openNonblock = syscall.O_NONBLOCK
