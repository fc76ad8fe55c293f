package stopcheck

import (
	"bytes"
	"fmt"
	"math"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/wasmbin"
)

// Version names the rewrites of this package (Instrument, InstrumentWith,
// InstrumentStack, CapTables): raise it with any change to what they
// emit or to what the host reads of a rewritten module (the globals and
// exports it adds), so that native code compiled from an older rewrite
// and kept on disk (runtime.CompilationCache, which also keys on the
// rewritten bytes) is not used.
const Version = 1

// GlobalName is the name the stop global is exported under.
const GlobalName = "wasitls:stop"

// StartName is the name a module's start function is exported under once
// Instrument dropped its start section: the host calls it after arming
// the stop global, before anything else of the module runs.
const StartName = "wasitls:start"

// Section ids (Core Specification 2.0, Section 5.5.2).
const (
	sectionCustom   = 0
	sectionType     = 1
	sectionImport   = 2
	sectionFunction = 3
	sectionTable    = 4
	sectionGlobal   = 6
	sectionExport   = 7
	sectionStart    = 8
	sectionElement  = 9
	sectionCode     = 10
	sectionDataCnt  = 12
	sectionTag      = 13
)

// order is the position of each known non-custom section in a module.
var order = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, sectionTag: 6, 6: 7, 7: 8, 8: 9, 9: 10, sectionDataCnt: 11, 10: 12, 11: 13}

// Period is how many checks run between two exits to Go (see the
// package documentation).
const Period = 1024

// checkCode is the instruction sequence of a check:
//
//	global.get $count  i32.const 1  i32.sub  global.set $count
//	global.get $count  i32.eqz
//	if
//	  i32.const Period  global.set $count
//	  ref.null func  i32.const 0  table.grow $table  drop
//	  global.get $stop
//	  if  unreachable  end
//	end
func checkCode(ix indices) []byte {
	count, stop, table := wasmbin.ULEB(uint64(ix.count)), wasmbin.ULEB(uint64(ix.stop)), wasmbin.ULEB(uint64(ix.table))
	return wasmbin.Cat(
		[]byte{0x23}, count, []byte{0x41, 0x01, 0x6b, 0x24}, count,
		[]byte{0x23}, count, []byte{0x45, 0x04, 0x40},
		wasmbin.I32Const(Period), []byte{0x24}, count,
		[]byte{0xd0, 0x70, 0x41, 0x00, 0xfc, 0x0f}, table, []byte{0x1a},
		[]byte{0x23}, stop, []byte{0x04, 0x40, 0x00, 0x0b},
		[]byte{0x0b},
	)
}

// An Error is a module Instrument refuses: malformed, or using an
// instruction it does not know.
type Error struct {
	Offset int // in the input module
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("stopcheck: at byte %d: %s", e.Offset, e.Msg) }

// Options adjust what Instrument and CapTables do; the zero value holds
// the defaults.
type Options struct {
	// TableEntries bounds the entries the tables a module defines may
	// hold together; zero means DefaultTableEntries (see there).
	TableEntries uint32

	// TableEntriesName is how the refusal of tables starting past
	// TableEntries names that limit, for an embedder that sets it from a
	// setting of its own; empty, it names this field.
	TableEntriesName string
}

// TablesName returns o.TableEntriesName, or the field's name when empty.
func (o Options) TablesName() string {
	if o.TableEntriesName == "" {
		return "stopcheck.Options.TableEntries"
	}
	return o.TableEntriesName
}

// Tables returns o.TableEntries, or its default when zero.
func (o Options) Tables() uint64 {
	if o.TableEntries == 0 {
		return DefaultTableEntries
	}
	return uint64(o.TableEntries)
}

// Instrument returns wasm with the stop global and its checks (see the
// package documentation), or an *Error and no module. It is InstrumentWith
// and the default Options.
func Instrument(wasm []byte) ([]byte, error) {
	return InstrumentWith(wasm, Options{})
}

// checkHeader refuses what is not a core module of version 1.
func checkHeader(wasm []byte) error {
	if len(wasm) < 8 || !bytes.Equal(wasm[:8], []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}) {
		return &Error{0, "not a WebAssembly 1.0 core module (a component or another version?)"}
	}
	return nil
}

