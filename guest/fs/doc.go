// Package wasifs gives a Go guest (GOOS=wasip1) the host's preopened
// directories through wasi:filesystem 0.2 (types and preopens), over the
// bindings wit2host -guest generates in guest/wasi/bindings.
//
// # Model
//
// [Preopens] lists the directories the host preopened (`wasitls run --dir
// HOST:GUEST[:ro]`, runtime.ModuleConfig.Dirs), each a [Dir] holding the
// preopen's descriptor for the guest's lifetime; they are fetched once.
//
// A [Dir] is an [io/fs.FS], [io/fs.ReadDirFS], [io/fs.ReadFileFS] and
// [io/fs.StatFS]: those methods take slash-separated paths valid under
// [io/fs.ValidPath] (no "..", no leading slash) and refuse others with
// [io/fs.ErrInvalid], as the io/fs contract asks. Its write methods
// ([Dir.OpenFile], [Dir.Create], [Dir.WriteFile], [Dir.Mkdir],
// [Dir.Remove], [Dir.Rename]) pass relative paths to the host as they
// are, like os.Root: the host resolves every path beneath the preopen and
// refuses whatever leads out of it ("..", absolute paths, symbolic links
// pointing out) with not-permitted, and every change beneath a read-only
// preopen with read-only.
//
// A [File] owns one descriptor and at most one wasi:io stream over it
// (both dropped by Close, the stream first). Read reads through
// read-via-stream from the file's offset, Write writes through
// write-via-stream (append-via-stream with os.O_APPEND) and returns once
// the host wrote the bytes, as write(2) does, so that every other File
// over the file reads them at once (and a Write's failure, such as the
// disk quota, is its own error, not a later call's): the streams are
// read and written with package guest/net's StreamReader and
// StreamWriter, so a goroutine waiting on one parks on the guest's poller
// (package guest/poll) and never blocks the guest. Seek, and switching
// between reading and writing, flushes and drops the stream; the next
// Read or Write opens one at the new offset; after a Write with
// os.O_APPEND the offset is the file's end, as with an *os.File. ReadAt
// and WriteAt use the descriptor's positional read and write and leave
// the offset alone; ReadAt flushes a write stream first, so that it reads
// what Write wrote.
// A directory's File lists its entries through read-directory
// ([File.ReadDir]). No lock is held across a wait on a stream: a Close
// from another goroutine wakes a Read or Write parked there, which fails
// with fs.ErrClosed, instead of waiting behind it.
//
// Errors are *fs.PathError values wrapping an [ErrorCode], the
// wasi:filesystem error code, which errors.Is matches against
// fs.ErrNotExist, fs.ErrExist (exist, not-empty), fs.ErrPermission
// (access, not-permitted, read-only) and errors.ErrUnsupported
// (unsupported); a File used after Close gives fs.ErrClosed.
//
// File modes: wasi:filesystem has no permission bits, so a FileInfo's
// Mode has the type bits and 0o755 for a directory, 0o644 otherwise.
package wasifs
