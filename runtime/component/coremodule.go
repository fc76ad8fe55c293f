package component

import "errors"

// A coreShape is what the loader reads of a core module's sections to
// recognize the small modules wit-component generates (see shim.go):
// types, imports, defined functions and their bodies, exports and active
// element segments. It is not a validator; wazero validates every module
// it compiles.
type coreShape struct {
	types   []coreSig
	imports []coreImport
	funcs   []uint32 // type index of each defined function
	bodies  [][]byte // code of each defined function, locals included
	tables  uint32   // tables defined
	exports []coreExport
	elems   []elemSegment
	// other is set when the module has what the recognized shapes never
	// have: a memory, global, start or data section, a type that is not a
	// plain function type, or an element segment that is not an active
	// function list at a constant offset of table 0. The types or
	// segments after such an entry are not read.
	other bool
}

type coreSig struct{ params, results []byte }

func (a coreSig) equal(b coreSig) bool {
	return string(a.params) == string(b.params) && string(a.results) == string(b.results)
}

type coreImport struct {
	module, name string
	kind         byte   // 0 function, 1 table, 2 memory, 3 global, 4 tag
	typ          uint32 // a function's type index
}

type coreExport struct {
	name  string
	kind  byte
	index uint32
}

// An elemSegment is an active segment that writes functions (indices of
// the module's function space) into table 0 from offset on.
type elemSegment struct {
	offset uint32
	funcs  []uint32
}

// readCoreShape reads the sections of core module b.
func readCoreShape(b []byte) (*coreShape, error) {
	if len(b) < 8 {
		return nil, errTruncated
	}
	r := &reader{b: b[8:], off: 8}
	sh := &coreShape{}
	for !r.empty() {
		id, s, err := r.section()
		if err != nil {
			return nil, err
		}
		switch id {
		case 0, 12: // custom, data count
		case 1:
			err = sh.readTypes(s)
		case 2:
			err = sh.readImports(s)
		case 3:
			sh.funcs, err = readU32s(s, "functions")
		case 4:
			sh.tables, err = s.count("tables")
		case 7:
			err = sh.readExports(s)
		case 9:
			err = sh.readElems(s)
		case 10:
			err = sh.readCode(s)
		default:
			sh.other = true
		}
		if err != nil {
			return nil, err
		}
	}
	if len(sh.bodies) != len(sh.funcs) {
		return nil, errors.New("function and code sections disagree")
	}
	return sh, nil
}

func readU32s(r *reader, what string) ([]uint32, error) {
	n, err := r.count(what)
	if err != nil {
		return nil, err
	}
	out := make([]uint32, n)
	for i := range out {
		if out[i], err = r.u32(what); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (sh *coreShape) readTypes(r *reader) error {
	n, err := r.count("types")
	if err != nil {
		return err
	}
	for range n {
		form, err := r.byte("type form")
		if err != nil {
			return err
		}
		if form != 0x60 {
			sh.other = true // not a plain function type: stop reading types
			return nil
		}
		var t coreSig
		for _, p := range []*[]byte{&t.params, &t.results} {
			k, err := r.count("value types")
			if err != nil {
				return err
			}
			if *p, err = r.bytes(k, "value types"); err != nil {
				return err
			}
		}
		sh.types = append(sh.types, t)
	}
	return nil
}

func (sh *coreShape) readImports(r *reader) error {
	n, err := r.count("imports")
	if err != nil {
		return err
	}
	p := &parser{}
	for range n {
		var im coreImport
		if im.module, err = r.name("import module"); err != nil {
			return err
		}
		if im.name, err = r.name("import name"); err != nil {
			return err
		}
		k, ok := r.peek()
		if !ok {
			return r.truncated("core import desc")
		}
		im.kind = k
		if k == 0 {
			if _, err := r.byte("core import desc"); err != nil {
				return err
			}
			if im.typ, err = r.u32("type index"); err != nil {
				return err
			}
		} else if err := p.coreImportDesc(r); err != nil {
			return err
		}
		sh.imports = append(sh.imports, im)
	}
	return nil
}

func (sh *coreShape) readExports(r *reader) error {
	n, err := r.count("exports")
	if err != nil {
		return err
	}
	for range n {
		var e coreExport
		if e.name, err = r.name("export name"); err != nil {
			return err
		}
		if e.kind, err = r.byte("export kind"); err != nil {
			return err
		}
		if e.index, err = r.u32("export index"); err != nil {
			return err
		}
		sh.exports = append(sh.exports, e)
	}
	return nil
}

// readElems keeps segments of the form 0 (active, table 0, an offset
// expression, function indices) with an i32.const offset; any other form
// marks the module as other.
func (sh *coreShape) readElems(r *reader) error {
	n, err := r.count("element segments")
	if err != nil {
		return err
	}
	for range n {
		form, err := r.u32("element segment form")
		if err != nil {
			return err
		}
		if form != 0 {
			sh.other = true
			return nil
		}
		op, err := r.byte("offset expression")
		if err != nil {
			return err
		}
		off, err := r.s32("offset")
		if err != nil {
			return err
		}
		end, err := r.byte("offset expression end")
		if err != nil {
			return err
		}
		if op != 0x41 || end != 0x0b || off < 0 {
			sh.other = true
			return nil
		}
		funcs, err := readU32s(r, "element functions")
		if err != nil {
			return err
		}
		sh.elems = append(sh.elems, elemSegment{offset: uint32(off), funcs: funcs})
	}
	return nil
}

func (sh *coreShape) readCode(r *reader) error {
	n, err := r.count("function bodies")
	if err != nil {
		return err
	}
	for range n {
		size, err := r.u32("body size")
		if err != nil {
			return err
		}
		b, err := r.bytes(size, "function body")
		if err != nil {
			return err
		}
		sh.bodies = append(sh.bodies, b)
	}
	return nil
}

// funcSig returns the type of function i of the function space (imports
// first).
func (sh *coreShape) funcSig(i uint32) (coreSig, bool) {
	for _, im := range sh.imports {
		if im.kind != 0 {
			continue
		}
		if i == 0 {
			return sh.typeAt(im.typ)
		}
		i--
	}
	if uint64(i) < uint64(len(sh.funcs)) {
		return sh.typeAt(sh.funcs[i])
	}
	return coreSig{}, false
}

func (sh *coreShape) typeAt(i uint32) (coreSig, bool) {
	if uint64(i) < uint64(len(sh.types)) {
		return sh.types[i], true
	}
	return coreSig{}, false
}
