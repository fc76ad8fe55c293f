package component

import (
	"bytes"
	"errors"
	"fmt"
)

// Section ids of the component binary format.
const (
	secCustom       = 0
	secCoreModule   = 1
	secCoreInstance = 2
	secCoreType     = 3
	secComponent    = 4
	secInstance     = 5
	secAlias        = 6
	secType         = 7
	secCanon        = 8
	secStart        = 9
	secImport       = 10
	secExport       = 11
	secValue        = 12
)

// maxDepth bounds the nesting of components and types, so hostile input
// cannot exhaust the Go stack.
const maxDepth = 64

var (
	preambleMagic     = []byte{0x00, 0x61, 0x73, 0x6d}
	componentVersion  = []byte{0x0d, 0x00, 0x01, 0x00}
	coreModuleVersion = []byte{0x01, 0x00, 0x00, 0x00}
)

// ErrCoreModule is returned by Parse for a core module.
var ErrCoreModule = errors.New("component: the file is a core module, not a component")

// IsComponent reports whether b starts with the preamble of a component
// (of any binary version).
func IsComponent(b []byte) bool {
	return len(b) >= 8 && bytes.Equal(b[:4], preambleMagic) && b[6] == 0x01 && b[7] == 0x00
}

// Parse decodes a component binary. Errors wrap a *NotSupportedError for
// features outside the supported subset.
func Parse(b []byte) (*Component, error) {
	if len(b) < 8 || !bytes.Equal(b[:4], preambleMagic) {
		return nil, errors.New("component: not a WebAssembly binary (bad magic)")
	}
	if bytes.Equal(b[4:8], coreModuleVersion) {
		return nil, ErrCoreModule
	}
	if !bytes.Equal(b[4:8], componentVersion) {
		return nil, fmt.Errorf("component: unsupported binary version % x (want component version 0x0d, layer 1)", b[4:8])
	}
	p := &parser{}
	c, err := p.component(&reader{b: b[8:], off: 8}, 0)
	if err != nil {
		return nil, fmt.Errorf("component: %w", err)
	}
	return c, nil
}

type parser struct{}

func (p *parser) component(r *reader, depth int) (*Component, error) {
	if depth > maxDepth {
		return nil, r.errorf("components nested more than %d deep", maxDepth)
	}
	c := &Component{}
	for !r.empty() {
		start, end := r.off, r.off+len(r.b)
		id, s, err := r.section()
		if err != nil && depth == 0 && id <= secValue && errors.Is(err, errTruncated) {
			// The binary itself ends inside a top-level section of a
			// known kind: a file cut short (or a wrong section size;
			// an unknown kind is more likely not a component at all).
			return nil, fmt.Errorf("truncated: the component ends at byte %d, inside the section at byte %d (%w); not a complete WebAssembly component",
				end, start, err)
		}
		if err != nil {
			return nil, err
		}
		if err := p.section(c, id, s, depth); err != nil {
			return nil, err
		}
		if id != secCustom && id != secCoreModule && id != secComponent && !s.empty() {
			return nil, s.errorf("section %d has %d bytes left over", id, len(s.b))
		}
	}
	return c, nil
}

func (p *parser) section(c *Component, id byte, s *reader, depth int) error {
	if id == secCoreModule {
		if len(s.b) < 8 || !bytes.Equal(s.b[:4], preambleMagic) || !bytes.Equal(s.b[4:8], coreModuleVersion) {
			return s.errorf("core module section does not hold a core module")
		}
		c.Defs = append(c.Defs, CoreModule{Bytes: s.b, stop: new(stopModule)})
		return nil
	}
	if id == secComponent {
		if len(s.b) < 8 || !bytes.Equal(s.b[:4], preambleMagic) || !bytes.Equal(s.b[4:8], componentVersion) {
			return s.errorf("component section does not hold a component")
		}
		n, err := p.component(&reader{b: s.b[8:], off: s.off + 8}, depth+1)
		if err != nil {
			return err
		}
		c.Defs = append(c.Defs, Nested{Component: n})
		return nil
	}
	var item func() (Def, error)
	switch id {
	case secCustom:
		_, err := s.name("custom section name")
		return err
	case secCoreInstance:
		item = func() (Def, error) { return p.coreInstance(s) }
	case secCoreType:
		item = func() (Def, error) { return p.coreType(s, depth) }
	case secInstance:
		item = func() (Def, error) { return p.instance(s) }
	case secAlias:
		item = func() (Def, error) { return p.alias(s) }
	case secType:
		item = func() (Def, error) {
			t, err := p.typ(s, depth)
			return TypeDef{Type: t}, err
		}
	case secCanon:
		item = func() (Def, error) { return p.canon(s) }
	case secStart:
		d, err := p.start(s)
		if err != nil {
			return err
		}
		c.Defs = append(c.Defs, d)
		return nil
	case secImport:
		item = func() (Def, error) { return p.importDef(s) }
	case secExport:
		item = func() (Def, error) { return p.exportDef(s) }
	case secValue:
		return notSupported("value definitions (section 12)")
	default:
		return s.errorf("unknown section id %d", id)
	}
	n, err := s.count("section items")
	if err != nil {
		return err
	}
	for range n {
		d, err := item()
		if err != nil {
			return err
		}
		c.Defs = append(c.Defs, d)
	}
	return nil
}