// InstrumentWith is Instrument, with the tables bounded as o says.
func InstrumentWith(wasm []byte, o Options) ([]byte, error) {
	return instrument(wasm, o, true)
}

// InstrumentStack returns wasm with the stack budget alone (see the
// package documentation, "The stack budget"), for a module that runs
// under wazero's termination checks instead of the stop flag: what
// InstrumentWith does but the stop and countdown globals, the table that
// leaves native code and the checks. The stack global is exported under
// StackName, a start section's function under StartName (for the host
// to call once it has set the budget), and the tables get their maximums
// as o says. The names it reserves are those two: a module that exports
// GlobalName, which InstrumentWith refuses, is rewritten. An error is an
// *Error, with no module.
func InstrumentStack(wasm []byte, o Options) ([]byte, error) {
	return instrument(wasm, o, false)
}

// reserved reports whether a module may not import or export name: the
// names the rewrite adds (stop: InstrumentWith's, else InstrumentStack's).
func reserved(name string, stop bool) bool {
	return name == StackName || name == StartName || stop && name == GlobalName
}

// instrument is InstrumentWith (stop) or InstrumentStack.
func instrument(wasm []byte, o Options, stop bool) ([]byte, error) {
	if err := checkHeader(wasm); err != nil {
		return nil, err
	}
	type section struct {
		id   byte
		body []byte
		off  int // of the body in wasm
	}
	var sections []section
	var start []byte // the start section's function index, when it has one
	startOff, lastRank := 0, 0
	r := newReader(wasm, 0)
	r.Pos = 8
	for r.Pos < len(r.B) {
		id, body, off := r.section()
		if r.Err != nil {
			return nil, r.Err
		}
		if id != sectionCustom {
			rank, ok := order[id]
			if !ok {
				return nil, &Error{off - 1, fmt.Sprintf("unknown section id %d", id)}
			}
			// Out of order or repeated, the module is invalid; it must
			// stay so once its start section is dropped.
			if rank <= lastRank {
				return nil, &Error{off - 1, fmt.Sprintf("section id %d out of order or repeated", id)}
			}
			lastRank = rank
		}
		if id == sectionStart {
			// Its function would run while the module is instantiated,
			// before the host can reach the global: it is exported
			// instead, for the host to call once the global is armed.
			sr := newReader(body, off)
			sr.U32()
			sr.End("start section")
			if sr.Err != nil {
				return nil, sr.Err
			}
			start, startOff = body, off
			continue
		}
		if id != sectionCustom && id != sectionDataCnt {
			// Every item of a vector takes a byte at least: a count past
			// that is malformed, and would have wazero allocate for it.
			vr := newReader(body, off)
			if n := vr.U32(); vr.Err == nil && uint64(n) > uint64(len(body)) {
				vr.Fail(fmt.Sprintf("%d items declared in a section of %d bytes", n, len(body)))
			}
			if vr.Err != nil {
				return nil, vr.Err
			}
		}
		sections = append(sections, section{id, body, off})
	}

	var fs funcSig
	for _, s := range sections {
		var err error
		switch s.id {
		case sectionType:
			fs.types, err = readTypes(s.body, s.off)
		case sectionFunction:
			fs.funcs, err = readFuncs(s.body, s.off)
		}
		if err != nil {
			return nil, err
		}
	}
	fs.extra = blockTypes(fs)

	// Count the imported and defined globals and tables, and check the
	// export name is free.
	var imported counts
	definedGlobals, definedTables := uint32(0), uint32(0)
	present := map[byte]bool{}
	for _, s := range sections {
		present[s.id] = true
		switch s.id {
		case sectionImport:
			n, err := countImports(s.body, s.off, uint32(len(fs.types)), stop)
			if err != nil {
				return nil, err
			}
			imported = n
		case sectionTable, sectionGlobal:
			// Read whole: the rewrite appends to them, so trailing bytes
			// must not become part of an item.
			sr := newReader(s.body, s.off)
			n := sr.U32()
			for i := uint32(0); i < n && sr.Err == nil; i++ {
				if s.id == sectionTable {
					sr.valtype()
					sr.Limits()
				} else {
					sr.valtype()
					sr.Byte()
					sr.expr()
				}
			}
			sr.End("section")
			if sr.Err != nil {
				return nil, sr.Err
			}
			if s.id == sectionTable {
				definedTables = n
			} else {
				definedGlobals = n
			}
		}
	}
	if start != nil {
		bodies := map[byte]sectionBody{}
		for _, s := range sections {
			if s.id == sectionType || s.id == sectionFunction {
				bodies[s.id] = sectionBody{s.body, s.off}
			}
		}
		if err := checkStart(start, startOff, bodies, imported.funcTypes); err != nil {
			return nil, err
		}
	}
	g := uint64(imported.globals) + uint64(definedGlobals)
	t := uint64(imported.tables) + uint64(definedTables)
	if g+3 > 1<<32-1 || t+1 > 1<<32-1 {
		return nil, &Error{0, "too many globals or tables"}
	}
	ix := indices{stop: uint32(g), count: uint32(g + 1), stack: uint32(g + 2), table: uint32(t), types: uint32(len(fs.types)), stopFlag: stop}
	if !stop {
		ix.stack = uint32(g) // the one global added
	}
	for _, s := range sections {
		var err error
		switch s.id {
		case sectionExport:
			err = checkExports(s.body, s.off, ix)
		case sectionElement:
			err = checkElements(s.body, s.off, ix)
		}
		if err != nil {
			return nil, err
		}
	}

	adds := map[byte][][]byte{
		// funcref, no entries and a maximum of none: grown by 0 to leave
		// native code
		sectionTable: {{0x70, 0x01, 0x00, 0x00}},
		sectionGlobal: {
			{wasmbin.I32, 0x01, 0x41, 0x00, 0x0b},                                                                        // stop
			wasmbin.Cat([]byte{wasmbin.I32, 0x01}, wasmbin.I32Const(Period), []byte{0x0b}),                               // countdown
			wasmbin.Cat([]byte{wasmbin.I32, 0x01}, wasmbin.I32Const(int32(StackUnits(DefaultStackBytes))), []byte{0x0b}), // stack budget
		},
		sectionExport: {
			wasmbin.Cat(wasmbin.Name(GlobalName), []byte{wasmbin.ExportGlobal}, wasmbin.ULEB(uint64(ix.stop))),
			wasmbin.Cat(wasmbin.Name(StackName), []byte{wasmbin.ExportGlobal}, wasmbin.ULEB(uint64(ix.stack))),
		},
	}
	if !stop {
		adds = map[byte][][]byte{
			sectionGlobal: {adds[sectionGlobal][2]},
			sectionExport: {adds[sectionExport][1]},
		}
	}
	if start != nil {
		adds[sectionExport] = append(adds[sectionExport], wasmbin.Cat(wasmbin.Name(StartName), []byte{wasmbin.ExportFunc}, start))
	}
	for _, t := range fs.extra {
		adds[sectionType] = append(adds[sectionType], t.encode())
	}

	out := append([]byte(nil), wasm[:8]...)
	emit := func(id byte, body []byte) { out = append(out, wasmbin.Section(id, body)...) }
	// addMissing emits the sections the module lacks that come before
	// rank, in order.
	addMissing := func(rank int) {
		for _, id := range []byte{sectionTable, sectionGlobal, sectionExport} {
			if !present[id] && rank > order[id] && len(adds[id]) > 0 {
				emit(id, wasmbin.Vec(adds[id]))
				present[id] = true
			}
		}
	}
	for _, s := range sections {
		if s.id != sectionCustom {
			addMissing(order[s.id])
		}
		switch s.id {
		case sectionTable:
			body, err := capTables(s.body, s.off, o)
			if err != nil {
				return nil, err
			}
			emit(s.id, appendItems(body, s.off, adds[s.id]))
		case sectionType:
			if len(adds[s.id]) == 0 {
				emit(s.id, s.body)
				break
			}
			emit(s.id, appendItems(s.body, s.off, adds[s.id]))
		case sectionGlobal, sectionExport:
			emit(s.id, appendItems(s.body, s.off, adds[s.id]))
		case sectionCode:
			body, err := instrumentCode(s.body, s.off, ix, fs)
			if err != nil {
				return nil, err
			}
			emit(s.id, body)
		default:
			emit(s.id, s.body)
		}
	}
	addMissing(len(order) + 1) // after every section
	return out, nil
}

