package filesystem

import (
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	wazerosys "github.com/tetratelabs/wazero/sys"
)

// fileID is a regular file's identity, its device and inode numbers. The
// zero fileID stands for a file not tracked (where the host gives no
// inode number, as on Windows).
type fileID struct{ dev, ino uint64 }

// idOf is the identity and link count of a regular file; ok is false for
// anything else or when the host gives no inode number.
func idOf(info fs.FileInfo) (id fileID, nlink uint64, ok bool) {
	if info == nil || !info.Mode().IsRegular() {
		return fileID{}, 0, false
	}
	return inodeOf(info)
}

// inodeOf is the identity and link count of any file info describes; ok
// is false when the host gives no inode number.
func inodeOf(info fs.FileInfo) (id fileID, nlink uint64, ok bool) {
	st := wazerosys.NewStat_t(info)
	if st.Ino == 0 {
		return fileID{}, 0, false
	}
	return fileID{st.Dev, st.Ino}, st.Nlink, true
}

// fileRecord is what the process knows of one regular file beneath the
// preopens of its guests: how many host files its guests hold open on it
// (a descriptor and the streams made from it share one), and how many
// bytes of its growth each guest's quota was charged and not yet given
// back.
type fileRecord struct {
	open    int
	charged map[*diskQuota]int64
}

// refund is n bytes to give back to quota q.
type refund struct {
	q *diskQuota
	n int64
}

// files is the registry of the regular files the guests of this process
// hold open or were charged for, by identity, shared by every FS (and so
// every guest of every runtime) of the process: a file one guest keeps
// open is not freed when another removes its last name.
//
// Its lock guards the registry and the quotas' files, and is held for
// as long as it takes to change them, never across a system call: it
// may be taken with a quota's mu held, never the other way round.
// Refunds to quotas other than the one whose change gave them are given
// after it is released (giveBack). frees counts the files freed (see
// adoptOrphan); locks are the locks of files a call removes or links a
// name of (lockName).
var files = struct {
	mu    sync.Mutex
	m     map[fileID]*fileRecord
	frees atomic.Uint64
	locks map[fileID]*fileLock
}{m: map[fileID]*fileRecord{}, locks: map[fileID]*fileLock{}}

// fileLock is the lock of one file (any file: a directory's too) while
// calls hold or wait for it.
type fileLock struct {
	mu   sync.Mutex
	refs int
}

// errNameBusy is lockName's answer for a name that kept naming another
// file each time it was looked at.
var errNameBusy = fmt.Errorf("filesystem: the name kept changing while it was locked: %w", syscall.EBUSY)

// lockName locks the file p names beneath root, not following a final
// symbolic link, and returns its status read under that lock, and the
// unlock. Calls that remove a name (unlink, rename over it, rmdir) or
// link to a file hold it across their system call, so that, among the
// guests of the process, the link count read under it is the file's
// until the call is made (a removal frees the file when it took its
// last link), and two calls removing one name do not both give it back;
// calls on other files never wait for it. When p names nothing, err says
// so and unlock does nothing.
func lockName(root *os.Root, p string) (info fs.FileInfo, unlock func(), err error) {
	info, err = root.Lstat(p)
	for range 16 {
		if err != nil {
			return nil, func() {}, err
		}
		unlock := lockFile(info)
		now, err2 := root.Lstat(p)
		if err2 == nil && os.SameFile(info, now) {
			return now, unlock, nil
		}
		unlock()
		info, err = now, err2
	}
	return nil, func() {}, &fs.PathError{Op: "lock", Path: p, Err: errNameBusy}
}

// lockFile locks the file info describes by its identity, and returns the
// unlock. A file without an inode number is not locked.
func lockFile(info fs.FileInfo) (unlock func()) {
	id, _, ok := inodeOf(info)
	if !ok {
		return func() {}
	}
	files.mu.Lock()
	l := files.locks[id]
	if l == nil {
		l = &fileLock{}
		files.locks[id] = l
	}
	l.refs++
	files.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		files.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(files.locks, id)
		}
		files.mu.Unlock()
	}
}

// chargeLocked remembers n bytes of growth of file id charged to q, when
// q remembers it already or fewer files than it may (roomFor checked
// that before the growth; past it the growth stays counted, not
// remembered). files.mu is held.
func chargeLocked(q *diskQuota, id fileID, n int64) {
	if q.gone {
		return
	}
	rec := files.m[id]
	if rec == nil {
		rec = &fileRecord{}
		files.m[id] = rec
	}
	if _, ok := rec.charged[q]; !ok {
		if len(q.files) >= q.maxFiles {
			return
		}
		if rec.charged == nil {
			rec.charged = map[*diskQuota]int64{}
		}
		if q.files == nil {
			q.files = map[fileID]struct{}{}
		}
		q.files[id] = struct{}{}
	}
	rec.charged[q] += n
}

// shrunkLocked gives back what file id shrinking by k bytes freed of the
// growth quotas were charged for: at most k in all, q's (the quota of the
// guest that shrank it) first, then the others'. It returns q's share and
// the others' refunds. files.mu is held.
func shrunkLocked(q *diskQuota, id fileID, k int64) (own int64, others []refund) {
	rec := files.m[id]
	if rec == nil || k <= 0 {
		return 0, nil
	}
	if n := min(rec.charged[q], k); n > 0 {
		own = n
		k -= n
		takeLocked(rec, id, q, n)
	}
	for oq, share := range rec.charged {
		if k <= 0 {
			break
		}
		n := min(share, k)
		k -= n
		takeLocked(rec, id, oq, n)
		others = append(others, refund{oq, n})
	}
	dropIfIdleLocked(rec, id)
	return own, others
}

