//go:build wasip1

package wasifs

import (
	"errors"
	"io"
	"io/fs"
	"path"
	"sync"

	wasinet "github.com/wasitls/wasitls/guest/net"
	"github.com/wasitls/wasitls/guest/wasi/bindings/wasi/filesystem/types"
	wasiio "github.com/wasitls/wasitls/guest/wasi/io"
)

// File is an open file or directory. Its methods are safe for concurrent
// use; Read, Write and Seek share one offset, as an *os.File's do.
//
// Two locks: op serialises the operations on the offset and the stream
// (Read, Write, Seek, WriteAt, ReadDir, Stat, Sync) and is held while one
// waits on the poller for the stream; mu guards closed, off and the
// streams and is never held across such a wait. So Close, which takes mu
// to mark the file closed, never waits behind a parked operation: when
// one holds op, Close closes its stream, which wakes it with fs.ErrClosed,
// and takes op once it has left (what a Write had not yet handed to the
// host is then lost, as with a Write still in progress when an *os.File
// closes). ReadAt takes mu only, unless it must flush a write stream
// first.
type File struct {
	root      *Dir
	path      string
	typ       types.DescriptorType
	appending bool

	op     sync.Mutex
	mu     sync.Mutex
	d      types.Descriptor
	closed bool
	off    int64
	r      *wasinet.StreamReader // the read stream at off, or nil
	w      *wasinet.StreamWriter // the write stream at off, or nil
	dir    types.DirectoryEntryStream
	dirEnd bool
	// appended is set once an append stream was written to: off is then
	// the file's end, which dropStreams learns from the host.
	appended bool
}

var (
	_ fs.ReadDirFile = (*File)(nil)
	_ io.ReaderAt    = (*File)(nil)
	_ io.WriterAt    = (*File)(nil)
	_ io.Seeker      = (*File)(nil)
)

// Name returns the path the file was opened by.
func (f *File) Name() string { return f.path }

func (f *File) err(op string, err error) error { return pathErr(op, f.path, err) }

// isClosed reports whether Close has begun.
func (f *File) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// flush waits until what was written through the write stream, if any,
// has been flushed. f.op is held, f.mu is not; Close wakes the wait.
func (f *File) flush() error {
	f.mu.Lock()
	w := f.w
	f.mu.Unlock()
	if w == nil {
		return nil
	}
	if err := w.Flush(); err != nil {
		if f.isClosed() {
			return fs.ErrClosed
		}
		return err
	}
	return nil
}

// dropStreams flushes and drops the stream over the file, if any. f.op is
// held, f.mu is not.
func (f *File) dropStreams() error {
	err := f.flush()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return fs.ErrClosed // Close drops them
	}
	f.closeStreamsLocked()
	if err == nil && f.appended {
		// As with O_APPEND on an *os.File, each write left the offset
		// at the end of the file.
		st, serr := f.d.Stat()
		if serr != nil {
			return serr
		}
		f.off, f.appended = int64(st.Size), false
	}
	return err
}

// closeStreamsLocked closes the file's open streams. f.mu must be held.
func (f *File) closeStreamsLocked() {
	if f.w != nil {
		f.w.Close()
		f.w = nil
	}
	if f.r != nil {
		f.r.Close()
		f.r = nil
	}
}

// Read reads from the offset through a read-via-stream.
func (f *File) Read(b []byte) (int, error) {
	f.op.Lock()
	defer f.op.Unlock()
	if f.isClosed() {
		return 0, f.err("read", fs.ErrClosed)
	}
	if f.typ == types.DescriptorTypeDirectory {
		return 0, f.err("read", ErrorIsDirectory)
	}
	f.mu.Lock()
	r := f.r
	f.mu.Unlock()
	if r == nil {
		if err := f.dropStreams(); err != nil {
			return 0, f.err("read", err)
		}
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return 0, f.err("read", fs.ErrClosed)
		}
		s, err := f.d.ReadViaStream(uint64(f.off))
		if err != nil {
			f.mu.Unlock()
			return 0, f.err("read", err)
		}
		r = wasinet.NewStreamReader(wasiio.InputStream(s))
		f.r = r
		f.mu.Unlock()
	}
	n, err := r.Read(b)
	f.mu.Lock()
	f.off += int64(n)
	closed := f.closed
	f.mu.Unlock()
	if err != nil && err != io.EOF {
		if closed {
			err = fs.ErrClosed
		}
		err = f.err("read", err)
	}
	return n, err
}