// appendItems returns the vector body with items appended (the count is
// known to parse: Instrument read it before).
func appendItems(body []byte, off int, items [][]byte) []byte {
	r := newReader(body, off)
	n := r.U32()
	return wasmbin.Cat(wasmbin.ULEB(uint64(n)+uint64(len(items))), body[r.Pos:], wasmbin.Cat(items...))
}

// DefaultTableEntries is how many entries the tables a module defines
// may hold together, unless Options.TableEntries says otherwise: the
// limit of the WebAssembly JavaScript API on one table (Section 7,
// "Limits"). wazero grows a table with no maximum up to 2^32-1 entries of
// 8 bytes, so that one table.grow could make the host allocate 32 GiB,
// past any memory cap; capTables gives each table a maximum instead, and
// table.grow past it returns -1, as for a table declared so.
const DefaultTableEntries = 10_000_000

// TableEntries returns how many entries the tables of wasm, a module
// Instrument or CapTables made, may hold together: the sum of their
// maximums, which both give every table. Modules instantiated together
// (the core modules of a component) can so share a bound.
func TableEntries(wasm []byte) uint64 {
	r := newReader(wasm, 0)
	r.Pos = 8
	for r.Pos < len(r.B) && r.Err == nil {
		id, body, _ := r.section()
		if id != sectionTable || r.Err != nil {
			continue
		}
		tr := newReader(body, 0)
		var sum uint64
		for n := tr.U32(); n > 0 && tr.Err == nil; n-- {
			tr.valtype()
			if tr.Byte() == 0x01 {
				tr.U32()
				sum += uint64(tr.U32())
			} else {
				sum += uint64(tr.U32()) // not Instrument's: its minimum
			}
		}
		return sum
	}
	return 0
}

