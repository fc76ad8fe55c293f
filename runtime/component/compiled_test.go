package component

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
)

// countingRuntime counts the compiled modules made through it and not
// closed.
type countingRuntime struct {
	wazero.Runtime
	live *int
}

type countingCompiled struct {
	wazero.CompiledModule
	live *int
}

func (c countingCompiled) Close(ctx context.Context) error {
	*c.live--
	return c.CompiledModule.Close(ctx)
}

type countingBuilder struct {
	wazero.HostModuleBuilder
	live *int
}

func (b countingBuilder) Compile(ctx context.Context) (wazero.CompiledModule, error) {
	c, err := b.HostModuleBuilder.Compile(ctx)
	if err != nil {
		return nil, err
	}
	*b.live++
	return countingCompiled{c, b.live}, nil
}

func (r countingRuntime) NewHostModuleBuilder(name string) wazero.HostModuleBuilder {
	return countingBuilder{r.Runtime.NewHostModuleBuilder(name), r.live}
}

func (r countingRuntime) CompileModule(ctx context.Context, b []byte) (wazero.CompiledModule, error) {
	c, err := r.Runtime.CompileModule(ctx, b)
	if err != nil {
		return nil, err
	}
	*r.live++
	return countingCompiled{c, r.live}, nil
}

func (r countingRuntime) InstantiateModule(ctx context.Context, c wazero.CompiledModule, cfg wazero.ModuleConfig) (api.Module, error) {
	if cc, ok := c.(countingCompiled); ok {
		c = cc.CompiledModule
	}
	return r.Runtime.InstantiateModule(ctx, c, cfg)
}

// TestCloseReleasesCompiled checks that closing an instance closes the
// modules its instantiation compiled (its core modules, the synthetic
// instances, the batches of canonical built-ins, each compiled anew for
// it), and so does an instantiation that fails: a host instantiating
// components one after another in one runtime would otherwise hold
// compiled code for each of them until the runtime closes.
func TestCloseReleasesCompiled(t *testing.T) {
	// A core module importing the lowered exit through a core instance
	// of exports: a batch, a synthetic instance and a core module.
	b := cat(exitComponent("0.2.0", "exit"),
		section(secCoreModule, core(
			section(1, vec([]byte{0x60, 0x01, 0x7f, 0x00})),
			section(2, vec(cat(name("a"), name("exit"), []byte{0x00}, u32(0)))),
		)),
		section(secCoreInstance, vec(
			cat([]byte{0x01}, vec(cat(name("exit"), []byte{0x00}, u32(0)))),
			cat([]byte{0x00}, u32(0), vec(cat(name("a"), []byte{0x12}, u32(0)))),
		)))
	c, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	// The same, then an alias of an export the module lacks.
	bad, err := Parse(cat(b, section(secAlias, vec(cat([]byte{0x00, 0x00, 0x01}, u32(1), name("nope"))))))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	base := wazero.NewRuntime(ctx)
	defer base.Close(ctx)
	live := 0
	r := countingRuntime{base, &live}
	for i := range 3 {
		inst, err := Instantiate(ctx, r, c, cabi.NewInstance(), trapLinker{})
		if err != nil {
			t.Fatal(err)
		}
		if live == 0 {
			t.Fatal("the instantiation compiled nothing: the test does not test")
		}
		if err := inst.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if live != 0 {
			t.Fatalf("after closing instance %d, %d compiled modules are not closed", i, live)
		}
		if _, err := Instantiate(ctx, r, bad, cabi.NewInstance(), trapLinker{}); err == nil {
			t.Fatal("the bad component instantiated")
		}
		if live != 0 {
			t.Fatalf("after failed instantiation %d, %d compiled modules are not closed", i, live)
		}
	}
}
