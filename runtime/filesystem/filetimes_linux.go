package filesystem

import (
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// setFileTimes sets the times of the open file f, at nanosecond
// precision, a zero time leaving one unchanged: futimens, which Linux
// makes utimensat(fd, NULL, times, 0). It acts on the open file, however
// it was opened and wherever its names went since. ok is false where the
// host has no such call (see filetimes_other.go).
func setFileTimes(f *os.File, atime, mtime time.Time) (ok bool, err error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return true, err
	}
	ts := [2]unix.Timespec{timespecOf(atime), timespecOf(mtime)}
	var errno unix.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall6(unix.SYS_UTIMENSAT, fd, 0, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	}); err != nil {
		return true, err
	}
	if errno != 0 {
		return true, &os.PathError{Op: "futimens", Path: f.Name(), Err: errno}
	}
	return true, nil
}
