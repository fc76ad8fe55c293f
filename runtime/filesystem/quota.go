package filesystem

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"sync"
	"sync/atomic"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
)

// DefaultDiskBytes is how many bytes one guest instance may add to the
// host's disk beneath its preopens unless SetDiskLimit says otherwise:
// 4 GiB, as much as the largest wasm32 memory holds, so that a guest can
// keep on disk whatever it could hold in memory, while a 1 TiB sparse
// file, or a loop writing or making directories until the disk is full,
// is refused.
const DefaultDiskBytes = 4 << 30

// NameBytes is what making a name beneath a preopen costs against the disk
// quota (a directory, a file, a symbolic link or a hard link): a
// directory takes a block of its own, 4 KiB on most file systems, and a
// name an inode or a directory entry, which a guest could otherwise make
// without end at no cost in bytes written.
const NameBytes = 4096

// ErrDiskQuota is wrapped by the error of a change refused because it
// would pass the guest's disk quota (see [FS.SetDiskLimit]).
var ErrDiskQuota = errors.New("disk quota exceeded")

// quotaError is the refusal of a change past the disk quota: quota for
// wasi:filesystem, EDQUOT for wasi_snapshot_preview1.
type quotaError struct {
	used, want, limit int64
}

func (e *quotaError) Error() string {
	return fmt.Sprintf("filesystem: %v: the guest's files would hold %d bytes more than they did, past the %d allowed (runtime.Limits.DiskBytes, wasitls run --max-disk-bytes)",
		ErrDiskQuota, e.used+e.want, e.limit)
}

// Unwrap makes the error both ErrDiskQuota and the error code quota.
func (e *quotaError) Unwrap() []error { return []error{ErrDiskQuota, types.ErrorCodeQuota} }

// diskQuota counts what a guest added to the host's disk beneath its
// preopens: the bytes by which it made regular files larger (writing past
// their end, at any offset, setting their size) and NameBytes for each
// name it made; what it gives back is taken off, down to zero: a name it
// removes (unlinking, or renaming over it), and the bytes of growth it
// was charged for that leave the disk.
//
// Those bytes are remembered per file (device and inode) in a registry
// the process's guests share (files, in freed.go), and leave the disk
// when the file shrinks (a smaller size, a truncating open) or is freed:
// its last link removed (unlink-file-at, path_unlink_file, or a file
// renamed over it, rename-at, path_rename) with no descriptor or stream
// of any guest of the process open on it, or, when one was, at the last
// one's close, once the file has no link left. Removing one of several
// links, or a file still open, gives back its name only.
//
// Each quota gets back its own share, whoever shrinks or removes the
// file: the guest that made the change gets nothing for bytes another
// guest was charged for, nor for bytes that were there before (a
// pre-existing file, removed or shrunk, gives no quota), and the guest
// that paid for them is not left paying for bytes no longer on disk. A
// shrink gives back at most what it freed, the shrinker's share first; a
// freed file at most its size, the remover's share first. So the
// original bound holds: the guests of a process never make the disk hold
// more, beneath their preopens, than their quotas beyond what was there.
// What the process cannot see is not given back: a file removed or
// shrunk by the host, or a growth past the registry's bound (see
// maxRecordsLocked); and a file another process holds open may stay on
// disk after its refund.
//
// One lock serializes the changes it counts, the status read before and
// after included, so that a change and a shrink of the same file running
// at once (a stream's write on its goroutine, a set-size on the guest's
// call) cannot both be measured against the size before the other.
type diskQuota struct {
	mu    sync.Mutex
	used  int64
	limit int64
	// call numbers the wasi_snapshot_preview1 calls wrapped for the quota
	// (BeginQuotaCall); refusedIn is the number of the one in which a
	// change was last refused for the quota, whose errno wazero cannot
	// carry (see RefusedIn).
	call, refusedIn atomic.Uint64

	// files are the files the quota was charged for growing and still
	// remembers (see the registry, files); gone is set when its guest's
	// FS closed. Both are guarded by files.mu, not mu.
	files map[fileID]struct{}
	gone  bool
}

// SetDiskLimit bounds what the guest may add to the host's disk beneath
// its preopens (n > 0; see DefaultDiskBytes). Past it a change fails with
// quota (wasi:filesystem) or EDQUOT (wasi_snapshot_preview1), whole: no
// byte of a write that would cross it is written.
func (f *FS) SetDiskLimit(n int64) {
	f.disk.mu.Lock()
	f.disk.limit = n
	f.disk.mu.Unlock()
}

