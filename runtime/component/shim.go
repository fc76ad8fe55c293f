package component

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/tetratelabs/wazero/api"
)

// Seeing through wit-component's indirect-call shims.
//
// A core module's imports are bound when it is instantiated, but a
// lowered import whose options name that module's own memory or realloc
// can only be defined after it. wit-component breaks the cycle with two
// generated modules: a shim, instantiated first, whose exported functions
// each forward their parameters to one slot of the shim's table
// ("$imports") with call_indirect, and which the main module imports in
// place of the lowered functions; and a fixup, instantiated once the
// lowered functions exist, whose only content is an element segment that
// writes them into the shim's table. Run as written, every call of such an
// import pays a call into the shim and an indirect call before it reaches
// the host: about a tenth of a wall-clock.now loop.
//
// The loader keeps that meaning and drops the detour where a slot is to
// hold one of its own canonical built-ins (a host function):
//
//   - A shim is recognized by its shape (readCoreShape): no imports, one
//     table, exported functions whose whole body is "local.get 0..n-1;
//     i32.const slot; call_indirect (its own type) table 0", nothing else.
//     It is instantiated as written either way.
//   - Before the shim's functions are handed out, the definitions that
//     follow are read (hostSlots) for the fixup that will fill its table:
//     the slots whose element is a function a `canon lower` or a resource
//     built-in defines. Only those shim functions get a trampoline, a host
//     function in the batch of canonical built-ins; the others (the
//     preview1 adapter's functions, a destructor in the main module) stay
//     the shim's own wasm functions.
//   - A core instance made of exports that names a shim function with a
//     trampoline exports the trampoline instead; that is how the main
//     module gets it.
//   - When a recognized fixup of the shim is instantiated (as written, so
//     the table holds what it should), the loader records, for each slot
//     it wrote, the built-in's Go function when the element is one of its
//     built-ins with the shim function's exact type, and no function
//     otherwise. A trampoline calls the recorded function directly: the
//     built-ins ignore the module they are called from. A slot with no
//     recorded function (the fixup has not run, or wrote something else)
//     calls the shim's own function, which traps on an empty slot or a
//     type mismatch as the shim would.
//   - A module other than a recognized fixup that imports the shim's table
//     could write it: the shim is then marked escaped and every trampoline
//     calls the shim's own function from then on.
//   - A trampoline is never recorded as a slot's built-in, and calls of
//     the shims' own functions from trampolines nest at most maxShimDepth
//     deep per component instance: a hostile component whose fixup writes
//     a trampoline back into its own slot gets a trap, where the shim
//     alone would have recursed in wasm until wazero's stack limit,
//     instead of unbounded recursion through Go.
type shim struct {
	mod   api.Module
	table string              // the table's export name
	funcs map[string]shimFunc // exported functions, by export name
	fast  map[string]coreItem // trampolines, by the export name they replace

	slots   []api.GoModuleFunc // by slot: the built-in a recognized fixup wrote
	escaped bool
	depth   *atomic.Int32 // the instance's nesting of indirect calls
}

// maxShimDepth bounds how deeply calls of shims' own functions from
// trampolines nest (see shim).
const maxShimDepth = 64

// A shimFunc is an exported shim function: the slot it calls, with its
// type.
type shimFunc struct {
	slot uint32
	sig  coreSig
}

// recognizeShim returns the shim that core module b is, if it has the
// shape of one.
func recognizeShim(b []byte) (*shim, bool) {
	cs, err := readCoreShape(b)
	if err != nil || cs.other || len(cs.imports) > 0 || cs.tables != 1 || len(cs.elems) > 0 {
		return nil, false
	}
	sh := &shim{funcs: map[string]shimFunc{}, fast: map[string]coreItem{}}
	nslots := uint32(0)
	for _, e := range cs.exports {
		switch e.kind {
		case 0:
			sig, ok := cs.funcSig(e.index)
			if !ok {
				return nil, false
			}
			slot, ok := forwardSlot(cs, cs.bodies[e.index], sig)
			if !ok {
				return nil, false
			}
			sh.funcs[e.name] = shimFunc{slot: slot, sig: sig}
			nslots = max(nslots, slot+1)
		case 1:
			if sh.table != "" || e.index != 0 {
				return nil, false
			}
			sh.table = e.name
		default:
			return nil, false
		}
	}
	if sh.table == "" || len(sh.funcs) == 0 || nslots > 1<<16 {
		return nil, false
	}
	sh.slots = make([]api.GoModuleFunc, nslots)
	return sh, true
}

