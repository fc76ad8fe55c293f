package component

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"
	"unsafe"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
)

// Values passed to and returned from Func.Call:
//
//	bool, s8..u64 as int8..uint64, f32, f64 as float32, float64
//	char as rune, string as string
//	list<u8> as []byte, other lists, tuples and records as []any
//	variant, enum, option and result as Variant (Case is the
//	canonical discriminant: option none 0, some 1; result ok 0, err 1)
//	flags as uint32 (bit i is label i)
//
//	own<R> results, own<R> and borrow<R> arguments as *Handle when the
//	component defines R, as HostResource when it imports R
type Variant struct {
	Case  uint32
	Value any // nil for a case without payload
}

// valueError is panicked by lifting and lowering and recovered by Call.
type valueError struct{ err error }

func fail(format string, args ...any) {
	panic(valueError{fmt.Errorf(format, args...)})
}

// Call calls the function with args lowered by the Canonical ABI and
// returns its result lifted (nil for a function without one), after the
// post-return function ran.
//
// One call at a time enters an instance. A call made while another is in
// progress, from a host function the component called (re-entering it,
// which the Component Model forbids) or from another goroutine, is
// refused at once with an error wrapping cabi.ErrInstanceBusy, before the
// component sees it: the call in progress carries on, and the instance
// stays usable. Callers that share an instance between goroutines
// serialize their calls themselves, or instantiate one per goroutine.
func (f *Func) Call(ctx context.Context, args ...any) (result any, err error) {
	ft, l := f.f.typ, f.f.lifted
	if len(args) != len(ft.params) {
		return nil, fmt.Errorf("component: %s takes %d arguments, got %d", f.Name, len(ft.params), len(args))
	}
	if err := f.inst.ci.Enter(f.Name); err != nil {
		return nil, err
	}
	defer f.inst.ci.Leave()
	returned := false // the component's export returned
	m := &mem{m: l.memory, realloc: l.realloc, ctx: ctx, inst: f.inst, table: l.table, scope: l.scope}
	defer func() {
		if r := recover(); r != nil {
			ve, ok := r.(valueError)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("component: %s: %w", f.Name, ve.err)
			if returned {
				// The component returned what cannot be lifted (a bad
				// pointer, aliased strings): a trap, as in the export.
				// The handles lifted before the fault are no one's.
				f.inst.halt(err)
				m.dropTaken()
			}
		}
	}()
	defer func() {
		// When lowering failed, what it lent or moved goes back.
		m.endLoans()
		m.unmove()
	}()
	var flat []uint64
	sig := sigOf(ft)
	if sig.spilled {
		// Spilled: the arguments are stored in memory, lowered once.
		tu := &rtuple{}
		for _, p := range ft.params {
			tu.elems = append(tu.elems, p.t)
		}
		ptr := m.alloc(size(tu), alignment(tu))
		m.store(tu, ptr, args)
		flat = []uint64{uint64(ptr)}
	} else {
		for i, p := range ft.params {
			flat = lowerFlat(m, p.t, args[i], flat)
		}
	}
	m.moved = nil // the component has them now
	res, err := l.fn.Call(ctx, flat...)
	returned = err == nil
	f.inst.halt(err)
	err = f.inst.stopped(f.Name, err)
	if lerr := m.endLoans(); lerr != nil && err == nil {
		err = fmt.Errorf("component: %s: %w", f.Name, lerr)
	}
	if err != nil {
		return nil, err
	}
	if ft.result != nil {
		if sig.spilledResult {
			result = m.load(ft.result, uint32(res[0]))
		} else {
			it := &flatIter{vals: res, types: sig.results}
			result = liftFlat(m, it, ft.result)
		}
	}
	if l.postReturn != nil {
		// Under the may-leave rule: a host function it calls traps.
		if err := f.inst.ci.CallPostReturn(ctx, l.postReturn, res); err != nil {
			f.inst.halt(err)
			m.dropTaken() // the result is not returned
			return nil, fmt.Errorf("component: %s: post-return: %w", f.Name, err)
		}
	}
	return result, nil
}

// mem accesses the memory of a lifted function's options.
type mem struct {
	m       api.Memory
	realloc api.Function
	ctx     context.Context
	inst    *Instance
	table   *cabi.Table // of the component instance that lifted the function
	scope   *scope      // that instance
	loans   []loan      // borrow<R> arguments of imported resources
	// lentReps are the borrow<R> arguments of resources the component
	// defines, which no own<R> argument of the call may move.
	lentReps []*ownedRep
	moved    []moved // own<R> arguments, until the call starts
	lifted   uint64  // bytes of strings and lists lifted (cabi.LiftBudget)
	taken    []any   // own<R> results lifted: HostResource or *Handle
}

