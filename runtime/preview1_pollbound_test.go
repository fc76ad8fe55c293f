package runtime_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
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
	const pages = 1024 // 64 MiB
	inst, fd := pollerOfFile(t, pages)
	mod := inst.Module()
	mem := mod.Memory()
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

// TestPreview1PollRegularFileReady: a wasm guest with a standard input
// that never has data polls (poll_oneoff) for reading a regular file it
// opened, and its preopened directory, alone, beside standard input, and
// beside a clock of an hour: each poll answers at once, with an event
// for the file or directory subscriptions only, the subscriptions as the
// guest wrote them. Before, wazero waited on standard input for a
// descriptor not in non-blocking mode, a regular file's included: the
// poll waited until the guest was closed.
func TestPreview1PollRegularFileReady(t *testing.T) {
	inst, fd := pollerOfFile(t, 1)
	mod := inst.Module()
	mem := mod.Memory()
	sub := func(userData uint64, kind byte, fd uint32, ns uint64) []byte {
		b := make([]byte, 48)
		binary.LittleEndian.PutUint64(b, userData)
		b[8] = kind
		binary.LittleEndian.PutUint32(b[16:], fd)
		binary.LittleEndian.PutUint64(b[24:], ns) // a clock's timeout
		return b
	}
	const hour = uint64(time.Hour)
	for _, tc := range []struct {
		name  string
		subs  [][]byte
		ready []uint64 // user data of the events
	}{
		{"file", [][]byte{sub(7, 1, fd, 0)}, []uint64{7}},
		{"directory", [][]byte{sub(8, 1, 3, 0)}, []uint64{8}},
		{"stdin and file", [][]byte{sub(1, 1, 0, 0), sub(2, 1, fd, 0)}, []uint64{2}},
		{"clock, stdin, file, directory", [][]byte{sub(1, 0, 0, hour), sub(2, 1, 0, 0), sub(3, 1, fd, 0), sub(4, 1, 3, 0)}, []uint64{3, 4}},
	} {
		const in, out, nevents = 1024, 4096, 64
		var subs []byte
		for _, s := range tc.subs {
			subs = append(subs, s...)
		}
		mem.Write(in, subs)
		done := make(chan []uint64, 1)
		go func() {
			res, err := mod.ExportedFunction("poll_oneoff").Call(inst.Context(), in, out, uint64(len(tc.subs)), nevents)
			if err != nil {
				t.Errorf("%s: poll_oneoff: %v", tc.name, err)
			}
			done <- res
		}()
		select {
		case res := <-done:
			if len(res) != 1 || res[0] != 0 {
				t.Errorf("%s: poll_oneoff = %v, want errno 0", tc.name, res)
				continue
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: poll_oneoff of a regular file still waits for standard input after 10 s", tc.name)
		}
		n, _ := mem.ReadUint32Le(nevents)
		var got []uint64
		for i := range n {
			ev, _ := mem.Read(out+i*32, 32)
			if errno, kind := binary.LittleEndian.Uint16(ev[8:]), ev[10]; errno != 0 || kind != 1 {
				t.Errorf("%s: event %d: errno %d, type %d; want 0, fd_read", tc.name, i, errno, kind)
			}
			got = append(got, binary.LittleEndian.Uint64(ev))
		}
		if !slices.Equal(got, tc.ready) {
			t.Errorf("%s: events for %v, want %v", tc.name, got, tc.ready)
		}
		if back, _ := mem.Read(in, uint32(len(subs))); !bytes.Equal(back, subs) {
			t.Errorf("%s: the subscriptions changed", tc.name)
		}
	}
}

// pollerOfFile is a forwarder of path_open and poll_oneoff of pages pages
// whose standard input never has data, with the regular file it opened
// beneath its preopen (descriptor 3).
func pollerOfFile(t *testing.T, pages int) (*runtime.Instance, uint32) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdin, silent := io.Pipe()
	t.Cleanup(func() { silent.Close() })
	inst := forwarderPages(t, pages, runtime.Config{},
		runtime.ModuleConfig{Stdin: stdin, Dirs: []runtime.Dir{{Host: dir, Guest: "/d"}}},
		"path_open", "poll_oneoff")
	mem := inst.Module().Memory()
	mem.Write(0, []byte("f"))
	if res, err := inst.Module().ExportedFunction("path_open").Call(inst.Context(), 3, 0, 0, 1, 0, 1<<1, 0, 0, 16); err != nil || res[0] != 0 {
		t.Fatalf("path_open: %v %v", res, err)
	}
	fd, _ := mem.ReadUint32Le(16)
	return inst, fd
}
