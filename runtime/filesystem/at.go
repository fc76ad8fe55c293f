package filesystem

import (
	"context"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
)

// OpenAt opens path beneath the directory: a directory becomes a
// directory descriptor with its own root, anything else a file.
//
// The descriptor's path from its preopen (what p adds to d's) is at most
// MaxPath bytes, as a path the guest names is: longer fails with
// name-too-long. The descriptor and the os.Root or os.File beneath it
// keep that path (the root's and the file's names are the host's path),
// so that, unbounded, a guest walking down a tree of directories through
// descriptors, dropping each parent, made each one's path longer than the
// last: 200 descriptors 3,000 directories down held 293 MiB of paths.
func (d *Descriptor) OpenAt(_ context.Context, pf types.PathFlags, p string, of types.OpenFlags, fl types.DescriptorFlags) (types.Descriptor, error) {
	if err := d.checkPath(p); err != nil {
		return nil, err
	}
	if len(d.path)+1+len(p) > MaxPath && len(path.Join(d.path, p)) > MaxPath {
		return nil, NameTooLong
	}
	write := fl&types.DescriptorFlagsWrite != 0
	changes := write || of&(types.OpenFlagsCreate|types.OpenFlagsTruncate) != 0 ||
		fl&types.DescriptorFlagsMutateDirectory != 0
	if changes {
		if d.readOnly() {
			return nil, ReadOnly
		}
		if d.flags&types.DescriptorFlagsMutateDirectory == 0 {
			return nil, NotPermitted
		}
	}
	if of&types.OpenFlagsDirectory != 0 && of&(types.OpenFlagsCreate|types.OpenFlagsTruncate) != 0 {
		return nil, Invalid
	}
	follow := pf&types.PathFlagsSymlinkFollow != 0
	info, statErr := d.statAt(pf, p)
	if statErr == nil && !follow && info.Mode()&fs.ModeSymlink != 0 {
		return nil, Loop
	}
	if statErr == nil && info.IsDir() {
		if of&(types.OpenFlagsCreate|types.OpenFlagsExclusive) == types.OpenFlagsCreate|types.OpenFlagsExclusive {
			return nil, Exist
		}
		if write || of&types.OpenFlagsTruncate != 0 {
			return nil, IsDirectory
		}
		return d.openDir(p, fl)
	}
	if of&types.OpenFlagsDirectory != 0 {
		if statErr != nil {
			return nil, code(statErr)
		}
		return nil, NotDirectory
	}
	if statErr != nil && !(errorsIsNotExist(statErr) && of&types.OpenFlagsCreate != 0) {
		return nil, code(statErr)
	}
	flag := os.O_RDONLY | openNonblock
	switch {
	case write && fl&types.DescriptorFlagsRead != 0:
		flag = os.O_RDWR | openNonblock
	case write:
		flag = os.O_WRONLY | openNonblock
	}
	if fl&(types.DescriptorFlagsFileIntegritySync|types.DescriptorFlagsDataIntegritySync|types.DescriptorFlagsRequestedWriteSync) != 0 {
		// O_SYNC gives file integrity, which covers data integrity.
		flag |= os.O_SYNC
	}
	if of&types.OpenFlagsCreate != 0 {
		flag |= os.O_CREATE
	}
	if of&types.OpenFlagsExclusive != 0 {
		flag |= os.O_EXCL
	}
	if of&types.OpenFlagsTruncate != 0 {
		if !write {
			return nil, Invalid
		}
		flag |= os.O_TRUNC
	}
	if err := d.pre.fs.acquireDescriptor(); err != nil {
		return nil, err
	}
	f, id, err := d.pre.fs.disk.openCounted(d.dir, p, flag, 0o666)
	if err != nil {
		d.pre.fs.releaseDescriptor()
		return nil, code(err)
	}
	sf := &sharedFile{f: f, fs: d.pre.fs, id: id, name: path.Join(d.pre.guest, d.path, p)}
	sf.retain()
	return &Descriptor{pre: d.pre, path: path.Join(d.path, p), flags: fl &^ types.DescriptorFlagsMutateDirectory, file: sf}, nil
}

// openDir opens a directory descriptor beneath d.
func (d *Descriptor) openDir(p string, fl types.DescriptorFlags) (types.Descriptor, error) {
	if err := d.pre.fs.acquireDescriptor(); err != nil {
		return nil, err
	}
	root, err := d.dir.OpenRoot(p)
	if err != nil {
		d.pre.fs.releaseDescriptor()
		return nil, code(err)
	}
	fl &^= types.DescriptorFlagsWrite
	if d.flags&types.DescriptorFlagsMutateDirectory == 0 {
		fl &^= types.DescriptorFlagsMutateDirectory
	}
	var id fileID
	if info, err := root.Stat("."); err == nil {
		id = opened(info, false)
	}
	return &Descriptor{pre: d.pre, path: path.Join(d.path, p), flags: fl, dir: root, ownsDir: true, dirID: id}, nil
}

