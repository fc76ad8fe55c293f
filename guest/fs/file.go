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
type File struct {
	root      *Dir
	path      string
	typ       types.DescriptorType
	appending bool

	mu     sync.Mutex
	d      types.Descriptor
	closed bool
	off    int64
	r      *wasinet.StreamReader // the read stream at off, or nil
	w      *wasinet.StreamWriter // the write stream at off, or nil
	dir    types.DirectoryEntryStream
	dirEnd bool
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

// dropStreams flushes and drops the stream over the file, if any.
func (f *File) dropStreams() error {
	var err error
	if f.w != nil {
		err = f.w.Flush()
		f.w.Close()
		f.w = nil
	}
	if f.r != nil {
		f.r.Close()
		f.r = nil
	}
	return err
}

// Read reads from the offset through a read-via-stream.
func (f *File) Read(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, f.err("read", fs.ErrClosed)
	}
	if f.typ == types.DescriptorTypeDirectory {
		return 0, f.err("read", ErrorIsDirectory)
	}
	if f.r == nil {
		if err := f.dropStreams(); err != nil {
			return 0, f.err("read", err)
		}
		s, err := f.d.ReadViaStream(uint64(f.off))
		if err != nil {
			return 0, f.err("read", err)
		}
		f.r = wasinet.NewStreamReader(wasiio.InputStream(s))
	}
	n, err := f.r.Read(b)
	f.off += int64(n)
	if err != nil && err != io.EOF {
		err = f.err("read", err)
	}
	return n, err
}

// Write writes at the offset (at the end with os.O_APPEND) through a
// write-via-stream or append-via-stream.
func (f *File) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, f.err("write", fs.ErrClosed)
	}
	if f.w == nil {
		f.dropStreams()
		var s types.OutputStream
		var err error
		if f.appending {
			s, err = f.d.AppendViaStream()
		} else {
			s, err = f.d.WriteViaStream(uint64(f.off))
		}
		if err != nil {
			return 0, f.err("write", err)
		}
		f.w = wasinet.NewStreamWriter(wasiio.OutputStream(s))
	}
	n, err := f.w.Write(b)
	f.off += int64(n)
	if err != nil {
		return n, f.err("write", err)
	}
	return n, nil
}

// Seek sets the offset for the next Read or Write (flushing and dropping
// the stream over the file).
func (f *File) Seek(offset int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, f.err("seek", fs.ErrClosed)
	}
	if whence == io.SeekCurrent && offset == 0 {
		return f.off, nil
	}
	if err := f.dropStreams(); err != nil {
		return 0, f.err("seek", err)
	}
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
// with io.EOF.
func (f *File) ReadAt(b []byte, off int64) (int, error) {
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
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, f.err("write", fs.ErrClosed)
	}
	if off < 0 {
		return 0, f.err("write", fs.ErrInvalid)
	}
	if err := f.dropStreams(); err != nil {
		return 0, f.err("write", err)
	}
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
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, f.err("stat", fs.ErrClosed)
	}
	if f.w != nil {
		if err := f.w.Flush(); err != nil {
			return nil, f.err("stat", err)
		}
	}
	st, err := f.d.Stat()
	if err != nil {
		return nil, f.err("stat", err)
	}
	return &fileInfo{name: path.Base(f.path), st: st}, nil
}

// Sync flushes what was written and syncs the file to storage.
func (f *File) Sync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return f.err("sync", fs.ErrClosed)
	}
	if f.w != nil {
		if err := f.w.Flush(); err != nil {
			return f.err("sync", err)
		}
	}
	if err := f.d.Sync(); err != nil {
		return f.err("sync", err)
	}
	return nil
}

// ReadDir implements fs.ReadDirFile: up to n entries (all the rest when
// n <= 0) in the host's order, through read-directory.
func (f *File) ReadDir(n int) ([]fs.DirEntry, error) {
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
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return f.err("close", fs.ErrClosed)
	}
	f.closed = true
	err := f.dropStreams()
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
