package filesystem

import (
	"io"
	"io/fs"
	"os"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	wazerosys "github.com/tetratelabs/wazero/sys"
)

// rootFile is wazero's experimentalsys.File over an *os.File a rootFS
// opened through its os.Root, for wasi_snapshot_preview1.
//
// Its methods act on the open file only, never on a path: unlike wazero's
// own file, which reopens its path to change the append flag or to rewind
// a directory, SetAppend changes the open file's status flags (fcntl) and
// a directory rewinds by seeking the open directory to zero. A file is used by one guest call
// at a time, as wazero's own is; it holds no lock.
//
// The file is non-blocking when opened with O_NONBLOCK, when it is neither
// a regular file nor a directory (a named pipe or a device: see
// rootFS.OpenFile) or after SetNonblock: its reads and writes are then
// single system calls that say EAGAIN rather than wait. A named pipe or a
// device stays so: SetNonblock(false) on it fails with ENOTSUP.
type rootFile struct {
	// File is wazero's own adapter (sysfs.AdaptFS) over f, which serves
	// Seek and Readdir; see newRootFile.
	experimentalsys.File

	f    *os.File
	flag experimentalsys.Oflag
	// stream is set for a named pipe or a device, whose reads and
	// writes could wait without bound: it stays non-blocking.
	stream bool
	// counted is the FS whose file limit f counts toward (nil for the
	// mount's root handle, see rootFS).
	counted *FS
	// fs is the file system f is beneath: its quota counts f's writes and
	// size changes, and it hides f's device and inode numbers.
	fs *FS
	// id is the identity under which the registry counts f open (see
	// closing).
	id fileID

	// st holds the parts of the status that do not change while the file
	// is open, once Stat has been called: its device and inode numbers
	// hidden (see FS.hideSerials), the host's device number in hostDev.
	st      *wazerosys.Stat_t
	hostDev uint64
	closed  bool
}

var _ experimentalsys.PollableFile = (*rootFile)(nil)

func (r *rootFile) cached() (*wazerosys.Stat_t, experimentalsys.Errno) {
	if r.st == nil {
		if _, errno := r.Stat(); errno != 0 {
			return nil, errno
		}
	}
	return r.st, 0
}

func (r *rootFile) Dev() (uint64, experimentalsys.Errno) {
	st, errno := r.cached()
	if errno != 0 {
		return 0, errno
	}
	return st.Dev, 0
}

func (r *rootFile) Ino() (wazerosys.Inode, experimentalsys.Errno) {
	st, errno := r.cached()
	if errno != 0 {
		return 0, errno
	}
	return st.Ino, 0
}

func (r *rootFile) IsDir() (bool, experimentalsys.Errno) {
	st, errno := r.cached()
	if errno != 0 {
		return false, errno
	}
	return st.Mode.IsDir(), 0
}

func (r *rootFile) IsAppend() bool { return r.flag&experimentalsys.O_APPEND != 0 }

func (r *rootFile) SetAppend(enable bool) experimentalsys.Errno {
	if r.closed {
		return experimentalsys.EBADF
	}
	if errno := setAppend(r.f, enable); errno != 0 {
		return errno
	}
	if enable {
		r.flag |= experimentalsys.O_APPEND
	} else {
		r.flag &^= experimentalsys.O_APPEND
	}
	return 0
}

func (r *rootFile) IsNonblock() bool { return r.flag&experimentalsys.O_NONBLOCK != 0 }

// SetNonblock sets or clears O_NONBLOCK, except that a named pipe or a
// device stays non-blocking: clearing it fails with ENOTSUP. A blocking
// read or write of one would wait in the kernel, or in Go's poller, on
// the guest's call without bound and beyond the reach of its context and
// of Instance.Close (a guest opening a pipe for reading and writing holds
// its only writer, and a read of it never returns).
func (r *rootFile) SetNonblock(enable bool) experimentalsys.Errno {
	if r.closed {
		return experimentalsys.EBADF
	}
	if r.stream && !enable {
		return experimentalsys.ENOTSUP
	}
	if errno := setNonblock(r.f, enable); errno != 0 {
		return errno
	}
	if enable {
		r.flag |= experimentalsys.O_NONBLOCK
	} else {
		r.flag &^= experimentalsys.O_NONBLOCK
	}
	return 0
}

