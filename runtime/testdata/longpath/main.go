// Command longpath stats a path of the given number of MiB ("a/a/a/...",
// or "a" for 0) beneath the preopen /d, through wasi_snapshot_preview1
// (argument p1: Go's os package) or wasi:filesystem (argument p2: raw
// imports), and prints how that ended.
package main

import (
	"errors"
	"fmt"
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
		var d uint32
		for _, pre := range w.Preopens() {
			if pre.Path == "/d" {
				d = pre.FD
			}
		}
		switch _, _, code := w.StatAt(d, 0, p); code {
		case nameTooLong:
			fmt.Println("name-too-long")
		case noEntry:
			fmt.Println("no-entry")
		default:
			fmt.Println("code", code)
		}
	}
}

// wasi:filesystem error codes.
const (
	nameTooLong = 18
	noEntry     = 20
)
