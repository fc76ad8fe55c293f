package stopcheck_test

import (
	"context"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime/stopcheck"
)

// fibModule exports fib(n), recursive: a call per few instructions, the
// worst case for the stack budget's accounting at each call.
func fibModule() []byte {
	var m wasmbin.Module
	ii := m.Type([]byte{wasmbin.I32}, []byte{wasmbin.I32})
	// if n < 2 { n } else { fib(n-1) + fib(n-2) }
	fib := m.Func(ii, nil, []byte{
		0x20, 0x00, 0x41, 0x02, 0x48, 0x04, 0x7f,
		0x20, 0x00,
		0x05,
		0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x00,
		0x20, 0x00, 0x41, 0x02, 0x6b, 0x10, 0x00,
		0x6a,
		0x0b})
	m.Export("fib", wasmbin.ExportFunc, fib)
	return m.Bytes()
}

// BenchmarkChecksStackRatio: under wazero's termination checks, what the
// stack budget's accounting (InstrumentStack) costs against the tables'
// rewrite alone (CapTables, what CompileModuleChecked did before), on a
// recursive fib(25), the two alternating in one process: the ratio
// metric is the median of the rounds' stack/tables.
func BenchmarkChecksStackRatio(b *testing.B) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	defer r.Close(ctx)
	var fns [2]func() time.Duration
	for i, rw := range []func([]byte, stopcheck.Options) ([]byte, error){stopcheck.CapTables, stopcheck.InstrumentStack} {
		out, err := rw(fibModule(), stopcheck.Options{})
		if err != nil {
			b.Fatal(err)
		}
		mod, err := r.Instantiate(ctx, out)
		if err != nil {
			b.Fatal(err)
		}
		f := mod.ExportedFunction("fib")
		fns[i] = func() time.Duration {
			start := time.Now()
			if res, err := f.Call(ctx, 25); err != nil || res[0] != 75025 {
				b.Fatalf("fib(25) = %v, %v", res, err)
			}
			return time.Since(start)
		}
	}
	var ratios []float64
	for b.Loop() {
		tables := fns[0]()
		stack := fns[1]()
		ratios = append(ratios, float64(stack)/float64(tables))
	}
	b.ReportMetric(median(ratios), "stack/tables")
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}
