//go:build !unix

package filesystem

import (
	"io/fs"
	"os"
	"syscall"
	"time"
)

// lchtimesAt sets the times of p beneath root without following a final
// symbolic link: a link's own times cannot be set here (ENOSYS).
func lchtimesAt(root *os.Root, p string, atime, mtime time.Time) error {
	info, err := root.Lstat(p)
	if err != nil {
		return err
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		return &fs.PathError{Op: "lchtimes", Path: p, Err: syscall.ENOSYS}
	}
	return root.Chtimes(p, atime, mtime)
}
