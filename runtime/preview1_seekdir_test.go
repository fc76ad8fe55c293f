package runtime_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestPreview1ReaddirSeekBack: a guest lists a directory of 10,000
// entries (several 64 KiB chunks) through buffers of 300 KiB and of 4 KiB,
// noting each entry's cookie, and then continues from cookies of earlier
// calls and chunks (seekdir(3) to what telldir(3) said), through both
// buffer sizes: each time it reads the entries from that cookie on, as
// the first listing had them. Before, wazero answered any cookie before
// the entries it kept from its last call with ENOENT (44).
func TestPreview1ReaddirSeekBack(t *testing.T) {
	dir := t.TempDir()
	const entries = 10000
	for i := range entries {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("entry-%06d", i)))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	ctx := context.Background()
	mem, fn := readdirInstance(t, dir)
	const bufused = 0 // the buffers start at 8

	// read reads one buffer of bufLen bytes from cookie: the names whole
	// in it, the cookie after each, and whether the directory ended.
	read := func(bufLen uint32, cookie uint64) (names []string, cookies []uint64, end bool) {
		t.Helper()
		res, err := fn.Call(ctx, 3, 8, uint64(bufLen), cookie, bufused)
		if err != nil {
			t.Fatal(err)
		}
		if res[0] != 0 {
			t.Fatalf("fd_readdir(%d bytes, cookie %d): errno %d", bufLen, cookie, res[0])
		}
		used, _ := mem.ReadUint32Le(bufused)
		b, _ := mem.Read(8, used)
		for len(b) >= 24 {
			next := binary.LittleEndian.Uint64(b)
			namlen := binary.LittleEndian.Uint32(b[16:])
			if uint64(len(b)) < 24+uint64(namlen) {
				break
			}
			names = append(names, string(b[24:24+namlen]))
			cookies = append(cookies, next)
			b = b[24+namlen:]
		}
		return names, cookies, used < bufLen
	}
	// list reads from cookie to the end of the directory.
	list := func(bufLen uint32, cookie uint64) ([]string, []uint64) {
		t.Helper()
		var names []string
		var cookies []uint64
		for {
			n, c, end := read(bufLen, cookie)
			names, cookies = append(names, n...), append(cookies, c...)
			if end {
				return names, cookies
			}
			if len(c) > 0 {
				cookie = c[len(c)-1]
			}
		}
	}
	all, cookies := list(300<<10, 0)
	if len(all) != entries+2 {
		t.Fatalf("listed %d names, want %d", len(all), entries+2)
	}
	if small, _ := list(4096, 0); !slices.Equal(small, all) {
		t.Fatal("the listing through 4 KiB buffers differs from the one through 300 KiB buffers")
	}
	// The descriptor's last call ended at the directory's end: every
	// cookie below lies before what wazero keeps.
	for _, i := range []int{0, 100, 2500, 5000, 7777, entries} {
		for _, bufLen := range []uint32{300 << 10, 4096, 24} {
			got, _, _ := read(bufLen, cookies[i])
			if len(got) == 0 && bufLen > 64 {
				t.Errorf("from cookie %d through %d bytes: no entries", cookies[i], bufLen)
				continue
			}
			if !slices.Equal(got, all[i+1:i+1+len(got)]) {
				t.Errorf("from cookie %d through %d bytes: %d entries from %q, want them from %q",
					cookies[i], bufLen, len(got), got[0], all[i+1])
			}
		}
		if rest, _ := list(4096, cookies[i]); !slices.Equal(rest, all[i+1:]) {
			t.Errorf("from cookie %d to the end: %d entries, want %d", cookies[i], len(rest), len(all)-i-1)
		}
	}
	// Beyond the end: ENOENT, as before.
	if res, err := fn.Call(ctx, 3, 8, 4096, uint64(entries+10), bufused); err != nil || res[0] != 44 {
		t.Errorf("a cookie beyond the end: %v, errno %v; want ENOENT (44)", err, res)
	}
}
