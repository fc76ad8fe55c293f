package runtime

import (
	"context"
	"fmt"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/cguest"
)

// checksLoops returns calc.c's export name called with arg, as a core
// module (kind "core") or a component, on a runtime with the stop flag
// and on one under wazero's termination checks, each checking the
// result is the same.
func checksLoops(b *testing.B, kind, name string, arg uint32) (stop, checks func() error) {
	ctx := context.Background()
	var want uint64
	run := func(fast bool) func() error {
		cfg, compile := NewRuntimeConfig(), CompileModuleChecked
		if fast {
			cfg, compile = NewFastRuntimeConfig(), CompileModuleLimits
		}
		r := wazero.NewRuntimeWithConfig(ctx, cfg)
		b.Cleanup(func() { r.Close(ctx) })
		rt, err := New(ctx, r, Config{StopFlag: fast})
		if err != nil {
			b.Fatal(err)
		}
		var call func() (uint64, error)
		if kind == "core" {
			compiled, err := compile(ctx, r, cguest.Build(b, calcSpec(true)), Limits{})
			if err != nil {
				b.Fatal(err)
			}
			inst, err := rt.Instantiate(ctx, compiled, ModuleConfig{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { inst.Close(ctx) })
			f := inst.Module().ExportedFunction(name)
			call = func() (uint64, error) {
				res, err := f.Call(inst.Context(), uint64(arg))
				if err != nil {
					return 0, err
				}
				return res[0], nil
			}
		} else {
			inst := calcInstance(b, rt)
			f, err := inst.Component().Func(name)
			if err != nil {
				b.Fatal(err)
			}
			call = func() (uint64, error) {
				v, err := f.Call(inst.Context(), arg)
				switch v := v.(type) {
				case uint32:
					return uint64(v), err
				case uint64:
					return v, err
				}
				return 0, fmt.Errorf("%s returned %T", name, v)
			}
		}
		return func() error {
			got, err := call()
			if err != nil {
				return err
			}
			if want == 0 {
				want = got
			}
			if got != want {
				return fmt.Errorf("%s %s(%d) = %d, want %d", kind, name, arg, got, want)
			}
			return nil
		}
	}
	return run(true), run(false)
}

// BenchmarkChecksComponent measures what the stop flag gains over
// wazero's termination checks, for a component as for a core module:
// calc.c on a runtime with the stop flag (as wasitls run, demo and bench
// run guests) and on one under wazero's checks (NewRuntimeConfig, the
// stack budget's rewrite alone), the same export alternated, in thread
// CPU time. checks/stopflag above 1 is the stop flag's gain. hash-loop is
// 10 M rounds of a loop without calls; clock-loop 1 M
// wasi:clocks/wall-clock.now host calls in a loop.
//
//	go test ./runtime -run '^$' -bench ChecksComponent -benchtime 10x -count 3
func BenchmarkChecksComponent(b *testing.B) {
	for _, kind := range []string{"component", "core"} {
		for _, tc := range []struct {
			name string
			arg  uint32
		}{{"hash-loop", 10_000_000}, {"clock-loop", 1_000_000}} {
			b.Run(kind+"/"+tc.name, func(b *testing.B) {
				stop, checks := checksLoops(b, kind, tc.name, tc.arg)
				t := alternateCPU(b, stop, checks)
				b.ReportMetric(float64(t[1])/float64(t[0]), "checks/stopflag")
				b.ReportMetric(float64(t[0].Nanoseconds())/float64(b.N), "ns/call-stopflag")
				b.ReportMetric(float64(t[1].Nanoseconds())/float64(b.N), "ns/call-checks")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
