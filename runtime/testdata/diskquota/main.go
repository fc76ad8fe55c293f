// Command diskquota pushes against its disk quota beneath the preopen /rw,
// through wasi_snapshot_preview1 (argument p1: Go's os package) or
// wasi:filesystem (argument p2: raw imports), and prints one line per step.
// The test runs it under a quota of 1 MiB and checks the output and what
// the host's directory holds after.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/wasitls/wasitls/runtime/testdata/internal/w"
)

const kib = 1024

func say(format string, args ...any) { fmt.Printf(format+"\n", args...) }

func main() {
	switch os.Args[1] {
	case "p1":
		preview1()
	case "p2":
		preview2()
	case "files-p1":
		files(func(name string) error {
			f, err := os.OpenFile("/rw/"+name, os.O_WRONLY|os.O_CREATE, 0o644)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.Write([]byte("x"))
			return err
		}, func(name string) string { return quota(os.Remove("/rw/" + name)) }, quota)
	case "files-p2":
		rw := rwPreopen()
		code := func(c int) string {
			if c < 0 {
				return "ok"
			}
			return codes[c]
		}
		files(func(name string) error {
			fd, c := w.OpenAt(rw, 0, name, w.OpenCreate, w.FlagWrite)
			if c >= 0 {
				return codeError(c)
			}
			defer w.DropDescriptor(fd)
			if _, c = w.WriteAt(fd, []byte("x"), 0); c >= 0 {
				return codeError(c)
			}
			return nil
		}, func(name string) string { return code(w.Unlink(rw, name)) }, func(err error) string {
			if c, ok := err.(codeError); ok {
				return code(int(c))
			}
			return "ok"
		})
	}
}

// codeError is a wasi:filesystem error code as an error.
type codeError int

func (c codeError) Error() string { return codes[c] }

// files grows files by a byte each, beside the 1 MiB quota's room for 255
// names, until a growth is refused (at most 1000), tries another, then
// removes one and grows another.
func files(grow func(string) error, remove func(string) string, says func(error) string) {
	n := 0
	var err error
	for ; n < 1000; n++ {
		if err = grow(fmt.Sprintf("g%d", n)); err != nil {
			break
		}
	}
	say("grow files until refused: %d grown, then %s", n, says(err))
	say("grow another: %s", says(grow("another")))
	say("remove one: %s", remove("g0"))
	say("grow one more: %s", says(grow("again")))
}

func rwPreopen() uint32 {
	for _, p := range w.Preopens() {
		if p.Path == "/rw" {
			return p.FD
		}
	}
	return 0
}

// quota says whether err is EDQUOT.
func quota(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, syscall.EDQUOT):
		return "quota"
	}
	return err.Error()
}

func size(f *os.File) int64 {
	info, err := f.Stat()
	if err != nil {
		return -1
	}
	return info.Size()
}

func preview1() {
	f, err := os.OpenFile("/rw/p1", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		say("create: %v", err)
		return
	}
	say("create: ok")
	say("set-size 1 TiB (fd_filestat_set_size): %s, size %d", quota(f.Truncate(1<<40)), size(f))
	_, err = f.WriteAt([]byte("x"), 1<<40)
	say("write at 1 TiB (fd_pwrite): %s, size %d", quota(err), size(f))
	n, err := f.Write(make([]byte, 512*kib))
	say("write 512 KiB (fd_write): %s %d, size %d", quota(err), n, size(f))
	n, err = f.Write(make([]byte, 600*kib))
	say("write 600 KiB more (fd_write): %s %d, size %d", quota(err), n, size(f))
	n, err = f.WriteAt(make([]byte, 600*kib), 100*kib)
	say("write 600 KiB at 100 KiB (fd_pwrite): %s %d, size %d", quota(err), n, size(f))
	n, err = f.WriteAt(make([]byte, 200*kib), 300*kib)
	say("write 200 KiB at 300 KiB (fd_pwrite, inside): %s %d, size %d", quota(err), n, size(f))
	a, err := os.OpenFile("/rw/p1", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		say("open append: %v", err)
		return
	}
	n, err = a.Write(make([]byte, 600*kib))
	say("append 600 KiB (fd_write, O_APPEND): %s %d, size %d", quota(err), n, size(f))
	a.Close()
	say("set-size 0: %s, size %d", quota(f.Truncate(0)), size(f))
	n, err = f.WriteAt(make([]byte, 900*kib), 0)
	say("write 900 KiB at 0 after: %s %d, size %d", quota(err), n, size(f))
	f.Close()
	t, err := os.OpenFile("/rw/p1", os.O_WRONLY|os.O_TRUNC, 0)
	say("open truncating: %s", quota(err))
	t.Close()
	dirs := 0
	for ; ; dirs++ {
		if err = os.Mkdir(fmt.Sprintf("/rw/d%d", dirs), 0o755); err != nil {
			break
		}
	}
	say("mkdir until refused: %d made, then %s", dirs, quota(err))
	_, err = os.Create("/rw/one-more")
	say("create one more: %s", quota(err))
	say("symlink one more: %s", quota(os.Symlink("p1", "/rw/link")))
	say("link one more: %s", quota(os.Link("/rw/p1", "/rw/hard")))
	say("rename to a new name (path_rename): %s", quota(os.Rename("/rw/p1", "/rw/renamed")))
	say("remove a directory: %s", quota(os.Remove("/rw/d0")))
	say("create one more: %s", quota(os.WriteFile("/rw/one-more", nil, 0o644)))
}