// Write writes at the offset (at the end with os.O_APPEND, which then
// leaves the offset at the end, as with an *os.File) through a
// write-via-stream or append-via-stream. It returns once the host wrote
// b to the file (it waits for the stream's flush), as write(2) does: then
// another File over the same file reads it, and a failure the host meets
// writing it (the disk quota) is this Write's error.
func (f *File) Write(b []byte) (int, error) {
	f.op.Lock()
	defer f.op.Unlock()
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return 0, f.err("write", fs.ErrClosed)
	}
	if f.w == nil {
		if f.r != nil { // no flush to wait for
			f.r.Close()
			f.r = nil
		}
		var s types.OutputStream
		var err error
		if f.appending {
			s, err = f.d.AppendViaStream()
		} else {
			s, err = f.d.WriteViaStream(uint64(f.off))
		}
		if err != nil {
			f.mu.Unlock()
			return 0, f.err("write", err)
		}
		f.w = wasinet.NewStreamWriter(wasiio.OutputStream(s))
	}
	w := f.w
	f.mu.Unlock()
	n, err := w.Write(b)
	if err == nil {
		err = w.Flush() // no second request: Write's covers b
	}
	f.mu.Lock()
	if f.appending {
		f.appended = true
	} else {
		f.off += int64(n)
	}
	closed := f.closed
	f.mu.Unlock()
	if err != nil {
		if closed {
			err = fs.ErrClosed
		}
		return n, f.err("write", err)
	}
	return n, nil
}

