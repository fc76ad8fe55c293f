package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/capreport/capreporttest"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
)

// The tests of this file: a wasm guest that crosses a cap twice (or more)
// has Config.Logger get one record naming the cap's flag, field and value
// and the guest (capreport); a guest that stays under it, none. Before,
// most of these caps told only the guest, with an error naming no cap
// (temporary-resolver-failure, EDQUOT, new-socket-limit), and the
// operator learned nothing.

// TestCapReportSockets: a guest creating sockets past Limits.Sockets, and
// once more after the refusal.
func TestCapReportSockets(t *testing.T) {
	log, rec := capreporttest.New()
	rt, compiled := hogRuntimeConfig(t, runtime.Config{Logger: log, Limits: runtime.Limits{Sockets: 3}})
	if stdout, _, err := runHog(rt, compiled, runtime.Limits{}, "sockets", "3"); err != nil || lastLine(stdout) != "sockets 3" {
		t.Fatalf("guest under the cap: %q, %v", stdout, err)
	}
	if err := rec.Check("--max-sockets", 3, 0); err != nil {
		t.Errorf("a guest under the cap: %v", err)
	}
	stdout, stderr, err := runHog(rt, compiled, runtime.Limits{}, "sockets", "100")
	if want := fmt.Sprintf("again: error %d", sockets.NewSocketLimit); err != nil || lastLine(stdout) != fmt.Sprintf("socket 4: error %d", sockets.NewSocketLimit) || lastLine(stderr) != want {
		t.Fatalf("guest: %q, %q, %v; want the cap crossed twice", lastLine(stdout), lastLine(stderr), err)
	}
	if err := rec.Check("--max-sockets", 3, 1); err != nil {
		t.Error(err)
	}
}

// TestCapReportLookups: a guest starting lookups a silent DNS server on
// loopback never answers, past Limits.Lookups, and once more after the
// refusal.
func TestCapReportLookups(t *testing.T) {
	silent := testnet.ServeUDP(t, func([]byte) []byte { return nil })
	policy := &sockets.Policy{}
	if err := policy.AllowConnect("*.silent.test:443"); err != nil {
		t.Fatal(err)
	}
	resolver := testnet.SilentResolver(silent)
	log, rec := capreporttest.New()
	rt, compiled := hogRuntimeConfig(t, runtime.Config{Network: policy, Resolver: resolver, Logger: log, Limits: runtime.Limits{Lookups: 3}})
	if stdout, _, err := runHog(rt, compiled, runtime.Limits{}, "lookups", "3", "u%d.silent.test"); err != nil || lastLine(stdout) != "lookups 3" {
		t.Fatalf("guest under the cap: %q, %v", stdout, err)
	}
	if err := rec.Check("--max-lookups", 3, 0); err != nil {
		t.Errorf("a guest under the cap: %v", err)
	}
	stdout, stderr, err := runHog(rt, compiled, runtime.Limits{}, "lookups", "100", "n%d.silent.test")
	if want := fmt.Sprintf("again: error %d", sockets.TemporaryResolverFailure); err != nil || lastLine(stderr) != want {
		t.Fatalf("guest: %q, %q, %v; want the cap crossed twice", lastLine(stdout), lastLine(stderr), err)
	}
	if err := rec.Check("--max-lookups", 3, 1); err != nil {
		t.Error(err)
	}
}

// TestCapReportLookupAddrs: a guest holding, unread, the answers of five
// lookups of 64 addresses each past Limits.LookupAddrs of 40: the first
// answer is cut to 40, the other four get none.
func TestCapReportLookupAddrs(t *testing.T) {
	server, _ := grantsDNS(t, false)
	policy := &sockets.Policy{}
	if err := policy.AllowConnect("*.addrs.test:443"); err != nil {
		t.Fatal(err)
	}
	resolver := testnet.Resolver(server)
	log, rec := capreporttest.New()
	rt, compiled := hogRuntimeConfig(t, runtime.Config{Network: policy, Resolver: resolver, Logger: log})
	hold := func(lim runtime.Limits) {
		t.Helper()
		var stdout bytes.Buffer
		_, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{
			Args:   []string{"hog", "hold", "5", "n%d.addrs.test"},
			Stdin:  strings.NewReader(""),
			Stdout: &stdout, Limits: lim,
		})
		if err != nil || lastLine(stdout.String()) != "held 5" {
			t.Fatalf("guest with %+v: %q, %v", lim, stdout.String(), err)
		}
	}
	hold(runtime.Limits{}) // 320 addresses, under the default
	if err := rec.Check("--max-lookup-addrs", 40, 0); err != nil {
		t.Errorf("a guest under the cap: %v", err)
	}
	hold(runtime.Limits{LookupAddrs: 40})
	if err := rec.Check("--max-lookup-addrs", 40, 1); err != nil {
		t.Error(err)
	}
}

