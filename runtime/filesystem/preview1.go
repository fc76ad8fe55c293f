package filesystem

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	wazerosys "github.com/tetratelabs/wazero/sys"
)

// Preview1 returns, for each preopen, the file system wazero's
// wasi_snapshot_preview1 should mount (with sysfs.FSConfig's
// WithSysFSMount): an experimentalsys.FS over the preopen's os.Root,
// wrapped in sysfs.ReadFS for a read-only preopen.
//
// Every path operation is one os.Root call (see rootFS), so a path is
// resolved and acted on in one step: a symbolic link swapped in between a
// check and the operation, by the host or by another guest running at the
// same time over the same host directory, cannot lead a wasip1 guest out
// of its preopen. A path that would leave it fails with EPERM.
func (f *FS) Preview1() []experimentalsys.FS {
	out := make([]experimentalsys.FS, len(f.preopens))
	for i, p := range f.preopens {
		var c experimentalsys.FS = &rootFS{root: p.root, fs: f, readOnly: p.readOnly}
		if p.readOnly {
			c = &sysfs.ReadFS{FS: c}
		}
		out[i] = c
	}
	return out
}

// SetTimesNoFollow runs set, a call of wasi_snapshot_preview1's
// path_filestat_set_times made with the symlink-follow flag (which wazero
// passes to the mount's Utimens), as the guest's call without it: the
// times are set on the path's last component itself, a symbolic link's
// own, with utimensat(AT_SYMLINK_NOFOLLOW) relative to its directory
// opened beneath the preopen. wazero's own emulation of the flag's
// absence opens the path for writing and sets the open file's times: it
// failed on a file without write permission (EACCES), on a directory
// (EISDIR) and on a named pipe without a reader (ENXIO), followed a final
// link, and counted toward the file limit. A read-only preopen refuses
// both with EROFS. The guest's calls run one at a time.
func (f *FS) SetTimesNoFollow(set func()) {
	f.timesNoFollow.Store(true)
	defer f.timesNoFollow.Store(false)
	set()
}

// Guest returns the guest path of preopen i.
func (f *FS) Guest(i int) string { return f.preopens[i].guest }

// rootFS is wazero's experimentalsys.FS over an os.Root: each method is
// one os.Root call, and files it opens are rootFiles.
//
// Where the FS interface asks for something os.Root does in two calls (the
// type checks of Unlink and Rmdir, refusing a final symbolic link for
// O_NOFOLLOW), the first call only decides the answer; both resolve beneath
// the root, so losing that race changes which file inside the preopen is
// acted on, never leaves it.
//
// Files it opens count toward the FS's file limit ([FS.SetLimit]) and
// its descriptor budget ([FS.SetDescriptorBudget]) until closed; past
// either an open fails with EIO (wazero's Errno has no EMFILE or
// ENOMEM, and maps what it does not know to EIO). The exception is
// wazero's own handle on the mount's root, which it opens lazily as
// OpenFile(".", O_RDONLY, 0), panicking if that fails: it stands for the
// preopen, as the preopens' roots do for wasi:filesystem, and is not
// counted. A guest's path_open always passes the permission 0o600, so it
// cannot open uncounted files that way.
type rootFS struct {
	experimentalsys.UnimplementedFS
	root *os.Root
	fs   *FS
	// readOnly is set for a read-only preopen, which sysfs.ReadFS wraps:
	// that refuses opens for writing, not those that create or truncate
	// for reading alone (see OpenFile).
	readOnly bool
}

// rel makes a path wazero passes (relative to the mount, possibly with a
// leading slash or empty) relative to the root. A path longer than
// MaxPath fails with ENAMETOOLONG (see MaxPath); wazero joins a guest's
// path to the one its directory descriptor was opened by, so the two
// together count, as they did when wazero's own file system passed them
// to the kernel.
func rel(p string) (string, experimentalsys.Errno) {
	if len(p) > MaxPath {
		return "", experimentalsys.ENAMETOOLONG
	}
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return ".", 0
	}
	return p, 0
}

// rel2 is rel of two paths.
func rel2(a, b string) (string, string, experimentalsys.Errno) {
	a, errno := rel(a)
	if errno != 0 {
		return "", "", errno
	}
	b, errno = rel(b)
	return a, b, errno
}

// errnoOf is UnwrapOSError, with os.Root's refusal of a path leading out
// of the root as EPERM.
func errnoOf(err error) experimentalsys.Errno {
	if err == nil {
		return 0
	}
	if escapes(err) {
		return experimentalsys.EPERM
	}
	return experimentalsys.UnwrapOSError(err)
}

