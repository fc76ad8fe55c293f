package filesystem

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"sync/atomic"
	"time"

	wazerosys "github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
	"github.com/wasitls/wasitls/cabi"
)

// maxRead bounds what one read returns: a guest asking for more gets
// less, as the function allows.
const maxRead = 1 << 20

// A Descriptor is a wasi:filesystem descriptor: a directory (dir is set)
// or a file (file is set).
type Descriptor struct {
	pre   *preopen
	path  string // beneath the preopen root, as the guest named it
	flags types.DescriptorFlags

	dir     *os.Root // a directory: the root paths are resolved beneath
	ownsDir bool     // false for the preopen itself
	dirID   fileID   // under which the registry counts dir open (see closing)

	file    *sharedFile
	dropped atomic.Bool
}

var _ types.Descriptor = (*Descriptor)(nil)

// ResourceType implements cabi.Resource.
func (d *Descriptor) ResourceType() *cabi.ResourceType { return types.DescriptorResourceType }

// Drop closes the directory or releases the file.
func (d *Descriptor) Drop() {
	if d.dropped.Swap(true) {
		return
	}
	if d.ownsDir {
		closingStat(d.dirID, func() (fs.FileInfo, error) { return d.dir.Stat(".") })
		d.dir.Close()
		d.pre.fs.releaseDescriptor()
	}
	if d.file != nil {
		d.file.release()
	}
}

// sharedFile is a host file shared by a descriptor and its streams.
type sharedFile struct {
	f *os.File
	// name is the guest's path of f (see guestErr).
	name string
	fs   *FS
	id   fileID // under which the registry counts f open (see closing)
	refs atomic.Int32
}

func (s *sharedFile) retain() { s.refs.Add(1) }

func (s *sharedFile) release() {
	if s.refs.Add(-1) == 0 {
		closing(s.id, s.f)
		s.f.Close()
		s.fs.releaseDescriptor()
	}
}

func (d *Descriptor) readOnly() bool { return d.pre.readOnly }

// fileFor returns the file of a file descriptor; a directory fails with
// is-directory.
func (d *Descriptor) fileFor() (*os.File, error) {
	if d.file == nil {
		return nil, IsDirectory
	}
	return d.file.f, nil
}

// mutable checks that the guest may change the directory's contents.
func (d *Descriptor) mutable() error {
	switch {
	case d.dir == nil:
		return NotDirectory
	case d.readOnly():
		return ReadOnly
	case d.flags&types.DescriptorFlagsMutateDirectory == 0:
		return NotPermitted
	}
	return nil
}

// checkPath validates a path relative to a directory descriptor.
func (d *Descriptor) checkPath(p string) error {
	if d.dir == nil {
		return NotDirectory
	}
	switch {
	case p == "":
		return NoEntry
	case len(p) > MaxPath:
		return NameTooLong
	case p[0] == '/':
		return NotPermitted
	}
	for i := 0; i < len(p); i++ {
		if p[i] == 0 {
			return Invalid
		}
	}
	return nil
}

func (d *Descriptor) stat() (fs.FileInfo, error) {
	if d.dir != nil {
		return d.dir.Stat(".")
	}
	return d.file.f.Stat()
}

func (d *Descriptor) statAt(pf types.PathFlags, p string) (fs.FileInfo, error) {
	if err := d.checkPath(p); err != nil {
		return nil, err
	}
	if pf&types.PathFlagsSymlinkFollow != 0 {
		return d.dir.Stat(p)
	}
	return d.dir.Lstat(p)
}

// ReadViaStream returns a wasi:io input stream over the file from offset.
func (d *Descriptor) ReadViaStream(_ context.Context, offset types.Filesize) (types.InputStream, error) {
	if _, err := d.fileFor(); err != nil {
		return nil, err
	}
	if d.flags&types.DescriptorFlagsRead == 0 {
		return nil, BadDescriptor
	}
	return newInputStream(d.file, int64(offset))
}

// WriteViaStream returns a wasi:io output stream writing the file from
// offset.
func (d *Descriptor) WriteViaStream(_ context.Context, offset types.Filesize) (types.OutputStream, error) {
	if err := d.writable(); err != nil {
		return nil, err
	}
	return newOutputStream(d.file, int64(offset), false)
}

// AppendViaStream returns a wasi:io output stream appending to the file.
func (d *Descriptor) AppendViaStream(context.Context) (types.OutputStream, error) {
	if err := d.writable(); err != nil {
		return nil, err
	}
	return newOutputStream(d.file, 0, true)
}

// writable checks that the descriptor is a file opened for writing.
func (d *Descriptor) writable() error {
	if _, err := d.fileFor(); err != nil {
		return err
	}
	if d.readOnly() {
		return ReadOnly
	}
	if d.flags&types.DescriptorFlagsWrite == 0 {
		return BadDescriptor
	}
	return nil
}

// Advise is accepted and ignored.
func (d *Descriptor) Advise(context.Context, types.Filesize, types.Filesize, types.Advice) error {
	_, err := d.fileFor()
	return err
}

// SyncData syncs the file.
func (d *Descriptor) SyncData(ctx context.Context) error { return d.Sync(ctx) }