// liftBudget counts n bytes of strings or lists about to be lifted, and
// the interfaces a list's elements become, and fails past
// cabi.LiftBudget: a result of aliased strings or lists could otherwise
// make the host copy one region of the component's memory any number of
// times, and a list of small elements hold many times its size.
func (m *mem) liftBudget(n uint64) {
	m.lifted += n
	if m.m != nil && m.lifted > cabi.LiftBudget(uint64(m.m.Size())) {
		fail("results lift to more than twice the guest memory (%d bytes): aliased lists or strings", m.lifted)
	}
}

func (m *mem) bytes(p, n uint32) []byte {
	if m.m == nil {
		fail("no memory option")
	}
	b, ok := m.m.Read(p, n)
	if !ok {
		fail("out-of-bounds memory access: %d bytes at %#x", n, p)
	}
	return b
}

func (m *mem) alloc(n, align uint32) uint32 {
	if m.realloc == nil {
		fail("no realloc option")
	}
	// No host function may run inside it (the Canonical ABI's may-leave
	// rule): it would see the arguments half lowered, the own<R> ones
	// already in the component's table though the call may yet fail
	// before the component runs and hand them back to the caller.
	p, err := m.inst.ci.CallRealloc(m.ctx, m.realloc, n, align)
	if err != nil {
		m.inst.halt(err)
		fail("realloc: %v", err)
	}
	// A bad pointer is the component's fault, as a trap is: it may
	// have changed its state on the way, so no later call enters it.
	if p&(align-1) != 0 {
		m.badRealloc("realloc returned misaligned pointer %#x", p)
	}
	if m.m == nil {
		fail("no memory option")
	}
	if _, ok := m.m.Read(p, n); !ok {
		m.badRealloc("realloc returned %#x for %d bytes: out-of-bounds memory access", p, n)
	}
	return p
}

// allocN allocates n elements of size bytes each, failing the call when
// they take more bytes than a 32-bit memory addresses: a Go caller's string or
// list of 4 GiB or more, whose size would else wrap to a small one.
func (m *mem) allocN(n int, size, align uint32) uint32 {
	if total := uint64(n) * uint64(size); total > math.MaxUint32 {
		fail("a list or string of %d bytes does not fit a 32-bit memory", total)
	}
	return m.alloc(uint32(n)*size, align)
}

// badRealloc poisons the instance and fails the call.
func (m *mem) badRealloc(format string, args ...any) {
	err := fmt.Errorf(format, args...)
	m.inst.halt(err)
	fail("%v", err)
}

// A layout is the size and alignment of a record, tuple, variant, option
// or result type, computed once when the type is resolved (setLayout):
// lifting a list lays out each element, and computing them there again,
// from every field or case down, would make a list cost the host its
// length times its element type's nodes (a list of a variant of a
// thousand cases, a thousand times what its bytes do) however few bytes
// it takes.
type layout struct {
	size, align uint32
	// flat are the core value types it flattens to, nil when long (more
	// than maxFlatParams); memory is set when lifting or lowering it
	// touches memory.
	flat         []api.ValueType
	long, memory bool
	set          bool
}

// layoutOf returns the layout of a record, tuple, variant, option or
// result type, nil for the others, whose size and alignment cost nothing
// to compute.
func layoutOf(t rtype) *layout {
	switch t := t.(type) {
	case *rrecord:
		return &t.layout
	case *rtuple:
		return &t.layout
	case *rvariant:
		return &t.layout
	case *roption:
		return &t.layout
	case *rresult:
		return &t.layout
	}
	return nil
}

// setLayout computes the layout of a resolved type, whose parts have
// theirs already, of a variant its case types, and of a function type its
// funcSig.
func setLayout(t rtype) {
	switch t := t.(type) {
	case *rvariant:
		t.types = variantCases(t)
	case *rfunc:
		t.sig = sigOf(t)
	}
	if l := layoutOf(t); l != nil {
		flat, long := flatShort(t)
		*l = layout{size: size(t), align: alignment(t), flat: flat, long: long, memory: usesMemory(t), set: true}
	}
}