// takeLocked takes n off q's share of rec, forgetting the share at zero.
func takeLocked(rec *fileRecord, id fileID, q *diskQuota, n int64) {
	if rec.charged[q] -= n; rec.charged[q] <= 0 {
		delete(rec.charged, q)
		delete(q.files, id)
	}
}

func dropIfIdleLocked(rec *fileRecord, id fileID) {
	if rec.open == 0 && len(rec.charged) == 0 {
		delete(files.m, id)
	}
}

// freedLocked forgets file id, which is no more (its last link is gone
// and no guest of the process holds it open), and returns what each quota
// was charged for its growth, at most size (what it held) in all, q's
// first when q is not nil. files.mu is held.
func freedLocked(q *diskQuota, id fileID, size int64) (own int64, others []refund) {
	rec := files.m[id]
	if rec == nil {
		return 0, nil
	}
	delete(files.m, id)
	if len(rec.charged) > 0 {
		files.frees.Add(1)
	}
	left := max(size, 0)
	if share, ok := rec.charged[q]; ok && q != nil {
		own = min(share, left)
		left -= own
		delete(rec.charged, q)
		delete(q.files, id)
	}
	for oq, share := range rec.charged {
		delete(oq.files, id)
		if n := min(share, left); n > 0 {
			left -= n
			others = append(others, refund{oq, n})
		}
	}
	return own, others
}

// heldID is the identity of a regular file or a directory, whose open
// descriptors keep it on disk once removed (see opened, closing).
func heldID(info fs.FileInfo) (fileID, bool) {
	id, _, ok := heldInode(info)
	return id, ok
}

// heldInode is heldID with the file's link count.
func heldInode(info fs.FileInfo) (id fileID, nlink uint64, ok bool) {
	if info == nil || !info.Mode().IsRegular() && !info.IsDir() {
		return fileID{}, 0, false
	}
	return inodeOf(info)
}

// heldBytes is what the regular file or directory info describes holds
// for the quota: a file's size, a directory's blocks (dirBytes, which a
// directory removed while open keeps, its size zero).
func heldBytes(info fs.FileInfo) int64 {
	if info.IsDir() {
		return dirBytes(info)
	}
	return info.Size()
}

// opened counts one more host file open on the regular file or
// directory info describes, and returns its identity (zero when not
// tracked). A file the open just created is new: what was remembered of
// an earlier file with its inode number, freed where the process could
// not see it, is forgotten.
func opened(info fs.FileInfo, created bool) fileID {
	id, ok := heldID(info)
	if !ok {
		return fileID{}
	}
	files.mu.Lock()
	defer files.mu.Unlock()
	rec := files.m[id]
	if rec == nil {
		rec = &fileRecord{}
		files.m[id] = rec
	} else if created {
		for oq := range rec.charged {
			delete(oq.files, id)
		}
		rec.charged = nil
	}
	rec.open++
	return id
}

// closing counts one host file open on id fewer, just before f, that
// host file, is closed. When it was the last one of the process and f's
// link count is zero (its last name was removed while it was open, by a
// guest or not; a directory removed), the file is freed at the close: the
// quotas charged for its growth get it back. The status of f is read
// with no lock held; should another open of the file be counted
// meanwhile, the file is freed at that one's close instead.
func closing(id fileID, f *os.File) { closingStat(id, f.Stat) }

// closingStat is closing for a host file whose status stat reads.
func closingStat(id fileID, stat func() (fs.FileInfo, error)) { closingFor(nil, id, stat) }

// closingFor is closingStat, freeing the file with q's share first (q may
// be nil): it returns q's share, for the caller to give back; the others
// are given back.
func closingFor(q *diskQuota, id fileID, stat func() (fs.FileInfo, error)) (own int64) {
	if id == (fileID{}) {
		return 0
	}
	files.mu.Lock()
	rec := files.m[id]
	if rec == nil {
		files.mu.Unlock()
		return 0
	}
	rec.open--
	last := rec.open <= 0 && len(rec.charged) > 0
	dropIfIdleLocked(rec, id)
	files.mu.Unlock()
	if !last {
		return 0
	}
	info, err := stat()
	if err != nil {
		return 0
	}
	if got, nlink, ok := heldInode(info); !ok || got != id || nlink != 0 {
		return 0
	}
	var back []refund
	files.mu.Lock()
	if files.m[id] == rec && rec.open <= 0 {
		own, back = freedLocked(q, id, heldBytes(info))
	}
	files.mu.Unlock()
	giveBack(back)
	return own
}

// giveBack gives refunds to their quotas; no lock is held.
func giveBack(rs []refund) {
	for _, r := range rs {
		r.q.mu.Lock()
		r.q.adjustLocked(-r.n)
		r.q.mu.Unlock()
	}
}

// forget drops what the registry remembers of q's charges: its guest is
// gone, and what it was charged for can no more be given back to it.
func (q *diskQuota) forget() {
	files.mu.Lock()
	defer files.mu.Unlock()
	q.gone = true
	for id := range q.files {
		if rec := files.m[id]; rec != nil {
			delete(rec.charged, q)
			dropIfIdleLocked(rec, id)
		}
	}
	q.files = nil
}
