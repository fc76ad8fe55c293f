//go:build wasip1

package wasifs

import (
	"io/fs"
	"time"

	"github.com/wasitls/wasitls/guest/wasi/bindings/wasi/filesystem/types"
)

// fileInfo is a descriptor-stat as an fs.FileInfo.
type fileInfo struct {
	name string
	st   types.DescriptorStat
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return int64(fi.st.Size) }
func (fi *fileInfo) Mode() fs.FileMode  { return modeOf(fi.st.Type) }
func (fi *fileInfo) IsDir() bool        { return fi.st.Type == types.DescriptorTypeDirectory }
func (fi *fileInfo) Sys() any           { return fi.st }
func (fi *fileInfo) ModTime() time.Time { return timeOf(fi.st.DataModificationTimestamp.Get()) }

func timeOf(t types.Datetime, ok bool) time.Time {
	if !ok {
		return time.Time{}
	}
	return time.Unix(int64(t.Seconds), int64(t.Nanoseconds))
}

// typeOf gives the type bits of a descriptor type.
func typeOf(t types.DescriptorType) fs.FileMode {
	switch t {
	case types.DescriptorTypeDirectory:
		return fs.ModeDir
	case types.DescriptorTypeSymbolicLink:
		return fs.ModeSymlink
	case types.DescriptorTypeBlockDevice:
		return fs.ModeDevice
	case types.DescriptorTypeCharacterDevice:
		return fs.ModeDevice | fs.ModeCharDevice
	case types.DescriptorTypeFifo:
		return fs.ModeNamedPipe
	case types.DescriptorTypeSocket:
		return fs.ModeSocket
	case types.DescriptorTypeRegularFile:
		return 0
	}
	return fs.ModeIrregular
}

func modeOf(t types.DescriptorType) fs.FileMode {
	if t == types.DescriptorTypeDirectory {
		return fs.ModeDir | 0o755
	}
	return typeOf(t) | 0o644
}

// dirEntry is a directory-entry as an fs.DirEntry; Info stats it (without
// following a symbolic link) by its path beneath the preopen, whose
// descriptor lives as long as the guest (the directory's may not).
type dirEntry struct {
	root *Dir
	path string
	e    types.DirectoryEntry
}

func (de *dirEntry) Name() string      { return de.e.Name }
func (de *dirEntry) IsDir() bool       { return de.e.Type == types.DescriptorTypeDirectory }
func (de *dirEntry) Type() fs.FileMode { return typeOf(de.e.Type) }
func (de *dirEntry) String() string    { return fs.FormatDirEntry(de) }

func (de *dirEntry) Info() (fs.FileInfo, error) {
	st, err := de.root.d.StatAt(0, de.path)
	if err != nil {
		return nil, pathErr("stat", de.e.Name, err)
	}
	return &fileInfo{name: de.e.Name, st: st}, nil
}

// pathErr wraps a host error code (or any other error) for op on name.
func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: code(err)}
}

// code turns the generated bindings' error-code into an ErrorCode.
func code(err error) error {
	if c, ok := err.(types.ErrorCode); ok {
		return ErrorCode(c)
	}
	return err
}