func (p *parser) coreSort(r *reader) (Sort, error) {
	b, err := r.byte("core sort")
	if err != nil {
		return 0, err
	}
	switch b {
	case 0x00:
		return SortCoreFunc, nil
	case 0x01:
		return SortCoreTable, nil
	case 0x02:
		return SortCoreMemory, nil
	case 0x03:
		return SortCoreGlobal, nil
	case 0x10:
		return SortCoreType, nil
	case 0x11:
		return SortCoreModule, nil
	case 0x12:
		return SortCoreInstance, nil
	}
	return 0, r.errorf("unknown core sort %#x", b)
}

func (p *parser) sort(r *reader) (Sort, error) {
	b, err := r.byte("sort")
	if err != nil {
		return 0, err
	}
	switch b {
	case 0x00:
		return p.coreSort(r)
	case 0x01:
		return SortFunc, nil
	case 0x02:
		return SortValue, nil
	case 0x03:
		return SortType, nil
	case 0x04:
		return SortComponent, nil
	case 0x05:
		return SortInstance, nil
	}
	return 0, r.errorf("unknown sort %#x", b)
}

func (p *parser) coreInstance(r *reader) (Def, error) {
	b, err := r.byte("core instance")
	if err != nil {
		return nil, err
	}
	switch b {
	case 0x00:
		m, err := r.u32("module index")
		if err != nil {
			return nil, err
		}
		n, err := r.count("instantiate arguments")
		if err != nil {
			return nil, err
		}
		d := CoreInstantiate{Module: m}
		for range n {
			name, err := r.name("argument name")
			if err != nil {
				return nil, err
			}
			if s, err := p.coreSort(r); err != nil {
				return nil, err
			} else if s != SortCoreInstance {
				return nil, r.errorf("core instantiate argument %q is a %s, not a core instance", name, s)
			}
			i, err := r.u32("argument instance")
			if err != nil {
				return nil, err
			}
			d.Args = append(d.Args, CoreArg{Name: name, Instance: i})
		}
		return d, nil
	case 0x01:
		n, err := r.count("core exports")
		if err != nil {
			return nil, err
		}
		d := CoreExports{}
		for range n {
			name, err := r.name("export name")
			if err != nil {
				return nil, err
			}
			s, err := p.coreSort(r)
			if err != nil {
				return nil, err
			}
			i, err := r.u32("export index")
			if err != nil {
				return nil, err
			}
			d.Exports = append(d.Exports, CoreExport{Name: name, Sort: s, Index: i})
		}
		return d, nil
	}
	return nil, r.errorf("unknown core instance kind %#x", b)
}

func (p *parser) instance(r *reader) (Def, error) {
	b, err := r.byte("instance")
	if err != nil {
		return nil, err
	}
	switch b {
	case 0x00:
		c, err := r.u32("component index")
		if err != nil {
			return nil, err
		}
		args, err := p.args(r)
		return ComponentInstantiate{Component: c, Args: args}, err
	case 0x01:
		args, err := p.inlineExports(r)
		return Exports{Exports: args}, err
	}
	return nil, r.errorf("unknown instance kind %#x", b)
}

func (p *parser) args(r *reader) ([]Arg, error) {
	return p.sortIndexes(r, "arguments", p.externName)
}

// inlineExports reads the exports of an instance made of exports: names
// in the discriminated form of exportDef, without type ascriptions.
func (p *parser) inlineExports(r *reader) ([]Arg, error) {
	return p.sortIndexes(r, "inline exports", p.discriminatedName)
}

