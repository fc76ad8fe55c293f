package component

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime/link"
	"github.com/wasitls/wasitls/runtime/stopcheck"
)

// clearingComponent is a component whose core instance A spins in a loop
// that calls, through a table, a function of core instance B that writes
// 0 to A's stop global (stopcheck.GlobalName). B has no loop, so no check
// of its own; A checks its global once every stopcheck.Period iterations
// and, were B allowed the global, would always find it cleared.
//
// B reaches the global either by importing it from A under its exported
// name (alias false) or through a core instance of exports that aliases
// it under another name (alias true).
func clearingComponent(alias bool) []byte {
	void := wasmbin.Section(1, wasmbin.Vec([][]byte{{0x60, 0x00, 0x00}}))
	table := []byte{0x01, 0x70, 0x00, 0x01} // table funcref, min 1
	// T: exports a table.
	modT := wasmbin.Cat([]byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00},
		wasmbin.Section(4, wasmbin.Vec([][]byte{table[1:]})),
		wasmbin.Section(7, wasmbin.Vec([][]byte{wasmbin.Cat(wasmbin.Name("t"), []byte{0x01, 0x00})})))
	// A: spin calls table slot 0 forever.
	modA := wasmbin.Cat([]byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}, void,
		wasmbin.Section(2, wasmbin.Vec([][]byte{wasmbin.Cat(wasmbin.Name("t"), wasmbin.Name("t"), table)})),
		wasmbin.Section(3, wasmbin.Vec([][]byte{{0x00}})),
		wasmbin.Section(7, wasmbin.Vec([][]byte{wasmbin.Cat(wasmbin.Name("spin"), []byte{0x00, 0x00})})),
		wasmbin.Section(10, wasmbin.Vec([][]byte{wasmbin.Cat([]byte{12},
			[]byte{0x00, 0x03, 0x40, 0x41, 0x00, 0x11, 0x00, 0x00, 0x0c, 0x00, 0x0b, 0x0b})})))
	// B: clear writes 0 to its imported global; an element segment puts
	// clear in the table.
	from, gname := "a", stopcheck.GlobalName
	if alias {
		from, gname = "x", "g"
	}
	modB := wasmbin.Cat([]byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}, void,
		wasmbin.Section(2, wasmbin.Vec([][]byte{
			wasmbin.Cat(wasmbin.Name("t"), wasmbin.Name("t"), table),
			wasmbin.Cat(wasmbin.Name(from), wasmbin.Name(gname), []byte{0x03, wasmbin.I32, 0x01}),
		})),
		wasmbin.Section(3, wasmbin.Vec([][]byte{{0x00}})),
		wasmbin.Section(9, wasmbin.Vec([][]byte{{0x00, 0x41, 0x00, 0x0b, 0x01, 0x00}})),
		wasmbin.Section(10, wasmbin.Vec([][]byte{{0x06, 0x00, 0x41, 0x00, 0x24, 0x00, 0x0b}})))

	// Core instances: 0 of T, 1 of A, then (alias) 2 made of A's global
	// aliased as core global 0, then B.
	insts := [][]byte{
		cat([]byte{0x00}, u32(0), vec()),
		cat([]byte{0x00}, u32(1), vec(cat(name("t"), []byte{0x12}, u32(0)))),
	}
	var aliases [][]byte
	if alias {
		aliases = append(aliases, cat([]byte{0x00, 0x03, 0x01}, u32(1), name(stopcheck.GlobalName)))
	}
	aliases = append(aliases, cat([]byte{0x00, 0x00, 0x01}, u32(1), name("spin")))
	secs := [][]byte{
		section(secCoreModule, modT), section(secCoreModule, modA), section(secCoreModule, modB),
		section(secCoreInstance, vec(insts...)),
		section(secAlias, vec(aliases...)),
	}
	bArgs := []byte{}
	if alias {
		secs = append(secs, section(secCoreInstance, vec(cat([]byte{0x01}, vec(cat(name("g"), []byte{0x03}, u32(0)))))))
		bArgs = vec(cat(name("t"), []byte{0x12}, u32(0)), cat(name("x"), []byte{0x12}, u32(2)))
	} else {
		bArgs = vec(cat(name("t"), []byte{0x12}, u32(0)), cat(name("a"), []byte{0x12}, u32(1)))
	}
	secs = append(secs,
		section(secCoreInstance, vec(cat([]byte{0x00}, u32(2), bArgs))),
		section(secType, vec([]byte{0x40, 0x00, 0x01, 0x00})),
		section(secCanon, vec(cat([]byte{0x00, 0x00}, u32(0), vec(), u32(0)))),
		section(secExport, vec(cat([]byte{0x00}, name("spin"), []byte{0x01}, u32(0), []byte{0x00}))),
	)
	return comp(secs...)
}

