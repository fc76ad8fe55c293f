package component

import (
	"context"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
)

// FuzzParse checks that Parse never panics and that what it accepts
// survives a second look (the definitions can be described).
func FuzzParse(f *testing.F) {
	f.Add(exitComponent("0.2.12", "exit"))
	f.Add(exitComponent("0.2.0", "exit-with-code"))
	f.Add(comp(section(secCanon, vec([]byte{0x02, 0x00}, []byte{0x03, 0x00}, []byte{0x04, 0x00}))))
	f.Add(comp(section(secType, vec([]byte{0x3f, 0x7f, 0x01, 0x00}, []byte{0x72, 0x01, 0x01, 'a', 0x79}))))
	f.Add(comp(section(secComponent, comp(section(secExport, vec(cat([]byte{0x00}, name("x"), []byte{0x01, 0x00, 0x00})))))))
	f.Add(comp(section(secCoreModule, []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00})))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		for _, d := range c.Defs {
			_ = describe(d)
		}
	})
}

// FuzzInstantiate checks that instantiating whatever Parse accepts is an
// error or an instance, never a panic, and that the instance closed, or
// the failed instantiation, leaves no compiled module behind. Imports
// bind to host functions that trap.
func FuzzInstantiate(f *testing.F) {
	f.Add(exitComponent("0.2.12", "exit"))
	f.Add(comp(section(secCoreModule, []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}),
		section(secCoreInstance, vec([]byte{0x00, 0x00, 0x00}, []byte{0x01, 0x00})),
		section(secAlias, vec([]byte{0x00, 0x11, 0x01, 0x00, 0x01, 'm'}))))
	f.Add(comp(section(secType, vec([]byte{0x3f, 0x7f, 0x00})), section(secCanon, vec([]byte{0x02, 0x00}, []byte{0x03, 0x00}, []byte{0x04, 0x00}))))
	f.Add(comp(section(secComponent, comp(section(secExport, vec(cat([]byte{0x00}, name("x"), []byte{0x03, 0x00, 0x00})))))))
	// A shim and its fixup, the fixup given the shim function back
	// through a core instance of exports.
	f.Add(comp(section(secCoreModule, testShim()), section(secCoreModule, testFixup),
		section(secCoreInstance, vec(cat([]byte{0x00}, u32(0), vec()))),
		section(secAlias, vec(cat([]byte{0x00, 0x00, 0x01}, u32(0), name("0")))),
		section(secCoreInstance, vec(
			cat([]byte{0x01}, vec(cat(name("0"), []byte{0x00}, u32(0)))),
			cat([]byte{0x00}, u32(1), vec(cat(name("a"), []byte{0x12}, u32(1)), cat(name("shim"), []byte{0x12}, u32(0)))),
		))))
	bg := context.Background()
	// A core module's start function may loop: each input gets a second.
	r := wazero.NewRuntimeWithConfig(bg, wazero.NewRuntimeConfig().WithCloseOnContextDone(true).WithMemoryLimitPages(64))
	f.Cleanup(func() { r.Close(bg) })
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(bg, time.Second)
		defer cancel()
		live := 0
		inst, err := Instantiate(ctx, countingRuntime{r, &live}, c, cabi.NewInstance(), trapLinker{})
		if err == nil {
			inst.Close(ctx)
		}
		if live != 0 {
			t.Fatalf("%d compiled modules left open (instantiation error %v)", live, err)
		}
	})
}

// trapLinker serves every import with a host function that traps.
type trapLinker struct{}

func (trapLinker) Resolve(module, name string, params, results []api.ValueType) (cabi.HostFunc, error) {
	fn := func(ctx context.Context, mod api.Module, stack []uint64) {
		cabi.Trapf(module+"#"+name, "not served in the fuzz test")
	}
	return cabi.HostFunc{Name: name, Fn: fn, Params: params, Results: results}, nil
}

// FuzzCoreShape checks that reading a core module's shape, and
// recognizing a shim or a fixup in it, is an answer, never a panic.
func FuzzCoreShape(f *testing.F) {
	f.Add(testShim())
	f.Add(testFixup)
	f.Add(testShim(0x41, 0x00, 0x1a))
	sh, _ := recognizeShim(testShim())
	f.Fuzz(func(t *testing.T, b []byte) {
		readCoreShape(b)
		if s, ok := recognizeShim(b); ok && len(s.slots) == 0 {
			t.Fatal("a shim with no slots")
		}
		recognizeFixup(b, sh, "shim")
		importsTable(b, "shim", "$imports")
	})
}
