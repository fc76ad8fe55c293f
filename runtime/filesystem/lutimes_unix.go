//go:build unix

package filesystem

import (
	"os"
	"path"
	"strings"
	"syscall"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"golang.org/x/sys/unix"
)

// lutimensAt sets the times of p beneath root without following a final
// symbolic link (utimensat with AT_SYMLINK_NOFOLLOW): a link's own times
// are set, whatever it names. The directory p is in is opened through
// root (so resolved beneath it, as every path is) and the last component
// is acted on relative to it; nothing is opened for writing, so a file
// the host made read-only, a directory, a named pipe or a device have
// their times set as the owner's utimensat would. atim and mtim are
// nanoseconds, or UTIME_OMIT to leave one unchanged.
func lutimensAt(root *os.Root, p string, atim, mtim int64) experimentalsys.Errno {
	dir, base := path.Split(p)
	if base == "" || base == "." || base == ".." || strings.HasSuffix(p, "/") {
		// Not a link's own name (a trailing slash resolves a link to
		// the directory it names): as with symlink-follow.
		return errnoOf(root.Chtimes(p, timeOfNanos(atim), timeOfNanos(mtim)))
	}
	if dir == "" {
		dir = "."
	}
	d, err := root.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|openNonblock, 0)
	if err != nil {
		return errnoOf(err)
	}
	defer d.Close()
	ts := []unix.Timespec{timespecOf(atim), timespecOf(mtim)}
	return control(d, func(fd int) error { return unix.UtimesNanoAt(fd, base, ts, unix.AT_SYMLINK_NOFOLLOW) })
}

// timespecOf is a utimensat time for nanoseconds or UTIME_OMIT.
func timespecOf(ns int64) unix.Timespec {
	if ns == experimentalsys.UTIME_OMIT {
		return unix.Timespec{Nsec: unix.UTIME_OMIT}
	}
	return unix.NsecToTimespec(ns)
}
