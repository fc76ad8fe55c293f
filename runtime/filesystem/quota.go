package filesystem

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
	"github.com/wasitls/wasitls/internal/capreport"
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

// DefaultDiskFiles is how many files one guest instance's disk quota
// remembers the growth of unless SetDiskFileLimit says otherwise (see
// diskQuota): the process's registry holds some 280 bytes for each, so
// 16,384 files bound it to about 4.5 MiB a guest. Without its own bound
// it was DiskBytes/NameBytes + 256 files, one for each name the quota
// could pay for: a million, some 290 MiB of host memory, under the
// default 4 GiB; and a guest growing files that were there before pays
// for no name, so the names alone bound nothing.
const DefaultDiskFiles = 16384

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

// quotaFilesError is the refusal of a growth of one more file than the
// quota remembers (see SetDiskFileLimit): quota, EDQUOT.
type quotaFilesError struct{ limit int }

func (e *quotaFilesError) Error() string {
	return fmt.Sprintf("filesystem: %v: the guest grew %d files it has not removed, the most its quota remembers (runtime.Limits.DiskFiles, wasitls run --max-disk-files)",
		ErrDiskQuota, e.limit)
}

func (e *quotaFilesError) Unwrap() []error { return []error{ErrDiskQuota, types.ErrorCodeQuota} }

// diskQuota counts what a guest added to the host's disk beneath its
// preopens: the bytes by which it made regular files larger (writing past
// their end, at any offset, setting their size) and NameBytes for each
// name it made; what it gives back is taken off, down to zero: a name it
// removes (unlinking, or renaming over it), while it removed fewer names
// than it made (unname), and the bytes of growth it was charged for that
// leave the disk.
//
// Directories count as they grow: a directory keeps the blocks it grew to
// hold names after they are removed (ext4 and most file systems), so a
// name made in it (or renamed into it under a new name) is charged, on
// top of NameBytes, what the directory's blocks grew by across the call
// (dirGrowth: its status read before and after, no lock held). That
// growth is never given back while the directory exists, and is given
// back, at most what it held, when a guest removes it (rmdir, or a
// directory renamed over), whatever guest paid: its blocks are freed
// (held open by a guest of the process, it keeps them: at the last
// close, as a file removed while open). It
// is counted even past the limit (the next change is refused), and a
// rename to a new name reserves NameBytes for it first, so that moving
// names from one new directory to another is refused past the quota too.
// Two guests of the process making names in one directory at once may
// both be charged a growth of it, never neither. Directories the guest
// charged count toward the files the quota remembers; past them, their
// growth stays counted, never given back.
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
// shrunk by the host; and a file another process holds open may stay on
// disk after its refund.
//
// The registry holds one entry for each file a quota was charged for and
// not given all back, so a quota remembers at most so many files (its
// file limit, SetDiskFileLimit, DefaultDiskFiles): past it, a growth of
// yet another file is refused as a growth past the bytes is, before any
// byte is written, until a file it grew is freed or shrunk by as much as
// it grew it. Its names do not bound it: growing a file that was there
// before costs no name.
//
// No lock shared by the guests of the process is held across a system
// call, so that a guest whose call waits (a slow or network mount, a
// huge unlink) holds up no other guest's. mu guards the counts only, for
// as long as it takes to change them. change serializes this guest's
// changes of sizes, the status read before and after included, so that
// a change and a shrink of the same file running at once (a stream's
// write on its goroutine, a set-size on the guest's call) cannot both be
// measured against the size before the other; only this guest's own
// changes wait for it. A growth is reserved before its system call and
// settled after, as measured. A name a call removes (unlink, rename over
// it, rmdir) or links to (link) is locked by its file's identity across
// the call (lockName), and a change of a file's size by its file's
// identity across its status reads (sizeLocked): only calls on that same
// file wait.
type diskQuota struct {
	change sync.Mutex

	mu    sync.Mutex
	used  int64
	limit int64
	// names counts the names the quota was charged NameBytes for and
	// not given back: a name removed gives back NameBytes only while it
	// is above zero (unname).
	names int64
	// call numbers the wasi_snapshot_preview1 calls wrapped for the quota
	// (BeginQuotaCall); refusedIn is the number of the one in which a
	// change was last refused for the quota, whose errno wazero cannot
	// carry (see RefusedIn).
	call, refusedIn atomic.Uint64

	// files are the files the quota was charged for growing and still
	// remembers (see the registry, files), at most maxFiles; gone is set
	// when its guest's FS closed. All three are guarded by files.mu, not
	// mu.
	files    map[fileID]struct{}
	maxFiles int
	gone     bool

	caps *capreport.Reporter // told of each refusal for a limit; may be nil
}

