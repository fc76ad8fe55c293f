package runtime_test

import (
	"context"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/component"
)

// touchingMemory is a core module defining a memory of pages pages that
// its start function fills, making it resident.
func touchingMemory(pages int) []byte {
	var m wasmbin.Module
	m.Memory(pages, -1)
	fill := wasmbin.Cat(wasmbin.I32Const(0), wasmbin.I32Const(1), wasmbin.I32Const(int32(pages<<16)), []byte{0xfc, 0x0b, 0x00})
	m.Start(m.Func(m.Type(nil, nil), nil, fill))
	return m.Bytes()
}

// TestComponentInstanceLimits: Config.Limits.CoreInstances and
// Config.Limits.MemoryPages (overridden by ModuleConfig.Limits) bound what
// a component's instantiation makes the host hold, nested components'
// instances included, with the stop flag or without: 2^4 instances of a
// module filling a 16 MiB memory fit in 16 instances and 256 MiB; 2^6 of
// them (1 GiB) are refused under a lower limit with an error naming the
// field and the flag, before the host holds more than the limit's memory.
func TestComponentInstanceLimits(t *testing.T) {
	const mib = 1 << 20
	parse := func(levels int) *component.Component {
		c, err := component.Parse(wasmbin.DoublingInstances(wasmbin.CoreInstances(touchingMemory(256), 1), levels))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	fit, hostile := parse(4), parse(6)
	ctx := context.Background()
	for _, stop := range []bool{false, true} {
		for _, tc := range []struct {
			name      string
			cfg, mod  runtime.Limits
			want      []string
			maxMemory uint64 // bytes of memory the instantiation may commit
		}{
			{"fit", runtime.Limits{CoreInstances: 16, MemoryPages: 256 * mib >> 16}, runtime.Limits{}, nil, 256 * mib},
			{"core-instances", runtime.Limits{CoreInstances: 5}, runtime.Limits{},
				[]string{"more than 5 core instances", "runtime.Limits.CoreInstances", "--max-core-instances"}, 80 * mib},
			{"core-instances-module", runtime.Limits{}, runtime.Limits{CoreInstances: 5},
				[]string{"more than 5 core instances", "runtime.Limits.CoreInstances", "--max-core-instances"}, 80 * mib},
			{"memory", runtime.Limits{MemoryPages: 64 * mib >> 16}, runtime.Limits{},
				[]string{"more than the 67108864 the host allows", "runtime.Limits.MemoryPages", "--max-memory"}, 64 * mib},
			{"memory-module", runtime.Limits{}, runtime.Limits{MemoryPages: 64 * mib >> 16},
				[]string{"more than the 67108864 the host allows", "runtime.Limits.MemoryPages", "--max-memory"}, 64 * mib},
		} {
			cfg := runtime.NewRuntimeConfig()
			if stop {
				cfg = runtime.NewFastRuntimeConfig()
			}
			r := wazero.NewRuntimeWithConfig(ctx, cfg)
			defer r.Close(ctx)
			rt, err := runtime.New(ctx, r, runtime.Config{StopFlag: stop, Limits: tc.cfg})
			if err != nil {
				t.Fatal(err)
			}
			c := hostile
			if tc.want == nil {
				c = fit
			}
			base := resetPeakRSS(t)
			var before, after goruntime.MemStats
			goruntime.ReadMemStats(&before)
			inst, err := rt.InstantiateComponent(ctx, c, runtime.ModuleConfig{Limits: tc.mod})
			goruntime.ReadMemStats(&after)
			var peak uint64
			if base != 0 {
				peak = peakRSS(t)
			}
			if err == nil {
				inst.Close(ctx)
			}
			switch {
			case tc.want == nil && err != nil:
				t.Errorf("stop flag %v, %s: %v", stop, tc.name, err)
			case tc.want != nil && err == nil:
				t.Errorf("stop flag %v, %s: instantiated", stop, tc.name)
			case tc.want != nil:
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("stop flag %v, %s: %v; want it to say %q", stop, tc.name, err, w)
					}
				}
			}
			// The memories are mappings outside the Go heap (memory.go);
			// without them, or as Go slices, they would be on it.
			if d := after.TotalAlloc - before.TotalAlloc; d > tc.maxMemory+64*mib {
				t.Errorf("stop flag %v, %s: the host allocated %d MiB", stop, tc.name, d>>20)
			}
			// The memories the instances filled, resident: the limit's at
			// most, of the 1 GiB the hostile component asks for.
			if bound := tc.maxMemory*5/4 + 100*mib; base != 0 && peak-base > bound {
				t.Errorf("stop flag %v, %s: host peak RSS grew by %d MiB, more than %d MiB", stop, tc.name, (peak-base)>>20, bound>>20)
			}
		}
	}
}
