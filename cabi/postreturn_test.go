package cabi

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/wasmbin"
)

// TestPostReturnLeaves checks the Canonical ABI's may-leave rule for the
// post-return of an export called the way the generated callers call
// it, on both of their paths (a scalar export through Exports.Enter and
// Leave, any other through BeginExport, Invoke, PostReturn and
// EndExport): a host function the post-return calls traps, naming
// post-return, the call's error is that trap, and the instance is
// poisoned. Before, the host function ran and the call succeeded.
func TestPostReturnLeaves(t *testing.T) {
	i32 := api.ValueTypeI32
	for _, path := range []string{"scalar", "call"} {
		t.Run(path, func(t *testing.T) {
			ctx := context.Background()
			r := wazero.NewRuntime(ctx)
			defer r.Close(ctx)
			calls := 0
			_, err := r.NewHostModuleBuilder("h").NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
				call := Begin(ctx, mod, "h#get")
				defer call.End()
				calls++
			}), nil, nil).Export("get").Instantiate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var m wasmbin.Module
			get := m.ImportFunc("h", "get", m.Type(nil, nil))
			m.Memory(1, -1)
			m.Export("memory", wasmbin.ExportMemory, 0)
			m.Export("t#f", wasmbin.ExportFunc, m.Func(m.Type(nil, []byte{wasmbin.I32}), nil, wasmbin.I32Const(1)))
			m.Export("cabi_post_t#f", wasmbin.ExportFunc, m.Func(m.Type([]byte{wasmbin.I32}, nil), nil, []byte{0x10, byte(get)}))
			inst := NewInstance()
			ctx = WithInstance(ctx, inst)
			mod, err := r.InstantiateWithConfig(ctx, m.Bytes(), wazero.NewModuleConfig().WithName(""))
			if err != nil {
				t.Fatal(err)
			}
			if err := inst.Bind(mod); err != nil {
				t.Fatal(err)
			}
			b := NewBinder(mod, "t", "")
			f := b.Func("f", "", nil, []api.ValueType{i32})
			x := b.Exports(inst, nil, 1, false)
			if err := b.Err(); err != nil {
				t.Fatal(err)
			}
			if f.Post == nil {
				t.Fatal("no post-return bound")
			}
			call := func() (err error) {
				if path == "scalar" {
					s := x.Enter()
					if s == nil {
						return x.Refusal(&f)
					}
					return x.Leave(ctx, &f, f.Fn.CallWithStack(ctx, s))
				}
				var c Call
				defer c.EndExport(&err)
				c.BeginExport(ctx, &x, &f)
				c.Invoke()
				c.ReadMemory()
				c.PostReturn(1)
				return nil
			}
			err = call()
			var trap *Trap
			if !errors.As(err, &trap) || !strings.Contains(err.Error(), "called from post-return") || calls != 0 {
				t.Fatalf("call = %v (%d host calls), want a trap saying post-return called the host", err, calls)
			}
			t.Log(err)
			if !inst.Trapped() {
				t.Fatal("the instance is not marked trapped")
			}
			if err := call(); !errors.Is(err, ErrTrapped) {
				t.Fatalf("a second call = %v, want a refusal wrapping ErrTrapped", err)
			}
		})
	}
}