// forwardSlot returns the slot of a function body that forwards its
// parameters to a call_indirect of its own type through table 0.
func forwardSlot(cs *coreShape, body []byte, sig coreSig) (uint32, bool) {
	r := &reader{b: body}
	expect := func(op byte) bool {
		c, err := r.byte("opcode")
		return err == nil && c == op
	}
	u32 := func() (uint32, bool) {
		v, err := r.u32("immediate")
		return v, err == nil
	}
	if locals, ok := u32(); !ok || locals != 0 {
		return 0, false
	}
	for i := range len(sig.params) {
		if !expect(0x20) { // local.get
			return 0, false
		}
		if l, ok := u32(); !ok || l != uint32(i) {
			return 0, false
		}
	}
	if !expect(0x41) { // i32.const
		return 0, false
	}
	slot, err := r.s32("slot")
	if err != nil || slot < 0 {
		return 0, false
	}
	if !expect(0x11) { // call_indirect
		return 0, false
	}
	typ, ok := u32()
	if !ok {
		return 0, false
	}
	if t, ok := cs.typeAt(typ); !ok || !t.equal(sig) {
		return 0, false
	}
	if table, ok := u32(); !ok || table != 0 {
		return 0, false
	}
	if !expect(0x0b) || !r.empty() { // end
		return 0, false
	}
	return uint32(slot), true
}

// seeThrough makes the trampolines of shim sh, the core instance about to
// be pushed at index idx of the scope's core instances.
func (s *scope) seeThrough(sh *shim, idx uint32) {
	host := s.hostSlots(sh, idx)
	for name, f := range sh.funcs {
		if !host[f.slot] {
			continue
		}
		sh.fast[name] = s.state.addHost(hostFunc{fn: sh.trampoline(name), params: f.sig.params, results: f.sig.results, trampoline: true})
	}
}

// trampoline returns the host function that stands for the shim's
// function name.
func (sh *shim) trampoline(name string) api.GoModuleFunc {
	slot := sh.funcs[name].slot
	return func(ctx context.Context, m api.Module, stack []uint64) {
		if !sh.escaped {
			if g := sh.slots[slot]; g != nil {
				g(ctx, m, stack)
				return
			}
		}
		sh.indirect(ctx, name, stack)
	}
}

// indirect calls the shim's own function name.
func (sh *shim) indirect(ctx context.Context, name string, stack []uint64) {
	if sh.depth.Add(1) > maxShimDepth {
		sh.depth.Add(-1)
		panic(fmt.Errorf("component: calls through an indirect-call shim nest more than %d deep (a slot leads back to a shim)", maxShimDepth))
	}
	defer sh.depth.Add(-1)
	// A fresh api.Function each time: a call engine is not reentrant, and
	// this path is the rare one.
	if err := sh.mod.ExportedFunction(name).CallWithStack(ctx, stack); err != nil {
		panic(err)
	}
}

// hostSlots reads the definitions after the current one for the first
// core instantiation that takes the shim (core instance idx) as an
// argument and returns, if it is a fixup, the slots it writes with a
// canonical built-in.
func (s *scope) hostSlots(sh *shim, idx uint32) map[uint32]bool {
	var next [numSorts]uint32
	for so := range numSorts {
		next[so] = uint32(s.count(so))
	}
	next[SortCoreInstance] = idx + 1
	later := map[Sort]map[uint32]Def{SortCoreModule: {}, SortCoreInstance: {}, SortCoreFunc: {}}
	for _, d := range s.defs[s.pos+1:] {
		so := d.Space()
		if so >= numSorts {
			continue
		}
		if m := later[so]; m != nil {
			m[next[so]] = d
		}
		next[so]++
		ci, ok := d.(CoreInstantiate)
		if !ok {
			continue
		}
		shimArg := ""
		for _, a := range ci.Args {
			if a.Instance == idx {
				shimArg = a.Name
			}
		}
		if shimArg == "" {
			continue
		}
		var b []byte
		if it, ok := s.get(SortCoreModule, ci.Module); ok {
			b = it.v.(*CoreModule).Bytes
		} else if m, ok := later[SortCoreModule][ci.Module].(CoreModule); ok {
			b = m.Bytes
		}
		fx, ok := recognizeFixup(b, sh, shimArg)
		if !ok {
			return nil
		}
		host := map[uint32]bool{}
		for slot, im := range fx {
			inst := uint32(0)
			found := false
			for _, a := range ci.Args {
				if a.Name == im.module {
					inst, found = a.Instance, true
				}
			}
			if found && s.laterHost(inst, im.name, later) {
				host[slot] = true
			}
		}
		return host
	}
	return nil
}

