//go:build !unix

package filesystem

import (
	"io/fs"
	"os"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// lutimensAt sets the times of p beneath root without following a final
// symbolic link: a link's own times cannot be set here (ENOSYS).
func lutimensAt(root *os.Root, p string, atim, mtim int64) experimentalsys.Errno {
	info, err := root.Lstat(p)
	if err != nil {
		return errnoOf(err)
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		return experimentalsys.ENOSYS
	}
	return errnoOf(root.Chtimes(p, timeOfNanos(atim), timeOfNanos(mtim)))
}
