// Command files drives wasi:filesystem through raw imports against two
// preopens, /rw (read-write) and /ro (read-only), and prints one line per
// step: what it did and the result or the error code by its WIT name. The
// test lays out the directories (including symbolic links that point out of
// /rw) and checks the output and the host files.
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/wasitls/wasitls/runtime/testdata/internal/w"
)

// codes are the error-code cases of wasi:filesystem/types, in WIT order.
var codes = strings.Fields(`access would-block already bad-descriptor busy deadlock quota exist
file-too-large illegal-byte-sequence in-progress interrupted invalid io is-directory loop
too-many-links message-size name-too-long no-device no-entry no-lock insufficient-memory
insufficient-space not-directory not-empty not-recoverable unsupported no-tty no-such-device
overflow not-permitted pipe read-only invalid-seek text-file-busy cross-device`)

func res(c int) string {
	if c < 0 {
		return "ok"
	}
	return codes[c]
}

func say(format string, args ...any) { fmt.Printf(format+"\n", args...) }

var types = []string{"unknown", "block-device", "character-device", "directory", "fifo", "symbolic-link", "regular-file", "socket"}

func main() {
	var rw, ro uint32
	for _, p := range w.Preopens() {
		say("preopen %s", p.Path)
		switch p.Path {
		case "/rw":
			rw = p.FD
		case "/ro":
			ro = p.FD
		}
	}

	// Reading.
	fd, c := w.OpenAt(rw, w.SymlinkFollow, "hello.txt", 0, w.FlagRead)
	b, eof, c2 := w.ReadAt(fd, 100, 0)
	say("read hello.txt: %s %q eof=%v %s", res(c), b, eof, res(c2))
	h1, _ := w.Hash(fd)
	h2, _ := w.HashAt(rw, 0, "hello.txt")
	h3, _ := w.HashAt(rw, w.SymlinkFollow, "in")
	h4, _ := w.HashAt(rw, 0, "sub")
	say("hash: same file %v, via link %v, other file %v", h1 == h2, h1 == h3, h1 == h4)
	typ, size, c := w.Stat(fd)
	say("stat hello.txt: %s %s %d", res(c), types[typ], size)
	w.DropDescriptor(fd)
	typ, size, c = w.StatAt(rw, w.SymlinkFollow, "sub/inner.txt")
	say("stat-at sub/inner.txt: %s %s %d", res(c), types[typ], size)
	typ, _, c = w.StatAt(rw, 0, "out")
	say("stat-at out nofollow: %s %s", res(c), types[typ])
	s, c := w.Readlink(rw, "out")
	say("readlink out: %s %q", res(c), s)

	// Escapes.
	for _, p := range []string{"../secret", "/secret", "sub/../../secret", "out", "abs", "sub/up/secret", "."} {
		fd, c := w.OpenAt(rw, w.SymlinkFollow, p, 0, w.FlagRead)
		say("open %s: %s", p, res(c))
		if c < 0 {
			w.DropDescriptor(fd)
		}
	}
	_, _, c = w.StatAt(rw, w.SymlinkFollow, "out")
	say("stat-at out follow: %s", res(c))
	fd, c = w.OpenAt(rw, w.SymlinkFollow, "in", 0, w.FlagRead)
	b, _, _ = w.ReadAt(fd, 100, 0)
	say("open in follow: %s %q", res(c), b)
	w.DropDescriptor(fd)
	_, c = w.OpenAt(rw, 0, "in", 0, w.FlagRead)
	say("open in nofollow: %s", res(c))

	// A directory descriptor is a root of its own.
	sub, c := w.OpenAt(rw, 0, "sub", w.OpenDirectory, w.FlagRead|w.FlagMutate)
	say("open sub: %s", res(c))
	_, c = w.OpenAt(sub, 0, "..", 0, w.FlagRead)
	say("open sub/..: %s", res(c))
	_, c = w.OpenAt(sub, 0, "../hello.txt", 0, w.FlagRead)
	say("open sub/../hello.txt: %s", res(c))
	fd, c = w.OpenAt(sub, 0, "inner.txt", 0, w.FlagRead)
	say("open sub/inner.txt: %s", res(c))
	_, c = w.OpenAt(fd, 0, "x", 0, w.FlagRead)
	say("open-at on a file: %s", res(c))
	w.DropDescriptor(fd)

	// Writing through streams.
	say("mkdir newdir: %s", res(w.Mkdir(rw, "newdir")))
	say("mkdir newdir again: %s", res(w.Mkdir(rw, "newdir")))
	fd, c = w.OpenAt(rw, 0, "newdir/f.txt", w.OpenCreate|w.OpenExclusive, w.FlagRead|w.FlagWrite)
	say("create newdir/f.txt: %s", res(c))
	out, c := w.WriteStream(fd, 0)
	err := w.BlockingWriteAndFlush(out, []byte("streamed"))
	w.DropOutput(out)
	say("write-via-stream: %s %v", res(c), err)
	out, c = w.AppendStream(fd)
	err = w.BlockingWriteAndFlush(out, []byte("+more"))
	w.DropOutput(out)
	say("append-via-stream: %s %v", res(c), err)
	n, c := w.WriteAt(fd, []byte("XY"), 0)
	say("write: %s %d", res(c), n)
	in, c := w.ReadStream(fd, 1)
	var got []byte
	for {
		b, err := w.BlockingRead(in, 4)
		if err != nil {
			say("read-via-stream: %s %q, then %v", res(c), got, err)
			break
		}
		got = append(got, b...)
	}
	w.DropInput(in)
	w.DropDescriptor(fd)
	_, c = w.OpenAt(rw, 0, "newdir/f.txt", w.OpenCreate|w.OpenExclusive, w.FlagWrite)
	say("create exclusive again: %s", res(c))
	fd, _ = w.OpenAt(rw, 0, "hello.txt", 0, w.FlagRead)
	_, c = w.WriteAt(fd, []byte("no"), 0)
	say("write on a read-only descriptor: %s", res(c))
	_, c = w.WriteStream(fd, 0)
	say("write-via-stream on a read-only descriptor: %s", res(c))
	w.DropDescriptor(fd)

	// Directory changes.
	names, c := w.ReadDir(rw)
	sort.Strings(names)
	say("read-directory /rw: %s %s", res(c), strings.Join(names, " "))
	say("rename f.txt g.txt: %s", res(w.Rename(rw, "newdir/f.txt", rw, "newdir/g.txt")))
	say("rename into sub: %s", res(w.Rename(rw, "newdir/g.txt", sub, "g.txt")))
	say("rename out of /rw: %s", res(w.Rename(sub, "g.txt", rw, "../escaped")))
	say("rename to /ro: %s", res(w.Rename(sub, "g.txt", ro, "g.txt")))
	say("unlink sub/g.txt: %s", res(w.Unlink(sub, "g.txt")))
	say("unlink a directory: %s", res(w.Unlink(rw, "newdir")))
	say("rmdir a non-empty directory: %s", res(w.Rmdir(rw, "sub")))
	say("rmdir a file: %s", res(w.Rmdir(rw, "hello.txt")))
	say("rmdir newdir: %s", res(w.Rmdir(rw, "newdir")))
	say("symlink to an absolute path: %s", res(w.Symlink(rw, "/etc", "abs2")))
	say("symlink out2 -> ../secret: %s", res(w.Symlink(rw, "../secret", "out2")))
	_, c = w.OpenAt(rw, w.SymlinkFollow, "out2", 0, w.FlagRead)
	say("open out2: %s", res(c))
	say("unlink out2: %s", res(w.Unlink(rw, "out2")))
	w.DropDescriptor(sub)

	// The read-only preopen.
	fd, c = w.OpenAt(ro, 0, "ro.txt", 0, w.FlagRead)
	b, _, _ = w.ReadAt(fd, 100, 0)
	say("read ro.txt: %s %q", res(c), b)
	w.DropDescriptor(fd)
	_, c = w.OpenAt(ro, 0, "ro.txt", 0, w.FlagRead|w.FlagWrite)
	say("open ro.txt for writing: %s", res(c))
	_, c = w.OpenAt(ro, 0, "new.txt", w.OpenCreate, w.FlagRead)
	say("create in /ro: %s", res(c))
	say("mkdir in /ro: %s", res(w.Mkdir(ro, "d")))
	say("unlink in /ro: %s", res(w.Unlink(ro, "ro.txt")))
	say("symlink in /ro: %s", res(w.Symlink(ro, "ro.txt", "l")))
	os.Exit(0)
}
