package filesystem

import (
	"context"
	"io"
	"io/fs"
	"os"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
	"github.com/wasitls/wasitls/bindings/wasi/io/streams"
	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// offsetReader reads a file from an offset on, with ReadAt, so that
// several streams and the descriptor do not share a file position.
type offsetReader struct {
	f   *os.File
	off int64
}

func (r *offsetReader) Read(p []byte) (int, error) {
	n, err := r.f.ReadAt(p, r.off)
	r.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// offsetWriter writes a file from an offset on, or at its end.
type offsetWriter struct {
	f      *os.File
	disk   *diskQuota
	off    int64
	append bool
}

func (w *offsetWriter) Write(p []byte) (n int, err error) {
	end := writeEnd(w.off, len(p))
	if w.append {
		end = writeEnd(-1, len(p))
	}
	err = w.disk.sizeChange(w.f, end, func(size int64) error {
		if w.append {
			if size < 0 {
				info, err := w.f.Stat()
				if err != nil {
					return err
				}
				size = info.Size()
			}
			w.off = size // the end the quota measured: no status read again
		}
		var err error
		n, err = w.f.WriteAt(p, w.off)
		w.off += int64(n)
		return err
	})
	return n, err
}

// newInputStream and newOutputStream make a stream over the file, which
// counts toward the file limit as an open file does ([FS.SetLimit]): once
// used it holds a goroutine, and an input stream up to two chunks read
// ahead (128 KiB), so that streams bounded by the handle limit alone let
// a guest that opened one file make the host hold gigabytes.
func newInputStream(sf *sharedFile, off int64) (types.InputStream, error) {
	if off < 0 {
		return nil, Invalid
	}
	if err := sf.fs.acquire(); err != nil {
		return nil, err
	}
	sf.retain()
	return wasiio.NewInputStream(namedReader{&offsetReader{f: sf.f, off: off}, sf}, streamCloser{sf}), nil
}

func newOutputStream(sf *sharedFile, off int64, append bool) (types.OutputStream, error) {
	if off < 0 {
		return nil, Invalid
	}
	if err := sf.fs.acquire(); err != nil {
		return nil, err
	}
	sf.retain()
	w := &offsetWriter{f: sf.f, disk: &sf.fs.disk, off: off, append: append}
	return wasiio.NewOutputStream(namedWriter{w, sf}, streamCloser{sf}.Close), nil
}

// streamCloser is the closer of a stream over a file: it lets go of the
// file and of the stream's place under the file limit.
type streamCloser struct{ sf *sharedFile }

func (c streamCloser) Close() error {
	c.sf.release()
	c.sf.fs.release()
	return nil
}

// dirStream is a directory-entry-stream over its own directory handle.
type dirStream struct {
	f       *os.File
	fs      *FS
	pending []fs.DirEntry
	done    bool
	dropped bool
}

// ResourceType implements cabi.Resource.
func (s *dirStream) ResourceType() *cabi.ResourceType { return types.DirectoryEntryStreamType }

// Drop closes the directory handle.
func (s *dirStream) Drop() {
	if s.dropped {
		return
	}
	s.dropped = true
	s.f.Close()
	s.fs.releaseDescriptor()
}

// ReadDirectoryEntry returns the next entry, none at the end.
func (s *dirStream) ReadDirectoryEntry(context.Context) (cabi.Option[types.DirectoryEntry], error) {
	if len(s.pending) == 0 && !s.done {
		entries, err := s.f.ReadDir(64)
		if err == io.EOF || err == nil && len(entries) == 0 {
			s.done = true
		} else if err != nil && len(entries) == 0 {
			return cabi.None[types.DirectoryEntry](), code(err)
		}
		s.pending = entries
	}
	if len(s.pending) == 0 {
		return cabi.None[types.DirectoryEntry](), nil
	}
	e := s.pending[0]
	s.pending = s.pending[1:]
	return cabi.Some(types.DirectoryEntry{Type: typeOf(e.Type()), Name: e.Name()}), nil
}

// Host is the Host of wasi:filesystem/types.
type Host struct{}

// FilesystemErrorCode returns the error code of a stream's error, if it
// came from a file.
func (Host) FilesystemErrorCode(_ context.Context, err streams.Error) (types.ErrorCode, bool) {
	e, ok := err.(*wasiio.Error)
	if !ok {
		return 0, false
	}
	return CodeOf(e.Err)
}
