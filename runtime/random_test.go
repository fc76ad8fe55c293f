package runtime_test

import (
	"context"
	"errors"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/runtime"
)

// TestRandomBytesMemoryLimit: a guest whose memory may hold at most 1 MiB
// (runtime.Limits.MemoryPages) asking get-random-bytes for 48 MiB traps
// naming the limit before the host allocates them. Before, the host made
// and filled the 48 MiB (up to 64 MiB a call, whatever the guest's memory
// limit), only for the guest's memory to refuse them.
func TestRandomBytesMemoryLimit(t *testing.T) {
	ctx := context.Background()
	rt, compiled := offerSlotGuest(t)
	inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Limits: runtime.Limits{MemoryPages: 16}})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(ctx)
	mem := inst.Module().Memory()
	mem.WriteUint32Le(0, 0) // no offer slot
	mem.WriteUint64Le(8, 48<<20)
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	_, err = inst.Module().ExportedFunction("get").Call(inst.Context())
	goruntime.ReadMemStats(&after)
	var trap *cabi.Trap
	if !errors.As(err, &trap) || !strings.Contains(err.Error(), "get-random-bytes") || !strings.Contains(err.Error(), "--max-memory") {
		t.Errorf("call: %v, want a trap of get-random-bytes naming --max-memory", err)
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 4<<20 {
		t.Errorf("the host allocated %.1f MiB for the call, want at most 4 MiB", float64(grown)/(1<<20))
	}
}
