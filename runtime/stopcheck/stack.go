package stopcheck

import (
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/wasmbin"
)

// The stack budget (see the package documentation, "The stack budget").

// StackName is the name the stack budget global is exported under.
const StackName = "wasitls:stack"

// StackUnit is the unit of the stack budget global and of frame weights,
// in bytes.
const StackUnit = 64

// DefaultStackBytes is the stack budget a module Instrument made starts
// with, until the host sets it ([SetStack]): 256 MiB of accounted frames.
const DefaultStackBytes = 256 << 20

// MaxStackBytes is the largest budget the global holds: 2^31-1 units.
const MaxStackBytes = (1<<31 - 1) * StackUnit

// maxWeight bounds one frame's weight, so that the budget minus a weight
// cannot overflow an i32 (the budget is at most 2^31-1 and at least
// -maxWeight when a check traps).
const maxWeight = 1 << 24

// frameWeight is what a call of a function with params parameters,
// locals locals and a body of size bytes takes from the budget, in
// StackUnit: an over-approximation of the frame wazero's compiler gives
// it (its spill slots grow with the values a body computes, which its
// bytes bound), 8 bytes for each parameter, local and byte of code, and
// one unit for the frame's fixed part.
func frameWeight(params, locals uint64, size int) uint32 {
	w := 1 + (params+locals+uint64(size))*8/StackUnit
	if w > maxWeight {
		w = maxWeight
	}
	return uint32(w)
}

// entryCode takes w units from the budget and traps ("unreachable") when
// that leaves it negative:
//
//	global.get $stack  i32.const w  i32.sub  global.set $stack
//	global.get $stack  i32.const 0  i32.lt_s
//	if  unreachable  end
func entryCode(stack uint32, w uint32) []byte {
	g := wasmbin.ULEB(uint64(stack))
	return wasmbin.Cat([]byte{0x23}, g, wasmbin.I32Const(int32(w)), []byte{0x6b, 0x24}, g,
		[]byte{0x23}, g, []byte{0x41, 0x00, 0x48, 0x04, 0x40, 0x00, 0x0b})
}

// exitCode gives the w units back:
//
//	global.get $stack  i32.const w  i32.add  global.set $stack
func exitCode(stack uint32, w uint32) []byte {
	g := wasmbin.ULEB(uint64(stack))
	return wasmbin.Cat([]byte{0x23}, g, wasmbin.I32Const(int32(w)), []byte{0x6a, 0x24}, g)
}

// A funcType is what the budget needs of a function type: how many
// parameters, and the results' value types.
type funcType struct {
	params  uint32
	results []byte
}

// readTypes parses the type section (nil body: none).
func readTypes(body []byte, off int) ([]funcType, error) {
	if body == nil {
		return nil, nil
	}
	r := newReader(body, off)
	n := r.U32()
	types := make([]funcType, 0, n)
	for i := uint32(0); i < n && r.Err == nil; i++ {
		if form := r.Byte(); form != 0x60 && r.Err == nil {
			r.Pos--
			r.Fail(fmt.Sprintf("function type form 0x%02x", form))
		}
		np := r.U32()
		for k := uint32(0); k < np && r.Err == nil; k++ {
			r.valtype()
		}
		nr := r.U32()
		at := r.Pos
		for k := uint32(0); k < nr && r.Err == nil; k++ {
			r.valtype()
		}
		types = append(types, funcType{np, body[at:r.Pos]})
	}
	r.End("type section")
	return types, r.Err
}

// readFuncs parses the function section: the type index of each defined
// function.
func readFuncs(body []byte, off int) ([]uint32, error) {
	if body == nil {
		return nil, nil
	}
	r := newReader(body, off)
	n := r.U32()
	funcs := make([]uint32, 0, n)
	for i := uint32(0); i < n && r.Err == nil; i++ {
		funcs = append(funcs, r.U32())
	}
	r.End("function section")
	return funcs, r.Err
}

// resultBlock returns the block type of a block that takes nothing and
// yields the results of t: empty or one value type, or for more results
// the first type of types that is [] -> those results (the module's
// own, then those blockTypes appends). ok is false when there is none.
func resultBlock(t funcType, types []funcType) (bt []byte, ok bool) {
	switch len(t.results) {
	case 0:
		return []byte{0x40}, true
	case 1:
		return t.results, true
	}
	for i, u := range types {
		if u.params == 0 && string(u.results) == string(t.results) {
			return wasmbin.ULEB(uint64(i)), true // < 2^32: an s33 of the same bytes
		}
	}
	return nil, false
}

// blockTypes returns the types [] -> results the rewrite appends to the
// module's, one for each list of several results of a function it
// defines that no type of the module's is already: the block wrapping
// that function's body (see instrumentFunc) has it as its type. Appended
// after the module's own, they move no index; a type index at or past
// the first of them is refused wherever the module names one (see
// reader.typeIndex), since an invalid module naming a type just past its
// own would become valid.
func blockTypes(fs funcSig) []funcType {
	var extra []funcType
	seen := map[string]bool{}
	for _, ti := range fs.funcs {
		if int(ti) >= len(fs.types) {
			continue // refused by instrumentCode
		}
		t := fs.types[ti]
		if len(t.results) < 2 || seen[string(t.results)] {
			continue
		}
		seen[string(t.results)] = true
		if _, ok := resultBlock(t, fs.types); !ok {
			extra = append(extra, funcType{0, t.results})
		}
	}
	return extra
}

// encode returns the encoding of t, a type blockTypes made (no
// parameters).
func (t funcType) encode() []byte {
	return wasmbin.Cat([]byte{0x60, 0x00}, wasmbin.ULEB(uint64(len(t.results))), t.results)
}

// hasCalls reports whether the instructions of a body (after its locals)
// call a function: a function without calls is a leaf, whose frame the
// budget does not count (see the package documentation).
func hasCalls(code []byte) bool {
	r := newReader(code, 0)
	for r.Pos < len(r.B) && r.Err == nil {
		op := r.Byte()
		switch op {
		case 0x10, 0x11, 0x12, 0x13:
			return true
		}
		r.immediates(op)
	}
	return false
}

// StackGlobal returns the stack budget global of an instance of a module
// Instrument rewrote.
func StackGlobal(mod api.Module) (api.MutableGlobal, error) {
	g, ok := mod.ExportedGlobal(StackName).(api.MutableGlobal)
	if !ok || g.Type() != api.ValueTypeI32 {
		return nil, fmt.Errorf("the module has no mutable i32 global %q", StackName)
	}
	return g, nil
}

// StackUnits is the value of the stack global for a budget of bytes
// (DefaultStackBytes when bytes <= 0, at most MaxStackBytes).
func StackUnits(bytes int64) uint64 {
	if bytes <= 0 {
		bytes = DefaultStackBytes
	}
	if bytes > MaxStackBytes {
		bytes = MaxStackBytes
	}
	return uint64(bytes / StackUnit)
}

// StackExceeded reports whether the budget of g ran out: the global is
// negative after a frame's entry check trapped (the host resets it before
// the next outermost call).
func StackExceeded(g api.Global) bool { return int32(uint32(g.Get())) < 0 }