// Sync syncs the file; a directory has nothing to sync.
func (d *Descriptor) Sync(context.Context) error {
	if d.file == nil {
		return nil
	}
	return code(d.file.f.Sync())
}

// GetFlags returns the flags the descriptor was opened with.
func (d *Descriptor) GetFlags(context.Context) (types.DescriptorFlags, error) {
	return d.flags, nil
}

// GetType returns the type of what the descriptor refers to.
func (d *Descriptor) GetType(context.Context) (types.DescriptorType, error) {
	info, err := d.stat()
	if err != nil {
		return 0, code(err)
	}
	return typeOf(info.Mode()), nil
}

// SetSize truncates or extends the file.
func (d *Descriptor) SetSize(_ context.Context, size types.Filesize) error {
	if err := d.writable(); err != nil {
		return err
	}
	if size > 1<<63-1 {
		return types.ErrorCodeFileTooLarge
	}
	f := d.file.f
	return code(d.pre.fs.disk.sizeChange(f, func(int64) int64 { return int64(size) },
		func(int64) error { return f.Truncate(int64(size)) }))
}

// SetTimes sets the access and modification times.
func (d *Descriptor) SetTimes(_ context.Context, atime, mtime types.NewTimestamp) error {
	if d.readOnly() {
		return ReadOnly
	}
	if d.dir == nil && d.flags&types.DescriptorFlagsWrite == 0 {
		return BadDescriptor
	}
	a, m, err := timesOf(atime, mtime)
	if err != nil {
		return err
	}
	if d.dir != nil {
		return setTimes(d.dir, ".", a, m)
	}
	if ok, err := setFileTimes(d.file.f, a, m); ok {
		return code(err)
	}
	if err := d.samePath(); err != nil {
		return err
	}
	return setTimes(d.pre.root, d.path, a, m)
}

// samePath checks that the descriptor's path beneath its preopen, as the
// guest named it, still leads to what the descriptor holds: a path through
// a symbolic link and "..", or a file renamed since, may not. Functions
// that must go through that path refuse with unsupported then.
func (d *Descriptor) samePath() error {
	have, err := d.stat()
	if err != nil {
		return code(err)
	}
	at, err := d.pre.root.Stat(d.path)
	if err != nil || !os.SameFile(have, at) {
		return Unsupported
	}
	return nil
}

// setTimes sets times through the preopen root; a zero time.Time leaves
// one unchanged.
func setTimes(root *os.Root, p string, a, m time.Time) error {
	if a.IsZero() && m.IsZero() {
		_, err := root.Stat(p)
		return code(err)
	}
	return code(root.Chtimes(p, a, m))
}

// timesOf is timeOf of a set-times call's access and modification times.
func timesOf(atime, mtime types.NewTimestamp) (a, m time.Time, err error) {
	if a, err = timeOf(atime); err != nil {
		return time.Time{}, time.Time{}, err
	}
	if m, err = timeOf(mtime); err != nil {
		return time.Time{}, time.Time{}, err
	}
	return a, m, nil
}

func timeOf(t types.NewTimestamp) (time.Time, error) {
	switch t.Tag {
	case types.NewTimestampTagNoChange:
		return time.Time{}, nil
	case types.NewTimestampTagNow:
		return time.Now(), nil
	}
	if t.Timestamp.Nanoseconds >= 1e9 || t.Timestamp.Seconds > 1<<62 {
		return time.Time{}, Invalid
	}
	tt := time.Unix(int64(t.Timestamp.Seconds), int64(t.Timestamp.Nanoseconds))
	if tt.IsZero() {
		return time.Time{}, Invalid
	}
	return tt, nil
}

// Read reads up to length bytes at offset; the bool reports the end of
// the file. The bytes are a view of a buffer lent for the call (see
// FS.readBuf), which the glue copies into guest memory.
func (d *Descriptor) Read(ctx context.Context, length, offset types.Filesize) (cabi.Tuple2[[]byte, bool], error) {
	f, err := d.fileFor()
	if err != nil {
		return cabi.Tuple2[[]byte, bool]{}, err
	}
	if d.flags&types.DescriptorFlagsRead == 0 {
		return cabi.Tuple2[[]byte, bool]{}, BadDescriptor
	}
	if offset > 1<<63-1 {
		return cabi.Tuple2[[]byte, bool]{}, Invalid
	}
	buf := d.pre.fs.readBuf(ctx, int(min(length, maxRead)))
	n, err := f.ReadAt(buf, int64(offset))
	if err != nil && err != io.EOF {
		return cabi.Tuple2[[]byte, bool]{}, code(err)
	}
	return cabi.Tuple2[[]byte, bool]{F0: buf[:n], F1: err == io.EOF}, nil
}

// Write writes buffer at offset.
func (d *Descriptor) Write(_ context.Context, buffer []byte, offset types.Filesize) (types.Filesize, error) {
	if err := d.writable(); err != nil {
		return 0, err
	}
	if offset > 1<<63-1 {
		return 0, Invalid
	}
	f := d.file.f
	var n int
	err := d.pre.fs.disk.sizeChange(f, writeEnd(int64(offset), len(buffer)), func(int64) (err error) {
		n, err = f.WriteAt(buffer, int64(offset))
		return err
	})
	if err != nil && n == 0 {
		return 0, code(err)
	}
	return types.Filesize(n), nil
}