// OpenFile opens p beneath the root. Every open adds openNonblock, so a
// named pipe opens without waiting for its other end; its reads and writes,
// and those of a device, then say EAGAIN, which the guest polls for, rather
// than block, and the guest cannot make them block (rootFile.SetNonblock).
func (r *rootFS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	p, errno := rel(p)
	if errno != 0 {
		return nil, errno
	}
	if flag&experimentalsys.O_NOFOLLOW != 0 {
		if info, err := r.root.Lstat(p); err == nil && info.Mode()&fs.ModeSymlink != 0 {
			return nil, experimentalsys.ELOOP
		}
	}
	if flag&experimentalsys.O_DIRECTORY != 0 && flag&(experimentalsys.O_WRONLY|experimentalsys.O_RDWR) != 0 {
		return nil, experimentalsys.EISDIR
	}
	if r.readOnly && flag&(experimentalsys.O_CREAT|experimentalsys.O_TRUNC) != 0 {
		// wazero opens for reading alone a path_open with O_CREAT or
		// O_TRUNC given only the fd_read right, and sysfs.ReadFS lets
		// an open for reading through: it created files beneath a
		// read-only preopen and truncated those there (Linux's
		// O_RDONLY|O_TRUNC does). Refused as wasi:filesystem's open-at
		// refuses create and truncate there.
		return nil, experimentalsys.EROFS
	}
	var counted *FS
	if !(p == "." && flag == experimentalsys.O_RDONLY && perm == 0) {
		if err := r.fs.acquireDescriptor(); err != nil {
			if err == BadDescriptor {
				return nil, experimentalsys.EBADF
			}
			return nil, experimentalsys.EIO
		}
		counted = r.fs
	}
	f, id, err := r.fs.disk.openCounted(r.root, p, osFlag(flag)|openNonblock, perm)
	if err != nil {
		if counted != nil {
			counted.releaseDescriptor()
		}
		return nil, r.fs.disk.errnoOf(err)
	}
	file, errno := newRootFile(f, flag, counted, r.fs, id)
	if errno != 0 {
		return nil, errno
	}
	st, errno := file.Stat()
	if errno == 0 && flag&experimentalsys.O_DIRECTORY != 0 && st.Mode&fs.ModeDir == 0 {
		errno = experimentalsys.ENOTDIR
	}
	if errno != 0 {
		file.Close()
		return nil, errno
	}
	if !st.Mode.IsRegular() && !st.Mode.IsDir() && openNonblock != 0 {
		// A named pipe or a device: its reads and writes could wait
		// without bound, so they never do (see rootFile.SetNonblock).
		file.flag |= experimentalsys.O_NONBLOCK
		file.stream = true
	}
	return file, 0
}

// osFlag is the os.OpenFile flag for a wazero open flag (O_DIRECTORY and
// O_NOFOLLOW are checked by OpenFile, O_NONBLOCK added to every open).
func osFlag(oflag experimentalsys.Oflag) int {
	var flag int
	switch oflag & (experimentalsys.O_RDONLY | experimentalsys.O_RDWR | experimentalsys.O_WRONLY) {
	case experimentalsys.O_RDWR:
		flag = os.O_RDWR
	case experimentalsys.O_WRONLY:
		flag = os.O_WRONLY
	default:
		flag = os.O_RDONLY
	}
	if oflag&experimentalsys.O_APPEND != 0 {
		flag |= os.O_APPEND
	}
	if oflag&experimentalsys.O_CREAT != 0 {
		flag |= os.O_CREATE
	}
	if oflag&experimentalsys.O_EXCL != 0 {
		flag |= os.O_EXCL
	}
	if oflag&(experimentalsys.O_SYNC|experimentalsys.O_DSYNC|experimentalsys.O_RSYNC) != 0 {
		// O_SYNC gives file integrity, which covers data integrity.
		flag |= os.O_SYNC
	}
	if oflag&experimentalsys.O_TRUNC != 0 {
		flag |= os.O_TRUNC
	}
	return flag
}

func (r *rootFS) Lstat(p string) (wazerosys.Stat_t, experimentalsys.Errno) {
	p, errno := rel(p)
	if errno != 0 {
		return wazerosys.Stat_t{}, errno
	}
	return r.guestStat(r.root.Lstat(p))
}