func preview2() {
	var rw uint32
	for _, p := range w.Preopens() {
		if p.Path == "/rw" {
			rw = p.FD
		}
	}
	code := func(c int) string {
		if c < 0 {
			return "ok"
		}
		return codes[c]
	}
	stat := func(fd uint32) uint64 { _, s, _ := w.Stat(fd); return s }
	fd, c := w.OpenAt(rw, 0, "p2", w.OpenCreate, w.FlagRead|w.FlagWrite)
	say("create: %s", code(c))
	say("set-size 1 TiB: %s, size %d", code(w.SetSize(fd, 1<<40)), stat(fd))
	_, c = w.WriteAt(fd, []byte("x"), 1<<40)
	say("write at 1 TiB: %s, size %d", code(c), stat(fd))
	n, c := w.WriteAt(fd, make([]byte, 512*kib), 0)
	say("write 512 KiB: %s %d, size %d", code(c), n, stat(fd))
	n, c = w.WriteAt(fd, make([]byte, 600*kib), 100*kib)
	say("write 600 KiB at 100 KiB: %s %d, size %d", code(c), n, stat(fd))
	out, c := w.WriteStream(fd, 256*kib)
	k, ec, msg := w.WriteAll(out, make([]byte, 800*kib))
	w.DropOutput(out)
	say("write-via-stream 800 KiB at 256 KiB: %s %d, size %d", code(ec), k, stat(fd))
	say("  its error: %v", strings.Contains(msg, "--max-disk-bytes"))
	out, c = w.AppendStream(fd)
	k, ec, _ = w.WriteAll(out, make([]byte, 600*kib))
	w.DropOutput(out)
	say("append-via-stream 600 KiB: %s %d, size %d", code(ec), k, stat(fd))
	say("set-size 0: %s, size %d", code(w.SetSize(fd, 0)), stat(fd))
	n, c = w.WriteAt(fd, make([]byte, 900*kib), 0)
	say("write 900 KiB at 0 after: %s %d, size %d", code(c), n, stat(fd))
	w.DropDescriptor(fd)
	fd, c = w.OpenAt(rw, 0, "p2", w.OpenTruncate, w.FlagWrite)
	say("open truncating: %s, size %d", code(c), stat(fd))
	w.DropDescriptor(fd)
	dirs := 0
	for ; ; dirs++ {
		if c = w.Mkdir(rw, fmt.Sprintf("d%d", dirs)); c >= 0 {
			break
		}
	}
	say("mkdir until refused: %d made, then %s", dirs, code(c))
	_, c = w.OpenAt(rw, 0, "one-more", w.OpenCreate, w.FlagRead|w.FlagWrite)
	say("create one more: %s", code(c))
	say("symlink one more: %s", code(w.Symlink(rw, "p2", "link")))
	say("remove a directory: %s", code(w.Rmdir(rw, "d0")))
	fd, c = w.OpenAt(rw, 0, "one-more", w.OpenCreate, w.FlagRead|w.FlagWrite)
	say("create one more: %s", code(c))
	w.DropDescriptor(fd)
}

// codes are the error-code cases of wasi:filesystem/types, in WIT order.
var codes = strings.Fields(`access would-block already bad-descriptor busy deadlock quota exist
file-too-large illegal-byte-sequence in-progress interrupted invalid io is-directory loop
too-many-links message-size name-too-long no-device no-entry no-lock insufficient-memory
insufficient-space not-directory not-empty not-recoverable unsupported no-tty no-such-device
overflow not-permitted pipe read-only invalid-seek text-file-busy cross-device`)
