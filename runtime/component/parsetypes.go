package component

// typ reads a component type definition.
func (p *parser) typ(r *reader, depth int) (Type, error) {
	if depth > maxDepth {
		return nil, r.errorf("types nested more than %d deep", maxDepth)
	}
	b, ok := r.peek()
	if !ok {
		return nil, r.truncated("type")
	}
	switch b {
	case 0x40:
		r.byte("")
		return p.funcType(r)
	case 0x43:
		return nil, notSupported("component-model async (async function type)")
	case 0x41, 0x42:
		r.byte("")
		decls, err := p.decls(r, b == 0x41, depth)
		if err != nil {
			return nil, err
		}
		if b == 0x41 {
			return ComponentType{Decls: decls}, nil
		}
		return InstanceType{Decls: decls}, nil
	case 0x3f:
		r.byte("")
		rep, err := r.byte("resource representation")
		if err != nil {
			return nil, err
		}
		if rep != 0x7f {
			return nil, r.errorf("resource representation %#x, want i32", rep)
		}
		has, err := r.byte("resource destructor flag")
		if err != nil {
			return nil, err
		}
		var rt ResourceType
		switch has {
		case 0x00:
		case 0x01:
			d, err := r.u32("resource destructor")
			if err != nil {
				return nil, err
			}
			rt.Dtor = &d
		default:
			return nil, r.errorf("bad resource destructor flag %#x", has)
		}
		return rt, nil
	case 0x3e:
		return nil, notSupported("component-model async (resource with an async destructor)")
	}
	return p.defValType(r)
}

func (p *parser) funcType(r *reader) (Type, error) {
	var ft FuncType
	n, err := r.count("function parameters")
	if err != nil {
		return nil, err
	}
	for range n {
		f, err := p.field(r)
		if err != nil {
			return nil, err
		}
		ft.Params = append(ft.Params, f)
	}
	b, err := r.byte("function result list")
	if err != nil {
		return nil, err
	}
	switch b {
	case 0x00:
		t, err := p.valType(r)
		if err != nil {
			return nil, err
		}
		ft.Result = &t
	case 0x01:
		z, err := r.byte("named results")
		if err != nil {
			return nil, err
		}
		if z != 0x00 {
			return nil, notSupported("named function results")
		}
	default:
		return nil, r.errorf("bad function result list %#x", b)
	}
	return ft, nil
}

func (p *parser) field(r *reader) (Field, error) {
	name, err := r.name("label")
	if err != nil {
		return Field{}, err
	}
	t, err := p.valType(r)
	return Field{Name: name, Type: t}, err
}

// valType reads a primitive value type (a negative SLEB128, one byte in
// 0x40-0x7f) or a type index.
func (p *parser) valType(r *reader) (ValType, error) {
	b, ok := r.peek()
	if !ok {
		return ValType{}, r.truncated("value type")
	}
	if b >= 0x40 && b <= 0x7f {
		r.byte("")
		pr, err := p.prim(r, b)
		return ValType{Prim: pr}, err
	}
	i, err := r.u32("type index")
	return ValType{Index: i}, err
}

func (p *parser) prim(r *reader, b byte) (Prim, error) {
	if b >= 0x73 && b <= 0x7f {
		return Prim(0x7f-b) + Bool, nil
	}
	if b == 0x64 {
		return 0, notSupported("error-context")
	}
	return 0, r.errorf("bad primitive value type %#x", b)
}

func (p *parser) optValType(r *reader, what string) (*ValType, error) {
	b, err := r.byte(what)
	if err != nil {
		return nil, err
	}
	switch b {
	case 0x00:
		return nil, nil
	case 0x01:
		t, err := p.valType(r)
		return &t, err
	}
	return nil, r.errorf("bad %s flag %#x", what, b)
}

func (p *parser) labels(r *reader, what string) ([]string, error) {
	n, err := r.count(what)
	if err != nil {
		return nil, err
	}
	var names []string
	for range n {
		s, err := r.name(what)
		if err != nil {
			return nil, err
		}
		names = append(names, s)
	}
	return names, nil
}

