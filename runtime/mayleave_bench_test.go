package runtime

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	monotonicclock "github.com/wasitls/wasitls/bindings/wasi/clocks/monotonic-clock"
	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/wasmbin"
)

// BenchmarkMayLeaveScalar measures what the may-leave rule costs the
// glue of a scalar import (cabi.MayLeaveCtx, which the glue runs first):
// a core module calls wasi:clocks/monotonic-clock's now 100,000 times in
// a loop, through the generated glue ("checked") and through the same
// glue without the check ("unchecked", the glue as generated before),
// alternated in one process, in thread CPU time. checked/unchecked is
// the ratio.
//
//	go test ./runtime -run '^$' -bench MayLeaveScalar -benchtime 20x -count 5
func BenchmarkMayLeaveScalar(b *testing.B) {
	const calls = 100_000
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, NewFastRuntimeConfig())
	defer r.Close(ctx)
	var checked api.GoModuleFunc
	for _, f := range monotonicclock.Functions(monotonicHost{}, "checked") {
		if f.Name == "now" {
			checked = f.Fn
		}
	}
	unchecked := uncheckedNow(monotonicHost{}, "unchecked#now")
	for name, fn := range map[string]api.GoModuleFunc{"checked": checked, "unchecked": unchecked} {
		if _, err := r.NewHostModuleBuilder(name).NewFunctionBuilder().
			WithGoModuleFunction(fn, nil, []api.ValueType{api.ValueTypeI64}).Export("now").Instantiate(ctx); err != nil {
			b.Fatal(err)
		}
	}
	var m wasmbin.Module
	tNow := m.Type(nil, []byte{wasmbin.I64})
	imports := []int{m.ImportFunc("checked", "now", tNow), m.ImportFunc("unchecked", "now", tNow)}
	for i, name := range []string{"checked", "unchecked"} {
		// loop(n): do { now(); drop } while (--n != 0)
		body := wasmbin.Cat([]byte{0x03, 0x40, 0x10, byte(imports[i]), 0x1a, 0x20, 0x00}, wasmbin.I32Const(1),
			[]byte{0x6b, 0x22, 0x00, 0x0d, 0x00, 0x0b})
		m.Export(name, wasmbin.ExportFunc, m.Func(m.Type([]byte{wasmbin.I32}, nil), nil, body))
	}
	inst := cabi.NewInstance()
	ctx = cabi.WithInstance(ctx, inst)
	mod, err := r.Instantiate(ctx, m.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	run := func(f api.Function) func() error {
		return func() error {
			_, err := f.Call(ctx, calls)
			return err
		}
	}
	t := alternateCPU(b, run(mod.ExportedFunction("checked")), run(mod.ExportedFunction("unchecked")))
	b.ReportMetric(float64(t[0])/float64(t[1]), "checked/unchecked")
	b.ReportMetric(float64(t[0].Nanoseconds())/float64(b.N*calls), "ns/call-checked")
	b.ReportMetric(float64(t[1].Nanoseconds())/float64(b.N*calls), "ns/call-unchecked")
	b.ReportMetric(0, "ns/op")
}

// uncheckedNow is the glue wit2host generated for monotonic-clock's now
// before the may-leave rule.
func uncheckedNow(h monotonicclock.Host, name string) api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		defer func() {
			if r := recover(); r != nil {
				cabi.Rethrow(ctx, name, r)
			}
		}()
		v := h.Now(ctx)
		stack[0] = v
	}
}