// Seek sets the offset for the next Read or Write (flushing and dropping
// the stream over the file).
func (f *File) Seek(offset int64, whence int) (int64, error) {
	f.op.Lock()
	defer f.op.Unlock()
	if f.isClosed() {
		return 0, f.err("seek", fs.ErrClosed)
	}
	if whence == io.SeekCurrent && offset == 0 {
		f.mu.Lock()
		if !f.appended {
			defer f.mu.Unlock()
			return f.off, nil
		}
		f.mu.Unlock()
	}
	if err := f.dropStreams(); err != nil {
		return 0, f.err("seek", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		st, err := f.d.Stat()
		if err != nil {
			return 0, f.err("seek", err)
		}
		offset += int64(st.Size)
	default:
		return 0, f.err("seek", fs.ErrInvalid)
	}
	if offset < 0 {
		return 0, f.err("seek", fs.ErrInvalid)
	}
	f.off = offset
	return offset, nil
}

// ReadAt reads len(b) bytes at off with positional reads; fewer come
// with io.EOF. It reads what an earlier Write wrote, as with an *os.File:
// when the file has a write stream, it flushes it first (under f.op, as
// Stat does); otherwise it makes no wait and takes f.mu only, so that
// ReadAt calls do not queue behind one another or a Read.
func (f *File) ReadAt(b []byte, off int64) (int, error) {
	f.mu.Lock()
	writing := f.w != nil
	f.mu.Unlock()
	if writing {
		f.op.Lock()
		defer f.op.Unlock()
		if err := f.flush(); err != nil {
			return 0, f.err("read", err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, f.err("read", fs.ErrClosed)
	}
	if off < 0 {
		return 0, f.err("read", fs.ErrInvalid)
	}
	n := 0
	for n < len(b) {
		t, err := f.d.Read(uint64(len(b)-n), uint64(off)+uint64(n))
		if err != nil {
			return n, f.err("read", err)
		}
		n += copy(b[n:], t.F0)
		if t.F1 || len(t.F0) == 0 {
			return n, io.EOF
		}
	}
	return n, nil
}

// WriteAt writes b at off with positional writes.
func (f *File) WriteAt(b []byte, off int64) (int, error) {
	f.op.Lock()
	defer f.op.Unlock()
	if f.isClosed() {
		return 0, f.err("write", fs.ErrClosed)
	}
	if off < 0 {
		return 0, f.err("write", fs.ErrInvalid)
	}
	if err := f.dropStreams(); err != nil {
		return 0, f.err("write", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for n < len(b) {
		k, err := f.d.Write(b[n:], uint64(off)+uint64(n))
		if err != nil {
			return n, f.err("write", err)
		}
		if k == 0 {
			return n, f.err("write", io.ErrShortWrite)
		}
		n += int(k)
	}
	return n, nil
}

// Stat returns the file's status (after flushing what was written).
func (f *File) Stat() (fs.FileInfo, error) {
	f.op.Lock()
	defer f.op.Unlock()
	if f.isClosed() {
		return nil, f.err("stat", fs.ErrClosed)
	}
	if err := f.flush(); err != nil {
		return nil, f.err("stat", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, f.err("stat", fs.ErrClosed)
	}
	st, err := f.d.Stat()
	if err != nil {
		return nil, f.err("stat", err)
	}
	return &fileInfo{name: path.Base(f.path), st: st}, nil
}

// Sync flushes what was written and syncs the file to storage.
func (f *File) Sync() error {
	f.op.Lock()
	defer f.op.Unlock()
	if f.isClosed() {
		return f.err("sync", fs.ErrClosed)
	}
	if err := f.flush(); err != nil {
		return f.err("sync", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return f.err("sync", fs.ErrClosed)
	}
	if err := f.d.Sync(); err != nil {
		return f.err("sync", err)
	}
	return nil
}

// ReadDir implements fs.ReadDirFile: up to n entries (all the rest when
// n <= 0) in the host's order, through read-directory.
func (f *File) ReadDir(n int) ([]fs.DirEntry, error) {
	f.op.Lock()
	defer f.op.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, f.err("readdir", fs.ErrClosed)
	}
	if f.typ != types.DescriptorTypeDirectory {
		return nil, f.err("readdir", ErrorNotDirectory)
	}
	if f.dir == 0 && !f.dirEnd {
		s, err := f.d.ReadDirectory()
		if err != nil {
			return nil, f.err("readdir", err)
		}
		f.dir = s
	}
	var list []fs.DirEntry
	for !f.dirEnd && (n <= 0 || len(list) < n) {
		o, err := f.dir.ReadDirectoryEntry()
		if err != nil {
			return list, f.err("readdir", err)
		}
		e, ok := o.Get()
		if !ok {
			f.dirEnd = true
			f.dir.Drop()
			f.dir = 0
			break
		}
		list = append(list, &dirEntry{root: f.root, path: path.Join(f.path, e.Name), e: e})
	}
	if n > 0 && len(list) == 0 {
		return nil, io.EOF
	}
	return list, nil
}

// Close flushes what was written and drops the stream and the descriptor.
// It does not wait behind another goroutine's operation parked on the
// stream: that one is woken and fails with fs.ErrClosed, and what it had
// not yet written is not flushed.
func (f *File) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return f.err("close", fs.ErrClosed)
	}
	f.closed = true
	r, w := f.r, f.w
	f.mu.Unlock()
	var err error
	if f.op.TryLock() {
		// Nothing in progress: flush what was written.
		if w != nil {
			err = w.Flush()
		}
	} else {
		// An operation holds op, maybe parked on a stream: closing the
		// streams wakes it, and it leaves at once.
		if r != nil {
			r.Close()
		}
		if w != nil {
			w.Close()
		}
		f.op.Lock()
	}
	defer f.op.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closeStreamsLocked()
	if f.dir != 0 {
		f.dir.Drop()
		f.dir = 0
	}
	f.d.Drop()
	if err != nil && !errors.Is(err, io.ErrClosedPipe) {
		return f.err("close", err)
	}
	return nil
}
