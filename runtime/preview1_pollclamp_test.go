package runtime

import (
	"context"
	"encoding/binary"
	"math"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/wasmbin"
)

// TestPreview1PollClockClamped: a poll_oneoff of one relative clock
// subscription of timeout ns sleeps min(ns, a century) (seen through a
// sleep of the test's, which returns at once) and leaves the
// subscription as the guest wrote it. Before, wazero turned a timeout
// past math.MaxInt64 nanoseconds into a negative one and answered at once
// without sleeping: a guest asking to sleep for ever (2^64-1) woke
// at once.
func TestPreview1PollClockClamped(t *testing.T) {
	ctx := context.Background()
	rt, r := newCheckedRuntime(t)
	century := uint64(clampDuration(math.MaxUint64))
	for _, tc := range []struct{ timeout, slept uint64 }{
		{5, 5}, {century, century}, {century + 1, century}, {1 << 63, century}, {math.MaxUint64, century},
	} {
		// poll: the subscription at 0 (a clock, relative, all zero but
		// its timeout), poll_oneoff(0, 64, 1, 128), its errno at 132.
		var m wasmbin.Module
		poll := m.ImportFunc("wasi_snapshot_preview1", "poll_oneoff",
			m.Type([]byte{wasmbin.I32, wasmbin.I32, wasmbin.I32, wasmbin.I32}, []byte{wasmbin.I32}))
		start := m.Func(m.Type(nil, nil), nil, wasmbin.Cat(
			wasmbin.I32Const(0), wasmbin.I64Const(int64(tc.timeout)), []byte{0x37, 0x03, clockTimeoutOffset}, // i64.store
			wasmbin.I32Const(132),
			wasmbin.I32Const(0), wasmbin.I32Const(64), wasmbin.I32Const(1), wasmbin.I32Const(128), []byte{0x10, byte(poll)},
			[]byte{0x36, 0x02, 0x00}, // i32.store
		))
		m.Memory(1, -1)
		m.Export("memory", wasmbin.ExportMemory, 0)
		m.Export("poll", wasmbin.ExportFunc, start)
		compiled, err := r.CompileModule(ctx, m.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		var slept []int64
		inst, err := rt.Instantiate(ctx, compiled, ModuleConfig{
			Configure: func(c wazero.ModuleConfig) wazero.ModuleConfig {
				return c.WithNanosleep(func(ns int64) { slept = append(slept, ns) })
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inst.Call("poll"); err != nil {
			t.Fatalf("timeout %d: %v", tc.timeout, err)
		}
		if len(slept) != 1 || uint64(slept[0]) != tc.slept {
			t.Errorf("timeout %d: slept %v ns, want %d", tc.timeout, slept, tc.slept)
		}
		mem := inst.Module().Memory()
		errno, _ := mem.ReadUint32Le(132)
		sub, _ := mem.Read(0, subscriptionSize)
		if errno != 0 || binary.LittleEndian.Uint64(sub[clockTimeoutOffset:]) != tc.timeout {
			t.Errorf("timeout %d: errno %d, the subscription's timeout reads %d after", tc.timeout, errno, binary.LittleEndian.Uint64(sub[clockTimeoutOffset:]))
		}
		inst.Close(ctx)
	}
}
