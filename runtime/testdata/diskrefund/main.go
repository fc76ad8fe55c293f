// Command diskrefund writes and removes files beneath the preopen /rw
// under a disk quota, through wasi_snapshot_preview1 (argument p1: Go's
// os package) or wasi:filesystem (argument p2: raw imports), and prints
// one line per step: what removing a file gives back to the quota. The
// test runs it under a quota of 1 MiB, with two files of 2 MiB each,
// big and big2, in /rw before it starts.
//
// With argument owner (wasi_snapshot_preview1) or other
// (wasi:filesystem), it is one of two guests running at once over the
// same directory, which take turns through marker files.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/wasitls/wasitls/runtime/testdata/internal/w"
)

const kib = 1024

func say(format string, args ...any) { fmt.Printf(format+"\n", args...) }

// api is the file operations of one interface; each returns "ok", or
// "quota" or the error's name.
type api interface {
	write(name string, n int) string // create or truncate, write n bytes, close
	remove(name string) string
	rename(old, new string) string
	link(old, new string) string
	setSize(name string, n int64) string
	// hold opens name and keeps it open until release is called.
	hold(name string) (release func(), res string)
	exists(name string) bool
}

func main() {
	switch os.Args[1] {
	case "p1":
		steps(p1{})
	case "p2":
		steps(newP2())
	case "owner":
		owner(p1{})
	case "other":
		other(newP2())
	case "names":
		if os.Args[2] == "p1" {
			names(p1{})
		} else {
			names(newP2())
		}
	}
}

// names, under a quota of 64 KiB, with 64 empty files pre0 to pre63 in
// /rw that are not the guest's, writes a file of 32 KiB, removes the 64
// files, and writes another: removing names it did not make gives the
// guest nothing it did not spend on names of its own.
func names(a api) {
	say("write a 32 KiB: %s", a.write("a", 32*kib))
	removed := 0
	for i := 0; i < 64; i++ {
		if a.remove(fmt.Sprintf("pre%d", i)) == "ok" {
			removed++
		}
	}
	say("remove 64 names not the guest's: %d removed", removed)
	say("write b 32 KiB after: %s", a.write("b", 32*kib))
	say("remove a: %s", a.remove("a"))
	say("write b 32 KiB after: %s", a.write("b", 32*kib))
}

func steps(a api) {
	loop := func(what string, step func() string) {
		for i := 0; i < 40; i++ {
			if res := step(); res != "ok" {
				say("%s 40 × 256 KiB: %s at %d", what, res, i)
				return
			}
		}
		say("%s 40 × 256 KiB: ok", what)
	}
	loop("write, remove", func() string {
		if res := a.write("tmp", 256*kib); res != "ok" {
			return res
		}
		return a.remove("tmp")
	})
	loop("write, rename over", func() string {
		if res := a.write("tmp", 256*kib); res != "ok" {
			return res
		}
		return a.rename("tmp", "target")
	})
	say("remove target: %s", a.remove("target"))

	say("write held 768 KiB: %s", a.write("held", 768*kib))
	release, res := a.hold("held")
	say("hold it open: %s", res)
	say("remove held: %s", a.remove("held"))
	say("write 512 KiB while held: %s", a.write("more", 512*kib))
	release()
	say("write 512 KiB after release: %s", a.write("more", 512*kib))
	say("remove more: %s", a.remove("more"))

	say("write a 768 KiB: %s", a.write("a", 768*kib))
	say("link a b: %s", a.link("a", "b"))
	say("remove a: %s", a.remove("a"))
	say("write 512 KiB while b links it: %s", a.write("c", 512*kib))
	say("remove b: %s", a.remove("b"))
	say("write 512 KiB after: %s", a.write("c", 512*kib))
	say("remove c: %s", a.remove("c"))

	say("write old 768 KiB: %s", a.write("old", 768*kib))
	say("write new 100 KiB: %s", a.write("new", 100*kib))
	say("rename new over old: %s", a.rename("new", "old"))
	say("write 512 KiB after: %s", a.write("c", 512*kib))
	say("remove old, c: %s, %s", a.remove("old"), a.remove("c"))

	say("write x 768 KiB: %s", a.write("x", 768*kib))
	say("remove big (2 MiB, not the guest's): %s", a.remove("big"))
	say("write 512 KiB after: %s", a.write("y", 512*kib))
	say("set-size big2 (2 MiB, not the guest's) 0: %s", a.setSize("big2", 0))
	say("write 512 KiB after: %s", a.write("y", 512*kib))
	say("remove x: %s", a.remove("x"))
	say("write 512 KiB after: %s", a.write("y", 512*kib))
	say("remove y: %s", a.remove("y"))
}