// CreateDirectoryAt makes a directory.
func (d *Descriptor) CreateDirectoryAt(_ context.Context, p string) error {
	if err := d.at(p); err != nil {
		return err
	}
	return code(d.pre.fs.disk.makeName(d.dir, p, func() error { return d.dir.Mkdir(p, 0o777) }))
}

// at checks a path whose directory entry the call changes.
func (d *Descriptor) at(p string) error {
	if err := d.checkPath(p); err != nil {
		return err
	}
	return d.mutable()
}

// RemoveDirectoryAt removes an empty directory.
func (d *Descriptor) RemoveDirectoryAt(_ context.Context, p string) error {
	if err := d.at(p); err != nil {
		return err
	}
	notDir, err := d.pre.fs.disk.removeDir(d.dir, p)
	if notDir {
		return NotDirectory
	}
	return code(err)
}

// UnlinkFileAt removes a file or symbolic link.
func (d *Descriptor) UnlinkFileAt(_ context.Context, p string) error {
	if err := d.at(p); err != nil {
		return err
	}
	isDir, err := d.pre.fs.disk.unlink(d.dir, p)
	if isDir {
		return IsDirectory
	}
	return code(err)
}

// RenameAt renames old (beneath d) to new (beneath nd).
func (d *Descriptor) RenameAt(_ context.Context, old string, nd types.Descriptor, new string) error {
	return d.twoPaths(old, nd, new, d.pre.fs.disk.rename)
}

// LinkAt makes a hard link new (beneath nd) to old (beneath d). Following
// a symbolic link at old is not supported.
func (d *Descriptor) LinkAt(_ context.Context, pf types.PathFlags, old string, nd types.Descriptor, new string) error {
	if err := d.checkPath(old); err != nil {
		return err
	}
	if pf&types.PathFlagsSymlinkFollow != 0 {
		if info, err := d.dir.Lstat(old); err == nil && info.Mode()&fs.ModeSymlink != 0 {
			return Unsupported
		}
	}
	return d.twoPaths(old, nd, new, d.pre.fs.disk.link)
}

// twoPaths runs op for a path beneath d and one beneath nd: within d's
// root when both are d, otherwise within their common preopen, with both
// paths kept beneath their descriptors.
func (d *Descriptor) twoPaths(old string, nd types.Descriptor, new string, op func(*os.Root, string, string) error) error {
	n, ok := nd.(*Descriptor)
	if !ok {
		return BadDescriptor
	}
	if err := d.at(old); err != nil {
		return err
	}
	if err := n.at(new); err != nil {
		return err
	}
	if n == d {
		return code(op(d.dir, old, new))
	}
	if n.pre != d.pre {
		return CrossDevice
	}
	if !filepath.IsLocal(old) || !filepath.IsLocal(new) {
		return NotPermitted
	}
	if err := d.samePath(); err != nil {
		return err
	}
	if err := n.samePath(); err != nil {
		return err
	}
	return code(op(d.pre.root, path.Join(d.path, old), path.Join(n.path, new)))
}

// SymlinkAt makes a symbolic link new pointing at old. Absolute targets
// are refused: they could never resolve beneath a preopen.
func (d *Descriptor) SymlinkAt(_ context.Context, old, new string) error {
	if err := d.at(new); err != nil {
		return err
	}
	if len(old) > MaxPath {
		return NameTooLong
	}
	if path.IsAbs(old) {
		return NotPermitted
	}
	return code(d.pre.fs.disk.makeName(d.dir, new, func() error { return d.dir.Symlink(old, new) }))
}

// ReadlinkAt returns the target of a symbolic link.
func (d *Descriptor) ReadlinkAt(_ context.Context, p string) (string, error) {
	if err := d.checkPath(p); err != nil {
		return "", err
	}
	s, err := d.dir.Readlink(p)
	if err != nil {
		return "", code(err)
	}
	return s, nil
}

// SetTimesAt sets the times of path. Without symlink-follow, a final
// symbolic link's own times are set (lchtimesAt).
func (d *Descriptor) SetTimesAt(_ context.Context, pf types.PathFlags, p string, atime, mtime types.NewTimestamp) error {
	if err := d.checkPath(p); err != nil {
		return err
	}
	if d.readOnly() {
		return ReadOnly
	}
	a, m, err := timesOf(atime, mtime)
	if err != nil {
		return err
	}
	if pf&types.PathFlagsSymlinkFollow == 0 {
		return code(lchtimesAt(d.dir, p, a, m))
	}
	return setTimes(d.dir, p, a, m)
}
