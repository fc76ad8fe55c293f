package filesystem

import (
	"encoding/binary"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	wazerosys "github.com/tetratelabs/wazero/sys"
)

// hideSerials replaces the host's device and inode numbers in a status
// wazero hands a wasi_snapshot_preview1 guest (fd_filestat_get,
// path_filestat_get) by numbers keyed by the instance's key, as
// wasi:filesystem's metadata hashes are: equal for one file, as a guest
// comparing files needs, different across files and devices, and
// revealing neither the host's inode numbers (from which a guest learns
// the order and time files beside its preopen were made) nor its device
// numbers.
func (f *FS) hideSerials(st *wazerosys.Stat_t) {
	st.Ino = f.serial(1, st.Dev, st.Ino)
	st.Dev = f.serial(0, st.Dev, 0)
}

// serial is a keyed hash of dev and ino, never zero (which wazero reads
// as unknown) for a known inode.
func (f *FS) serial(tag byte, dev, ino uint64) uint64 {
	if tag == 1 && ino == 0 {
		return 0
	}
	sum := f.keyedSum(uint64(tag), dev, ino)
	return max(binary.LittleEndian.Uint64(sum[:8]), 1)
}

// Readdir is the adapter's (see newRootFile), each entry's inode number
// hidden as in hideSerials (an entry is on the directory's device; a
// mount point's, whose inode is the mounted root's, reads as another file,
// as readdir(3)'s d_ino differs from stat(2)'s there).
func (r *rootFile) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	dirents, errno := r.File.Readdir(n)
	if errno != 0 {
		return dirents, errno
	}
	if _, errno := r.cached(); errno != 0 {
		return nil, errno
	}
	for i := range dirents {
		dirents[i].Ino = r.fs.serial(1, r.hostDev, dirents[i].Ino)
	}
	return dirents, 0
}
