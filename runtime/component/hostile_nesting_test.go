package component

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/wasmbin"
)

// TestHostileInstances checks that a component of a few hundred bytes
// that instantiates its nested components an exponential number of times
// is refused, quickly, rather than run: core instances (each with a
// memory the host allocates), the bytes of their memories and the
// definitions run are counted over the whole instantiation, and the
// error names the count that stopped it. Two minutes is a hang guard (the
// instantiations refused run 2^24 core instances, 8 GiB of memories,
// 2^60 definitions), not a measure: a loaded machine made a bound of 10 s
// fail.
func TestHostileInstances(t *testing.T) {
	withMemory := comp(
		section(secCoreModule, core(section(5, vec([]byte{0x00, 0x01})))),
		section(secCoreInstance, vec(cat([]byte{0x00}, u32(0), vec()))),
	)
	// A 1 GiB memory, instantiated 8 times.
	bigMemory := comp(
		section(secCoreModule, core(section(5, vec(cat([]byte{0x00}, u32(1<<14)))))),
		section(secCoreInstance, vec(cat([]byte{0x00}, u32(0), vec()))),
	)
	empty := comp(section(secType, vec([]byte{0x73})))
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"core-instances", wasmbin.DoublingInstances(withMemory, 24), fmt.Sprintf("more than %d core instances", DefaultCoreInstances)},
		{"memory", wasmbin.DoublingInstances(bigMemory, 3), fmt.Sprintf("more than the %d the host allows (component.Options.InitialMemory)", DefaultInitialMemory)},
		{"definitions", wasmbin.DoublingInstances(empty, 60), fmt.Sprintf("more than %d definitions run", MaxDefinitionsRun)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := instantiate(t, tc.b, trapLinker{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one about %s", err, tc.want)
			}
			if d := time.Since(start); d > 2*time.Minute {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestInstantiateContext checks that the instantiation's context bounds
// it between definitions, not only inside core code: a long one (2^19
// nested instances) stops when the context is cancelled.
func TestInstantiateContext(t *testing.T) {
	c, err := Parse(wasmbin.DoublingInstances(comp(section(secType, vec([]byte{0x73}))), 19))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := wazero.NewRuntime(context.Background())
	defer r.Close(context.Background())
	_, err = Instantiate(ctx, r, c, cabi.NewInstance(), trapLinker{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestInstantiateLimits: Options.CoreInstances and Options.InitialMemory
// bound an instantiation at the embedder's values, nested instances
// included: 16 instances of a module with a one-page memory fit in 16
// instances and 16 pages, and are refused, wrapping the limit's error,
// one below either.
func TestInstantiateLimits(t *testing.T) {
	withMemory := comp(
		section(secCoreModule, core(section(5, vec([]byte{0x00, 0x01})))),
		section(secCoreInstance, vec(cat([]byte{0x00}, u32(0), vec()))),
	)
	c, err := Parse(wasmbin.DoublingInstances(withMemory, 4))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	for _, tc := range []struct {
		name string
		o    Options
		want error
	}{
		{"fit", Options{CoreInstances: 16, InitialMemory: 16 << 16}, nil},
		{"CoreInstances", Options{CoreInstances: 15}, ErrCoreInstances},
		{"InitialMemory", Options{InitialMemory: 15 << 16}, ErrInitialMemory},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst, err := InstantiateWith(ctx, r, c, cabi.NewInstance(), trapLinker{}, tc.o)
			if err == nil {
				inst.Close(ctx)
			}
			if tc.want == nil && err != nil || tc.want != nil && (!errors.Is(err, tc.want) || !strings.Contains(err.Error(), "component.Options."+tc.name)) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// manyExports is a component that instantiates k times a nested one
// whose instance of exports names one type n times, and exports each
// instance: about 8n + 5k bytes.
func manyExports(n, k int) []byte {
	entries := make([][]byte, n)
	for i := range entries {
		entries[i] = cat([]byte{0x00}, name(fmt.Sprintf("e%d", i)), []byte{0x03}, u32(0))
	}
	inner := comp(
		section(secType, vec([]byte{0x6f, 0x01, 0x7d})),
		section(secInstance, vec(cat([]byte{0x01}, vec(entries...)))),
		section(secExport, vec(cat([]byte{0x00}, name("i"), []byte{0x05}, u32(0), []byte{0x00}))),
	)
	insts := make([][]byte, k)
	exps := make([][]byte, k)
	for i := range insts {
		insts[i] = cat([]byte{0x00}, u32(0), vec())
		exps[i] = cat([]byte{0x00}, name(fmt.Sprintf("x%d", i)), []byte{0x05}, u32(uint32(i)), []byte{0x00})
	}
	return comp(section(secComponent, inner), section(secInstance, vec(insts...)), section(secExport, vec(exps...)))
}

// TestHostileEntries checks that a definition of many entries counts
// them against MaxDefinitionsRun: before, an instance of 20,000 exports,
// one definition, counted one however often a nested component ran it,
// so that 90 KB instantiating it 300 times made the host hold 6 million
// exports (276 MB), and 1.4 MB, instantiating it 300,000 times, hundreds
// of GB.
func TestHostileEntries(t *testing.T) {
	_, err := instantiate(t, manyExports(20_000, 60), trapLinker{})
	if err == nil || !strings.Contains(err.Error(), "definitions run") {
		t.Fatalf("err = %v, want the instantiation refused past MaxDefinitionsRun", err)
	}
}