// TestCapReportDisk: a preview1 guest growing files past Limits.DiskFiles
// (twice) has the record name --max-disk-files, not --max-disk-bytes,
// though both answer it EDQUOT; one writing past Limits.DiskBytes (many
// times) has one naming --max-disk-bytes.
func TestCapReportDisk(t *testing.T) {
	ctx := context.Background()
	log, rec := capreporttest.New()
	rt, compiled := guestRuntime(t, runtime.Config{Logger: log, Limits: runtime.Limits{DiskBytes: 1 << 20, DiskFiles: 100}}, "./testdata/diskquota")
	run := func(api string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		mod, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
			Args:   []string{"diskquota", api},
			Stdout: &stdout, Stderr: &stderr,
			Dirs: []runtime.Dir{{Host: t.TempDir(), Guest: "/rw"}},
		})
		if err != nil {
			t.Fatalf("%s: %v\nstdout:\n%s\nstderr: %s", api, err, stdout.String(), stderr.String())
		}
		mod.Close(ctx)
		return stdout.String()
	}
	if out := run("files-p1"); !strings.Contains(out, "100 grown, then quota\ngrow another: quota\n") {
		t.Fatalf("files-p1: %s", out)
	}
	if err := rec.Check("--max-disk-files", 100, 1); err != nil {
		t.Error(err)
	}
	log, rec = capreporttest.New()
	rt, compiled = guestRuntime(t, runtime.Config{Logger: log, Limits: runtime.Limits{DiskBytes: 1 << 20}}, "./testdata/diskquota")
	if out := run("p1"); strings.Count(out, "quota") < 2 {
		t.Fatalf("p1: %s, want the quota crossed twice or more", out)
	}
	if err := rec.Check("--max-disk-bytes", 1<<20, 1); err != nil {
		t.Error(err)
	}
}

// TestCapReportHandles: past Limits.Handles the guest's call traps (no
// WIT function has an error case for it), which ends the guest: each
// guest that crosses it gets its one record, naming it, and a guest under
// it none.
func TestCapReportHandles(t *testing.T) {
	log, rec := capreporttest.New()
	rt, compiled := hogRuntimeConfig(t, runtime.Config{Logger: log, Limits: runtime.Limits{Handles: 10}})
	if stdout, _, err := runHog(rt, compiled, runtime.Limits{}, "pollables", "5"); err != nil || lastLine(stdout) != "pollables 5" {
		t.Fatalf("guest under the cap: %q, %v", stdout, err)
	}
	if err := rec.Check("--max-handles", 10, 0); err != nil {
		t.Errorf("a guest under the cap: %v", err)
	}
	for i := 1; i <= 2; i++ {
		var trap *cabi.Trap
		if _, _, err := runHog(rt, compiled, runtime.Limits{}, "pollables", "100"); !errors.As(err, &trap) {
			t.Fatalf("guest %d: %v, want the limit's trap", i, err)
		}
		if err := rec.Check("--max-handles", 10, i); err != nil {
			t.Errorf("after guest %d: %v", i, err)
		}
	}
}

// TestCapReportLoggerPanics: a Config.Logger that panics on the record
// costs the record, not the process; the guest goes on, and crossing the
// cap again tries no other record.
func TestCapReportLoggerPanics(t *testing.T) {
	var log bytes.Buffer
	rt, compiled := hogRuntimeConfig(t, runtime.Config{Logger: slog.New(panickyHandler{slog.NewTextHandler(&log, nil)}), Limits: runtime.Limits{Sockets: 3}})
	stdout, stderr, err := runHog(rt, compiled, runtime.Limits{}, "sockets", "100")
	if err != nil || lastLine(stdout) != fmt.Sprintf("socket 4: error %d", sockets.NewSocketLimit) || !strings.HasPrefix(lastLine(stderr), "again:") {
		t.Fatalf("guest: %q, %q, %v", lastLine(stdout), lastLine(stderr), err)
	}
	if n := strings.Count(log.String(), "flag=--max-sockets"); n != 1 {
		t.Errorf("the logger got %d records, want 1:\n%s", n, log.String())
	}
}

// TestCapReportMemory: a guest allocating past Limits.MemoryPages has its
// memory.grow refused (-1), and the Go guest dies out of memory: one
// record names --max-memory with the limit in pages.
func TestCapReportMemory(t *testing.T) {
	log, rec := capreporttest.New()
	rt, compiled := hogRuntimeConfig(t, runtime.Config{Logger: log, Limits: runtime.Limits{MemoryPages: 1024}})
	if stdout, _, err := runHog(rt, compiled, runtime.Limits{}, "alloc", "16"); err != nil || !strings.Contains(stdout, "allocated 16 MiB") {
		t.Fatalf("guest under the cap: %q, %v", stdout, err)
	}
	if err := rec.Check("--max-memory", 1024, 0); err != nil {
		t.Errorf("a guest under the cap: %v", err)
	}
	if _, stderr, err := runHog(rt, compiled, runtime.Limits{}, "alloc", "0"); err == nil || !strings.Contains(stderr, "out of memory") {
		t.Fatalf("guest: %v, stderr %q; want it out of memory", err, tail(stderr))
	}
	if err := rec.Check("--max-memory", 1024, 1); err != nil {
		t.Error(err)
	}
}