func (r *rootFS) Stat(p string) (wazerosys.Stat_t, experimentalsys.Errno) {
	p, errno := rel(p)
	if errno != 0 {
		return wazerosys.Stat_t{}, errno
	}
	return r.guestStat(r.root.Stat(p))
}

// guestStat is the status a stat of the root read, as the guest sees it:
// its device and inode numbers hidden (FS.hideSerials).
func (r *rootFS) guestStat(info fs.FileInfo, err error) (wazerosys.Stat_t, experimentalsys.Errno) {
	if err != nil {
		return wazerosys.Stat_t{}, errnoOf(err)
	}
	st := wazerosys.NewStat_t(info)
	r.fs.hideSerials(&st)
	return st, 0
}

func (r *rootFS) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	p, errno := rel(p)
	if errno != 0 {
		return errno
	}
	errno = r.fs.disk.errnoOf(r.fs.disk.makeName(r.root, p, func() error { return r.root.Mkdir(p, perm) }))
	if errno == experimentalsys.ENOTDIR {
		errno = experimentalsys.ENOENT // as DirFS
	}
	return errno
}

func (r *rootFS) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	p, errno := rel(p)
	if errno != 0 {
		return errno
	}
	return errnoOf(r.root.Chmod(p, perm))
}

func (r *rootFS) Rename(from, to string) experimentalsys.Errno {
	from, to, errno := rel2(from, to)
	if errno != 0 {
		return errno
	}
	if from == to {
		return 0 // as DirFS
	}
	return r.fs.disk.errnoOf(r.fs.disk.rename(r.root, from, to))
}

// Rmdir removes an empty directory: ENOTDIR for anything else.
func (r *rootFS) Rmdir(p string) experimentalsys.Errno {
	p, errno := rel(p)
	if errno != 0 {
		return errno
	}
	notDir, err := r.fs.disk.removeDir(r.root, p)
	if notDir {
		return experimentalsys.ENOTDIR
	}
	return errnoOf(err)
}

// Unlink removes anything but a directory: EISDIR for a directory.
func (r *rootFS) Unlink(p string) experimentalsys.Errno {
	p, errno := rel(p)
	if errno != 0 {
		return errno
	}
	isDir, err := r.fs.disk.unlink(r.root, p)
	if isDir {
		return experimentalsys.EISDIR
	}
	return errnoOf(err)
}

func (r *rootFS) Link(old, new string) experimentalsys.Errno {
	old, new, errno := rel2(old, new)
	if errno != 0 {
		return errno
	}
	return r.fs.disk.errnoOf(r.fs.disk.link(r.root, old, new))
}

// Symlink refuses absolute targets with EPERM, as DirFS does; a relative
// target is stored as given and checked when followed.
func (r *rootFS) Symlink(old, link string) experimentalsys.Errno {
	if len(old) > MaxPath {
		return experimentalsys.ENAMETOOLONG
	}
	if path.IsAbs(old) {
		return experimentalsys.EPERM
	}
	link, errno := rel(link)
	if errno != 0 {
		return errno
	}
	return r.fs.disk.errnoOf(r.fs.disk.makeName(r.root, link, func() error { return r.root.Symlink(old, link) }))
}

func (r *rootFS) Readlink(p string) (string, experimentalsys.Errno) {
	p, errno := rel(p)
	if errno != 0 {
		return "", errno
	}
	dst, err := r.root.Readlink(p)
	if err != nil {
		return "", errnoOf(err)
	}
	return filepath.ToSlash(dst), 0
}

// Utimens sets times through a final symbolic link, or, within
// [FS.SetTimesNoFollow], of the link itself (see lchtimesAt); UTIME_OMIT
// leaves one unchanged.
func (r *rootFS) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	p, errno := rel(p)
	if errno != 0 {
		return errno
	}
	if r.fs.timesNoFollow.Load() {
		return errnoOf(lchtimesAt(r.root, p, timeOfNanos(atim), timeOfNanos(mtim)))
	}
	if atim == experimentalsys.UTIME_OMIT && mtim == experimentalsys.UTIME_OMIT {
		_, err := r.root.Stat(p)
		return errnoOf(err)
	}
	return errnoOf(r.root.Chtimes(p, timeOfNanos(atim), timeOfNanos(mtim)))
}

// timeOfNanos is a time for os.Chtimes: the zero time, which leaves the
// time unchanged, for UTIME_OMIT.
func timeOfNanos(ns int64) time.Time {
	if ns == experimentalsys.UTIME_OMIT {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
