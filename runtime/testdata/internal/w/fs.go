//go:build wasip1

package w

import (
	"encoding/binary"
	"unsafe"
)

// fret is the return area of the wasi:filesystem calls, whose results
// (descriptor-stat) outgrow ret.
var fret [16]uint64

func fretp() unsafe.Pointer { return unsafe.Pointer(&fret[0]) }

func fb() []byte      { return unsafe.Slice((*byte)(fretp()), 128) }
func fu8(o int) uint8 { return fb()[o] }
func fu32(o int) uint32 {
	return binary.LittleEndian.Uint32(fb()[o:])
}
func fu64(o int) uint64 { return binary.LittleEndian.Uint64(fb()[o:]) }

func sp(s string) (unsafe.Pointer, uint32) {
	if s == "" {
		return nil, 0
	}
	b := []byte(s)
	return unsafe.Pointer(&b[0]), uint32(len(b))
}

//go:wasmimport wasi:filesystem/preopens@0.2.8 get-directories
func getDirectories(ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [method]descriptor.open-at
func openAt(self, pf uint32, p unsafe.Pointer, n uint32, of, fl uint32, ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [method]descriptor.read
func fdRead(self uint32, n, off uint64, ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [method]descriptor.write
func fdWrite(self uint32, p unsafe.Pointer, n uint32, off uint64, ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [method]descriptor.stat
func stat(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [method]descriptor.stat-at
func statAt(self, pf uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [method]descriptor.read-directory
func readDirectory(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [method]directory-entry-stream.read-directory-entry
func readDirectoryEntry(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [method]descriptor.create-directory-at
func createDirectoryAt(self uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [method]descriptor.remove-directory-at
func removeDirectoryAt(self uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [method]descriptor.unlink-file-at
func unlinkFileAt(self uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [method]descriptor.rename-at
func renameAt(self uint32, p unsafe.Pointer, n uint32, nd uint32, q unsafe.Pointer, m uint32, ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [method]descriptor.link-at
func linkAt(self, pf uint32, p unsafe.Pointer, n uint32, nd uint32, q unsafe.Pointer, m uint32, ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [method]descriptor.symlink-at
func symlinkAt(self uint32, p unsafe.Pointer, n uint32, q unsafe.Pointer, m uint32, ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [method]descriptor.readlink-at
func readlinkAt(self uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [method]descriptor.metadata-hash
func metadataHash(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [method]descriptor.metadata-hash-at
func metadataHashAt(self, pf uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [method]descriptor.read-via-stream
func readViaStream(self uint32, off uint64, ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [method]descriptor.write-via-stream
func writeViaStream(self uint32, off uint64, ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [method]descriptor.append-via-stream
func appendViaStream(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [method]descriptor.set-size
func setSize(self uint32, size uint64, ret unsafe.Pointer)

//go:wasmimport wasi:filesystem/types@0.2.8 [resource-drop]descriptor
func dropDescriptor(self uint32)

//go:wasmimport wasi:filesystem/types@0.2.8 [resource-drop]directory-entry-stream
func dropDirStream(self uint32)

//go:wasmimport wasi:filesystem/types@0.2.8 filesystem-error-code
func filesystemErrorCode(err uint32, ret unsafe.Pointer)

// Flags of the filesystem calls.
const (
	SymlinkFollow = 1

	OpenCreate    = 1
	OpenDirectory = 2
	OpenExclusive = 4
	OpenTruncate  = 8

	FlagRead   = 1
	FlagWrite  = 2
	FlagMutate = 32
)

// FSErr is a wasi:filesystem error-code; 0 is success here, so codes
// are stored plus one.
type FSErr uint32

// Preopen is one entry of get-directories.
type Preopen struct {
	FD   uint32
	Path string
}

// Preopens is get-directories.
func Preopens() []Preopen {
	getDirectories(fretp())
	p, n := fu32(0), fu32(4)
	var out []Preopen
	for i := uint32(0); i < n; i++ {
		e := bytesAt(p+12*i, 12)
		fd := binary.LittleEndian.Uint32(e)
		s := string(bytesAt(binary.LittleEndian.Uint32(e[4:]), binary.LittleEndian.Uint32(e[8:])))
		out = append(out, Preopen{fd, s})
	}
	Unpin()
	return out
}

// errAt decodes result<T, error-code> with the error code at off: -1 for
// success, the code otherwise.
func errAt(off int) int {
	if fu8(0) == 0 {
		return -1
	}
	return int(fu8(off))
}

// OpenAt is open-at; code is -1 on success.
func OpenAt(d uint32, pf uint32, path string, of, fl uint32) (fd uint32, code int) {
	p, n := sp(path)
	openAt(d, pf, p, n, of, fl, fretp())
	return fu32(4), errAt(4)
}

// ReadAt is descriptor.read.
func ReadAt(d uint32, n, off uint64) ([]byte, bool, int) {
	fdRead(d, n, off, fretp())
	if c := errAt(4); c >= 0 {
		return nil, false, c
	}
	b := bytesAt(fu32(4), fu32(8))
	eof := fu8(12) != 0
	Unpin()
	return b, eof, -1
}

// WriteAt is descriptor.write.
func WriteAt(d uint32, b []byte, off uint64) (uint64, int) {
	fdWrite(d, unsafe.Pointer(&b[0]), uint32(len(b)), off, fretp())
	return fu64(8), errAt(8)
}

// Stat is the type and size of descriptor.stat.
func Stat(d uint32) (typ uint8, size uint64, code int) {
	stat(d, fretp())
	return fu8(8), fu64(24), errAt(8)
}

// StatAt is the type and size of descriptor.stat-at.
func StatAt(d, pf uint32, path string) (typ uint8, size uint64, code int) {
	p, n := sp(path)
	statAt(d, pf, p, n, fretp())
	return fu8(8), fu64(24), errAt(8)
}

// ReadDir lists a directory through a directory-entry-stream.
func ReadDir(d uint32) ([]string, int) {
	readDirectory(d, fretp())
	if c := errAt(4); c >= 0 {
		return nil, c
	}
	s := fu32(4)
	defer dropDirStream(s)
	var names []string
	for {
		readDirectoryEntry(s, fretp())
		if c := errAt(4); c >= 0 {
			return names, c
		}
		if fu8(4) == 0 {
			return names, -1
		}
		names = append(names, string(bytesAt(fu32(12), fu32(16))))
		Unpin()
	}
}

func unitAt(f func(uint32, unsafe.Pointer, uint32, unsafe.Pointer), d uint32, path string) int {
	p, n := sp(path)
	f(d, p, n, fretp())
	return errAt(1)
}

// Mkdir is create-directory-at.
func Mkdir(d uint32, path string) int { return unitAt(createDirectoryAt, d, path) }

// Rmdir is remove-directory-at.
func Rmdir(d uint32, path string) int { return unitAt(removeDirectoryAt, d, path) }

// Unlink is unlink-file-at.
func Unlink(d uint32, path string) int { return unitAt(unlinkFileAt, d, path) }

// Rename is rename-at.
func Rename(d uint32, old string, nd uint32, new string) int {
	p, n := sp(old)
	q, m := sp(new)
	renameAt(d, p, n, nd, q, m, fretp())
	return errAt(1)
}

// Link is link-at, not following a symbolic link at old.
func Link(d uint32, old string, nd uint32, new string) int {
	p, n := sp(old)
	q, m := sp(new)
	linkAt(d, 0, p, n, nd, q, m, fretp())
	return errAt(1)
}

// Symlink is symlink-at.
func Symlink(d uint32, old, new string) int {
	p, n := sp(old)
	q, m := sp(new)
	symlinkAt(d, p, n, q, m, fretp())
	return errAt(1)
}

// Readlink is readlink-at.
func Readlink(d uint32, path string) (string, int) {
	p, n := sp(path)
	readlinkAt(d, p, n, fretp())
	if c := errAt(4); c >= 0 {
		return "", c
	}
	s := string(bytesAt(fu32(4), fu32(8)))
	Unpin()
	return s, -1
}

// Hash is metadata-hash.
func Hash(d uint32) ([2]uint64, int) {
	metadataHash(d, fretp())
	return [2]uint64{fu64(8), fu64(16)}, errAt(8)
}

// HashAt is metadata-hash-at.
func HashAt(d, pf uint32, path string) ([2]uint64, int) {
	p, n := sp(path)
	metadataHashAt(d, pf, p, n, fretp())
	return [2]uint64{fu64(8), fu64(16)}, errAt(8)
}

// ReadStream is read-via-stream.
func ReadStream(d uint32, off uint64) (uint32, int) {
	readViaStream(d, off, fretp())
	return fu32(4), errAt(4)
}

// WriteStream is write-via-stream.
func WriteStream(d uint32, off uint64) (uint32, int) {
	writeViaStream(d, off, fretp())
	return fu32(4), errAt(4)
}

// AppendStream is append-via-stream.
func AppendStream(d uint32) (uint32, int) {
	appendViaStream(d, fretp())
	return fu32(4), errAt(4)
}

// DropDescriptor drops a descriptor.
func DropDescriptor(d uint32) { dropDescriptor(d) }

// SetSize is set-size.
func SetSize(d uint32, size uint64) int {
	setSize(d, size, fretp())
	return errAt(1)
}

// WriteAll writes p to out in blocking-write-and-flush calls of at most
// 4,096 bytes each; on a failure it returns what was written, the
// failure's wasi:filesystem error code (-1 if it has none) and its debug
// string.
func WriteAll(out uint32, p []byte) (n int, code int, msg string) {
	for len(p) > 0 {
		k := min(len(p), 4096)
		blockingWriteAndFlush(out, unsafe.Pointer(&p[0]), uint32(k), retp())
		if u8(0) != 0 {
			if u8(4) == 1 {
				return n, -1, "closed"
			}
			h := u32(8)
			filesystemErrorCode(h, fretp())
			code = -1
			if fu8(0) == 1 {
				code = int(fu8(1))
			}
			toDebugString(h, retp())
			msg = string(bytesAt(u32(0), u32(4)))
			Unpin()
			dropError(h)
			return n, code, msg
		}
		n += k
		p = p[k:]
	}
	return n, -1, ""
}
