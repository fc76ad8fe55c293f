package abitest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/generator/internal/plugin/test/kitchen/plugin"
	"github.com/wasitls/wasitls/internal/wasmbin"
)

// dtorChainModule implements test:kitchen/plugin's widget with a
// destructor that, for a rep n > 0, makes a widget of rep n-1 and drops
// it ([resource-new], [resource-drop]): each drop runs the destructor
// again, from within the host's [resource-drop], one level deeper. Its
// export chain(n) starts the chain.
func dtorChainModule() []byte {
	var m wasmbin.Module
	const exp = "[export]test:kitchen/plugin@0.1.0"
	newW := m.ImportFunc(exp, "[resource-new]widget", m.Type([]byte{i32}, []byte{i32}))
	dropW := m.ImportFunc(exp, "[resource-drop]widget", m.Type([]byte{i32}, nil))
	m.Memory(1, 1)
	tDrop := m.Type([]byte{i32}, nil)
	dtor := cat([]byte{0x20, 0, 0x04, 0x40}, []byte{0x20, 0}, i32Const(1), []byte{0x6b, 0x10, byte(newW), 0x10, byte(dropW), 0x0b})
	m.Export("test:kitchen/plugin@0.1.0#[dtor]widget", wasmbin.ExportFunc, m.Func(tDrop, nil, dtor))
	m.Export("chain", wasmbin.ExportFunc, m.Func(tDrop, nil, []byte{0x20, 0, 0x10, byte(newW), 0x10, byte(dropW)}))
	m.Export("memory", wasmbin.ExportMemory, 0)
	return m.Bytes()
}

// TestDestructorChainDepth: a guest whose destructor drops another of
// its resources nests a call into the guest inside the host's
// [resource-drop], one per level, each holding host stack while only one
// handle is alive. The nesting is capped (cabi.MaxNestedCalls): past it the
// call traps with a message, where before the host's goroutine stack grew
// without bound, to Go's fatal stack overflow.
func TestDestructorChainDepth(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	if err := plugin.Register(ctx, r); err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, dtorChainModule())
	if err != nil {
		t.Fatal(err)
	}
	chain := func(n uint64) (*cabi.Instance, error) {
		inst := cabi.NewInstance()
		cctx := cabi.WithInstance(ctx, inst)
		mod, err := r.InstantiateModule(cctx, compiled, wazero.NewModuleConfig().WithName(""))
		if err != nil {
			t.Fatal(err)
		}
		defer mod.Close(ctx)
		_, err = mod.ExportedFunction("chain").Call(cctx, n)
		return inst, err
	}
	// chain(n) runs n+1 destructors, one inside the other.
	if _, err := chain(cabi.DefaultNestingLimit - 1); err != nil {
		t.Fatalf("a chain of %d destructors: %v", cabi.DefaultNestingLimit, err)
	}
	for _, n := range []uint64{cabi.DefaultNestingLimit, 10_000_000} {
		inst, err := chain(n)
		var trap *cabi.Trap
		if !errors.As(err, &trap) || !strings.Contains(trap.Msg, "nest deeper than 1000") || !strings.Contains(trap.Func, "[resource-drop]widget") {
			t.Fatalf("a chain of %d destructors: %.300v, want a trap naming the nesting limit", n+1, err)
		}
		if len(err.Error()) > 4096 {
			t.Errorf("the trap's message is %d bytes: a level of nesting should not wrap it once more", len(err.Error()))
		}
		if !inst.Trapped() {
			t.Error("instance not marked trapped")
		}
	}
}
