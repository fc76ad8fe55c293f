//go:build unix

package filesystem

import (
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// lchtimesAt sets the times of p beneath root without following a final
// symbolic link (utimensat with AT_SYMLINK_NOFOLLOW): a link's own times
// are set, whatever it names. The directory p is in is opened through
// root (so resolved beneath it, as every path is) and the last component
// is acted on relative to it; nothing is opened for writing, so a file
// the host made read-only, a directory, a named pipe or a device have
// their times set as the owner's utimensat would. A zero time leaves
// that time unchanged, as os.Chtimes does; with both zero, p must still
// lead somewhere (utimensat does not look at the path then).
func lchtimesAt(root *os.Root, p string, atime, mtime time.Time) error {
	if atime.IsZero() && mtime.IsZero() {
		_, err := root.Lstat(p)
		return err
	}
	dir, base := path.Split(p)
	if base == "" || base == "." || base == ".." || strings.HasSuffix(p, "/") {
		// Not a link's own name (a trailing slash resolves a link to
		// the directory it names): as with symlink-follow.
		return root.Chtimes(p, atime, mtime)
	}
	if dir == "" {
		dir = "."
	}
	d, err := root.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|openNonblock, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	rc, err := d.SyscallConn()
	if err != nil {
		return err
	}
	ts := []unix.Timespec{timespecOf(atime), timespecOf(mtime)}
	var opErr error
	if err := rc.Control(func(fd uintptr) {
		opErr = unix.UtimesNanoAt(int(fd), base, ts, unix.AT_SYMLINK_NOFOLLOW)
	}); err != nil {
		return err
	}
	if opErr != nil {
		return &fs.PathError{Op: "lchtimes", Path: p, Err: opErr}
	}
	return nil
}

// timespecOf is a utimensat time: UTIME_OMIT for the zero time.
func timespecOf(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{Nsec: utimeOmit}
	}
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}