// CapTables returns wasm with only its table section changed: each table
// given a maximum, as Instrument gives them (see capTables), for a module
// that runs without the stop flag, under wazero's termination checks. It
// reads the sections' sizes and the table section, nothing else, and
// returns an *Error for a module it cannot read so or whose tables start
// with more entries than o allows.
func CapTables(wasm []byte, o Options) ([]byte, error) {
	if err := checkHeader(wasm); err != nil {
		return nil, err
	}
	out := append([]byte(nil), wasm[:8]...)
	r := newReader(wasm, 0)
	r.Pos = 8
	for r.Pos < len(r.B) {
		at := r.Pos
		id, body, off := r.section()
		if r.Err != nil {
			return nil, r.Err
		}
		if id != sectionTable {
			out = append(out, wasm[at:r.Pos]...)
			continue
		}
		capped, err := capTables(body, off, o)
		if err != nil {
			return nil, err
		}
		out = append(out, wasmbin.Section(id, capped)...)
	}
	return out, nil
}

// capTables returns the table section body with each table's maximum
// lowered to its share of o's limit: its minimum and an equal part of
// what the minimums leave. A module whose minimums exceed the limit
// together is refused, naming it, as is a section with bytes past its
// tables.
func capTables(body []byte, off int, o Options) ([]byte, error) {
	limit := o.Tables()
	type table struct {
		ref      []byte
		min, max uint64
		hasMax   bool
	}
	r := newReader(body, off)
	n := r.U32()
	if r.Err == nil && uint64(n) > uint64(len(body)) {
		// Every table takes bytes: a count past them is malformed, and
		// would have this allocate for it.
		r.Fail(fmt.Sprintf("%d tables declared in a section of %d bytes", n, len(body)))
	}
	if r.Err != nil {
		return nil, r.Err
	}
	tables := make([]table, 0, n)
	var sum uint64
	for i := uint32(0); i < n && r.Err == nil; i++ {
		at := r.Pos
		r.valtype()
		t := table{ref: body[at:r.Pos]}
		switch flags := r.Byte(); flags {
		case 0x00:
			t.min = uint64(r.U32())
		case 0x01:
			t.min, t.max, t.hasMax = uint64(r.U32()), uint64(r.U32()), true
		default:
			if r.Err == nil {
				r.Pos--
				r.Fail(fmt.Sprintf("table limits flags 0x%02x", flags))
			}
		}
		sum += t.min
		tables = append(tables, t)
	}
	r.End("table section")
	if r.Err != nil {
		return nil, r.Err
	}
	if sum > limit {
		return nil, &Error{off, fmt.Sprintf("the module's tables start with %d entries together, more than the %d the host allows (%s)", sum, limit, o.TablesName())}
	}
	items := make([][]byte, len(tables))
	for i, t := range tables {
		share := t.min
		if len(tables) > 0 {
			share += (limit - sum) / uint64(len(tables))
		}
		if !t.hasMax || t.max > share {
			t.max = share
		}
		items[i] = wasmbin.Cat(t.ref, []byte{0x01}, wasmbin.ULEB(t.min), wasmbin.ULEB(t.max))
	}
	return wasmbin.Vec(items), nil
}

