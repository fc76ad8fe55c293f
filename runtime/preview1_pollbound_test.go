package runtime_test

import (
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/capreport/capreporttest"
	"github.com/wasitls/wasitls/runtime"
)

// TestPreview1PollSubscriptionsBound: a wasm guest of 64 MiB, with a
// standard input that never has data, polls (poll_oneoff) for reading a
// regular file it opened, 838,809 times in one call: it gets inval at
// once and the host holds nothing more. wazero waits on standard input
// for a subscription on a descriptor not in non-blocking mode, a regular
// file's included, and allocates some 56 bytes for each, held while it
// waits: before, the call waited, the host's heap 46 MiB larger, until
// the guest was closed. DefaultPollSubscriptions clock subscriptions of no
// time still poll.
func TestPreview1PollSubscriptionsBound(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdin, silent := io.Pipe()
	defer silent.Close()
	const pages = 1024 // 64 MiB
	inst := forwarderPages(t, pages, runtime.Config{},
		runtime.ModuleConfig{Stdin: stdin, Dirs: []runtime.Dir{{Host: dir, Guest: "/d"}}},
		"path_open", "poll_oneoff")
	mod := inst.Module()
	mem := mod.Memory()
	mem.Write(0, []byte("f"))
	if res, err := mod.ExportedFunction("path_open").Call(inst.Context(), 3, 0, 0, 1, 0, 1<<1, 0, 0, 16); err != nil || res[0] != 0 {
		t.Fatalf("path_open: %v %v", res, err)
	}
	fd, _ := mem.ReadUint32Le(16)
	const in = 4096
	subs := func(n uint32, sub []byte) uint32 {
		buf := make([]byte, n*48)
		for i := range n {
			copy(buf[i*48:], sub)
		}
		mem.Write(in, buf)
		return in + n*48
	}
	read := make([]byte, 48)
	read[8] = 1 // fd_read
	binary.LittleEndian.PutUint32(read[16:], fd)
	n := uint32(pages<<16-in) / (48 + 32)
	out := subs(n, read)
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	done := make(chan uint64, 1)
	go func() {
		res, err := mod.ExportedFunction("poll_oneoff").Call(inst.Context(), in, uint64(out), uint64(n), 64)
		if err != nil {
			done <- 1 << 32
			return
		}
		done <- res[0]
	}()
	select {
	case errno := <-done:
		if errno != 28 {
			t.Errorf("poll_oneoff of %d subscriptions: errno %d, want inval (28)", n, errno)
		}
	case <-time.After(5 * time.Second):
		goruntime.GC()
		goruntime.ReadMemStats(&after)
		t.Errorf("poll_oneoff of %d subscriptions of a regular file still waits after 5 s, the host's heap %d MiB larger",
			n, (int64(after.HeapInuse)-int64(before.HeapInuse))>>20)
		inst.Close(inst.Context())
		<-done
		return
	}
	goruntime.GC()
	goruntime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 8<<20 {
		t.Errorf("the host's heap grew %d MiB", grew>>20)
	}
	clock := make([]byte, 48)
	binary.LittleEndian.PutUint32(clock[16:], 1) // monotonic, 0 ns, relative
	out = subs(runtime.DefaultPollSubscriptions, clock)
	res, err := mod.ExportedFunction("poll_oneoff").Call(inst.Context(), in, uint64(out), runtime.DefaultPollSubscriptions, 64)
	if err != nil || res[0] != 0 {
		t.Errorf("poll_oneoff of %d clock subscriptions: %v %v", runtime.DefaultPollSubscriptions, res, err)
	}
	if got, _ := mem.ReadUint32Le(64); got != runtime.DefaultPollSubscriptions {
		t.Errorf("poll_oneoff of %d clock subscriptions: %d events", runtime.DefaultPollSubscriptions, got)
	}
}

// TestPreview1PollSubscriptionsLimit: Limits.PollSubscriptions bounds
// one poll_oneoff: a wasm guest under a limit of 100 polls 100 clock
// subscriptions, and gets inval for 101, twice, which logs one record
// naming the flag (capreport).
func TestPreview1PollSubscriptionsLimit(t *testing.T) {
	const limit = 100
	log, rec := capreporttest.New()
	inst := forwarderPages(t, 1, runtime.Config{Logger: log, Limits: runtime.Limits{PollSubscriptions: limit}},
		runtime.ModuleConfig{}, "poll_oneoff")
	mod := inst.Module()
	clock := make([]byte, 48)
	binary.LittleEndian.PutUint32(clock[16:], 1) // monotonic, 0 ns, relative
	const in, out = 1024, 1024 + (limit+1)*48
	for i := range limit + 1 {
		mod.Memory().Write(in+uint32(i)*48, clock)
	}
	poll := func(n uint64) uint64 {
		t.Helper()
		res, err := mod.ExportedFunction("poll_oneoff").Call(inst.Context(), in, out, n, 64)
		if err != nil {
			t.Fatalf("poll_oneoff of %d clock subscriptions: %v", n, err)
		}
		return res[0]
	}
	if errno := poll(limit); errno != 0 {
		t.Errorf("poll_oneoff of %d clock subscriptions under a limit of %d: errno %d", limit, limit, errno)
	} else if got, _ := mod.Memory().ReadUint32Le(64); got != limit {
		t.Errorf("poll_oneoff of %d clock subscriptions: %d events", limit, got)
	}
	for range 2 {
		if errno := poll(limit + 1); errno != 28 {
			t.Errorf("poll_oneoff of %d subscriptions under a limit of %d: errno %d, want inval (28)", limit+1, limit, errno)
		}
	}
	if err := rec.Check("--max-poll-subscriptions", limit, 1); err != nil {
		t.Error(err)
	}
}
