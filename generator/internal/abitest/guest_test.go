package abitest

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/generator/internal/kitchen/test/kitchen/echo"
	"github.com/wasitls/wasitls/internal/guestbuild"
)

// TestGeneratedGuestRoundTrip runs testdata/genguest, which calls every
// import of the test WIT through the guest bindings wit2host -guest
// generated (internal/kitchenguest), against the generated host bindings:
// generated code on both sides. The guest checks every echoed value; the
// host checks what it lifted for the compound values, and that the guest
// left no handle behind.
func TestGeneratedGuestRoundTrip(t *testing.T) {
	e := newEnv(t)
	mod := e.compileGuest(t, "./testdata/genguest")
	out, inst, err := e.run(mod, "roundtrip", false)
	if err != nil || !strings.HasPrefix(out, "ok") {
		t.Fatalf("guest failed: %v\n%s", err, out)
	}
	type tu2 = cabi.Tuple2[uint8, int64]
	want := map[string]any{
		"prims": []any{echo.Prims{
			B: true, VS8: math.MinInt8, VU8: math.MaxUint8, VS16: math.MinInt16, VU16: math.MaxUint16,
			VS32: math.MinInt32, VU32: math.MaxUint32, VS64: math.MinInt64, VU64: math.MaxUint64,
			VF32: -1.5, VF64: math.MaxFloat64, C: '😀', S: "prïms",
		}},
		"items": []any{[]echo.Item{
			{A: cabi.Some("ä"), B: []tu2{{F0: 1, F1: -1}, {F0: 255, F1: math.MinInt64}}},
			{A: cabi.None[string](), B: []tu2{}},
			{A: cabi.Some(""), B: []tu2{{F0: 0, F1: math.MaxInt64}}},
		}},
		"point": []any{echo.Point{X: math.MinInt32, Y: math.MaxInt32}},
		"tuple": []any{cabi.Tuple3[uint8, string, float64]{F0: 255, F1: "tüple", F2: -0.5}},
		"bytes": []any{65536, 0},
		// list<own<counter>>: three moved in, none.
		"take-all": []any{3, 0},
	}
	for k, w := range want {
		if got := any(e.h.got[k]); !reflect.DeepEqual(got, w) {
			t.Errorf("host lifted %s = %#v, want %#v", k, got, w)
		}
	}
	if got := e.h.got["string"]; len(got) != 4 || got[2] != "héllo 😀 世界" {
		t.Errorf("host lifted strings %q", got)
	}
	if n := inst.Table().Len(); n != 0 {
		t.Errorf("table holds %d handles after the guest, want 0", n)
	}
	if n := e.h.live.Load(); n != 0 {
		t.Errorf("%d live resources after the guest, want 0", n)
	}
}

// TestGeneratedGuestLoweringAllocatesNothing pins that the generated guest
// bindings lower a list of lists (total-len's list<list<u8>>, the shape of
// wasi:tls's ALPN IDs) and spilled parameters (sum17) into the arena of
// guest/wasi/cabi, which the call releases, rather than into a heap block
// per call: 1,000 calls of each allocated 1,000 times before.
func TestGeneratedGuestLoweringAllocatesNothing(t *testing.T) {
	e := newEnv(t)
	mod := e.compileGuest(t, "./testdata/genguest")
	out, _, err := e.run(mod, "allocs", false)
	if err != nil {
		t.Fatalf("guest failed: %v\n%s", err, out)
	}
	var calls, total, sum int
	if _, err := fmt.Sscanf(out, "allocs %d %d %d", &calls, &total, &sum); err != nil {
		t.Fatalf("guest printed %q: %v", out, err)
	}
	t.Logf("%d calls: total-len %d allocations, sum17 %d", calls, total, sum)
	// The Go runtime may allocate now and then on its own (a collection's
	// work), never once per call.
	if total > calls/10 || sum > calls/10 {
		t.Errorf("%d calls allocated %d times (total-len) and %d times (sum17), want under %d each", calls, total, sum, calls/10)
	}
}

// TestGeneratedGuestBigResults runs testdata/bigresults: several goroutines
// of a real guest receive results larger than cabi_realloc's arena, many
// times, under GC pressure, through the generated guest bindings. The
// heap allocations cabi_realloc then makes inside the host's call park the
// caller and let the other goroutines run; without the gate in
// guest/wasi/cabi one of them calls the host in the middle of the import,
// which traps ("host function called from cabi_realloc"). The guest checks
// every value, and that the heap fallback was taken and goroutines waited
// at the gate during it (so that the test cannot pass by luck of timing).
func TestGeneratedGuestBigResults(t *testing.T) {
	if testing.Short() {
		t.Skip("moves tens of MiB through a guest")
	}
	e := newEnv(t)
	e.h.quiet = true
	mod := e.compileGuest(t, "./testdata/bigresults")
	// 4 workers, 8 rounds each, GOGC=5.
	out, inst, err := e.run(mod, "4 8 5", false)
	if err != nil || !strings.HasPrefix(out, "ok ") {
		t.Fatalf("guest failed: %v\n%s", err, out)
	}
	t.Log(strings.TrimSpace(out))
	if n := inst.Table().Len(); n != 0 {
		t.Errorf("table holds %d handles after the guest, want 0", n)
	}
}

// compileGuest builds the Go guest in dir and compiles it on e's runtime.
func (e *env) compileGuest(t *testing.T, dir string) wazero.CompiledModule {
	t.Helper()
	mod, err := e.r.CompileModule(context.Background(), guestbuild.MustBuild(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	return mod
}