// counts are the imported tables and globals, and the type index of each
// imported function.
type counts struct {
	tables, globals uint32
	funcTypes       []uint32
}

// indices are those of what Instrument adds: the first global (stop) and
// table it adds, the stack global, the first type (types, those of
// blockTypes), and whether it adds the stop flag's (stopFlag: count and
// the table are the stop flag's alone).
type indices struct {
	stop, count, stack, table, types uint32
	stopFlag                         bool
}

// funcSig are the module's function types, the type index of each
// function it defines, and the types the rewrite appends (blockTypes).
type funcSig struct {
	types []funcType
	funcs []uint32
	extra []funcType
}

// countImports parses the import section, refusing an import of a name
// the rewrite reserves (see reserved) and a function import whose type
// index is not below types.
func countImports(body []byte, off int, types uint32, stop bool) (counts, error) {
	r := newReader(body, off)
	n := r.U32()
	var c counts
	for i := uint32(0); i < n && r.Err == nil; i++ {
		module := r.Name()
		at := r.Pos
		if name := r.Name(); reserved(name, stop) && r.Err == nil {
			// Another instance's stop global (or start function): a
			// module that could write it would keep that instance from
			// ever stopping, by clearing the flag between its checks.
			r.Pos = at
			r.Fail(fmt.Sprintf("the module imports %q from %q, a name the host reserves for the stop flag of each instance", name, module))
		}
		switch kind := r.Byte(); kind {
		case 0x00: // function: type index
			at := r.Pos
			if ti := r.U32(); ti >= types && r.Err == nil {
				r.Pos = at
				r.Fail("a type index past the module's types")
			} else {
				c.funcTypes = append(c.funcTypes, ti)
			}
		case 0x01: // table: reference type, limits
			c.tables++
			r.Byte()
			r.Limits()
		case 0x02: // memory: limits
			r.Limits()
		case 0x03: // global: value type, mutability
			r.Byte()
			r.Byte()
			c.globals++
		case 0x04: // tag: attribute, type index
			r.Byte()
			r.U32()
		default:
			r.Fail(fmt.Sprintf("unknown import kind 0x%02x", kind))
		}
	}
	r.End("import section")
	return c, r.Err
}

// A sectionBody is a section's body and its offset in the module.
type sectionBody struct {
	body []byte
	off  int
}

