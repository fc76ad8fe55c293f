//go:build unix

package filesystem

import "syscall"

// openNonblock is added to every open-at: opening a named pipe waits for
// its other end without it (open(2)), without bound and beyond the reach
// of the guest's context. It changes nothing for regular files and
// directories; a pipe or device opened with it never waits: wasi:filesystem
// reads and writes it positioned (which a pipe refuses), and
// wasi_snapshot_preview1's reads and writes of it say EAGAIN.
const openNonblock = syscall.O_NONBLOCK
