package filesystem

import (
	"io/fs"
	"os"
	"path"
)

// dirID is a directory's identity, as idOf is a regular file's.
func dirID(info fs.FileInfo) (fileID, bool) {
	if info == nil || !info.IsDir() {
		return fileID{}, false
	}
	id, _, ok := inodeOf(info)
	return id, ok
}

// dirGrowth runs op, which makes the name p beneath root (or moves a name
// there), and returns its error and what p's directory grew by across it
// (dirBytes, 0 when op failed or the directory could not be read), with
// the directory's status after. No lock is held: another call making a
// name in that directory at once may be counted in both (never in
// neither: a call's own growth happens between its two reads).
func dirGrowth(root *os.Root, p string, op func() error) (fs.FileInfo, int64, error) {
	dir := path.Dir(path.Clean(p))
	before, berr := root.Stat(dir)
	if err := op(); err != nil {
		return nil, 0, err
	}
	if berr != nil || !before.IsDir() {
		return nil, 0, nil
	}
	after, err := root.Stat(dir)
	if err != nil || !os.SameFile(before, after) {
		return nil, 0, nil
	}
	return after, max(dirBytes(after)-dirBytes(before), 0), nil
}

// linkedDir is the name in whose directory an open creating p through a
// dangling symbolic link makes its file: the link's target, followed as
// far as it names further links (up to 8), relative to p's directory.
func linkedDir(root *os.Root, p string) string {
	for range 8 {
		target, err := root.Readlink(p)
		if err != nil || path.IsAbs(target) {
			return p
		}
		p = path.Join(path.Dir(p), target)
		if info, err := root.Lstat(p); err != nil || info.Mode()&fs.ModeSymlink == 0 {
			return p
		}
	}
	return p
}