// sortIndexes reads a vector of (name, sort, index), the names read by
// name: instantiate arguments and inline exports differ only there.
func (p *parser) sortIndexes(r *reader, what string, name func(*reader) (string, error)) ([]Arg, error) {
	n, err := r.count(what)
	if err != nil {
		return nil, err
	}
	var args []Arg
	for range n {
		nm, err := name(r)
		if err != nil {
			return nil, err
		}
		s, err := p.sort(r)
		if err != nil {
			return nil, err
		}
		i, err := r.u32("index")
		if err != nil {
			return nil, err
		}
		args = append(args, Arg{Name: nm, Sort: s, Index: i})
	}
	return args, nil
}

// externName reads an instantiate argument's name.
func (p *parser) externName(r *reader) (string, error) { return r.name("name") }

// discriminatedName reads an import or export name: a discriminator byte
// (0x00, or 0x01 for the older interface form) and the name.
func (p *parser) discriminatedName(r *reader) (string, error) {
	b, err := r.byte("name kind")
	if err != nil {
		return "", err
	}
	switch b {
	case 0x00, 0x01:
		return r.name("name")
	}
	return "", r.errorf("unknown import or export name kind %#x", b)
}

func (p *parser) alias(r *reader) (Def, error) {
	s, err := p.sort(r)
	if err != nil {
		return nil, err
	}
	k, err := r.byte("alias target")
	if err != nil {
		return nil, err
	}
	a := Alias{Of: s}
	switch k {
	case 0x00, 0x01:
		a.Kind = AliasExport
		if k == 0x01 {
			a.Kind = AliasCoreExport
		}
		if a.Instance, err = r.u32("alias instance"); err != nil {
			return nil, err
		}
		if a.Name, err = r.name("alias name"); err != nil {
			return nil, err
		}
	case 0x02:
		a.Kind = AliasOuter
		if a.Count, err = r.u32("outer count"); err != nil {
			return nil, err
		}
		if a.Index, err = r.u32("outer index"); err != nil {
			return nil, err
		}
	default:
		return nil, r.errorf("unknown alias target %#x", k)
	}
	return a, nil
}

func (p *parser) canonOpts(r *reader, what string) (CanonOpts, error) {
	var o CanonOpts
	n, err := r.count("canon options")
	if err != nil {
		return o, err
	}
	for range n {
		b, err := r.byte("canon option")
		if err != nil {
			return o, err
		}
		var dst **uint32
		switch b {
		case 0x00: // string-encoding=utf8
			continue
		case 0x01:
			return o, notSupported("string-encoding=utf16 (%s)", what)
		case 0x02:
			return o, notSupported("string-encoding=latin1+utf16 (%s)", what)
		case 0x03:
			dst = &o.Memory
		case 0x04:
			dst = &o.Realloc
		case 0x05:
			dst = &o.PostReturn
		case 0x06:
			return o, notSupported("component-model async (the async option of %s)", what)
		case 0x07:
			return o, notSupported("component-model async (the callback option of %s)", what)
		default:
			return o, r.errorf("unknown canon option %#x", b)
		}
		i, err := r.u32("canon option index")
		if err != nil {
			return o, err
		}
		if *dst != nil {
			return o, r.errorf("canon option %#x given twice", b)
		}
		*dst = &i
	}
	return o, nil
}

// asyncBuiltins names the canonical built-ins outside the synchronous
// subset, by opcode.
var asyncBuiltins = map[byte]string{
	0x05: "task.cancel", 0x06: "subtask.cancel", 0x07: "resource.drop async", 0x08: "backpressure.set",
	0x09: "task.return", 0x0a: "context.get", 0x0b: "context.set", 0x0c: "yield", 0x0d: "subtask.drop",
	0x0e: "stream.new", 0x0f: "stream.read", 0x10: "stream.write", 0x11: "stream.cancel-read",
	0x12: "stream.cancel-write", 0x13: "stream.drop-readable", 0x14: "stream.drop-writable",
	0x15: "future.new", 0x16: "future.read", 0x17: "future.write", 0x18: "future.cancel-read",
	0x19: "future.cancel-write", 0x1a: "future.drop-readable", 0x1b: "future.drop-writable",
	0x1c: "error-context.new", 0x1d: "error-context.debug-message", 0x1e: "error-context.drop",
	0x1f: "waitable-set.new", 0x20: "waitable-set.wait", 0x21: "waitable-set.poll", 0x22: "waitable-set.drop",
	0x23: "waitable.join", 0x24: "backpressure.inc", 0x25: "backpressure.dec",
	0x40: "thread.spawn-ref", 0x41: "thread.spawn-indirect", 0x42: "thread.available-parallelism",
}