// wait waits for the marker name, at most 20 seconds.
func wait(a api, name string) bool {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		if a.exists(name) {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	say("no %s after 20 s", name)
	return false
}

// owner writes files that the other guest removes or holds open.
func owner(a api) {
	say("write shared 768 KiB: %s", a.write("shared", 768*kib))
	a.write("written", 0)
	if !wait(a, "removed") {
		return
	}
	say("write 768 KiB after the other removed shared: %s", a.write("after", 768*kib))
	say("remove after: %s", a.remove("after"))
	say("write held 768 KiB: %s", a.write("held", 768*kib))
	a.write("written2", 0)
	if !wait(a, "opened") {
		return
	}
	say("remove held: %s", a.remove("held"))
	say("write 512 KiB while the other holds it: %s", a.write("more", 512*kib))
	a.write("checked", 0)
	if !wait(a, "closed") {
		return
	}
	say("write 512 KiB after the other let go: %s", a.write("more", 512*kib))
}

// other removes a file the owner was charged for, and holds another open.
func other(a api) {
	if !wait(a, "written") {
		return
	}
	say("write mine 768 KiB: %s", a.write("mine", 768*kib))
	say("remove shared (the owner's): %s", a.remove("shared"))
	say("write 512 KiB after: %s", a.write("mine2", 512*kib))
	a.write("removed", 0)
	if !wait(a, "written2") {
		return
	}
	release, res := a.hold("held")
	say("hold held open: %s", res)
	a.write("opened", 0)
	if !wait(a, "checked") {
		return
	}
	release()
	a.write("closed", 0)
}

// p1 is wasi_snapshot_preview1, through Go's os package.
type p1 struct{}

func quota(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, syscall.EDQUOT):
		return "quota"
	}
	return err.Error()
}

func (p1) write(name string, n int) string {
	return quota(os.WriteFile("/rw/"+name, make([]byte, n), 0o644))
}
func (p1) remove(name string) string     { return quota(os.Remove("/rw/" + name)) }
func (p1) rename(old, new string) string { return quota(os.Rename("/rw/"+old, "/rw/"+new)) }
func (p1) link(old, new string) string   { return quota(os.Link("/rw/"+old, "/rw/"+new)) }
func (p1) setSize(name string, n int64) string {
	return quota(os.Truncate("/rw/"+name, n))
}
func (p1) exists(name string) bool { _, err := os.Stat("/rw/" + name); return err == nil }

func (p1) hold(name string) (func(), string) {
	f, err := os.Open("/rw/" + name)
	if err != nil {
		return func() {}, quota(err)
	}
	return func() { f.Close() }, "ok"
}

// p2 is wasi:filesystem, through raw imports.
type p2 struct{ rw uint32 }

func newP2() p2 {
	for _, p := range w.Preopens() {
		if p.Path == "/rw" {
			return p2{p.FD}
		}
	}
	panic("no /rw")
}

func code(c int) string {
	if c < 0 {
		return "ok"
	}
	return codes[c]
}

func (p p2) write(name string, n int) string {
	fd, c := w.OpenAt(p.rw, 0, name, w.OpenCreate|w.OpenTruncate, w.FlagWrite)
	if c >= 0 {
		return code(c)
	}
	defer w.DropDescriptor(fd)
	if n == 0 {
		return "ok"
	}
	_, c = w.WriteAt(fd, make([]byte, n), 0)
	return code(c)
}
func (p p2) remove(name string) string     { return code(w.Unlink(p.rw, name)) }
func (p p2) rename(old, new string) string { return code(w.Rename(p.rw, old, p.rw, new)) }
func (p p2) link(old, new string) string   { return code(w.Link(p.rw, old, p.rw, new)) }
func (p p2) setSize(name string, n int64) string {
	fd, c := w.OpenAt(p.rw, 0, name, 0, w.FlagWrite)
	if c >= 0 {
		return code(c)
	}
	defer w.DropDescriptor(fd)
	return code(w.SetSize(fd, uint64(n)))
}
func (p p2) exists(name string) bool { _, _, c := w.StatAt(p.rw, 0, name); return c < 0 }

// hold keeps the file open through a stream over it alone: the
// descriptor the stream was made from is dropped at once.
func (p p2) hold(name string) (func(), string) {
	fd, c := w.OpenAt(p.rw, 0, name, 0, w.FlagRead)
	if c >= 0 {
		return func() {}, code(c)
	}
	in, c := w.ReadStream(fd, 0)
	w.DropDescriptor(fd)
	if c >= 0 {
		return func() {}, code(c)
	}
	return func() { w.DropInput(in) }, "ok"
}

// codes are the error-code cases of wasi:filesystem/types, in WIT order.
var codes = strings.Fields(`access would-block already bad-descriptor busy deadlock quota exist
file-too-large illegal-byte-sequence in-progress interrupted invalid io is-directory loop
too-many-links message-size name-too-long no-device no-entry no-lock insufficient-memory
insufficient-space not-directory not-empty not-recoverable unsupported no-tty no-such-device
overflow not-permitted pipe read-only invalid-seek text-file-busy cross-device`)