// checkStart refuses a start function (start, at off) that is not a
// function of type [] -> [], as validation would have: exported instead,
// it would be called whatever its type. bodies are the type and function
// sections' bodies and offsets (nil when absent), imported the type
// index of each imported function.
func checkStart(start []byte, off int, bodies map[byte]sectionBody, imported []uint32) error {
	idx := newReader(start, 0).U32()
	var typ uint32
	if idx < uint32(len(imported)) {
		typ = imported[idx]
	} else {
		fs := bodies[sectionFunction]
		r := newReader(fs.body, fs.off)
		n := r.U32()
		i := idx - uint32(len(imported))
		if fs.body == nil || i >= n {
			return &Error{off, fmt.Sprintf("start function %d does not exist", idx)}
		}
		for j := uint32(0); j <= i && r.Err == nil; j++ {
			typ = r.U32()
		}
		if r.Err != nil {
			return r.Err
		}
	}
	ts := bodies[sectionType]
	r := newReader(ts.body, ts.off)
	n := r.U32()
	if ts.body == nil || typ >= n {
		return &Error{off, fmt.Sprintf("start function %d has no valid type", idx)}
	}
	for j := uint32(0); j <= typ && r.Err == nil; j++ {
		if form := r.Byte(); form != 0x60 && r.Err == nil {
			r.Fail(fmt.Sprintf("function type form 0x%02x", form))
		}
		np := r.U32()
		for k := uint32(0); k < np && r.Err == nil; k++ {
			r.valtype()
		}
		nr := r.U32()
		for k := uint32(0); k < nr && r.Err == nil; k++ {
			r.valtype()
		}
		if j == typ && r.Err == nil && (np != 0 || nr != 0) {
			return &Error{off, fmt.Sprintf("start function %d does not have the type [] -> []", idx)}
		}
	}
	return r.Err
}

// checkExports refuses a module that already exports GlobalName or
// StartName, or that
// exports a global or table at or past what Instrument adds (see
// reader.global and reader.table).
func checkExports(body []byte, off int, ix indices) error {
	r := newReader(body, off)
	r.added = &ix
	n := r.U32()
	for i := uint32(0); i < n && r.Err == nil; i++ {
		at := r.Pos
		if name := r.Name(); reserved(name, ix.stopFlag) {
			r.Pos = at
			r.Fail(fmt.Sprintf("the module already exports %q: instrumented twice, or a name the host reserves", name))
		}
		switch r.Byte() {
		case 0x01:
			r.table()
		case 0x03:
			r.global()
		default:
			r.U32()
		}
	}
	r.End("export section")
	return r.Err
}

// checkElements refuses an element segment whose table, or an
// instruction of whose expressions, is at or past what Instrument adds.
func checkElements(body []byte, off int, ix indices) error {
	r := newReader(body, off)
	r.added = &ix
	n := r.U32()
	for i := uint32(0); i < n && r.Err == nil; i++ {
		flags := r.U32()
		if flags > 7 {
			r.Fail(fmt.Sprintf("unknown element segment flags %d", flags))
			break
		}
		if flags == 2 || flags == 6 {
			r.table()
		}
		if flags&1 == 0 { // active: an offset
			r.expr()
		}
		if flags&3 != 0 { // an element kind or reference type
			r.Byte()
		}
		m := r.U32()
		for j := uint32(0); j < m && r.Err == nil; j++ {
			if flags&4 != 0 {
				r.expr()
			} else {
				r.U32()
			}
		}
	}
	r.End("element section")
	return r.Err
}

// instrumentCode rewrites the code section.
func instrumentCode(body []byte, off int, ix indices, fs funcSig) ([]byte, error) {
	r := newReader(body, off)
	n := r.U32()
	var check []byte
	if ix.stopFlag {
		check = checkCode(ix)
	}
	types := append(fs.types[:len(fs.types):len(fs.types)], fs.extra...)
	out := wasmbin.ULEB(uint64(n))
	for i := uint32(0); i < n && r.Err == nil; i++ {
		size := r.U32()
		start := r.Pos
		fn := r.Bytes(uint64(size), "function body")
		if r.Err != nil {
			break
		}
		if int(i) >= len(fs.funcs) || int(fs.funcs[i]) >= len(fs.types) {
			return nil, &Error{off + start, fmt.Sprintf("function body %d has no valid type", i)}
		}
		f, err := instrumentFunc(fn, off+start, check, ix, fs.types[fs.funcs[i]], types)
		if err != nil {
			return nil, err
		}
		out = append(out, wasmbin.ULEB(uint64(len(f)))...)
		out = append(out, f...)
	}
	r.End("code section")
	if r.Err != nil {
		return nil, r.Err
	}
	return out, nil
}

