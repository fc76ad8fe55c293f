//go:build unix

package runtime

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// openNonblock opens an entry replaced by a named pipe after the
// directory was listed without waiting for a writer: the entry is then
// refused for not being a regular file.
const openNonblock = syscall.O_NONBLOCK

// checkOwner refuses a file or directory that is not the current user's
// or that its group or others may write, as ssh's StrictModes does.
func checkOwner(fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("cannot tell who owns %s", fi.Name())
	}
	if uid := os.Getuid(); int(st.Uid) != uid {
		return fmt.Errorf("%s is owned by uid %d, not the current user (uid %d): "+
			"the cache holds native code the host runs, so it must be the user's own", fi.Name(), st.Uid, uid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is writable by its group or others (mode %v): "+
			"the cache holds native code the host runs; chmod go-w it, or use another directory", fi.Name(), fi.Mode())
	}
	return nil
}

// checkParent refuses a parent directory of the cache that is neither the
// current user's nor root's, or that its group or others may write
// without its sticky bit.
func checkParent(fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("cannot tell who owns %s", fi.Name())
	}
	if uid := os.Getuid(); int(st.Uid) != uid && st.Uid != 0 {
		return fmt.Errorf("owned by uid %d, neither the current user (uid %d) nor root: it could replace the cache", st.Uid, uid)
	}
	if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&os.ModeSticky == 0 {
		return fmt.Errorf("writable by its group or others without the sticky bit (mode %v): they could replace the cache", fi.Mode())
	}
	return nil
}

// lockStaging opens the staging directory dir and takes its lock, which
// it holds until closed: a staging directory whose lock is free belongs
// to no running process (see removeUnused).
func lockStaging(dir string) (*os.File, error) {
	f, err := os.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return f, nil
}

// removeUnused removes the directory at path, a staging directory or an
// entries' directory the cache no longer uses, if it is unused: a
// directory itself (a symbolic link is left, never followed), the current
// user's, last changed before cutoff, and whose lock no process holds (a
// staging directory's is held while its cache is open: one whose lock is
// free is of a process that was killed, or exited with a compilation in
// progress).
func removeUnused(path string, cutoff time.Time) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) != os.Getuid() || !fi.ModTime().Before(cutoff) {
		return
	}
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return // a running process's
	}
	// Held until removed; os.RemoveAll removes what is beneath without
	// following symbolic links.
	os.RemoveAll(path)
}