// size and alignment per the Canonical ABI.
func size(t rtype) uint32 {
	if l := layoutOf(t); l != nil && l.set {
		return l.size
	}
	switch t := t.(type) {
	case rprim:
		switch Prim(t) {
		case Bool, S8, U8:
			return 1
		case S16, U16:
			return 2
		case S64, U64, F64, String:
			return 8
		}
		return 4
	case *rlist:
		return 8
	case *rrecord:
		var ts []rtype
		for _, f := range t.fields {
			ts = append(ts, f.t)
		}
		return recordSize(ts)
	case *rtuple:
		return recordSize(t.elems)
	case *rflags:
		switch {
		case t.n <= 8:
			return 1
		case t.n <= 16:
			return 2
		}
		return 4
	case *renum:
		return discSize(t.n)
	case *rown, *rborrow:
		return 4
	}
	cases := variantCases(t)
	s := discSize(len(cases))
	var max, al uint32 = 0, 1
	for _, c := range cases {
		if c != nil {
			max = maxU(max, size(c))
			al = maxU(al, alignment(c))
		}
	}
	s = alignTo(s, maxU(al, discSize(len(cases))))
	return alignTo(s+max, alignment(t))
}

func alignment(t rtype) uint32 {
	if l := layoutOf(t); l != nil && l.set {
		return l.align
	}
	switch t := t.(type) {
	case rprim:
		switch Prim(t) {
		case S64, U64, F64:
			return 8
		case String:
			return 4
		}
		return size(t)
	case *rlist:
		return 4
	case *rrecord:
		a := uint32(1)
		for _, f := range t.fields {
			a = maxU(a, alignment(f.t))
		}
		return a
	case *rtuple:
		a := uint32(1)
		for _, e := range t.elems {
			a = maxU(a, alignment(e))
		}
		return a
	case *rflags, *renum, *rown, *rborrow:
		return size(t)
	}
	cases := variantCases(t)
	a := discSize(len(cases))
	for _, c := range cases {
		if c != nil {
			a = maxU(a, alignment(c))
		}
	}
	return a
}

func variantCases(t rtype) []rtype {
	switch t := t.(type) {
	case *rvariant:
		if t.types != nil {
			return t.types
		}
		cs := make([]rtype, 0, len(t.cases))
		for _, c := range t.cases {
			cs = append(cs, c.t)
		}
		return cs
	case *roption:
		return []rtype{nil, t.elem}
	case *rresult:
		return []rtype{t.ok, t.err}
	}
	panic(fmt.Sprintf("component: not a variant: %T", t))
}

func discSize(n int) uint32 {
	switch {
	case n <= 1<<8:
		return 1
	case n <= 1<<16:
		return 2
	}
	return 4
}

func recordSize(ts []rtype) uint32 {
	var s, a uint32 = 0, 1
	for _, t := range ts {
		s = alignTo(s, alignment(t))
		s += size(t)
		a = maxU(a, alignment(t))
	}
	return alignTo(s, a)
}

func alignTo(p, a uint32) uint32 { return (p + a - 1) &^ (a - 1) }

func maxU(a, b uint32) uint32 {
	if a > b {
		return a
	}
	return b
}

// load lifts a value of type t stored at p.
func (m *mem) load(t rtype, p uint32) any {
	if p&(alignment(t)-1) != 0 {
		fail("misaligned pointer %#x for a value aligned to %d", p, alignment(t))
	}
	b := m.bytes(p, size(t))
	switch t := t.(type) {
	case rprim:
		switch Prim(t) {
		case Bool:
			return b[0] != 0
		case S8:
			return int8(b[0])
		case U8:
			return b[0]
		case S16:
			return int16(binary.LittleEndian.Uint16(b))
		case U16:
			return binary.LittleEndian.Uint16(b)
		case S32:
			return int32(binary.LittleEndian.Uint32(b))
		case U32:
			return binary.LittleEndian.Uint32(b)
		case S64:
			return int64(binary.LittleEndian.Uint64(b))
		case U64:
			return binary.LittleEndian.Uint64(b)
		case F32:
			return math.Float32frombits(binary.LittleEndian.Uint32(b))
		case F64:
			return math.Float64frombits(binary.LittleEndian.Uint64(b))
		case Char:
			return liftChar(binary.LittleEndian.Uint32(b))
		case String:
			return m.loadString(binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:]))
		}
	case *rlist:
		return m.loadList(t.elem, binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:]))
	case *rrecord:
		var ts []rtype
		for _, f := range t.fields {
			ts = append(ts, f.t)
		}
		return m.loadFields(ts, p)
	case *rtuple:
		return m.loadFields(t.elems, p)
	case *rflags:
		var v uint32
		for i := range size(t) {
			v |= uint32(b[i]) << (8 * i)
		}
		return liftFlags(v, t.n)
	case *renum:
		return Variant{Case: m.disc(b, t.n)}
	case *rown:
		return m.liftOwn(t, binary.LittleEndian.Uint32(b))
	case *rborrow:
		fail("a borrow<%s> result", t.res)
	}
	cases := variantCases(t)
	c := m.disc(b, len(cases))
	m.liftBudget(uint64(unsafe.Sizeof(Variant{}))) // boxed in an interface
	v := Variant{Case: c}
	if ct := cases[c]; ct != nil {
		off := alignTo(discSize(len(cases)), alignment(t))
		v.Value = m.load(ct, p+off)
	}
	return v
}

