package component

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/runtime/link"
)

// exitLinker serves wasi:cli/exit at 0.2.8 with exit only.
func exitLinker(t *testing.T) *link.Linker {
	l, err := link.NewLinker(link.Implementation{
		Interface: "wasi:cli/exit", Version: "0.2.8",
		Functions: func(module string) []cabi.HostFunc {
			return []cabi.HostFunc{{Name: "exit", Fn: func(context.Context, api.Module, []uint64) {}, Params: []api.ValueType{api.ValueTypeI32}}}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func instantiate(t *testing.T, b []byte, l Linker) (*Instance, error) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	c, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return Instantiate(ctx, r, c, cabi.NewInstance(), l)
}

func TestInstantiateLowersNewerPatchVersion(t *testing.T) {
	inst, err := instantiate(t, exitComponent("0.2.12", "exit"), exitLinker(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestInstantiateMissingImport checks that an import the host lacks is an
// error naming the interface, the version and the function.
func TestInstantiateMissingImport(t *testing.T) {
	_, err := instantiate(t, exitComponent("0.2.12", "exit-with-code"), exitLinker(t))
	var le *link.LinkError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *link.LinkError", err)
	}
	if le.Interface != "wasi:cli/exit" || le.Version != "0.2.12" || le.Function != "exit-with-code" {
		t.Fatalf("LinkError = %+v", le)
	}
	if !strings.Contains(err.Error(), "wasi:cli/exit@0.2.12#exit-with-code") {
		t.Fatalf("err = %v", err)
	}
	_, err = instantiate(t, exitComponent("0.2.12", "exit"), &link.Linker{})
	if err == nil || !strings.Contains(err.Error(), "does not implement wasi:cli/exit") {
		t.Fatalf("err = %v, want an unknown-interface error", err)
	}
}
