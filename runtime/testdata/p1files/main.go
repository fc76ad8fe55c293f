// Command p1files uses files through wasi_snapshot_preview1 (the Go
// standard library's os package) under /rw and /ro, including symbolic
// links that lead out of /rw, and prints one line per step.
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
)

func res(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, fs.ErrPermission):
		return "permission"
	case errors.Is(err, fs.ErrNotExist):
		return "not-exist"
	}
	return err.Error()
}

func main() {
	b, err := os.ReadFile("/rw/hello.txt")
	fmt.Printf("read hello.txt: %s %q\n", res(err), b)
	b, err = os.ReadFile("/rw/in")
	fmt.Printf("read in: %s %q\n", res(err), b)
	for _, p := range []string{"/rw/out", "/rw/abs", "/rw/sub/up/secret"} {
		b, err := os.ReadFile(p)
		fmt.Printf("read %s: %s %q\n", p, res(err), b)
	}
	_, err = os.Stat("/rw/out")
	fmt.Printf("stat out: %s\n", res(err))
	fi, err := os.Lstat("/rw/out")
	fmt.Printf("lstat out: %s %v\n", res(err), err == nil && fi.Mode()&fs.ModeSymlink != 0)
	err = os.WriteFile("/rw/out", []byte("overwritten"), 0o644)
	fmt.Printf("write through out: %s\n", res(err))
	err = os.WriteFile("/rw/sub/up/planted", []byte("x"), 0o644)
	fmt.Printf("create through sub/up: %s\n", res(err))
	err = os.Mkdir("/rw/sub/up/dir", 0o755)
	fmt.Printf("mkdir through sub/up: %s\n", res(err))
	err = os.Rename("/rw/hello.txt", "/rw/sub/up/moved")
	fmt.Printf("rename through sub/up: %s\n", res(err))

	err = os.WriteFile("/rw/new.txt", []byte("new"), 0o644)
	fmt.Printf("create new.txt: %s\n", res(err))
	err = os.Rename("/rw/new.txt", "/rw/sub/new.txt")
	fmt.Printf("rename new.txt: %s\n", res(err))
	entries, err := os.ReadDir("/rw/sub")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	fmt.Printf("list sub: %s %s\n", res(err), strings.Join(names, " "))
	fmt.Printf("remove sub/new.txt: %s\n", res(os.Remove("/rw/sub/new.txt")))

	// Links the guest makes itself: a relative symbolic link out is
	// stored but never followed out, an absolute one is refused, a hard
	// link through a link out is refused, and one of a link out links
	// the link, not what it names.
	err = os.Symlink("../secret", "/rw/mine")
	fmt.Printf("symlink mine: %s\n", res(err))
	b, err = os.ReadFile("/rw/mine")
	fmt.Printf("read mine: %s %q\n", res(err), b)
	fmt.Printf("symlink absolute: %s\n", res(os.Symlink("/rw/hello.txt", "/rw/absmine")))
	fmt.Printf("link through sub/up: %s\n", res(os.Link("/rw/sub/up/secret", "/rw/hard")))
	fmt.Printf("link out: %s\n", res(os.Link("/rw/out", "/rw/hard2")))
	b, err = os.ReadFile("/rw/hard2")
	fmt.Printf("read hard2: %s %q\n", res(err), b)
	fmt.Printf("rename mine into sub: %s\n", res(os.Rename("/rw/mine", "/rw/sub/mine")))
	b, err = os.ReadFile("/rw/sub/mine")
	fmt.Printf("read sub/mine: %s %q\n", res(err), b)

	b, err = os.ReadFile("/ro/ro.txt")
	fmt.Printf("read ro.txt: %s %q\n", res(err), b)
	err = os.WriteFile("/ro/ro.txt", []byte("no"), 0o644)
	fmt.Printf("write ro.txt: %v\n", err != nil)
	err = os.Mkdir("/ro/d", 0o755)
	fmt.Printf("mkdir in /ro: %v\n", err != nil)
}
