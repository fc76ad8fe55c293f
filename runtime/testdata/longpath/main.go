// Command longpath stats a path of the given number of MiB ("a/a/a/...",
// or "a" for 0) beneath the preopen /d, through wasi_snapshot_preview1
// (argument p1: Go's os package) or wasi:filesystem (argument p2: raw
// imports), and prints how that ended.
//
// With argument deep, it walks down a tree of directories it makes
// beneath /d through wasi:filesystem descriptors, up to the given number
// of levels with names of 255 bytes, dropping each parent, prints how
// far it went, opens 200 descriptors of the deepest, prints "held", and
// holds them until its standard input ends.
package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/wasitls/wasitls/runtime/testdata/internal/w"
)

func main() {
	mib, err := strconv.Atoi(os.Args[2])
	if err != nil {
		panic(err)
	}
	if os.Args[1] == "deep" {
		deep(mib)
		return
	}
	p := "a"
	if mib > 0 {
		p = strings.Repeat("a/", mib<<19)
	}
	switch os.Args[1] {
	case "p1":
		_, err := os.Stat("/d/" + p)
		switch {
		case errors.Is(err, syscall.ENAMETOOLONG):
			fmt.Println("name-too-long")
		case errors.Is(err, fs.ErrNotExist):
			fmt.Println("no-entry")
		default:
			fmt.Println(err)
		}
	case "p2":
		switch _, _, code := w.StatAt(preopen(), 0, p); code {
		case nameTooLong:
			fmt.Println("name-too-long")
		case noEntry:
			fmt.Println("no-entry")
		default:
			fmt.Println("code", code)
		}
	}
}

func deep(levels int) {
	d := preopen()
	name := strings.Repeat("x", 255)
	depth, code := 0, -1
	for ; depth < levels; depth++ {
		if code = w.Mkdir(d, name); code >= 0 {
			break
		}
		var next uint32
		if next, code = w.OpenAt(d, 0, name, 0, w.FlagRead|w.FlagMutate); code >= 0 {
			break
		}
		if depth > 0 {
			w.DropDescriptor(d)
		}
		d = next
	}
	fmt.Printf("%d levels down, then %s\n", depth, codeName(code))
	held, code := 0, -1
	for ; held < 200; held++ {
		if _, code = w.OpenAt(d, 0, ".", 0, w.FlagRead); code >= 0 {
			break
		}
	}
	fmt.Printf("%d descriptors there, then %s\n", held, codeName(code))
	fmt.Println("held")
	io.Copy(io.Discard, os.Stdin)
}

func preopen() uint32 {
	for _, pre := range w.Preopens() {
		if pre.Path == "/d" {
			return pre.FD
		}
	}
	panic("no /d")
}

func codeName(code int) string {
	switch code {
	case -1:
		return "ok"
	case nameTooLong:
		return "name-too-long"
	}
	return fmt.Sprint("code ", code)
}

// wasi:filesystem error codes.
const (
	nameTooLong = 18
	noEntry     = 20
)
