// Command fstest exercises package wasifs inside a guest; the host-side
// tests in package wasifs drive it. Each mode works on the preopen the
// guest knows as its first argument:
//
//	preopens          print every preopen's name
//	testfs DIR        run testing/fstest.TestFS on DIR's "tree"
//	read DIR          read, list and stat beneath DIR
//	write DIR         create, write, read at, append, seek, rename and remove
//	                  beneath DIR, a 1 MiB file included
//	escape DIR        try to leave DIR: "..", an absolute path, a symbolic
//	                  link pointing out ("link-out"); print each error
//	readonly DIR      try to change DIR, a read-only preopen; print each
//	                  error
//	churn DIR N       N times: write, read, stat, list and remove beneath
//	                  DIR, reading part of a file and closing it early;
//	                  print "churned N"
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"testing/fstest"

	wasifs "github.com/wasitls/wasitls/guest/fs"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fstest:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if args[0] == "preopens" {
		for _, d := range wasifs.Preopens() {
			fmt.Println(d.Name())
		}
		return nil
	}
	d := wasifs.Preopen(args[1])
	if d == nil {
		return fmt.Errorf("no preopen %s", args[1])
	}
	switch args[0] {
	case "testfs":
		sub, err := fs.Sub(d, "tree")
		if err != nil {
			return err
		}
		if err := fstest.TestFS(sub, "a.txt", "sub/b.txt", "sub/empty"); err != nil {
			return err
		}
		fmt.Println("testfs ok")
		return nil
	case "read":
		return read(d)
	case "write":
		return write(d)
	case "escape":
		return escape(d)
	case "readonly":
		return readonly(d)
	case "closeread":
		return closeRead(d)
	case "churn":
		n, err := strconv.Atoi(args[2])
		if err != nil {
			return err
		}
		return churn(d, n)
	case "writes":
		n, err := strconv.Atoi(args[2])
		if err != nil {
			return err
		}
		return writes(d, n)
	}
	return errors.New("unknown mode " + args[0])
}

func read(d *wasifs.Dir) error {
	b, err := d.ReadFile("tree/a.txt")
	if err != nil {
		return err
	}
	fmt.Printf("a.txt %q\n", b)
	list, err := d.ReadDir("tree")
	if err != nil {
		return err
	}
	for _, e := range list {
		fmt.Printf("entry %s dir=%v\n", e.Name(), e.IsDir())
	}
	fi, err := d.Stat("tree/sub/b.txt")
	if err != nil {
		return err
	}
	fmt.Printf("stat %s size=%d dir=%v\n", fi.Name(), fi.Size(), fi.IsDir())
	_, err = d.Stat("tree/missing")
	fmt.Printf("missing not-exist=%v\n", errors.Is(err, fs.ErrNotExist))
	f, err := d.Open("tree/a.txt")
	if err != nil {
		return err
	}
	buf := make([]byte, 3)
	n, err := f.(io.ReaderAt).ReadAt(buf, 1)
	fmt.Printf("readat %q %v\n", buf[:n], err)
	f.Close()
	_, err = f.Read(buf)
	fmt.Printf("read after close closed=%v\n", errors.Is(err, fs.ErrClosed))
	return nil
}