// DiskUsed returns what the guest added to the host's disk, as the quota
// counts it.
func (f *FS) DiskUsed() int64 {
	f.disk.mu.Lock()
	defer f.disk.mu.Unlock()
	return f.disk.used
}

// BeginQuotaCall numbers a wasi_snapshot_preview1 call about to run for
// [FS.RefusedIn]. The guest's calls run one at a time.
func (f *FS) BeginQuotaCall() uint64 { return f.disk.call.Add(1) }

// RefusedIn reports whether a change was refused for the quota during the
// call BeginQuotaCall numbered call. wazero's file interface has no
// EDQUOT: the refused call answers EIO, which the caller turns into
// EDQUOT when this reports true. A refusal belongs to the call it
// happened in only: one in a call that answered otherwise, or in a call
// not numbered (it is noted under the number of a call already over), is
// never reported for a later call.
func (f *FS) RefusedIn(call uint64) bool { return f.disk.refusedIn.Load() == call }

// reserveLocked counts n more bytes, or refuses past the limit; the
// lock is held.
func (q *diskQuota) reserveLocked(n int64) error {
	if n <= 0 {
		return nil
	}
	if n > q.limit-q.used {
		return &quotaError{used: q.used, want: n, limit: q.limit}
	}
	q.used += n
	return nil
}

// adjustLocked counts a change of n bytes, positive or negative, as
// measured; the count stays at zero or above. The lock is held.
func (q *diskQuota) adjustLocked(n int64) {
	q.used = max(q.used+n, 0)
}

// sizeChange runs op, which changes the size of file f to at most
// end(size before), under the quota: refused when the growth would pass
// it, counted as measured after (a short or failed write, or a shrink;
// see changedLocked). op is given the size before (an append writes
// there), or -1 when it could not be read. A file that is not a regular
// file (a named pipe, a device) holds nothing on disk: op runs uncounted,
// and outside the lock.
func (q *diskQuota) sizeChange(f *os.File, end func(size int64) int64, op func(before int64) error) error {
	q.mu.Lock()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		q.mu.Unlock()
		if err != nil {
			return op(-1)
		}
		return op(info.Size())
	}
	before := info.Size()
	if want := end(before) - before; want > 0 && want > q.limit-q.used {
		q.mu.Unlock()
		return &quotaError{used: q.used, want: want, limit: q.limit}
	}
	err = op(before)
	var others []refund
	if after, serr := f.Stat(); serr == nil {
		others = q.changedLocked(after, after.Size()-before)
	}
	q.mu.Unlock()
	giveBack(others)
	return err
}

// changedLocked counts a change of n bytes of the size of the regular
// file info describes (its status after), made by q's guest. Growth is
// charged to q and remembered as that file's (chargeLocked); a shrink
// gives back what it freed of the growth quotas were charged for, q's
// first, then the others' (shrunkLocked), which it returns for giveBack
// once q's lock is released. A shrink of a file not tracked (no inode
// number) gives q back what it measured. q's lock is held.
func (q *diskQuota) changedLocked(info fs.FileInfo, n int64) []refund {
	if n == 0 {
		return nil
	}
	id, _, tracked := idOf(info)
	if n > 0 {
		q.used += n
		if tracked {
			files.mu.Lock()
			chargeLocked(q, id, n)
			files.mu.Unlock()
		}
		return nil
	}
	if !tracked {
		q.adjustLocked(n)
		return nil
	}
	files.mu.Lock()
	own, others := shrunkLocked(q, id, -n)
	files.mu.Unlock()
	q.adjustLocked(-own)
	return others
}

// writeEnd is end for a write of n bytes at off, or at the end of the
// file when off < 0 (an append); an end past the largest offset is that
// offset (the write then fails in the host, or is refused for the quota).
func writeEnd(off int64, n int) func(int64) int64 {
	return func(size int64) int64 {
		at := off
		if at < 0 {
			at = size
		}
		if at > math.MaxInt64-int64(n) {
			return math.MaxInt64
		}
		return at + int64(n)
	}
}

// makeName counts a name made by op (mkdir, symlink, link, an open that
// creates): refused past the quota, given back if op fails. op runs
// under the registry's lock, so that a link made by one guest of the
// process does not race another's removal of the file's other name.
func (q *diskQuota) makeName(op func() error) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.reserveLocked(NameBytes); err != nil {
		return err
	}
	files.mu.Lock()
	err := op()
	files.mu.Unlock()
	if err != nil {
		q.adjustLocked(-NameBytes)
	}
	return err
}

// removeName gives back a name op removed (a directory's).
func (q *diskQuota) removeName(op func() error) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	err := op()
	if err == nil {
		q.adjustLocked(-NameBytes)
	}
	return err
}

