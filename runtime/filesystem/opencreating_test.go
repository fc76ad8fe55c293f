package filesystem

import (
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
)

// TestOpenCreatingNameKeptVanishing: an open that may create a name,
// racing a host that makes and removes that name again and again, either
// opens a file or fails; it never reports success without a file (the
// bound on its tries once spent, its error was lost), and when its tries
// run out it fails with busy. Its tries are cut to one, so that the host
// wins the race often: it must win at least once for the test to say
// anything, and it does within a few hundred opens.
func TestOpenCreatingNameKeptVanishing(t *testing.T) {
	defer func(n int) { createTries = n }(createTries)
	createTries = 1
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	q := &diskQuota{limit: 1 << 40, maxFiles: DefaultDiskFiles}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		host := filepath.Join(dir, "f")
		for !stop.Load() {
			if f, err := os.Create(host); err == nil {
				f.Close()
			}
			os.Remove(host)
		}
	}()
	defer func() { stop.Store(true); <-done }()
	busy := 0
	for i := 0; i < 200000 && busy < 3; i++ {
		f, _, err := q.openCreating(root, "f", os.O_RDWR|os.O_CREATE, 0o644)
		switch {
		case err == nil && f == nil:
			t.Fatalf("open %d: no file and no error", i)
		case err != nil && errors.Is(err, syscall.EBUSY):
			busy++
		case err != nil:
			t.Fatalf("open %d: %v", i, err)
		}
		if f != nil {
			f.Close()
		}
	}
	if busy == 0 {
		t.Fatal("the host never removed the name between the open's two tries: nothing was tested")
	}
}
