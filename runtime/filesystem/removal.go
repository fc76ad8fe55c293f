package filesystem

import (
	"errors"
	"io/fs"
	"os"
)

// A call that removes a name (unlink, rmdir, a rename over it) gives back
// what the quotas were charged for the file it took the last link of. Its
// status read before the call (under lockName) cannot tell which file
// that was: lockName holds off the calls that remove or link a name of
// the file it locked, but not a rename that moves that file's name away
// (to a new name, or with a directory above it) nor a name then made in
// its place, so by the time the system call runs the name may stand for
// another file, or for nothing (a rename then makes it), while the file
// read before lives on under its new name. Given back on that status, its
// growth would leave the quota while its bytes stay on disk: a guest
// sharing the directory with another could write past its quota without
// end, one race at a time.
//
// So the call holds open, across its system call, the file the name
// stands for just before, counted open in the registry as a guest's
// descriptor is (opened), and the file is freed, its charges given back,
// at that hold's close, as at any last close (closing): only if the
// descriptor's own status then says it has no link left, whoever removed
// it. A name that stood for another file by the time of the removal costs
// the removed file's refund (it stays counted until it is removed again,
// or forever: over, never under).

// A rename over a name gives the name back only when it took a link of
// the file held (linkTaken): the name may have been moved away before the
// rename made it anew, which removes no name. A name gone by the time it
// is held (moved away between its status read and the hold) was not
// removed by the rename either.

// removal is the hold on the file a name stood for just before its
// removal; the zero removal holds nothing. nlink is that file's link
// count when it was opened; gone is set when the name stood for nothing
// by the time it was to be held.
type removal struct {
	f     *os.File
	id    fileID
	nlink uint64
	gone  bool
}

// holdRemoved holds the file p beneath root stands for, opened without
// following a final symbolic link, without waiting and, where the host
// can, without reading (holdFlags); a regular file or a directory is
// counted open in the registry. Where the host cannot open anything else
// so (holdsAny false), only those two kinds (info, read under lockName,
// says which) are held. A file that cannot be opened is not held: its
// removal gives no growth back; one that no longer exists is gone.
func holdRemoved(root *os.Root, p string, info fs.FileInfo) removal {
	if _, ok := heldID(info); !ok && !holdsAny {
		return removal{}
	}
	f, err := root.OpenFile(p, holdFlags, 0)
	if err != nil {
		return removal{gone: errors.Is(err, fs.ErrNotExist)}
	}
	now, err := f.Stat()
	if err != nil {
		f.Close()
		return removal{}
	}
	_, nlink, ok := inodeOf(now)
	if !ok {
		f.Close()
		return removal{}
	}
	return removal{f: f, id: opened(now, false), nlink: nlink}
}

// linkTaken reports whether the held file lost a link since it was
// opened (a directory: has none left), and ok whether that can be told
// (a file held, or the name gone before it could be: no link taken). The lock lockName took on it holds off every other call
// of the process that removes one of its links.
func (r removal) linkTaken() (taken, ok bool) {
	if r.f == nil {
		return false, r.gone
	}
	now, err := r.f.Stat()
	if err != nil {
		return false, false
	}
	_, nlink, ok := inodeOf(now)
	if !ok {
		return false, false
	}
	if now.IsDir() {
		return nlink == 0, true
	}
	return nlink < r.nlink, true
}

// done closes the hold once the removal was made (or failed): when no
// other host file of the process holds the file open and it has no link
// left, the quotas charged for it get back their share, q's first.
func (r removal) done(q *diskQuota) {
	if r.f == nil {
		return
	}
	if r.id != (fileID{}) {
		q.adjust(-closingFor(q, r.id, r.f.Stat))
	}
	r.f.Close()
}