// TestStopGlobalNotShared: no core module of a component reaches the stop
// global of another, by importing it under its name or through an alias:
// one that could write it would keep the other from ever stopping (and
// one that could set it, stop the other at will). Instantiation under the
// stop flag refuses such a component; without the flag, where the global
// does not exist, it fails as any missing export does.
func TestStopGlobalNotShared(t *testing.T) {
	for _, alias := range []bool{false, true} {
		t.Run(map[bool]string{false: "import", true: "alias"}[alias], func(t *testing.T) {
			ctx := context.Background()
			r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(false))
			t.Cleanup(func() { r.Close(ctx) })
			c, err := Parse(clearingComponent(alias))
			if err != nil {
				t.Fatal(err)
			}
			stop := &Stop{}
			inst, err := InstantiateStop(ctx, r, c, cabi.NewInstance(), &link.Linker{}, stop)
			if err != nil {
				if !strings.Contains(err.Error(), stopcheck.GlobalName) {
					t.Fatalf("refused with %v, want an error naming %q", err, stopcheck.GlobalName)
				}
				return
			}
			defer inst.Close(ctx)
			f, err := inst.Func("spin")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := f.Call(ctx)
				done <- err
			}()
			time.Sleep(50 * time.Millisecond)
			stop.Set()
			select {
			case err := <-done:
				t.Fatalf("instantiated, and the spin stopped (%v): the instantiation should have been refused", err)
			case <-time.After(2 * time.Second):
				t.Fatal("a core module clearing another's stop global kept it spinning 2 s after Stop.Set")
			}
		})
	}
}

// TestPrepareStop: PrepareStop rewrites every core module of a component
// for the stop flag, nested components' included, and keeps the rewrite,
// which InstantiateStop uses instead of rewriting again; it returns the
// rewriter's refusal of any of them, the one InstantiateStop would fail
// with. A CoreModule whose Bytes were replaced since is rewritten afresh.
func TestPrepareStop(t *testing.T) {
	var g wasmbin.Module
	g.Export("f", wasmbin.ExportFunc, g.Func(g.Type(nil, nil), nil, nil))
	good := g.Bytes()
	var rm wasmbin.Module
	rm.Export(stopcheck.GlobalName, wasmbin.ExportGlobal, rm.Global(wasmbin.I32, true, wasmbin.I32Const(0)))
	refused := rm.Bytes()
	nested := func(core []byte) []byte {
		return comp(section(secCoreModule, good),
			section(secComponent, comp(section(secCoreModule, core))),
			section(secCoreInstance, vec(cat([]byte{0x00}, u32(0), vec()))))
	}

	c, err := Parse(nested(refused))
	if err != nil {
		t.Fatal(err)
	}
	var serr *stopcheck.Error
	err = c.PrepareStop()
	if !errors.As(err, &serr) || !strings.Contains(err.Error(), "definition 1 (component): definition 0 (core module)") {
		t.Fatalf("PrepareStop of a component with a refused nested core module: %v, want the rewriter's error naming where", err)
	}

	c, err = Parse(nested(good))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PrepareStop(); err != nil {
		t.Fatal(err)
	}
	top, inner := c.Defs[0].(CoreModule), c.Defs[1].(Nested).Component.Defs[0].(CoreModule)
	for _, m := range []CoreModule{top, inner} {
		kept := m.stop.b
		b, err := m.stopped(stopcheck.Options{})
		if err != nil || kept == nil || unsafe.SliceData(b) != unsafe.SliceData(kept) {
			t.Fatalf("stopped after PrepareStop: a new rewrite (%v), want the one kept", err)
		}
		if b, err := m.stopped(stopcheck.Options{TableEntries: 5}); err != nil || unsafe.SliceData(b) == unsafe.SliceData(kept) {
			t.Fatalf("stopped with other options: the rewrite kept (%v), want a new one", err)
		}
	}
	// What InstantiateStop runs.
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(false))
	t.Cleanup(func() { r.Close(ctx) })
	inst, err := InstantiateStop(ctx, r, c, cabi.NewInstance(), &link.Linker{}, &Stop{})
	if err != nil {
		t.Fatal(err)
	}
	inst.Close(ctx)

	other := top
	other.Bytes = refused
	if _, err := other.stopped(stopcheck.Options{}); !errors.As(err, &serr) {
		t.Fatalf("a copy with other bytes: %v, want their own rewrite, refused", err)
	}
}

