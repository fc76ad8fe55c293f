package filesystem

import (
	"errors"
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames old to new beneath root unless new names
// something, then failing with errNameTaken and changing nothing
// (renameat2's RENAME_NOREPLACE, in the directories of old and new opened
// beneath root). A name whose last element is not a plain one ("." or
// ".."), or a file system without the flag, is renamed by root.Rename,
// which replaces.
func renameNoReplace(root *os.Root, old, new string) error {
	ob, nb := path.Base(old), path.Base(new)
	if !plainName(ob) || !plainName(nb) {
		return root.Rename(old, new)
	}
	od, err := root.Open(path.Dir(old))
	if err != nil {
		return root.Rename(old, new)
	}
	defer od.Close()
	nd, err := root.Open(path.Dir(new))
	if err != nil {
		return root.Rename(old, new)
	}
	defer nd.Close()
	oraw, err1 := od.SyscallConn()
	nraw, err2 := nd.SyscallConn()
	if err1 != nil || err2 != nil {
		return root.Rename(old, new)
	}
	var rerr, cerr error
	err = oraw.Control(func(ofd uintptr) {
		cerr = nraw.Control(func(nfd uintptr) {
			rerr = unix.Renameat2(int(ofd), ob, int(nfd), nb, unix.RENAME_NOREPLACE)
		})
	})
	switch {
	case cerr != nil:
		return root.Rename(old, new)
	case err != nil:
		return root.Rename(old, new)
	case errors.Is(rerr, unix.EEXIST):
		return errNameTaken
	case errors.Is(rerr, unix.EINVAL) || errors.Is(rerr, unix.ENOSYS) || errors.Is(rerr, unix.ENOTSUP):
		return root.Rename(old, new) // no RENAME_NOREPLACE here
	case rerr != nil:
		return &os.LinkError{Op: "renameat", Old: old, New: new, Err: rerr}
	}
	return nil
}

// plainName reports whether name, one element of a path, names an entry
// of its directory.
func plainName(name string) bool {
	return name != "." && name != ".." && name != "/" && name != ""
}
