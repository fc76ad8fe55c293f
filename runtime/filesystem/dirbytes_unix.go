//go:build unix

package filesystem

import (
	"io/fs"
	"syscall"
)

// dirBytes is what the directory info describes holds on disk: its
// blocks (st_blocks, 512 bytes each), or its size where the host gives
// none.
func dirBytes(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return info.Size()
}
