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
// name it made; what it gives back (making files smaller, truncating them
// on open, removing names) is taken off, down to zero. Removing a file
// gives back its name, not its bytes: another link, or a descriptor open
// on it, this guest's or anyone's, may keep them.
//
// One lock serializes the changes it counts, the status read before and
// after included, so that a change and a shrink of the same file running
// at once (a stream's write on its goroutine, a set-size on the guest's
// call) cannot both be measured against the size before the other.
type diskQuota struct {
	mu    sync.Mutex
	used  int64
	limit int64
	// refused is set when a wasi_snapshot_preview1 change was refused for
	// the quota, whose errno wazero cannot carry (see TakeQuotaRefusal).
	refused atomic.Bool
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

// TakeQuotaRefusal reports whether a wasi_snapshot_preview1 change was
// refused for the quota since the last call, and forgets it. wazero's
// file interface has no EDQUOT: the refused call answers EIO, which the
// caller turns into EDQUOT when this reports true.
func (f *FS) TakeQuotaRefusal() bool {
	return f.disk.refused.Load() && f.disk.refused.Swap(false)
}

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
// it, counted as measured after (a short or failed write, or a shrink).
// A file that is not a regular file (a named pipe, a device) holds
// nothing on disk: op runs uncounted, and outside the lock.
func (q *diskQuota) sizeChange(f *os.File, end func(size int64) int64, op func() error) error {
	q.mu.Lock()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		q.mu.Unlock()
		return op()
	}
	defer q.mu.Unlock()
	before := info.Size()
	if want := end(before) - before; want > 0 && want > q.limit-q.used {
		return &quotaError{used: q.used, want: want, limit: q.limit}
	}
	err = op()
	if after, serr := f.Stat(); serr == nil {
		q.adjustLocked(after.Size() - before)
	}
	return err
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
// creates): refused past the quota, given back if op fails.
func (q *diskQuota) makeName(op func() error) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.reserveLocked(NameBytes); err != nil {
		return err
	}
	err := op()
	if err != nil {
		q.adjustLocked(-NameBytes)
	}
	return err
}

// removeName gives back a name op removed.
func (q *diskQuota) removeName(op func() error) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	err := op()
	if err == nil {
		q.adjustLocked(-NameBytes)
	}
	return err
}

// openCounted opens p beneath root with flag under the quota: an open
// that creates the file counts a name, one that truncates it gives back
// its bytes (when what it opened is the file it found before), measured.
func (q *diskQuota) openCounted(root *os.Root, p string, flag int, perm fs.FileMode) (*os.File, error) {
	if flag&(os.O_CREATE|os.O_TRUNC) == 0 {
		return root.OpenFile(p, flag, perm)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	before, statErr := root.Stat(p)
	creates := flag&os.O_CREATE != 0 && errors.Is(statErr, fs.ErrNotExist)
	if creates {
		if err := q.reserveLocked(NameBytes); err != nil {
			return nil, err
		}
	}
	f, err := root.OpenFile(p, flag, perm)
	if err != nil {
		if creates {
			q.adjustLocked(-NameBytes)
		}
		return nil, err
	}
	if statErr == nil && flag&os.O_TRUNC != 0 && before.Mode().IsRegular() {
		if after, err := f.Stat(); err == nil && os.SameFile(before, after) {
			q.adjustLocked(after.Size() - before.Size())
		}
	}
	return f, nil
}

// errnoOf is the wasi_snapshot_preview1 errno of err: for a refusal for
// the quota EIO, wazero's errno for what it has no name for, noting the
// refusal for TakeQuotaRefusal; otherwise errnoOf's.
func (q *diskQuota) errnoOf(err error) experimentalsys.Errno {
	if errors.Is(err, ErrDiskQuota) {
		q.refused.Store(true)
		return experimentalsys.EIO
	}
	return errnoOf(err)
}
