package abitest

import (
	"context"
	"flag"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/generator/internal/kitchen/test/kitchen/echo"
	"github.com/wasitls/wasitls/internal/wasmbin"
)

// The speed of the generated glue is measured against hand-written wazero
// host functions doing the same work, in the same run, called by the same
// hand-assembled guest: a loop calling echo-u32 (scalar in and out) or
// echo-bytes (64 KiB list<u8> in and out, through cabi_realloc).

const (
	bytesLen  = 64 << 10
	bytesIn   = 0x10000 // the guest's input list
	bytesOut  = 0x20000 // where the guest's cabi_realloc puts the result
	bytesRet  = 0x30000 // the return area
	echoMod   = "test:kitchen/echo@0.1.0"
	callBatch = 1000 // calls per guest invocation in the scalar benchmark
)

// benchGuest returns a core module importing echo-u32 and echo-bytes and
// exporting memory (4 pages), cabi_realloc (always bytesOut), and
// scalar(n) and bytes(n), which call the imports n times.
func benchGuest() []byte {
	var m wasmbin.Module
	tU32 := m.Type([]byte{i32}, []byte{i32})
	tBytes := m.Type([]byte{i32, i32, i32}, nil)
	tRealloc := m.Type([]byte{i32, i32, i32, i32}, []byte{i32})
	tLoop := m.Type([]byte{i32}, nil)
	m.ImportFunc(echoMod, "echo-u32", tU32)     // func 0
	m.ImportFunc(echoMod, "echo-bytes", tBytes) // func 1
	m.Memory(4, -1)
	m.Export("memory", wasmbin.ExportMemory, 0)
	m.Export("cabi_realloc", wasmbin.ExportFunc, m.Func(tRealloc, nil, i32Const(bytesOut)))
	// loop: while n != 0 { body; n-- }
	loop := func(body []byte) []byte {
		return cat([]byte{0x02, 0x40, 0x03, 0x40, 0x20, 0, 0x45, 0x0d, 1}, body,
			[]byte{0x20, 0}, i32Const(1), []byte{0x6b, 0x21, 0, 0x0c, 0, 0x0b, 0x0b})
	}
	m.Export("scalar", wasmbin.ExportFunc, m.Func(tLoop, nil, loop([]byte{0x20, 0, 0x10, 0, 0x1a})))
	m.Export("bytes", wasmbin.ExportFunc, m.Func(tLoop, nil, loop(cat(i32Const(bytesIn), i32Const(bytesLen), i32Const(bytesRet), []byte{0x10, 1}))))
	return m.Bytes()
}

// baselineModule registers echo-u32 and echo-bytes written by hand the
// plain wazero way: WithGoModuleFunction, explicit value types, no checks
// beyond what wazero's memory API does.
func baselineModule(ctx context.Context, r wazero.Runtime, h echo.Host) error {
	var realloc api.Function
	stack := make([]uint64, 4)
	b := r.NewHostModuleBuilder(echoMod)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, s []uint64) {
		s[0] = uint64(h.EchoU32(ctx, uint32(s[0])))
	}), []api.ValueType{api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}).WithParameterNames("v").WithResultNames("result").Export("echo-u32")
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, s []uint64) {
		mem := mod.Memory()
		in, ok := mem.Read(uint32(s[0]), uint32(s[1]))
		if !ok {
			panic("out of bounds")
		}
		rp := uint32(s[2])
		out := h.EchoBytes(ctx, in)
		if realloc == nil {
			realloc = mod.ExportedFunction("cabi_realloc")
		}
		stack[0], stack[1], stack[2], stack[3] = 0, 0, 1, uint64(len(out))
		if err := realloc.CallWithStack(ctx, stack); err != nil {
			panic(err)
		}
		p := uint32(stack[0])
		if !mem.Write(p, out) || !mem.WriteUint32Le(rp, p) || !mem.WriteUint32Le(rp+4, uint32(len(out))) {
			panic("out of bounds")
		}
	}), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, nil).WithParameterNames("v.ptr", "v.len", "retptr").Export("echo-bytes")
	_, err := b.Instantiate(ctx)
	return err
}

// side is one runtime with the bench guest instantiated over either the
// baseline or the generated host functions.
type side struct {
	scalar, bytes api.Function
	stack         []uint64
	ctx           context.Context
}

func newSide(tb testing.TB, generated bool) *side {
	tb.Helper()
	ctx := context.Background()
	r := newRuntime(ctx)
	tb.Cleanup(func() { r.Close(ctx) })
	h := newHost()
	h.quiet = true
	var err error
	if generated {
		err = echo.Register(ctx, r, h)
	} else {
		err = baselineModule(ctx, r, h)
	}
	if err != nil {
		tb.Fatal(err)
	}
	inst := cabi.NewInstance()
	ctx = cabi.WithInstance(ctx, inst)
	mod, err := r.Instantiate(ctx, benchGuest())
	if err != nil {
		tb.Fatal(err)
	}
	return &side{scalar: mod.ExportedFunction("scalar"), bytes: mod.ExportedFunction("bytes"), stack: make([]uint64, 1), ctx: ctx}
}

func (s *side) call(f api.Function, n int) {
	s.stack[0] = uint64(n)
	if err := f.CallWithStack(s.ctx, s.stack); err != nil {
		panic(err)
	}
}