// unlink removes p beneath root, anything but a directory (isDir: p is
// one, nothing is done), giving back its name and, when that was the
// last link of a regular file no guest of the process holds open, what
// the quotas were charged for the file's growth (freedLocked). Were it
// open, the file is freed at its last close (closing).
func (q *diskQuota) unlink(root *os.Root, p string) (isDir bool, err error) {
	q.mu.Lock()
	files.mu.Lock()
	info, err := root.Lstat(p)
	if err != nil || info.IsDir() {
		files.mu.Unlock()
		q.mu.Unlock()
		return err == nil, err
	}
	err = root.Remove(p)
	var own int64
	var others []refund
	if err == nil {
		q.adjustLocked(-NameBytes)
		own, others = lastLinkGoneLocked(q, info)
	}
	files.mu.Unlock()
	q.adjustLocked(-own)
	q.mu.Unlock()
	giveBack(others)
	return false, err
}

// rename renames old to new beneath root. When new named something else,
// the name is given back, and so is the file, as unlink does, when that
// was its last link.
func (q *diskQuota) rename(root *os.Root, old, new string) error {
	q.mu.Lock()
	files.mu.Lock()
	target, terr := root.Lstat(new)
	replaces := terr == nil
	if replaces {
		if src, err := root.Lstat(old); err == nil && os.SameFile(src, target) {
			replaces = false // links to one file: rename does nothing
		}
	}
	err := root.Rename(old, new)
	var own int64
	var others []refund
	if err == nil && replaces {
		q.adjustLocked(-NameBytes)
		own, others = lastLinkGoneLocked(q, target)
	}
	files.mu.Unlock()
	q.adjustLocked(-own)
	q.mu.Unlock()
	giveBack(others)
	return err
}

// lastLinkGoneLocked frees the file info described before one of its
// names was removed, when that was its last link and no guest of the
// process holds it open. Both locks are held.
func lastLinkGoneLocked(q *diskQuota, info fs.FileInfo) (own int64, others []refund) {
	id, nlink, ok := idOf(info)
	if !ok || nlink != 1 {
		return 0, nil
	}
	if rec := files.m[id]; rec == nil || rec.open > 0 {
		return 0, nil
	}
	return freedLocked(q, id, info.Size())
}

// openCounted opens p beneath root with flag under the quota: an open
// that creates the file counts a name, one that truncates it gives back
// what that frees (when what it opened is the file it found before), as
// a shrink does (changedLocked). It returns the identity under which
// the registry counts the open file (zero for anything but a regular
// file), for closing.
func (q *diskQuota) openCounted(root *os.Root, p string, flag int, perm fs.FileMode) (*os.File, fileID, error) {
	if flag&(os.O_CREATE|os.O_TRUNC) == 0 {
		files.mu.Lock()
		defer files.mu.Unlock()
		f, err := root.OpenFile(p, flag, perm)
		if err != nil {
			return nil, fileID{}, err
		}
		var id fileID
		if info, err := f.Stat(); err == nil {
			id = openedLocked(info, false)
		}
		return f, id, nil
	}
	q.mu.Lock()
	before, statErr := root.Stat(p)
	creates := flag&os.O_CREATE != 0 && errors.Is(statErr, fs.ErrNotExist)
	if creates {
		if err := q.reserveLocked(NameBytes); err != nil {
			q.mu.Unlock()
			return nil, fileID{}, err
		}
	}
	files.mu.Lock()
	f, err := root.OpenFile(p, flag, perm)
	if err != nil {
		files.mu.Unlock()
		if creates {
			q.adjustLocked(-NameBytes)
		}
		q.mu.Unlock()
		return nil, fileID{}, err
	}
	after, serr := f.Stat()
	var id fileID
	if serr == nil {
		id = openedLocked(after, creates)
	}
	files.mu.Unlock()
	var others []refund
	if statErr == nil && serr == nil && flag&os.O_TRUNC != 0 && before.Mode().IsRegular() && os.SameFile(before, after) {
		others = q.changedLocked(after, after.Size()-before.Size())
	}
	q.mu.Unlock()
	giveBack(others)
	return f, id, nil
}

// errnoOf is the wasi_snapshot_preview1 errno of err: for a refusal for
// the quota EIO, wazero's errno for what it has no name for, noting the
// refusal under the number of the running call for RefusedIn; otherwise
// errnoOf's.
func (q *diskQuota) errnoOf(err error) experimentalsys.Errno {
	if errors.Is(err, ErrDiskQuota) {
		q.refusedIn.Store(q.call.Load())
		return experimentalsys.EIO
	}
	return errnoOf(err)
}