func (p *parser) defValType(r *reader) (Type, error) {
	b, err := r.byte("value type")
	if err != nil {
		return nil, err
	}
	switch b {
	case 0x72:
		n, err := r.count("record fields")
		if err != nil {
			return nil, err
		}
		var t RecordType
		for range n {
			f, err := p.field(r)
			if err != nil {
				return nil, err
			}
			t.Fields = append(t.Fields, f)
		}
		return t, nil
	case 0x71:
		n, err := r.count("variant cases")
		if err != nil {
			return nil, err
		}
		var t VariantType
		for range n {
			name, err := r.name("case label")
			if err != nil {
				return nil, err
			}
			ct, err := p.optValType(r, "case type")
			if err != nil {
				return nil, err
			}
			if z, err := r.byte("case refines"); err != nil {
				return nil, err
			} else if z != 0x00 {
				return nil, notSupported("variant case refinements")
			}
			t.Cases = append(t.Cases, Case{Name: name, Type: ct})
		}
		return t, nil
	case 0x70:
		e, err := p.valType(r)
		return ListType{Elem: e}, err
	case 0x67:
		return nil, notSupported("fixed-length lists")
	case 0x6f:
		n, err := r.count("tuple elements")
		if err != nil {
			return nil, err
		}
		var t TupleType
		for range n {
			e, err := p.valType(r)
			if err != nil {
				return nil, err
			}
			t.Elems = append(t.Elems, e)
		}
		return t, nil
	case 0x6e:
		names, err := p.labels(r, "flags")
		if err != nil {
			return nil, err
		}
		if len(names) > 32 {
			return nil, r.errorf("flags with %d labels, at most 32", len(names))
		}
		return FlagsType{Names: names}, nil
	case 0x6d:
		names, err := p.labels(r, "enum cases")
		return EnumType{Names: names}, err
	case 0x6b:
		e, err := p.valType(r)
		return OptionType{Elem: e}, err
	case 0x6a:
		ok, err := p.optValType(r, "result ok type")
		if err != nil {
			return nil, err
		}
		e, err := p.optValType(r, "result error type")
		return ResultType{OK: ok, Err: e}, err
	case 0x69, 0x68:
		i, err := r.u32("resource type index")
		if b == 0x69 {
			return OwnType{Resource: i}, err
		}
		return BorrowType{Resource: i}, err
	case 0x66:
		return nil, notSupported("stream<T>")
	case 0x65:
		return nil, notSupported("future<T>")
	}
	if b >= 0x40 && b <= 0x7f {
		pr, err := p.prim(r, b)
		return PrimType{Prim: pr}, err
	}
	return nil, r.errorf("unknown type %#x", b)
}

// decls reads the declarations of a component (component true) or
// instance type.
func (p *parser) decls(r *reader, component bool, depth int) ([]Decl, error) {
	n, err := r.count("declarations")
	if err != nil {
		return nil, err
	}
	var ds []Decl
	for range n {
		b, err := r.byte("declaration")
		if err != nil {
			return nil, err
		}
		var d Def
		switch b {
		case 0x00:
			d, err = p.coreType(r, depth+1)
		case 0x01:
			var t Type
			t, err = p.typ(r, depth+1)
			d = TypeDef{Type: t}
		case 0x02:
			d, err = p.alias(r)
		case 0x03:
			if !component {
				return nil, r.errorf("import declaration in an instance type")
			}
			d, err = p.importDef(r)
		case 0x04:
			var name string
			if name, err = p.discriminatedName(r); err != nil {
				return nil, err
			}
			var ed ExternDesc
			ed, err = p.externDesc(r)
			d = Export{Name: name, Sort: ed.Sort, Desc: &ed}
		default:
			return nil, r.errorf("unknown declaration %#x", b)
		}
		if err != nil {
			return nil, err
		}
		ds = append(ds, Decl{Def: d})
	}
	return ds, nil
}