// SetCapReporter sets the reporter told of each call the FS refuses for
// one of its limits (the runtime's log of the first of each). Call it
// before the guest runs.
func (f *FS) SetCapReporter(r *capreport.Reporter) { f.disk.caps = r }

// SetDiskLimit bounds what the guest may add to the host's disk beneath
// its preopens (n > 0; see DefaultDiskBytes). Past it a change fails with
// quota (wasi:filesystem) or EDQUOT (wasi_snapshot_preview1), whole: no
// byte of a write that would cross it is written.
func (f *FS) SetDiskLimit(n int64) {
	f.disk.mu.Lock()
	f.disk.limit = n
	f.disk.mu.Unlock()
}

// SetDiskFileLimit bounds how many files the guest's disk quota remembers
// the growth of (n > 0; see DefaultDiskFiles): past it, a change that
// would grow another file fails as one past SetDiskLimit does.
func (f *FS) SetDiskFileLimit(n int) {
	files.mu.Lock()
	f.disk.maxFiles = n
	files.mu.Unlock()
}

// DiskFiles returns how many files the guest's disk quota remembers the
// growth of.
func (f *FS) DiskFiles() int {
	files.mu.Lock()
	defer files.mu.Unlock()
	return len(f.disk.files)
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

// reserve counts n more bytes, or refuses past the limit. The refusal is
// reported with q.mu released: the report may be logged by the
// embedder's logger, which may block, and other guests take q.mu to give
// q back what they freed of its files.
func (q *diskQuota) reserve(n int64) error {
	q.mu.Lock()
	err, limit := q.reserveLocked(n), q.limit
	q.mu.Unlock()
	if err != nil {
		q.caps.Refused(capreport.DiskBytes, limit)
	}
	return err
}

// reserveLocked is reserve with q.mu held, unreported.
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

// adjust counts a change of n bytes, positive or negative, as measured;
// the count stays at zero or above.
func (q *diskQuota) adjust(n int64) {
	q.mu.Lock()
	q.adjustLocked(n)
	q.mu.Unlock()
}

func (q *diskQuota) adjustLocked(n int64) {
	q.used = max(q.used+n, 0)
}

// sizeLocked: a change of a regular file's size (sizeChange, a truncating
// open) holds the file's lock (lockFile) from its status read before to
// the one after, so that the changes of all guests of the process to one
// file are measured one at a time: a shrink by another guest between a
// growth's read and its write (a write past the end read, the file then
// truncated) made the growth measure only its last bytes while the
// shrink gave the whole size back, the file holding more than counted.
// Only changes of that same file wait.

// sizeChange runs op, which changes the size of file f to at most
// end(size before), under the quota: the growth is reserved before, and
// refused when it would pass the quota; after, the change is counted as
// measured instead (a short or failed write, or a shrink; see settle).
// op is given the size before (an append writes there), or -1 when it
// could not be read. A file that is not a regular file (a named pipe, a
// device) holds nothing on disk: op runs uncounted, and outside q.change.
func (q *diskQuota) sizeChange(f *os.File, end func(size int64) int64, op func(before int64) error) error {
	q.change.Lock()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		q.change.Unlock()
		if err != nil {
			return op(-1)
		}
		return op(info.Size())
	}
	defer q.change.Unlock()
	// Another guest's change of the file between the status read and op
	// would leave before stale (see sizeLocked).
	unlock := lockFile(info)
	defer unlock()
	if info, err = f.Stat(); err != nil {
		return op(-1) // not measured, as below
	}
	before := info.Size()
	want := max(end(before)-before, 0)
	if want > 0 {
		if err := q.roomFor(info); err != nil {
			return err
		}
	}
	if err := q.reserve(want); err != nil {
		return err
	}
	err = op(before)
	after, serr := f.Stat()
	if serr != nil {
		return err // not measured: what was reserved stays counted
	}
	q.settle(after, want, after.Size()-before)
	return err
}

