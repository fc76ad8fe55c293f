package component

import (
	"context"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/cguest"
)

// BenchmarkLoweredPath compares the loader's way to a host function (the
// generated-style glue given a cabi.Lowered, in a batch of canonical
// built-ins, reached through a re-exporting core module) with a core
// module importing a named host module that gets the calling module: the
// same C loop of 1 M calls, alternated, in thread CPU time (Linux).
func BenchmarkLoweredPath(b *testing.B) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	core := cguest.Build(b, cguest.Spec{
		Sources: []string{"../testdata/components/calc/calc.c"},
		CFlags:  []string{"-nostdlib", "-Wl,--no-entry", "-DCALC_CORE"},
		Core:    true,
	})
	now := func(ctx context.Context, m api.Module, stack []uint64) {
		call := cabi.Begin(ctx, m, "now")
		defer call.End()
		t := time.Now()
		call.PutU64(uint32(stack[0]), uint64(t.Unix()))
	}
	ci := cabi.NewInstance()
	ctx = cabi.WithInstance(ctx, ci)
	ci2 := cabi.NewInstance()
	ctx2 := cabi.WithInstance(context.Background(), ci2)
	// Named: a host module instantiated by name, the guest resolving by name.
	hb := r.NewHostModuleBuilder("wasi:clocks/wall-clock@0.2.0")
	hb.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(now), []api.ValueType{api.ValueTypeI32}, nil).Export("now")
	if _, err := hb.Instantiate(ctx); err != nil {
		b.Fatal(err)
	}
	named, err := r.InstantiateWithConfig(ctx2, core, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		b.Fatal(err)
	}
	// Loader: the lowered glue in a batch, re-exported.
	st := &state{ctx: ctx, r: r, ci: ci, compiled: map[*CoreModule]wazero.CompiledModule{}}
	var lowered *cabi.Lowered
	item := st.addHost(hostFunc{fn: func(ctx context.Context, m api.Module, stack []uint64) { now(ctx, lowered, stack) }, params: []api.ValueType{api.ValueTypeI32}})
	if err := st.flush(); err != nil {
		b.Fatal(err)
	}
	var w synth
	w.fn("0", item.name, "now", []api.ValueType{api.ValueTypeI32}, nil)
	arg, err := st.instantiateCore(w.bytes(), nil, map[string]api.Module{"0": item.inst.mod})
	if err != nil {
		b.Fatal(err)
	}
	mod, err := st.instantiateCore(core, nil, map[string]api.Module{"wasi:clocks/wall-clock@0.2.0": arg})
	if err != nil {
		b.Fatal(err)
	}
	lowered = cabi.NewLowered(cabi.Options{Instance: ci, Memory: mod.Memory()})
	fd, fs := named.ExportedFunction("clock-loop"), mod.ExportedFunction("clock-loop")
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	var td, ts time.Duration
	for i := range b.N {
		for j := range 2 {
			t0 := threadCPU()
			if (i+j)%2 == 0 {
				fd.Call(ctx2, 1_000_000)
				td += threadCPU() - t0
			} else {
				fs.Call(ctx, 1_000_000)
				ts += threadCPU() - t0
			}
		}
	}
	b.ReportMetric(float64(ts)/float64(td), "loader/named")
}