func write(d *wasifs.Dir) error {
	if err := d.WriteFile("new.txt", []byte("written by the guest"), 0o644); err != nil {
		return err
	}
	f, err := d.Create("rw.txt")
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, "hello, world"); err != nil {
		return err
	}
	if err := readAtAfterWrite(d); err != nil {
		return err
	}
	if _, err := f.Seek(7, io.SeekStart); err != nil {
		return err
	}
	if _, err := io.WriteString(f, "WASI!"); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	fmt.Printf("rw.txt %q size=%d\n", b, fi.Size())
	if err := f.Close(); err != nil {
		return err
	}

	a, err := d.OpenFile("new.txt", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(a, ", appended"); err != nil {
		return err
	}
	if err := a.Close(); err != nil {
		return err
	}
	b, err = d.ReadFile("new.txt")
	if err != nil {
		return err
	}
	fmt.Printf("new.txt %q\n", b)
	if err := appendOffset(d); err != nil {
		return err
	}

	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	if err := d.WriteFile("big.bin", big, 0o644); err != nil {
		return err
	}
	got, err := d.ReadFile("big.bin")
	if err != nil {
		return err
	}
	fmt.Printf("big.bin %d bytes equal=%v\n", len(got), bytes.Equal(got, big))
	if err := otherHandleSees(d, big); err != nil {
		return err
	}

	_, err = d.OpenFile("new.txt", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	fmt.Printf("exclusive exist=%v\n", errors.Is(err, fs.ErrExist))

	if err := d.Mkdir("dir", 0o755); err != nil {
		return err
	}
	if err := d.WriteFile("dir/x", []byte("x"), 0o644); err != nil {
		return err
	}
	fmt.Printf("remove non-empty exist=%v\n", errors.Is(d.Remove("dir"), fs.ErrExist))
	if err := d.Rename("dir/x", "moved"); err != nil {
		return err
	}
	if err := d.Remove("dir"); err != nil {
		return err
	}
	if err := d.Remove("rw.txt"); err != nil {
		return err
	}
	_, err = d.Stat("rw.txt")
	fmt.Printf("removed not-exist=%v\n", errors.Is(err, fs.ErrNotExist))
	return nil
}

// appendOffset writes to a file opened with os.O_APPEND and prints where
// the offset is then, and what a Read from it gets: as with an *os.File,
// the end of the file, and io.EOF.
func appendOffset(d *wasifs.Dir) error {
	if err := d.WriteFile("app.txt", []byte("abcde"), 0o644); err != nil {
		return err
	}
	f, err := d.OpenFile("app.txt", os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.WriteString(f, "XY"); err != nil {
		return err
	}
	pos, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	n, rerr := f.Read(make([]byte, 8))
	if _, err := io.WriteString(f, "Z"); err != nil {
		return err
	}
	n2, rerr2 := f.Read(make([]byte, 8))
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	all, err := io.ReadAll(f)
	fmt.Printf("append offset %d read %d %v, again %d %v, all %q %v\n", pos, n, rerr, n2, rerr2, all, err)
	return d.Remove("app.txt")
}

// readAtAfterWrite writes a file 20 times, a few bytes and 256 KiB, and
// reads back what each Write wrote with ReadAt at once, as with an
// *os.File; it prints how many of the reads saw the whole Write.
func readAtAfterWrite(d *wasifs.Dir) error {
	seen := 0
	for i := range 20 {
		f, err := d.Create("readat.bin")
		if err != nil {
			return err
		}
		data := bytes.Repeat([]byte{byte('a' + i)}, 5+(i%2)*(256<<10))
		if _, err := f.Write(data); err != nil {
			return err
		}
		got := make([]byte, len(data))
		n, _ := f.ReadAt(got, 0)
		if bytes.Equal(got[:n], data) {
			seen++
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	fmt.Printf("readat after write %d/20\n", seen)
	return d.Remove("readat.bin")
}

func escape(d *wasifs.Dir) error {
	_, err := d.Open("../secret")
	fmt.Printf("open ../secret invalid=%v\n", errors.Is(err, fs.ErrInvalid))
	_, err = d.Open("/secret")
	fmt.Printf("open /secret invalid=%v\n", errors.Is(err, fs.ErrInvalid))
	report := func(what string, err error) {
		fmt.Printf("%s permission=%v: %v\n", what, errors.Is(err, fs.ErrPermission), err)
	}
	_, err = d.OpenFile("../secret", os.O_RDONLY, 0)
	report("openfile ../secret", err)
	_, err = d.OpenFile("tree/../../secret", os.O_RDONLY, 0)
	report("openfile tree/../../secret", err)
	_, err = d.OpenFile("/etc/passwd", os.O_RDONLY, 0)
	report("openfile /etc/passwd", err)
	_, err = d.ReadFile("link-out")
	report("readfile link-out", err)
	_, err = d.Stat("link-out")
	report("stat link-out", err)
	report("writefile link-out", d.WriteFile("link-out", []byte("pwned"), 0o644))
	report("writefile ../evil", d.WriteFile("../evil", []byte("pwned"), 0o644))
	report("mkdir ../evil", d.Mkdir("../evil", 0o755))
	// The host may let the link be made; it never lets it be followed.
	d.Symlink("..", "up")
	_, err = d.ReadFile("up/secret")
	report("readfile up/secret", err)
	return nil
}

func readonly(d *wasifs.Dir) error {
	b, err := d.ReadFile("tree/a.txt")
	fmt.Printf("read %q %v\n", b, err)
	report := func(what string, err error) {
		fmt.Printf("%s permission=%v: %v\n", what, errors.Is(err, fs.ErrPermission), err)
	}
	report("writefile", d.WriteFile("new.txt", []byte("x"), 0o644))
	_, err = d.OpenFile("tree/a.txt", os.O_RDWR, 0)
	report("openfile rdwr", err)
	report("mkdir", d.Mkdir("dir", 0o755))
	report("remove", d.Remove("tree/a.txt"))
	report("rename", d.Rename("tree/a.txt", "b.txt"))
	return nil
}

func churn(d *wasifs.Dir, n int) error {
	for i := range n {
		name := fmt.Sprintf("f%d", i%3)
		if err := d.WriteFile(name, []byte("some data"), 0o644); err != nil {
			return err
		}
		if _, err := d.ReadFile(name); err != nil {
			return err
		}
		if _, err := d.ReadDir("."); err != nil {
			return err
		}
		f, err := d.Open(name)
		if err != nil {
			return err
		}
		if _, err := f.Read(make([]byte, 2)); err != nil {
			return err
		}
		if _, err := f.(*wasifs.File).ReadDir(1); err == nil {
			return errors.New("ReadDir on a file")
		}
		dir, err := d.Open(".")
		if err != nil {
			return err
		}
		if _, err := dir.(fs.ReadDirFile).ReadDir(1); err != nil {
			return err
		}
		dir.Close()
		f.Close()
		if i%2 == 0 {
			if err := d.Remove(name); err != nil {
				return err
			}
		}
	}
	fmt.Printf("churned %d\n", n)
	return nil
}

// closeRead closes a file from another goroutine while a Read on it waits
// for the host's read stream (a fresh stream has nothing yet: the Read
// parks on the poller), 20 times: each Read ends with fs.ErrClosed, or
// with its data if the stream was ready first, but at least one must have
// been interrupted (a Close waiting behind the Read, as it did when the
// Read held the File's lock through its wait, lets every Read finish),
// and each Close returns nil.
func closeRead(d *wasifs.Dir) error {
	counts := map[string]int{}
	for range 20 {
		f, err := d.Open("big.bin")
		if err != nil {
			return err
		}
		start := make(chan struct{})
		closed := make(chan error)
		go func() {
			<-start
			closed <- f.Close()
		}()
		close(start)
		b := make([]byte, 64<<10)
		n, err := f.Read(b)
		cerr := <-closed
		switch {
		case errors.Is(err, fs.ErrClosed):
			counts["closed"]++
		case err == nil && n > 0:
			counts["data"]++
		default:
			return fmt.Errorf("read: %d, %v", n, err)
		}
		if cerr != nil {
			return fmt.Errorf("close: %v", cerr)
		}
	}
	if counts["closed"] == 0 {
		return fmt.Errorf("no Read was interrupted by Close: %v", counts)
	}
	fmt.Println("closeread ok")
	return nil
}

// otherHandleSees writes big through one File and, at once, reads the
// file's size and its bytes through another: as with an *os.File, what
// a Write returned for is in the file.
func otherHandleSees(d *wasifs.Dir, big []byte) error {
	w, err := d.Create("shared.bin")
	if err != nil {
		return err
	}
	defer w.Close()
	r, err := d.Open("shared.bin")
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := w.Write(big); err != nil {
		return err
	}
	fi, err := r.Stat()
	if err != nil {
		return err
	}
	got, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	fmt.Printf("other handle size %v read %v\n", fi.Size() == int64(len(big)), bytes.Equal(got, big))
	return nil
}

// writes makes writes.txt and writes it n times a byte, through one File.
func writes(d *wasifs.Dir, n int) error {
	f, err := d.Create("writes.txt")
	if err != nil {
		return err
	}
	for range n {
		if _, err := f.Write([]byte{'w'}); err != nil {
			return err
		}
	}
	return f.Close()
}
