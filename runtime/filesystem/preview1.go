package filesystem

import (
	"io/fs"
	"os"
	"strings"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	wazerosys "github.com/tetratelabs/wazero/sys"
)

// Preview1 returns, for each preopen, the file system wazero's
// wasi_snapshot_preview1 should mount (with sysfs.FSConfig's
// WithSysFSMount): wazero's own sysfs.DirFS over the host directory
// (sysfs.ReadFS for a read-only preopen), with every path first resolved
// through the preopen's os.Root. DirFS alone joins paths as strings and
// lets the kernel follow symbolic links, so a link inside the preopen
// pointing out of it would lead a wasip1 guest out; here such a path fails
// with EPERM before DirFS sees it.
//
// The check and the operation are two steps: a host process swapping a
// directory for a symbolic link between them could still win the race. A
// guest alone cannot, since it makes one call at a time, and the links it
// can create are checked when followed; but another guest running at the
// same time over the same host directory can plant and swap in such a
// link (docs/security.md).
func (f *FS) Preview1() []experimentalsys.FS {
	out := make([]experimentalsys.FS, len(f.preopens))
	for i, p := range f.preopens {
		var c experimentalsys.FS = &confinedFS{FS: sysfs.DirFS(p.host), root: p.root}
		if p.readOnly {
			c = &sysfs.ReadFS{FS: c}
		}
		out[i] = c
	}
	return out
}

// Guest returns the guest path of preopen i.
func (f *FS) Guest(i int) string { return f.preopens[i].guest }

// confinedFS checks paths against root before DirFS uses them.
type confinedFS struct {
	experimentalsys.FS
	root *os.Root
}

// check resolves p beneath the root, following a final symbolic link when
// follow is set: EPERM when the resolution leaves the root.
func (c *confinedFS) check(p string, follow bool) experimentalsys.Errno {
	p = strings.TrimLeft(p, "/")
	if p == "" || p == "." {
		return 0
	}
	var err error
	if follow {
		_, err = c.root.Stat(p)
	} else {
		_, err = c.root.Lstat(p)
	}
	if err != nil && escapes(err) {
		return experimentalsys.EPERM
	}
	return 0
}

func (c *confinedFS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	if e := c.check(p, flag&experimentalsys.O_NOFOLLOW == 0); e != 0 {
		return nil, e
	}
	// A named pipe opens without waiting for its other end (see
	// openNonblock); its reads and writes then say EAGAIN, which the
	// guest polls for, rather than block.
	if info, err := c.root.Stat(strings.TrimLeft(p, "/")); err == nil && info.Mode()&fs.ModeNamedPipe != 0 && openNonblock != 0 {
		flag |= experimentalsys.O_NONBLOCK
	}
	return c.FS.OpenFile(p, flag, perm)
}

func (c *confinedFS) Lstat(p string) (st wazerosys.Stat_t, e experimentalsys.Errno) {
	if e := c.check(p, false); e != 0 {
		return st, e
	}
	return c.FS.Lstat(p)
}

func (c *confinedFS) Stat(p string) (st wazerosys.Stat_t, e experimentalsys.Errno) {
	if e := c.check(p, true); e != 0 {
		return st, e
	}
	return c.FS.Stat(p)
}

func (c *confinedFS) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	if e := c.check(p, false); e != 0 {
		return e
	}
	return c.FS.Mkdir(p, perm)
}

func (c *confinedFS) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	if e := c.check(p, true); e != 0 {
		return e
	}
	return c.FS.Chmod(p, perm)
}

func (c *confinedFS) Rename(from, to string) experimentalsys.Errno {
	if e := c.check(from, false); e != 0 {
		return e
	}
	if e := c.check(to, false); e != 0 {
		return e
	}
	return c.FS.Rename(from, to)
}

func (c *confinedFS) Rmdir(p string) experimentalsys.Errno {
	if e := c.check(p, false); e != 0 {
		return e
	}
	return c.FS.Rmdir(p)
}

func (c *confinedFS) Unlink(p string) experimentalsys.Errno {
	if e := c.check(p, false); e != 0 {
		return e
	}
	return c.FS.Unlink(p)
}

func (c *confinedFS) Link(old, new string) experimentalsys.Errno {
	if e := c.check(old, false); e != 0 {
		return e
	}
	if e := c.check(new, false); e != 0 {
		return e
	}
	return c.FS.Link(old, new)
}

func (c *confinedFS) Symlink(old, link string) experimentalsys.Errno {
	if e := c.check(link, false); e != 0 {
		return e
	}
	return c.FS.Symlink(old, link)
}

func (c *confinedFS) Readlink(p string) (string, experimentalsys.Errno) {
	if e := c.check(p, false); e != 0 {
		return "", e
	}
	return c.FS.Readlink(p)
}

func (c *confinedFS) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	if e := c.check(p, true); e != 0 {
		return e
	}
	return c.FS.Utimens(p, atim, mtim)
}