// coreType reads a core type: a function type, kept, or a module type,
// parsed to be skipped.
func (p *parser) coreType(r *reader, depth int) (Def, error) {
	if depth > maxDepth {
		return nil, r.errorf("types nested more than %d deep", maxDepth)
	}
	b, err := r.byte("core type")
	if err != nil {
		return nil, err
	}
	switch b {
	case 0x60:
		ft, err := p.coreFuncType(r)
		return CoreTypeDef{Func: ft}, err
	case 0x50:
		if err := p.moduleType(r, depth); err != nil {
			return nil, err
		}
		return CoreTypeDef{}, nil
	case 0x00:
		if z, err := r.byte("core module type"); err != nil {
			return nil, err
		} else if z != 0x50 {
			return nil, r.errorf("bad core type %#x %#x", b, z)
		}
		if err := p.moduleType(r, depth); err != nil {
			return nil, err
		}
		return CoreTypeDef{}, nil
	}
	return nil, notSupported("core type %#x (GC types)", b)
}

func (p *parser) coreFuncType(r *reader) (*CoreFuncType, error) {
	var ft CoreFuncType
	for i := range 2 {
		n, err := r.count("core function type")
		if err != nil {
			return nil, err
		}
		ts, err := r.bytes(n, "core value types")
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			switch t {
			case 0x7f, 0x7e, 0x7d, 0x7c:
			case 0x7b, 0x70, 0x6f:
				return nil, notSupported("core value type %#x in a core function type", t)
			default:
				return nil, r.errorf("bad core value type %#x", t)
			}
		}
		if i == 0 {
			ft.Params = ts
		} else {
			ft.Results = ts
		}
	}
	return &ft, nil
}

// moduleType skips a core module type's declarations.
func (p *parser) moduleType(r *reader, depth int) error {
	n, err := r.count("module type declarations")
	if err != nil {
		return err
	}
	for range n {
		b, err := r.byte("module declaration")
		if err != nil {
			return err
		}
		switch b {
		case 0x00: // import: module name, name, importdesc
			if _, err := r.name("import module"); err != nil {
				return err
			}
			if _, err := r.name("import name"); err != nil {
				return err
			}
			err = p.coreImportDesc(r)
		case 0x01:
			_, err = p.coreType(r, depth+1)
		case 0x02: // alias: sort, 0x01 count index
			if _, err = p.coreSort(r); err != nil {
				return err
			}
			if k, err := r.byte("core alias target"); err != nil {
				return err
			} else if k != 0x01 {
				return r.errorf("core alias target %#x, want outer", k)
			}
			if _, err = r.u32("outer count"); err == nil {
				_, err = r.u32("outer index")
			}
		case 0x03:
			if _, err := r.name("export name"); err != nil {
				return err
			}
			err = p.coreImportDesc(r)
		default:
			return r.errorf("unknown module declaration %#x", b)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// coreImportDesc skips a core import description.
func (p *parser) coreImportDesc(r *reader) error {
	b, err := r.byte("core import desc")
	if err != nil {
		return err
	}
	limits := func() error {
		f, err := r.byte("limits")
		if err != nil {
			return err
		}
		if _, err := r.u32("limits min"); err != nil {
			return err
		}
		if f&1 != 0 {
			_, err = r.u32("limits max")
		}
		return err
	}
	switch b {
	case 0x00:
		_, err = r.u32("type index")
	case 0x01:
		if _, err = r.byte("table element type"); err == nil {
			err = limits()
		}
	case 0x02:
		err = limits()
	case 0x03:
		if _, err = r.byte("global type"); err == nil {
			_, err = r.byte("global mutability")
		}
	case 0x04:
		if _, err = r.byte("tag attribute"); err == nil {
			_, err = r.u32("tag type")
		}
	default:
		err = r.errorf("unknown core import desc %#x", b)
	}
	return err
}