func (p *parser) canon(r *reader) (Def, error) {
	b, err := r.byte("canon")
	if err != nil {
		return nil, err
	}
	switch b {
	case 0x00, 0x01:
		if z, err := r.byte("canon func sort"); err != nil {
			return nil, err
		} else if z != 0x00 {
			return nil, r.errorf("canon lift or lower of sort %#x, want func", z)
		}
		f, err := r.u32("canon function")
		if err != nil {
			return nil, err
		}
		c := Canon{Kind: CanonLower, Func: f}
		what := "canon lower"
		if b == 0x00 {
			c.Kind, what = CanonLift, "canon lift"
		}
		if c.Opts, err = p.canonOpts(r, what); err != nil {
			return nil, err
		}
		if b == 0x00 {
			if c.Type, err = r.u32("canon lift type"); err != nil {
				return nil, err
			}
		}
		return c, nil
	case 0x02, 0x03, 0x04:
		t, err := r.u32("resource type")
		if err != nil {
			return nil, err
		}
		return Canon{Kind: CanonResourceNew + CanonKind(b-0x02), Type: t}, nil
	}
	if name, ok := asyncBuiltins[b]; ok {
		if b >= 0x40 {
			return nil, notSupported("threads (canon %s)", name)
		}
		return nil, notSupported("component-model async (canon %s)", name)
	}
	return nil, r.errorf("unknown canon opcode %#x", b)
}

func (p *parser) start(r *reader) (Def, error) {
	f, err := r.u32("start function")
	if err != nil {
		return nil, err
	}
	n, err := r.count("start arguments")
	if err != nil {
		return nil, err
	}
	s := Start{Func: f}
	for range n {
		v, err := r.u32("start argument")
		if err != nil {
			return nil, err
		}
		s.Args = append(s.Args, v)
	}
	if s.Results, err = r.u32("start results"); err != nil {
		return nil, err
	}
	return s, nil
}

func (p *parser) importDef(r *reader) (Def, error) {
	name, err := p.discriminatedName(r)
	if err != nil {
		return nil, err
	}
	d, err := p.externDesc(r)
	if err != nil {
		return nil, err
	}
	return Import{Name: name, Desc: d}, nil
}

func (p *parser) exportDef(r *reader) (Def, error) {
	name, err := p.discriminatedName(r)
	if err != nil {
		return nil, err
	}
	s, err := p.sort(r)
	if err != nil {
		return nil, err
	}
	i, err := r.u32("export index")
	if err != nil {
		return nil, err
	}
	e := Export{Name: name, Sort: s, Index: i}
	has, err := r.byte("export type ascription")
	if err != nil {
		return nil, err
	}
	switch has {
	case 0x00:
	case 0x01:
		d, err := p.externDesc(r)
		if err != nil {
			return nil, err
		}
		if d.Sort != s {
			return nil, r.errorf("export %q of a %s ascribed a %s type", name, s, d.Sort)
		}
		e.Desc = &d
	default:
		return nil, r.errorf("bad export type ascription flag %#x", has)
	}
	return e, nil
}

func (p *parser) externDesc(r *reader) (ExternDesc, error) {
	var d ExternDesc
	b, err := r.byte("extern desc")
	if err != nil {
		return d, err
	}
	switch b {
	case 0x00:
		if z, err := r.byte("core module desc"); err != nil {
			return d, err
		} else if z != 0x11 {
			return d, r.errorf("core extern desc %#x, want module (0x11)", z)
		}
		d.Sort = SortCoreModule
	case 0x01:
		d.Sort = SortFunc
	case 0x02:
		return d, notSupported("value imports and exports")
	case 0x03:
		d.Sort = SortType
		bound, err := r.byte("type bound")
		if err != nil {
			return d, err
		}
		switch bound {
		case 0x00:
		case 0x01:
			d.SubResource = true
			return d, nil
		default:
			return d, r.errorf("unknown type bound %#x", bound)
		}
	case 0x04:
		d.Sort = SortComponent
	case 0x05:
		d.Sort = SortInstance
	default:
		return d, r.errorf("unknown extern desc %#x", b)
	}
	d.Type, err = r.u32("extern type index")
	return d, err
}