func (m *mem) disc(b []byte, n int) uint32 {
	var d uint32
	switch discSize(n) {
	case 1:
		d = uint32(b[0])
	case 2:
		d = uint32(binary.LittleEndian.Uint16(b))
	default:
		d = binary.LittleEndian.Uint32(b)
	}
	if d >= uint32(n) {
		fail("bad discriminant %d for %d cases", d, n)
	}
	return d
}

func (m *mem) loadFields(ts []rtype, p uint32) []any {
	// A record or tuple is a slice of interfaces on the host, however
	// few bytes it takes here.
	m.liftBudget(uint64(unsafe.Sizeof([]any(nil))) + uint64(len(ts))*uint64(unsafe.Sizeof(any(nil))))
	out := make([]any, len(ts))
	var off uint32
	for i, t := range ts {
		off = alignTo(off, alignment(t))
		out[i] = m.load(t, p+off)
		off += size(t)
	}
	return out
}

func (m *mem) loadString(p, n uint32) string {
	b := m.bytes(p, n)
	m.liftBudget(uint64(n))
	if !utf8.Valid(b) {
		fail("invalid UTF-8 in string at %#x", p)
	}
	return string(b)
}

func (m *mem) loadList(elem rtype, p, n uint32) any {
	es := size(elem)
	if uint64(n)*uint64(es) > math.MaxUint32 {
		fail("list of %d elements overflows memory", n)
	}
	if p&(alignment(elem)-1) != 0 {
		fail("misaligned list pointer %#x", p)
	}
	m.liftBudget(uint64(n) * uint64(es))
	if elem == rprim(U8) {
		return append([]byte(nil), m.bytes(p, n)...)
	}
	m.bytes(p, n*es)
	// Each element is an interface on the host, whatever its size here.
	m.liftBudget(uint64(n) * uint64(unsafe.Sizeof(any(nil))))
	out := make([]any, n)
	for i := range n {
		out[i] = m.load(elem, p+i*es)
	}
	return out
}

// liftFlags returns the value of a flags type of n labels: the bits of
// its labels, in memory and flat alike. The Canonical ABI ignores the
// others (unpack_flags_from_int reads one bit per label), as the
// generated glue does.
func liftFlags(v uint32, n int) uint32 {
	if n < 32 {
		v &= 1<<n - 1
	}
	return v
}

func liftChar(v uint32) rune {
	if v >= 0x110000 || (v >= 0xD800 && v < 0xE000) {
		fail("invalid char %#x", v)
	}
	return rune(v)
}

// flatIter reads flat core values, coercing from the joined variant types
// to the types a case wants.
type flatIter struct {
	vals  []uint64
	types []api.ValueType
	i     int
}

func (it *flatIter) next(want api.ValueType) uint64 {
	if it.i >= len(it.vals) {
		fail("too few core values")
	}
	v, have := it.vals[it.i], it.types[it.i]
	it.i++
	switch {
	case have == want:
		return v
	case have == api.ValueTypeI32 && want == api.ValueTypeF32:
		return uint64(uint32(v))
	case have == api.ValueTypeI64 && want == api.ValueTypeI32:
		return uint64(uint32(v))
	case have == api.ValueTypeI64 && want == api.ValueTypeF32:
		return uint64(uint32(v))
	case have == api.ValueTypeI64 && want == api.ValueTypeF64:
		return v
	}
	return v
}

