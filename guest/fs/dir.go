//go:build wasip1

package wasifs

import (
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/wasitls/wasitls/guest/wasi/bindings/wasi/filesystem/types"
)

// Dir is a preopened directory. Its fs.FS methods take io/fs paths; its
// write methods take any relative path, which the host keeps beneath the
// directory. Dir is safe for concurrent use.
type Dir struct {
	d    types.Descriptor
	name string
}

var (
	_ fs.FS         = (*Dir)(nil)
	_ fs.ReadDirFS  = (*Dir)(nil)
	_ fs.ReadFileFS = (*Dir)(nil)
	_ fs.StatFS     = (*Dir)(nil)
)

// Name returns the path the guest knows the preopen by.
func (d *Dir) Name() string { return d.name }

// Open implements fs.FS: it opens name for reading (following symbolic
// links beneath the preopen).
func (d *Dir) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	f, err := d.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// OpenFile opens name with the os.O_* flags: O_RDONLY, O_WRONLY or O_RDWR,
// and O_CREATE, O_EXCL, O_TRUNC, O_APPEND. perm is ignored (the host
// decides). name is relative to d; the host refuses paths leading out.
func (d *Dir) OpenFile(name string, flag int, perm fs.FileMode) (*File, error) {
	var fl types.DescriptorFlags
	switch flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR) {
	case os.O_RDONLY:
		fl = types.DescriptorFlagsRead
	case os.O_WRONLY:
		fl = types.DescriptorFlagsWrite
	case os.O_RDWR:
		fl = types.DescriptorFlagsRead | types.DescriptorFlagsWrite
	default:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	var of types.OpenFlags
	if flag&os.O_CREATE != 0 {
		of |= types.OpenFlagsCreate
	}
	if flag&os.O_EXCL != 0 {
		of |= types.OpenFlagsExclusive
	}
	if flag&os.O_TRUNC != 0 {
		of |= types.OpenFlagsTruncate
	}
	fd, err := d.d.OpenAt(types.PathFlagsSymlinkFollow, name, of, fl)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	st, err := fd.Stat()
	if err != nil {
		fd.Drop()
		return nil, pathErr("open", name, err)
	}
	return &File{root: d, d: fd, path: name, typ: st.Type, appending: flag&os.O_APPEND != 0}, nil
}

// Create creates or truncates name, opened for reading and writing.
func (d *Dir) Create(name string) (*File, error) {
	return d.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

// ReadDir implements fs.ReadDirFS: the entries of the directory name,
// sorted by name.
func (d *Dir) ReadDir(name string) ([]fs.DirEntry, error) {
	f, err := d.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	list, err := f.(*File).ReadDir(-1)
	slices.SortFunc(list, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return list, err
}

// ReadFile implements fs.ReadFileFS.
func (d *Dir) ReadFile(name string) ([]byte, error) {
	f, err := d.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// Stat implements fs.StatFS (following symbolic links).
func (d *Dir) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	return d.stat(name, types.PathFlagsSymlinkFollow)
}

// Lstat is Stat without following a final symbolic link.
func (d *Dir) Lstat(name string) (fs.FileInfo, error) { return d.stat(name, 0) }

func (d *Dir) stat(name string, pf types.PathFlags) (fs.FileInfo, error) {
	st, err := d.d.StatAt(pf, name)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	return &fileInfo{name: path.Base(name), st: st}, nil
}

// WriteFile writes data to name, creating it or truncating it first.
func (d *Dir) WriteFile(name string, data []byte, perm fs.FileMode) error {
	f, err := d.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err1 := f.Close(); err == nil {
		err = err1
	}
	return err
}

// Mkdir creates the directory name (perm is ignored).
func (d *Dir) Mkdir(name string, perm fs.FileMode) error {
	if err := d.d.CreateDirectoryAt(name); err != nil {
		return pathErr("mkdir", name, err)
	}
	return nil
}

// Remove removes the file or empty directory name.
func (d *Dir) Remove(name string) error {
	err := d.d.UnlinkFileAt(name)
	if err == nil {
		return nil
	}
	err1 := d.d.RemoveDirectoryAt(name)
	if err1 == nil {
		return nil
	}
	// As os.Remove: the rmdir error unless name is not a directory.
	if err1 == types.ErrorCodeNotDirectory {
		return pathErr("remove", name, err)
	}
	return pathErr("remove", name, err1)
}

// Rename renames oldname to newname, both beneath d.
func (d *Dir) Rename(oldname, newname string) error {
	if err := d.d.RenameAt(oldname, d.d.Borrow(), newname); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: code(err)}
	}
	return nil
}

// Symlink creates newname as a symbolic link to oldname.
func (d *Dir) Symlink(oldname, newname string) error {
	if err := d.d.SymlinkAt(oldname, newname); err != nil {
		return &os.LinkError{Op: "symlink", Old: oldname, New: newname, Err: code(err)}
	}
	return nil
}

// Readlink returns the target of the symbolic link name.
func (d *Dir) Readlink(name string) (string, error) {
	s, err := d.d.ReadlinkAt(name)
	if err != nil {
		return "", pathErr("readlink", name, err)
	}
	return s, nil
}