// compare runs the baseline and the generated glue alternately and reports
// the generated cost per call, the baseline's, and their ratio. It uses
// the medians of the per-iteration times, which a preempted iteration
// on a busy machine does not skew.
func compare(b *testing.B, pick func(*side) api.Function, batch int) {
	base, gen := newSide(b, false), newSide(b, true)
	fb, fg := pick(base), pick(gen)
	base.call(fb, batch) // warm up
	gen.call(fg, batch)
	tb := make([]time.Duration, 0, min(b.N, 1<<20))
	tg := make([]time.Duration, 0, cap(tb))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		base.call(fb, batch)
		t1 := time.Now()
		gen.call(fg, batch)
		t2 := time.Now()
		if len(tb) < cap(tb) {
			tb = append(tb, t1.Sub(t0))
			tg = append(tg, t2.Sub(t1))
		}
	}
	b.StopTimer()
	mb, mg := median(tb), median(tg)
	b.ReportMetric(float64(mg.Nanoseconds())/float64(batch), "ns/call")
	b.ReportMetric(float64(mb.Nanoseconds())/float64(batch), "baseline-ns/call")
	b.ReportMetric(float64(mg)/float64(mb), "ratio")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkScalarCall: echo-u32, generated vs hand-written (limit 1.2).
func BenchmarkScalarCall(b *testing.B) {
	compare(b, func(s *side) api.Function { return s.scalar }, callBatch)
}

// BenchmarkBytes64K: echo-bytes with 64 KiB in and out, generated vs
// hand-written (limit 1.1).
func BenchmarkBytes64K(b *testing.B) {
	compare(b, func(s *side) api.Function { return s.bytes }, 1)
}

var ratios = flag.Bool("ratios", false, "print the speed ratio lines and enforce the limits themselves")

// TestSpeedRatios measures the generated glue against the hand-written
// host functions (time ratios: lower is better) and enforces the limits
// the README quotes. A slow run on a busy machine is retried, and the best
// of up to three runs counts, since noise only ever makes a run slower.
//
// In a plain go test it fails only on a collapse, past twice the limit, so
// a shared machine never fails it. With -ratios it prints one "ratio" line
// per comparison and holds each to its limit:
//
//	go test ./generator/internal/abitest -run SpeedRatios -ratios -v
func TestSpeedRatios(t *testing.T) {
	for _, c := range []struct {
		name   string
		fn     func(*testing.B)
		limit  float64
		metric string // the ratio held to the limit
	}{{"scalar call", BenchmarkScalarCall, 1.2, "ratio"}, {"64 KiB list<u8> in and out", BenchmarkBytes64K, 1.1, "ratio"},
		// Against api.Function.Call the generated export call is about
		// 0.5x; the limit holds it against CallWithStack, which claims
		// nothing (see BenchmarkExportScalarRatio).
		{"scalar export call against CallWithStack", BenchmarkExportScalarRatio, 1.4, "ratio-stack"}} {
		bound, what := 2*c.limit, "twice the limit"
		if *ratios {
			bound, what = c.limit, "the limit"
		}
		best := math.Inf(1)
		for attempt := 1; attempt <= 3 && best > bound; attempt++ {
			r := testing.Benchmark(c.fn)
			ratio := r.Extra[c.metric]
			t.Logf("run %d: %s %.3f %s: generated %.1f ns/call, baseline %.1f ns/call, ratio to it %.3f (limit %.1f)",
				attempt, c.metric, ratio, c.name, r.Extra["ns/call"], r.Extra["baseline-ns/call"], r.Extra["ratio"], c.limit)
			best = min(best, ratio)
		}
		if *ratios {
			fmt.Printf("ratio %.3f %s (limit %.1f)\n", best, c.name, c.limit)
		}
		if best > bound {
			t.Errorf("%s: generated glue takes %.2f times the hand-written host function in the best of 3 runs, past %s (%.2f)",
				c.name, best, what, bound)
		}
	}
}

// TestScalarCallsAllocateNothing: the generated scalar path allocates
// nothing per call.
func TestScalarCallsAllocateNothing(t *testing.T) {
	gen := newSide(t, true)
	gen.call(gen.scalar, 10)
	if n := testing.AllocsPerRun(20, func() { gen.call(gen.scalar, callBatch) }); n != 0 {
		t.Errorf("%v allocations per %d scalar calls, want 0", n, callBatch)
	}
}

// TestExportScalarAllocatesNothing: a generated export call with only
// numeric parameters and results allocates nothing.
func TestExportScalarAllocatesNothing(t *testing.T) {
	g := newPluginGuest(t)
	if _, err := g.x.Add(g.ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(20, func() {
		for i := 0; i < callBatch; i++ {
			if _, err := g.x.Add(g.ctx, uint32(i), 1); err != nil {
				panic(err)
			}
		}
	}); n != 0 {
		t.Errorf("%v allocations per %d scalar export calls, want 0", n, callBatch)
	}
}

// TestBenchGuest checks the hand-assembled guest against both sides.
func TestBenchGuest(t *testing.T) {
	for _, generated := range []bool{false, true} {
		s := newSide(t, generated)
		s.call(s.scalar, 3)
		s.call(s.bytes, 2)
	}
}

// A minimal core wasm encoder for the bench guest.

const i32 = wasmbin.I32

var (
	cat      = wasmbin.Cat
	i32Const = wasmbin.I32Const
)