// roomFor refuses a growth of the regular file info describes when the
// quota does not remember it yet and remembers as many files as it may.
// Growths are serialized by q.change, held: none can take the room
// between this check and the growth's charge (chargeLocked).
func (q *diskQuota) roomFor(info fs.FileInfo) error {
	id, _, ok := idOf(info)
	if !ok {
		return nil
	}
	files.mu.Lock()
	_, known := q.files[id]
	room := known || q.gone || len(q.files) < q.maxFiles
	files.mu.Unlock()
	if room {
		return nil
	}
	// Reported with the registry lock, which every guest of the process
	// takes, released: the report may be logged by the embedder's logger,
	// which may block.
	q.caps.Refused(capreport.DiskFiles, q.maxFiles)
	return &quotaFilesError{limit: q.maxFiles}
}

// settle replaces reserved, what was counted for a change of the size
// of the regular file info describes (its status after), by n, the
// change measured. Growth is charged to q and remembered as that file's
// (chargeLocked); a shrink gives back what it freed of the growth quotas
// were charged for, q's first, then the others' (shrunkLocked). A shrink
// of a file not tracked (no inode number) gives q back what it measured.
// No lock is held.
//
// For a name made in the directory info describes, reserved is what was
// counted for it, n what the directory grew by (dirGrowth, never less
// than zero): counted whatever the limit (the next change is refused
// past it), and remembered as that directory's, to be given back when
// it is removed (see removal), as a file's growth is (past the files the
// quota remembers, it stays counted).
func (q *diskQuota) settle(info fs.FileInfo, reserved, n int64) {
	id, tracked := heldID(info)
	q.mu.Lock()
	q.adjustLocked(-reserved)
	if n > 0 {
		q.used += n
	}
	q.mu.Unlock()
	switch {
	case n > 0 && tracked:
		files.mu.Lock()
		chargeLocked(q, id, n)
		files.mu.Unlock()
	case n < 0 && !tracked:
		q.adjust(n)
	case n < 0:
		files.mu.Lock()
		own, others := shrunkLocked(q, id, -n)
		files.mu.Unlock()
		q.adjust(-own)
		giveBack(others)
	}
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

// makeName counts the name p beneath root made by op (mkdir, symlink,
// link, an open that creates): reserved before, refused past the quota,
// given back if op fails; and what p's directory grew by (dirGrowth,
// settle).
func (q *diskQuota) makeName(root *os.Root, p string, op func() error) error {
	if err := q.reserve(NameBytes); err != nil {
		return err
	}
	dir, grew, err := dirGrowth(root, p, op)
	if err != nil {
		q.adjust(-NameBytes)
		return err
	}
	q.mu.Lock()
	q.names++
	q.mu.Unlock()
	q.settle(dir, 0, grew)
	return nil
}

// unname gives back NameBytes for a name removed, if the quota was
// charged for a name it has not been given back: a guest removing names
// it did not make (the files a preopen held before it started, another
// guest's over the same directory) gets back no more than it paid for
// names (were each removal to give back NameBytes, a guest that filled
// its quota with bytes and removed names not its own would write past
// it, 4 KiB a name: TestDiskQuotaForeignNames). Which of its names are removed is not told apart: its names and the
// names it removed balance, so that what the guests of a directory were
// charged for names stays at least the names they added to it.
func (q *diskQuota) unname() {
	q.mu.Lock()
	if q.names > 0 {
		q.names--
		q.adjustLocked(-NameBytes)
	}
	q.mu.Unlock()
}

// link makes new a hard link to old beneath root, as makeName counts
// it, with old's file locked (lockName), so that its link count, which
// an unlink of its other name reads under that lock, cannot change in
// between.
func (q *diskQuota) link(root *os.Root, old, new string) error {
	_, unlock, err := lockName(root, old)
	if err != nil {
		return err
	}
	defer unlock()
	return q.makeName(root, new, func() error { return root.Link(old, new) })
}

// removeDir removes the directory p beneath root (notDir: p is not one,
// nothing is done), giving back its name and, unless a guest of the
// process holds it open, its growth (see removal).
func (q *diskQuota) removeDir(root *os.Root, p string) (notDir bool, err error) {
	info, unlock, err := lockName(root, p)
	if err != nil {
		return false, err
	}
	defer unlock()
	if !info.IsDir() {
		return true, nil
	}
	held := holdRemoved(root, p, info)
	defer held.done(q)
	if err := root.Remove(p); err != nil {
		return false, err
	}
	q.unname()
	return false, nil
}

// unlink removes p beneath root, anything but a directory (isDir: p is
// one, nothing is done), giving back its name and, when that was the
// last link of a regular file no guest of the process holds open, what
// the quotas were charged for the file's growth (see removal). Were it
// open, the file is freed at its last close (closing).
func (q *diskQuota) unlink(root *os.Root, p string) (isDir bool, err error) {
	info, unlock, err := lockName(root, p)
	if err != nil {
		return false, err
	}
	defer unlock()
	if info.IsDir() {
		return true, nil
	}
	held := holdRemoved(root, p, info)
	defer held.done(q)
	if err := root.Remove(p); err != nil {
		return false, err
	}
	q.unname()
	return false, nil
}

// rename renames old to new beneath root. When new named something else,
// the name is given back, and so is the file, as unlink does, when that
// was its last link (or the directory's growth, as removeDir does). When
// it named nothing, new's directory may grow: NameBytes are reserved
// for that, refused past the quota, and replaced by the growth measured
// (dirGrowth, settle).
//
// A rename onto a name that names nothing makes it only if it still names
// nothing (renameNoReplace): when another made it meanwhile (a guest
// renaming onto it at once), the rename replaces it as above. Before,
// both renames, having found the name free, were charged a name, and the
// file the second replaced stayed charged to its guest: 1 MiB and a name
// over for a 1 MiB file (TestRenameOntoNameMadeMeanwhile). Off Linux that
// can still happen (over, never under).
func (q *diskQuota) rename(root *os.Root, old, new string) error {
	for range createTries {
		err := q.renameOnce(root, old, new)
		if !errors.Is(err, errNameTaken) {
			return err
		}
	}
	return errNameBusy
}

// renamingOntoFree, when set (by tests), is called by a rename that
// found its new name free, just before it renames: where another rename
// onto that name interleaves.
var renamingOntoFree func()

// errNameTaken is renameNoReplace's answer for a name that names
// something.
var errNameTaken = fmt.Errorf("filesystem: the name names something: %w", syscall.EEXIST)

// renameOnce is one try of rename; errNameTaken when new was made while
// it ran.
func (q *diskQuota) renameOnce(root *os.Root, old, new string) error {
	target, unlock, terr := lockName(root, new)
	if errors.Is(terr, errNameBusy) {
		return terr
	}
	if terr != nil { // new names nothing: the rename makes it
		if err := q.reserve(NameBytes); err != nil {
			return err
		}
		if renamingOntoFree != nil {
			renamingOntoFree()
		}
		dir, grew, err := dirGrowth(root, new, func() error { return renameNoReplace(root, old, new) })
		q.settle(dir, NameBytes, grew)
		return err
	}
	defer unlock()
	held := holdRemoved(root, new, target)
	defer held.done(q)
	src, serr := root.Lstat(old)
	if err := root.Rename(old, new); err != nil {
		return err
	}
	if taken, ok := held.linkTaken(); ok && !taken {
		return nil // new was moved away first, or names old's file too
	}
	if serr == nil && os.SameFile(src, target) {
		return nil // links to one file: rename does nothing
	}
	q.unname()
	return nil
}

// openCounted opens p beneath root with flag under the quota: an open
// that creates the file counts a name (openCreating), one that truncates
// it gives back what that frees (when what it opened is the file it
// found before), as a shrink does (settle, under q.change). It returns
// the identity under which the registry counts the open file (zero for
// anything but a regular file), for closing.
func (q *diskQuota) openCounted(root *os.Root, p string, flag int, perm fs.FileMode) (*os.File, fileID, error) {
	truncates := flag&os.O_TRUNC != 0
	var before fs.FileInfo
	var statErr error
	if truncates {
		q.change.Lock()
		defer q.change.Unlock()
		if before, statErr = root.Stat(p); statErr == nil && before.Mode().IsRegular() {
			unlock := lockFile(before) // see sizeLocked
			defer unlock()
			before, statErr = root.Stat(p)
		}
	}
	frees := files.frees.Load()
	f, created, err := q.openCreating(root, p, flag, perm)
	if err != nil {
		return nil, fileID{}, err
	}
	after, serr := f.Stat()
	if serr != nil {
		return f, fileID{}, nil
	}
	id := opened(after, created)
	if id != (fileID{}) && files.frees.Load() != frees {
		if err := q.adoptOrphan(id, f); err != nil {
			closing(id, f)
			f.Close()
			return nil, fileID{}, err
		}
	}
	if truncates && statErr == nil && before.Mode().IsRegular() && os.SameFile(before, after) {
		q.settle(after, 0, after.Size()-before.Size())
	}
	return f, id, nil
}

// createTries is how many times openCreating makes a name that others
// remove as soon as it finds it there, before it fails with
// errNameVanishing.
var createTries = 16

// errNameVanishing is openCreating's answer for a name that was there
// each time it was made and gone each time it was opened.
var errNameVanishing = fmt.Errorf("filesystem: the name kept being made and removed while it was opened: %w", syscall.EBUSY)

// openCreating opens p beneath root with flag. An open that may create
// the file is charged a name only when it made it, so that guests
// creating one name at once are charged once between them: the name is
// made with O_EXCL, NameBytes reserved; only when that finds it there is
// p opened without O_CREATE (and made again should it be removed in
// between). With the quota spent, an existing p still opens. A final
// symbolic link to nothing is followed, as O_CREATE does, and the file
// it makes is charged to this open, which found it missing.
func (q *diskQuota) openCreating(root *os.Root, p string, flag int, perm fs.FileMode) (f *os.File, created bool, err error) {
	if flag&os.O_CREATE == 0 {
		f, err = root.OpenFile(p, flag, perm)
		return f, false, err
	}
	excl := flag&os.O_EXCL != 0
	for range createTries {
		err = q.makeName(root, p, func() (err error) {
			f, err = root.OpenFile(p, flag|os.O_EXCL, perm)
			return err
		})
		switch {
		case err == nil:
			return f, true, nil
		case errors.Is(err, ErrDiskQuota) && !excl: // refused before the open
			f, oerr := root.OpenFile(p, flag&^os.O_CREATE, perm)
			if errors.Is(oerr, fs.ErrNotExist) {
				return nil, false, err
			}
			return f, false, oerr
		case excl || !errors.Is(err, fs.ErrExist):
			return nil, false, err
		}
		f, err = root.OpenFile(p, flag&^os.O_CREATE, perm)
		if !errors.Is(err, fs.ErrNotExist) {
			return f, false, err
		}
		if info, lerr := root.Lstat(p); lerr == nil && info.Mode()&fs.ModeSymlink != 0 {
			err = q.makeName(root, linkedDir(root, p), func() (err error) {
				f, err = root.OpenFile(p, flag, perm)
				return err
			})
			return f, err == nil, err
		}
	}
	return nil, false, &fs.PathError{Op: "open", Path: p, Err: errNameVanishing}
}

// adoptOrphan charges q for file id, which f, just opened and counted
// open (opened), holds, when a file was freed meanwhile (its
// charges given back; see freedLocked) and it might have been this one:
// opened by its name just before another guest removed its last link,
// and counted open only after that removal found it held by no one. Such
// a file, with no link left and no quota charged for it, stays on disk
// while f holds it: q pays for what it holds until the last close frees
// it, or the open is refused for the quota.
func (q *diskQuota) adoptOrphan(id fileID, f *os.File) error {
	info, err := f.Stat()
	if err != nil {
		return nil
	}
	if _, nlink, ok := idOf(info); !ok || nlink != 0 || info.Size() == 0 {
		return nil
	}
	size := info.Size()
	if err := q.reserve(size); err != nil {
		return err
	}
	files.mu.Lock()
	rec := files.m[id]
	adopt := rec != nil && len(rec.charged) == 0
	if adopt {
		chargeLocked(q, id, size)
	}
	files.mu.Unlock()
	if !adopt {
		q.adjust(-size)
	}
	return nil
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