// Poll is not supported: wazero polls only standard input, never a file
// it opened.
func (r *rootFile) Poll(experimentalsys.Pflag, int32) (bool, experimentalsys.Errno) {
	return false, experimentalsys.ENOSYS
}

func (r *rootFile) Stat() (wazerosys.Stat_t, experimentalsys.Errno) {
	if r.closed {
		return wazerosys.Stat_t{}, experimentalsys.EBADF
	}
	info, err := r.f.Stat()
	if err != nil {
		return wazerosys.Stat_t{}, experimentalsys.UnwrapOSError(err)
	}
	st := wazerosys.NewStat_t(info)
	r.hostDev = st.Dev
	r.fs.hideSerials(&st)
	r.st = &wazerosys.Stat_t{Dev: st.Dev, Ino: st.Ino, Mode: st.Mode.Type()}
	return st, 0
}

// fileErr is the error for an operation on a file: EBADF once closed,
// EISDIR on a directory, otherwise errno (as wazero's own file).
func (r *rootFile) fileErr(errno experimentalsys.Errno) experimentalsys.Errno {
	if r.closed {
		return experimentalsys.EBADF
	}
	if dir, e := r.IsDir(); e != 0 {
		return e
	} else if dir {
		return experimentalsys.EISDIR
	}
	return errno
}

func (r *rootFile) Read(buf []byte) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	var n int
	var err error
	if r.IsNonblock() {
		n, err = readOnce(r.f, buf)
	} else {
		n, err = r.f.Read(buf)
	}
	if err == io.EOF {
		err = nil
	}
	if errno := experimentalsys.UnwrapOSError(err); errno != 0 {
		return n, r.fileErr(errno)
	}
	return n, 0
}

func (r *rootFile) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := r.f.ReadAt(buf, off)
	if err == io.EOF {
		err = nil
	}
	if errno := experimentalsys.UnwrapOSError(err); errno != 0 {
		return n, r.fileErr(errno)
	}
	return n, 0
}

func (r *rootFile) Write(buf []byte) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	off := int64(-1) // O_APPEND: at the end
	if !r.IsAppend() {
		pos, err := r.f.Seek(0, io.SeekCurrent)
		if err != nil {
			off = 0 // not seekable: not a regular file, not counted
		} else {
			off = pos
		}
	}
	var n int
	err := r.fs.disk.sizeChange(r.f, writeEnd(off, len(buf)), func(int64) (err error) {
		if r.IsNonblock() {
			n, err = writeOnce(r.f, buf)
		} else {
			n, err = r.f.Write(buf)
		}
		return err
	})
	if errno := r.fs.disk.errnoOf(err); errno != 0 {
		return n, r.fileErr(errno)
	}
	return n, 0
}

// Pwrite writes buf at off. On a file in append mode (O_APPEND, from the
// open or SetAppend) Linux's pwrite(2) writes at the end whatever off
// says, so the quota reckons such a write to end the further of the two:
// reckoned at off alone, a write at 0 of a file in append mode reserved
// nothing, and each one grew the file past the quota without bound.
func (r *rootFile) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	end := writeEnd(off, len(buf))
	if r.IsAppend() {
		atOff, atEnd := end, writeEnd(-1, len(buf))
		end = func(size int64) int64 { return max(atOff(size), atEnd(size)) }
	}
	var n int
	err := r.fs.disk.sizeChange(r.f, end, func(int64) (err error) {
		n, err = r.f.WriteAt(buf, off)
		return err
	})
	if errno := r.fs.disk.errnoOf(err); errno != 0 {
		return n, r.fileErr(errno)
	}
	return n, 0
}