// liftFlat lifts a value from flat core values.
func liftFlat(m *mem, it *flatIter, t rtype) any {
	i32 := func() uint32 { return uint32(it.next(api.ValueTypeI32)) }
	switch t := t.(type) {
	case rprim:
		switch Prim(t) {
		case Bool:
			return i32() != 0
		case S8:
			return int8(i32())
		case U8:
			return uint8(i32())
		case S16:
			return int16(i32())
		case U16:
			return uint16(i32())
		case S32:
			return int32(i32())
		case U32:
			return i32()
		case S64:
			return int64(it.next(api.ValueTypeI64))
		case U64:
			return it.next(api.ValueTypeI64)
		case F32:
			return math.Float32frombits(uint32(it.next(api.ValueTypeF32)))
		case F64:
			return math.Float64frombits(it.next(api.ValueTypeF64))
		case Char:
			return liftChar(i32())
		}
	case *rflags:
		return liftFlags(i32(), t.n)
	case *renum:
		d := i32()
		if d >= uint32(t.n) {
			fail("bad discriminant %d for %d cases", d, t.n)
		}
		return Variant{Case: d}
	case *rrecord:
		out := make([]any, len(t.fields))
		for i, f := range t.fields {
			out[i] = liftFlat(m, it, f.t)
		}
		return out
	case *rtuple:
		out := make([]any, len(t.elems))
		for i, e := range t.elems {
			out[i] = liftFlat(m, it, e)
		}
		return out
	case *rown:
		return m.liftOwn(t, i32())
	case *rborrow:
		fail("a borrow<%s> result", t.res)
	case *rvariant, *roption, *rresult:
		cases := variantCases(t)
		d := i32()
		if d >= uint32(len(cases)) {
			fail("bad discriminant %d for %d cases", d, len(cases))
		}
		start := it.i
		n := len(flatten(t)) - 1
		v := Variant{Case: d}
		if c := cases[d]; c != nil {
			v.Value = liftFlat(m, it, c)
		}
		it.i = start + n
		return v
	}
	fail("lifting %T from core values needs memory", t)
	return nil
}

// lowerFlat appends the flat core values of v, of type t.
func lowerFlat(m *mem, t rtype, v any, out []uint64) []uint64 {
	switch t := t.(type) {
	case rprim:
		switch Prim(t) {
		case String:
			s, ok := v.(string)
			if !ok {
				fail("want a string, got %T", v)
			}
			p := m.allocN(len(s), 1, 1)
			copy(m.bytes(p, uint32(len(s))), s)
			return append(out, uint64(p), uint64(len(s)))
		case F32:
			f, ok := v.(float32)
			if !ok {
				fail("want a float32, got %T", v)
			}
			return append(out, uint64(math.Float32bits(f)))
		case F64:
			f, ok := v.(float64)
			if !ok {
				fail("want a float64, got %T", v)
			}
			return append(out, math.Float64bits(f))
		}
		return append(out, intValue(Prim(t), v))
	case *rlist:
		p, n := m.storeList(t.elem, v)
		return append(out, uint64(p), uint64(n))
	case *rrecord, *rtuple:
		vs, ok := v.([]any)
		ts := fieldTypes(t)
		if !ok || len(vs) != len(ts) {
			fail("want %d fields as []any, got %T", len(ts), v)
		}
		for i, ft := range ts {
			out = lowerFlat(m, ft, vs[i], out)
		}
		return out
	case *rflags:
		return append(out, intValue(U32, v))
	case *rown, *rborrow:
		return append(out, uint64(m.lowerHandle(t, v)))
	case *renum:
		vr := variantValue(v, t.n)
		return append(out, uint64(vr.Case))
	case *rvariant, *roption, *rresult:
		cases := variantCases(t)
		vr := variantValue(v, len(cases))
		joined := flatten(t)[1:]
		out = append(out, uint64(vr.Case))
		var payload []uint64
		var types []api.ValueType
		if c := cases[vr.Case]; c != nil {
			payload = lowerFlat(m, c, vr.Value, nil)
			types = flatten(c)
		} else if vr.Value != nil {
			fail("case %d has no payload, got %T", vr.Case, vr.Value)
		}
		for i, jt := range joined {
			var x uint64
			if i < len(payload) {
				x = payload[i]
				if jt == api.ValueTypeI64 && types[i] == api.ValueTypeF32 {
					x = uint64(uint32(x))
				}
			}
			out = append(out, x)
		}
		return out
	}
	fail("lowering %T from Go is not supported", t)
	return nil
}

func fieldTypes(t rtype) []rtype {
	switch t := t.(type) {
	case *rrecord:
		var ts []rtype
		for _, f := range t.fields {
			ts = append(ts, f.t)
		}
		return ts
	case *rtuple:
		return t.elems
	}
	return nil
}

