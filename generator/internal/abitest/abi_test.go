package abitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/generator/internal/kitchen/test/kitchen/echo"
	"github.com/wasitls/wasitls/generator/internal/kitchen/test/shared/things"
	"github.com/wasitls/wasitls/internal/guestbuild"
)

// env is one wazero runtime with the test bindings registered over one host.
type env struct {
	r     wazero.Runtime
	h     *host
	guest wazero.CompiledModule
	n     atomic.Int64
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	r := newRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	h := newHost()
	// things is served under two versions; the guest mixes them.
	if err := things.Register(ctx, r, h, "0.1.0", "0.1.1"); err != nil {
		t.Fatal(err)
	}
	if err := echo.Register(ctx, r, h); err != nil {
		t.Fatal(err)
	}
	return &env{r: r, h: h, guest: compile(t, r)}
}

func compile(t testing.TB, r wazero.Runtime, tags ...string) wazero.CompiledModule {
	t.Helper()
	var args []string
	if len(tags) > 0 {
		args = append(args, "-tags="+strings.Join(tags, ","))
	}
	wasm := guestbuild.MustBuild(t, "./testdata/guest", args...)
	m, err := r.CompileModule(context.Background(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// run instantiates mod with the arguments in arg (split at spaces), under a
// fresh instance unless noInstance, and returns its output, the instance
// and the error of _start (nil for exit code 0).
func (e *env) run(mod wazero.CompiledModule, arg string, noInstance bool) (string, *cabi.Instance, error) {
	ctx := context.Background()
	inst := cabi.NewInstance()
	if !noInstance {
		ctx = cabi.WithInstance(ctx, inst)
	}
	var out bytes.Buffer
	cfg := wazero.NewModuleConfig().WithArgs(append([]string{"guest"}, strings.Fields(arg)...)...).WithStdout(&out).WithStderr(&out).
		WithName(fmt.Sprintf("guest-%d", e.n.Add(1)))
	m, err := e.r.InstantiateModule(ctx, mod, cfg)
	if m != nil {
		m.Close(ctx)
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 0 {
		err = nil
	}
	return out.String(), inst, err
}

func TestRoundTrip(t *testing.T) {
	e := newEnv(t)
	out, inst, err := e.run(e.guest, "roundtrip", false)
	if err != nil || !strings.HasPrefix(out, "ok") {
		t.Fatalf("guest failed: %v\n%s", err, out)
	}
	checkReceived(t, e.h)

	// The guest left one counter alive: Close drops it.
	if n := inst.Table().Len(); n != 1 {
		t.Errorf("table holds %d handles after the guest, want 1", n)
	}
	if n := e.h.live.Load(); n != 1 {
		t.Errorf("%d live resources after the guest, want 1", n)
	}
	if err := inst.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := e.h.live.Load(); n != 0 {
		t.Errorf("%d live resources after Close, want 0", n)
	}
}

// checkReceived compares the values the host lifted with those the guest
// encoded by hand.
func checkReceived(t *testing.T, h *host) {
	t.Helper()
	type tu2 = cabi.Tuple2[uint8, int64]
	want := map[string][]any{
		"string":  {"", "hello", "héllo, 世界 😀", "\U0010FFFF"},
		"bytes":   {0, 1, 65536},
		"strings": {[]string{"a", "", "ü", "zzz"}, []string{}},
		"items": {[]echo.Item{
			{A: cabi.Some("x"), B: []tu2{{F0: 1, F1: -1}, {F0: 255, F1: math.MinInt64}}},
			{A: cabi.None[string](), B: []tu2{}},
		}},
		"prims": {echo.Prims{
			B: true, VS8: -128, VU8: 200, VS16: math.MinInt16, VU16: 65535, VS32: math.MinInt32,
			VU32: math.MaxUint32, VS64: math.MinInt64, VU64: math.MaxUint64, VF32: float32(math.Inf(-1)),
			VF64: math.Pi, C: 0x1F600, S: "prims ✓",
		}},
		"point": {echo.Point{X: -7, Y: math.MaxInt32}},
		"tuple": {cabi.Tuple3[uint8, string, float64]{F0: 9, F1: "tü", F2: -2.5}},
		"wide":  {echo.Wide(0x81DEADBEEF)},
		"huge":  {echo.Huge{0xFFFFFFFF, 0x80000001, 0x3F}},
		"shape": {
			echo.ShapeNothing(), echo.ShapeCircle(1.5),
			echo.ShapeRect(cabi.Tuple2[float64, float64]{F0: 2.5, F1: -3.5}),
			echo.ShapeLabel("ü"), echo.ShapeBig(math.MaxUint64), echo.ShapeAt(echo.Point{X: -1, Y: 7}),
		},
		"shapes": {[]echo.Shape{echo.ShapeCircle(-0.25), echo.ShapeLabel("λ")}},
		"option": {cabi.Some("some"), cabi.None[string]()},
		"result": {cabi.OK[uint32, string](7), cabi.Err[uint32, string]("bad")},
		"nested": {
			cabi.Some(cabi.OK[[]cabi.Option[uint16], echo.Shape]([]cabi.Option[uint16]{cabi.Some[uint16](1), cabi.None[uint16](), cabi.Some[uint16](65535)})),
			cabi.Some(cabi.Err[[]cabi.Option[uint16]](echo.ShapeCircle(0.5))),
			cabi.None[cabi.Result[[]cabi.Option[uint16], echo.Shape]](),
		},
	}
	for fn, w := range want {
		if got := h.got[fn]; !reflect.DeepEqual(got, w) {
			t.Errorf("host received for %s:\n got %#v\nwant %#v", fn, got, w)
		}
	}
}

func TestHostileGuest(t *testing.T) {
	e := newEnv(t)
	noRealloc := compile(t, e.r, "norealloc")
	const (
		echoFn   = "test:kitchen/echo@0.1.0#"
		thingsFn = "test:shared/things@0.1.0#"
	)
	tests := []struct {
		scenario   string
		fn, fault  string
		noRealloc  bool
		noInstance bool
	}{
		{"oob-string", echoFn + "echo-string", "out-of-bounds memory access", false, false},
		{"oob-length", echoFn + "echo-bytes", "out-of-bounds memory access", false, false},
		{"oob-retptr", echoFn + "echo-string", "out-of-bounds memory access", false, false},
		{"oob-params", echoFn + "sum17", "out-of-bounds memory access", false, false},
		{"misaligned-retptr", echoFn + "echo-shape", "misaligned pointer", false, false},
		{"misaligned-list", echoFn + "echo-items", "misaligned list pointer", false, false},
		{"bad-utf8", echoFn + "echo-string", "invalid UTF-8", false, false},
		{"bad-char", echoFn + "echo-char", "invalid char 0xd800", false, false},
		{"bad-enum", echoFn + "echo-color", "bad discriminant 3 for 3 cases", false, false},
		{"bad-variant", echoFn + "echo-shape", "bad discriminant 9 for 6 cases", false, false},
		{"bad-variant-in-memory", echoFn + "echo-shapes", "bad discriminant 6 for 6 cases", false, false},
		{"unknown-handle", echoFn + "peek-counter", "unknown handle 12345", false, false},
		{"zero-handle", echoFn + "peek-counter", "unknown handle 0", false, false},
		{"wrong-type", echoFn + "peek-counter", "is a test:shared/things.counter-view, want test:shared/things.counter", false, false},
		{"dropped-handle", echoFn + "peek-counter", "was dropped", false, false},
		{"moved-handle", echoFn + "peek-counter", "was moved out", false, false},
		{"double-drop", thingsFn + "[resource-drop]counter", "double drop of handle", false, false},
		{"parent-drop", thingsFn + "[resource-drop]counter", "has 1 live children", false, false},
		{"no-realloc", echoFn + "echo-string", "guest does not export cabi_realloc", true, false},
		{"no-realloc-resources", echoFn + "counters", "guest does not export cabi_realloc", true, false},
		{"bad-realloc", echoFn + "echo-string", "cabi_realloc returned bad pointer 0xfffffff0", false, false},
		{"bad-realloc-resources", echoFn + "counters", "cabi_realloc returned bad pointer", false, false},
		{"lent-and-moved", echoFn + "merge", "handle 1 is both borrowed and moved by one call", false, false},
		{"bad-own-in-list", echoFn + "take-all", "unknown handle 12345", false, false},
		{"own-twice-in-list", echoFn + "take-all", "passed as own twice in one call", false, false},
		{"aliased-strings", echoFn + "echo-strings", "more than twice the guest memory", false, false},
		{"reentrant-realloc", echoFn + "echo-string", "host function called from cabi_realloc", false, false},
		{"host-panic", echoFn + "echo-u32", "host panic: the host implementation failed", false, false},
		{"host-bad-error", echoFn + "make-counter", "host returned error not an error-code", false, false},
		{"oob-string", echoFn + "echo-string", "no cabi.Instance in the context", false, true},
	}
	// The faults found in results lowered after the host function ran; every
	// other fault, in a parameter or a result pointer, is found before the
	// host function runs, so a host never acts on a call that then traps.
	reachesHost := map[string]bool{
		"no-realloc": true, "no-realloc-resources": true,
		"bad-realloc": true, "bad-realloc-resources": true,
		"reentrant-realloc": true, "host-panic": true, "host-bad-error": true,
	}
	// A list of owns that faults moves none of its elements: they stay the
	// guest's, live on the host until Close drops them, once each.
	liveAtTrap := map[string]int64{"bad-own-in-list": 3, "own-twice-in-list": 2}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			mod := e.guest
			if tt.noRealloc {
				mod = noRealloc
			}
			before := e.h.calls.Load()
			out, inst, err := e.run(mod, tt.scenario, tt.noInstance)
			if err == nil {
				t.Fatalf("guest did not trap; output:\n%s", out)
			}
			if called := e.h.calls.Load() != before; called != reachesHost[tt.scenario] {
				t.Errorf("host function called: %v, want %v", called, reachesHost[tt.scenario])
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.fn+": ") || !strings.Contains(msg, tt.fault) {
				t.Fatalf("trap %q\ndoes not name %q and %q", msg, tt.fn, tt.fault)
			}
			if tt.noInstance {
				return
			}
			if !inst.Trapped() {
				t.Error("instance not marked trapped")
			}
			if want, ok := liveAtTrap[tt.scenario]; ok {
				if n := e.h.live.Load(); n != want {
					t.Errorf("%d host resources live after the trap, want %d", n, want)
				}
				if n := inst.Table().Len(); n != int(want) {
					t.Errorf("%d handles in the guest's table after the trap, want %d", n, want)
				}
			}
			// Whatever the guest created stays in a consistent table, and
			// Close drops it all.
			if err := inst.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := e.h.live.Load(); n != 0 {
				t.Errorf("%d resources leaked", n)
			}
		})
	}
	// Other instances of the same runtime keep working.
	e.h.got = map[string][]any{}
	out, inst, err := e.run(e.guest, "roundtrip", false)
	if err != nil || !strings.HasPrefix(out, "ok") {
		t.Fatalf("guest failed after the hostile ones: %v\n%s", err, out)
	}
	inst.Close(context.Background())
}