func (r *rootFile) Truncate(size int64) experimentalsys.Errno {
	if size < 0 {
		return experimentalsys.EINVAL
	}
	err := r.fs.disk.sizeChange(r.f, func(int64) int64 { return size }, func(int64) error { return r.f.Truncate(size) })
	if errno := r.fs.disk.errnoOf(err); errno != 0 {
		return r.fileErr(errno)
	}
	return 0
}

func (r *rootFile) Sync() experimentalsys.Errno {
	if r.closed {
		return experimentalsys.EBADF
	}
	return experimentalsys.UnwrapOSError(r.f.Sync())
}

// Datasync syncs data and metadata (os.File has no fdatasync).
func (r *rootFile) Datasync() experimentalsys.Errno { return r.Sync() }

// Utimens sets the open file's times: at nanosecond precision where the
// host can (setFileTimes), else at microseconds (futimens).
func (r *rootFile) Utimens(atim, mtim int64) experimentalsys.Errno {
	if r.closed {
		return experimentalsys.EBADF
	}
	if ok, err := setFileTimes(r.f, timeOfNanos(atim), timeOfNanos(mtim)); ok {
		return experimentalsys.UnwrapOSError(err)
	}
	return futimens(r.f, atim, mtim)
}

func (r *rootFile) Close() experimentalsys.Errno {
	if r.closed {
		return 0
	}
	r.closed = true
	r.File.Close()
	closing(r.id, r.f)
	if r.counted != nil {
		r.counted.releaseDescriptor()
	}
	return experimentalsys.UnwrapOSError(r.f.Close())
}

// newRootFile wraps f, opened with flag and counted toward counted's file
// limit (nil: not counted); on failure it closes f and releases the count.
//
// Seek and Readdir are those of the file wazero's sysfs.AdaptFS makes of
// an fs.File, here over f through handleFS: Seek seeks f, except that
// seeking a directory to zero marks it for rewinding, which the next
// Readdir does by asking handleFS to open it again: handleFS seeks f to
// zero (which restarts os.File's directory reading) and gives f back.
// Readdir is os.File's, without "." and "..", which wazero's fd_readdir
// adds itself; Go reads each entry's status relative to the open
// directory (fstatat), not through its path. (A Seek with wazero's Errno
// result declared here would fail go vet's stdmethods check.)
func newRootFile(f *os.File, flag experimentalsys.Oflag, counted, fsys *FS, id fileID) (*rootFile, experimentalsys.Errno) {
	adapted, errno := (&sysfs.AdaptFS{FS: &handleFS{f: f}}).OpenFile(".", experimentalsys.O_RDONLY, 0)
	if errno != 0 {
		closing(id, f)
		f.Close()
		if counted != nil {
			counted.releaseDescriptor()
		}
		return nil, errno
	}
	return &rootFile{File: adapted, f: f, flag: flag, counted: counted, fs: fsys, id: id}, 0
}

// handleFS is an fs.FS holding one open file: every Open after the first
// rewinds it (see newRootFile).
type handleFS struct {
	f      *os.File
	opened bool
}

func (h *handleFS) Open(string) (fs.File, error) {
	if h.opened {
		if _, err := h.f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
	}
	h.opened = true
	return handle{h.f}, nil
}

// handle is f for the adapter: closing it leaves f open (the rootFile
// closes f).
type handle struct{ f *os.File }

func (h handle) Stat() (fs.FileInfo, error)                { return h.f.Stat() }
func (h handle) Read(b []byte) (int, error)                { return h.f.Read(b) }
func (h handle) Seek(off int64, whence int) (int64, error) { return h.f.Seek(off, whence) }
func (h handle) Readdir(n int) ([]fs.FileInfo, error)      { return h.f.Readdir(n) }
func (handle) Close() error                                { return nil }