// TestPrepareStopOnce: a parsed component's core modules are rewritten
// for the stop flag once, whichever comes first, PrepareStopWith or an
// instantiation, however many instantiations follow: counted at the
// rewriter. Options that rewrite alike share the rewrite (a zero
// TableEntries and its default, as an embedder's
// PrepareStopWith(Limits.RewriteOptions()) and the runtime's
// instantiation with the defaults filled in give them); other options
// rewrite anew.
func TestPrepareStopOnce(t *testing.T) {
	var g wasmbin.Module
	g.Export("f", wasmbin.ExportFunc, g.Func(g.Type(nil, nil), nil, nil))
	good := g.Bytes()
	// Two core modules, one in a nested component, each instantiated.
	wasm := comp(section(secCoreModule, good),
		section(secComponent, comp(section(secCoreModule, good),
			section(secCoreInstance, vec(cat([]byte{0x00}, u32(0), vec()))))),
		section(secCoreInstance, vec(cat([]byte{0x00}, u32(0), vec()))),
		section(secInstance, vec(cat([]byte{0x00}, u32(0), vec()))))
	const name = "wasitls run --max-table-entries"
	prepared := stopcheck.Options{TableEntriesName: name}
	filled := stopcheck.Options{TableEntries: stopcheck.DefaultTableEntries, TableEntriesName: name}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(false))
	t.Cleanup(func() { r.Close(ctx) })
	instantiate := func(c *Component, o stopcheck.Options) {
		t.Helper()
		inst, err := InstantiateWith(ctx, r, c, cabi.NewInstance(), &link.Linker{}, Options{Stop: &Stop{}, Rewrite: o})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(inst.state.modules); n != 2 {
			t.Fatalf("%d core instances, want 2", n)
		}
		inst.Close(ctx)
	}
	rewrites := func(what string, want int64, do func()) {
		t.Helper()
		before := stopRewrites.Load()
		do()
		if got := stopRewrites.Load() - before; got != want {
			t.Errorf("%s: %d rewrites, want %d", what, got, want)
		}
	}

	c, err := Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	rewrites("PrepareStopWith", 2, func() {
		if err := c.PrepareStopWith(prepared); err != nil {
			t.Fatal(err)
		}
	})
	rewrites("PrepareStopWith again and three instantiations after it, defaults filled in", 0, func() {
		if err := c.PrepareStopWith(filled); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			instantiate(c, filled)
		}
	})
	rewrites("an instantiation with other options", 2, func() { instantiate(c, stopcheck.Options{TableEntries: 1000}) })

	c, err = Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	rewrites("three instantiations without PrepareStop", 2, func() {
		for range 3 {
			instantiate(c, stopcheck.Options{})
		}
	})
}

// TestStopTablesShared: the tables of a component's core instances
// together hold at most twice Options.Rewrite.TableEntries
// (DefaultTableEntries by default), with the stop flag or without: each
// module's tables are bounded by Rewrite.TableEntries
// (stopcheck.DefaultTableEntries, 80 MB of host memory, by default), and
// a component instantiating a module whose table declares no maximum over
// and over would otherwise make the host hold that many times as much.
// Two such instances fit; a third is refused, naming the bound.
func TestStopTablesShared(t *testing.T) {
	unbounded := wasmbin.Cat([]byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00},
		wasmbin.Section(4, wasmbin.Vec([][]byte{{0x70, 0x00, 0x00}})))
	instances := func(n int) []byte {
		var insts [][]byte
		for range n {
			insts = append(insts, cat([]byte{0x00}, u32(0), vec()))
		}
		return comp(section(secCoreModule, unbounded), section(secCoreInstance, vec(insts...)))
	}
	for _, rewrite := range []struct {
		opts  stopcheck.Options
		total string
	}{{stopcheck.Options{}, "20000000"}, {stopcheck.Options{TableEntries: 1000}, "2000"}} {
		for _, stop := range []bool{false, true} {
			for _, tc := range []struct {
				n    int
				want string
			}{{2, ""}, {3, "more than the " + rewrite.total + " the host allows (twice component.Options.Rewrite.TableEntries)"}} {
				ctx := context.Background()
				r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(!stop))
				t.Cleanup(func() { r.Close(ctx) })
				c, err := Parse(instances(tc.n))
				if err != nil {
					t.Fatal(err)
				}
				o := Options{Rewrite: rewrite.opts}
				if stop {
					o.Stop = &Stop{}
				}
				inst, err := InstantiateWith(ctx, r, c, cabi.NewInstance(), &link.Linker{}, o)
				switch {
				case tc.want == "" && err != nil:
					t.Errorf("%+v, stop flag %v, %d instances: %v", rewrite.opts, stop, tc.n, err)
				case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
					t.Errorf("%+v, stop flag %v, %d instances: %v, want an error with %q", rewrite.opts, stop, tc.n, err, tc.want)
				}
				if inst != nil {
					inst.Close(ctx)
				}
			}
		}
	}
}