// intValue converts an integer-like Go value for a primitive type.
func intValue(p Prim, v any) uint64 {
	switch x := v.(type) {
	case bool:
		if p == Bool {
			if x {
				return 1
			}
			return 0
		}
	case int8:
		return uint64(uint32(int32(x)))
	case uint8:
		return uint64(x)
	case int16:
		return uint64(uint32(int32(x)))
	case uint16:
		return uint64(x)
	case int32:
		if p == S64 {
			return uint64(int64(x))
		}
		return uint64(uint32(x))
	case uint32:
		return uint64(x)
	case int64:
		return uint64(x)
	case uint64:
		return x
	case int:
		if p == S64 || p == U64 {
			return uint64(x)
		}
		return uint64(uint32(x))
	}
	fail("want a %s, got %T", p, v)
	return 0
}

// storeList stores a list in memory allocated with realloc.
func (m *mem) storeList(elem rtype, v any) (uint32, uint32) {
	if b, ok := v.([]byte); ok && elem == rprim(U8) {
		p := m.allocN(len(b), 1, 1)
		copy(m.bytes(p, uint32(len(b))), b)
		return p, uint32(len(b))
	}
	vs, ok := v.([]any)
	if !ok {
		fail("want a list as []any, got %T", v)
	}
	es := size(elem)
	p := m.allocN(len(vs), es, alignment(elem))
	for i, e := range vs {
		m.store(elem, p+uint32(i)*es, e)
	}
	return p, uint32(len(vs))
}

// store stores v of type t at p.
func (m *mem) store(t rtype, p uint32, v any) {
	b := m.bytes(p, size(t))
	switch t := t.(type) {
	case rprim:
		switch Prim(t) {
		case String:
			s, ok := v.(string)
			if !ok {
				fail("want a string, got %T", v)
			}
			q := m.allocN(len(s), 1, 1)
			copy(m.bytes(q, uint32(len(s))), s)
			b = m.bytes(p, 8)
			binary.LittleEndian.PutUint32(b, q)
			binary.LittleEndian.PutUint32(b[4:], uint32(len(s)))
			return
		case F32, F64:
			fl := lowerFlat(m, t, v, nil)[0]
			if Prim(t) == F32 {
				binary.LittleEndian.PutUint32(b, uint32(fl))
			} else {
				binary.LittleEndian.PutUint64(b, fl)
			}
			return
		}
		x := intValue(Prim(t), v)
		switch size(t) {
		case 1:
			b[0] = byte(x)
		case 2:
			binary.LittleEndian.PutUint16(b, uint16(x))
		case 4:
			binary.LittleEndian.PutUint32(b, uint32(x))
		default:
			binary.LittleEndian.PutUint64(b, x)
		}
	case *rlist:
		q, n := m.storeList(t.elem, v)
		b = m.bytes(p, 8)
		binary.LittleEndian.PutUint32(b, q)
		binary.LittleEndian.PutUint32(b[4:], n)
	case *rrecord, *rtuple:
		vs, ok := v.([]any)
		ts := fieldTypes(t)
		if !ok || len(vs) != len(ts) {
			fail("want %d fields as []any, got %T", len(ts), v)
		}
		var off uint32
		for i, ft := range ts {
			off = alignTo(off, alignment(ft))
			m.store(ft, p+off, vs[i])
			off += size(ft)
		}
	case *rflags:
		x := intValue(U32, v)
		for i := range size(t) {
			b[i] = byte(x >> (8 * i))
		}
	case *renum:
		putDisc(b, t.n, variantValue(v, t.n).Case)
	case *rown, *rborrow:
		binary.LittleEndian.PutUint32(b, m.lowerHandle(t, v))
	case *rvariant, *roption, *rresult:
		cases := variantCases(t)
		vr := variantValue(v, len(cases))
		putDisc(b, len(cases), vr.Case)
		if c := cases[vr.Case]; c != nil {
			m.store(c, p+alignTo(discSize(len(cases)), alignment(t)), vr.Value)
		}
	default:
		fail("storing %T from Go is not supported", t)
	}
}

func putDisc(b []byte, n int, d uint32) {
	switch discSize(n) {
	case 1:
		b[0] = byte(d)
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(d))
	default:
		binary.LittleEndian.PutUint32(b, d)
	}
}

// variantValue checks that v is a Variant with a case below n.
func variantValue(v any, n int) Variant {
	vr, ok := v.(Variant)
	if !ok {
		fail("want a component.Variant, got %T", v)
	}
	if vr.Case >= uint32(n) {
		fail("case %d out of %d", vr.Case, n)
	}
	return vr
}