// instrumentFunc rewrites one function body, of type t: locals, then
// instructions. An instruction naming a global or table at or past the
// first index Instrument adds is refused: the input was not valid, and the
// rewrite would make it valid with the guest free to write the stop,
// countdown and stack globals (and so to spin without ever leaving native
// code, or to recurse without bound).
//
// A function that calls (see hasCalls) has its frame counted in the stack
// budget: entryCode first, then its instructions in a block of its result
// type, so that a branch to the function's label lands after them, then
// exitCode, and exitCode again before each return and tail call.
func instrumentFunc(fn []byte, off int, check []byte, ix indices, t funcType, types []funcType) ([]byte, error) {
	r := newReader(fn, off)
	r.added = &ix
	groups := r.U32()
	var locals uint64
	for i := uint32(0); i < groups && r.Err == nil; i++ {
		locals += uint64(r.U32())
		r.valtype()
	}
	if locals > math.MaxUint32 && r.Err == nil {
		r.Fail("too many locals") // as wazero refuses them
	}
	if r.Err != nil {
		return nil, r.Err
	}
	var exit []byte
	out := make([]byte, 0, len(fn)+len(fn)/16+64)
	out = append(out, fn[:r.Pos]...)
	if hasCalls(fn[r.Pos:]) {
		w := frameWeight(uint64(t.params), locals, len(fn))
		bt, ok := resultBlock(t, types)
		if !ok {
			return nil, &Error{off, "a function with several results and no type [] -> those results to wrap its body in (the stack budget needs one)"}
		}
		exit = exitCode(ix.stack, w)
		out = append(out, entryCode(ix.stack, w)...)
		out = append(out, 0x02)
		out = append(out, bt...)
	}
	depth := 0 // open blocks, the function's own included
	done := false
	for r.Pos < len(r.B) && r.Err == nil {
		if done {
			r.Fail("instructions after the function's end")
			break
		}
		at := r.Pos
		op := r.Byte()
		tail := false
		switch {
		case op == 0x03: // loop
			r.blocktype()
			out = append(out, r.B[at:r.Pos]...)
			out = append(out, check...)
			depth++
			continue
		case op == 0x12 || op == 0x13: // return_call, return_call_indirect
			tail = true
			out = append(out, exit...)
		case op == 0x0f: // return
			out = append(out, exit...)
		case op == 0x0c || op == 0x0d || op == 0x0e: // br, br_if, br_table
			// A label past the function's is invalid; the wrapping block
			// would make it the function's, branching past exitCode.
			lr := newReader(r.B, r.Base)
			lr.Pos = r.Pos
			n := uint32(0)
			if op == 0x0e {
				n = lr.U32()
			}
			for i := uint32(0); i <= n && lr.Err == nil; i++ {
				if at := lr.Pos; lr.U32() > uint32(depth) && lr.Err == nil {
					lr.Pos = at
					lr.Fail("a branch to a label past the function's")
				}
			}
			if lr.Err != nil {
				if r.Err == nil {
					r.Err = lr.Err
				}
				break
			}
		}
		r.immediates(op)
		switch op {
		case 0x02, 0x04: // block, if
			depth++
		case 0x0b: // end
			if depth == 0 {
				done = true
			}
			depth--
		}
		if tail {
			out = append(out, check...)
		}
		out = append(out, r.B[at:r.Pos]...)
		if done && exit != nil {
			// the wrapping block's end was the function's: the budget
			// back, then the function's end
			out = append(out, exit...)
			out = append(out, 0x0b)
		}
	}
	if r.Err == nil && !done {
		r.Fail("function body does not end with end")
	}
	if r.Err != nil {
		return nil, r.Err
	}
	return out, nil
}

// Global returns the stop global of an instance of a module Instrument
// rewrote.
func Global(mod api.Module) (api.MutableGlobal, error) {
	g, ok := mod.ExportedGlobal(GlobalName).(api.MutableGlobal)
	if !ok || g.Type() != api.ValueTypeI32 {
		return nil, fmt.Errorf("the module has no mutable i32 global %q", GlobalName)
	}
	return g, nil
}