// ReadDirectory returns a stream of the directory's entries.
func (d *Descriptor) ReadDirectory(context.Context) (types.DirectoryEntryStream, error) {
	if d.dir == nil {
		return nil, NotDirectory
	}
	if d.flags&types.DescriptorFlagsRead == 0 {
		return nil, BadDescriptor
	}
	if err := d.pre.fs.acquireDescriptor(); err != nil {
		return nil, err
	}
	f, err := d.dir.Open(".")
	if err != nil {
		d.pre.fs.releaseDescriptor()
		return nil, code(err)
	}
	return &dirStream{f: f, fs: d.pre.fs}, nil
}

// Stat returns the descriptor's status.
func (d *Descriptor) Stat(context.Context) (types.DescriptorStat, error) {
	info, err := d.stat()
	if err != nil {
		return types.DescriptorStat{}, code(err)
	}
	return statOf(info), nil
}

// StatAt returns the status of path.
func (d *Descriptor) StatAt(_ context.Context, pf types.PathFlags, p string) (types.DescriptorStat, error) {
	info, err := d.statAt(pf, p)
	if err != nil {
		return types.DescriptorStat{}, code(err)
	}
	return statOf(info), nil
}

// IsSameObject reports whether both descriptors refer to one file.
func (d *Descriptor) IsSameObject(_ context.Context, other types.Descriptor) bool {
	o, ok := other.(*Descriptor)
	if !ok {
		return false
	}
	a, err1 := d.stat()
	b, err2 := o.stat()
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// MetadataHash returns a hash of the file's identity.
func (d *Descriptor) MetadataHash(context.Context) (types.MetadataHashValue, error) {
	info, err := d.stat()
	if err != nil {
		return types.MetadataHashValue{}, code(err)
	}
	return d.pre.fs.hash(info), nil
}

// MetadataHashAt returns a hash of the identity of path.
func (d *Descriptor) MetadataHashAt(_ context.Context, pf types.PathFlags, p string) (types.MetadataHashValue, error) {
	info, err := d.statAt(pf, p)
	if err != nil {
		return types.MetadataHashValue{}, code(err)
	}
	return d.pre.fs.hash(info), nil
}

// hash hashes device, inode, size and modification time under the
// instance's key: equal for one file, and revealing no inode number.
func (f *FS) hash(info fs.FileInfo) types.MetadataHashValue {
	st := wazerosys.NewStat_t(info)
	sum := f.keyedSum(st.Dev, st.Ino, uint64(st.Size), uint64(st.Mtim))
	return types.MetadataHashValue{
		Lower: binary.LittleEndian.Uint64(sum[:8]),
		Upper: binary.LittleEndian.Uint64(sum[8:16]),
	}
}

// keyedSum is the SHA-256 of the instance's key followed by words (at
// most four), little-endian: what it hashes (inode numbers) cannot be
// read back from it, nor matched across instances. Sums of different
// numbers of words never collide by construction (hash's four words,
// serial's three).
func (f *FS) keyedSum(words ...uint64) [sha256.Size]byte {
	var b [16 + 4*8]byte
	copy(b[:], f.key[:])
	for i, w := range words {
		binary.LittleEndian.PutUint64(b[16+8*i:], w)
	}
	return sha256.Sum256(b[:16+8*len(words)])
}

func typeOf(m fs.FileMode) types.DescriptorType {
	switch {
	case m.IsRegular():
		return types.DescriptorTypeRegularFile
	case m&fs.ModeDir != 0:
		return types.DescriptorTypeDirectory
	case m&fs.ModeSymlink != 0:
		return types.DescriptorTypeSymbolicLink
	case m&fs.ModeNamedPipe != 0:
		return types.DescriptorTypeFifo
	case m&fs.ModeSocket != 0:
		return types.DescriptorTypeSocket
	case m&fs.ModeCharDevice != 0:
		return types.DescriptorTypeCharacterDevice
	case m&fs.ModeDevice != 0:
		return types.DescriptorTypeBlockDevice
	}
	return types.DescriptorTypeUnknown
}

func statOf(info fs.FileInfo) types.DescriptorStat {
	st := wazerosys.NewStat_t(info)
	ts := func(ns int64) cabi.Option[types.Datetime] {
		if ns < 0 {
			return cabi.None[types.Datetime]()
		}
		return cabi.Some(types.Datetime{Seconds: uint64(ns / 1e9), Nanoseconds: uint32(ns % 1e9)})
	}
	return types.DescriptorStat{
		Type:                      typeOf(st.Mode),
		LinkCount:                 st.Nlink,
		Size:                      uint64(max(st.Size, 0)),
		DataAccessTimestamp:       ts(st.Atim),
		DataModificationTimestamp: ts(st.Mtim),
		StatusChangeTimestamp:     ts(st.Ctim),
	}
}

// errorsIsNotExist reports a missing path.
func errorsIsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