// laterHost says whether export name of core instance inst, defined now
// or by a later definition in later, is a canonical built-in.
func (s *scope) laterHost(inst uint32, name string, later map[Sort]map[uint32]Def) bool {
	if it, ok := s.get(SortCoreInstance, inst); ok {
		_, host := it.v.(*coreInstance).hostFunc(name)
		return host
	}
	ce, ok := later[SortCoreInstance][inst].(CoreExports)
	if !ok {
		return false
	}
	for _, e := range ce.Exports {
		if e.Name != name || e.Sort != SortCoreFunc {
			continue
		}
		if it, ok := s.get(SortCoreFunc, e.Index); ok {
			ci := it.v.(coreItem)
			_, host := ci.inst.hostFunc(ci.name)
			return host
		}
		c, ok := later[SortCoreFunc][e.Index].(Canon)
		return ok && c.Kind != CanonLift
	}
	return false
}

// recognizeFixup returns, by slot, the imported function a fixup of shim
// sh writes there: core module b whose imports are functions and the
// shim's table (from argument shimArg), with no functions, memory,
// globals, start or data of its own, and only active element segments
// that write imported functions into that table.
func recognizeFixup(b []byte, sh *shim, shimArg string) (map[uint32]coreImport, bool) {
	cs, err := readCoreShape(b)
	if err != nil || cs.other || len(cs.funcs) > 0 || cs.tables > 0 || len(cs.elems) == 0 {
		return nil, false
	}
	var funcs []coreImport
	table := false
	for _, im := range cs.imports {
		switch {
		case im.kind == 0:
			funcs = append(funcs, im)
		case im.kind == 1 && !table && im.module == shimArg && im.name == sh.table:
			table = true
		default:
			return nil, false
		}
	}
	if !table {
		return nil, false
	}
	out := map[uint32]coreImport{}
	for _, seg := range cs.elems {
		for i, f := range seg.funcs {
			if uint64(f) >= uint64(len(funcs)) {
				return nil, false
			}
			out[seg.offset+uint32(i)] = funcs[f]
		}
	}
	return out, true
}

// fill records what a core module just instantiated with shim sh as its
// argument arg did to the shim's table: a recognized fixup wrote the
// slots it names (args are its argument instances); any other module
// that imports the table makes the shim escaped.
func (sh *shim) fill(b []byte, arg string, args map[string]*coreInstance) {
	if sh.escaped {
		return
	}
	fx, ok := recognizeFixup(b, sh, arg)
	if !ok {
		if importsTable(b, arg, sh.table) {
			sh.escaped = true
			clear(sh.slots)
		}
		return
	}
	sigs := map[uint32]coreSig{}
	for _, f := range sh.funcs {
		sigs[f.slot] = f.sig
	}
	for slot, im := range fx {
		if uint64(slot) >= uint64(len(sh.slots)) {
			continue // no shim function calls it
		}
		sh.slots[slot] = nil
		src, ok := args[im.module]
		if !ok {
			continue
		}
		hf, ok := src.hostFunc(im.name)
		sig := coreSig{params: hf.params, results: hf.results}
		if ok && !hf.trampoline && sig.equal(sigs[slot]) {
			sh.slots[slot] = hf.fn
		}
	}
}

// importsTable says whether core module b imports table name from module
// arg (or cannot be read, which counts as yes).
func importsTable(b []byte, arg, name string) bool {
	cs, err := readCoreShape(b)
	if err != nil {
		return true
	}
	for _, im := range cs.imports {
		if im.kind == 1 && im.module == arg && im.name == name {
			return true
		}
	}
	return false
}

// hostFunc returns the canonical built-in that export name of ci is: a
// function of a batch, or one re-exported by a core instance of exports.
func (ci *coreInstance) hostFunc(name string) (hostFunc, bool) {
	if ci.batch != nil && ci.batch.has(name) {
		i, _ := strconv.Atoi(name)
		return ci.batch.funcs[i], true
	}
	f, ok := ci.hosts[name]
	return f, ok
}
