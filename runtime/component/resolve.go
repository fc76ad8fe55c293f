package component

import "fmt"

// typeAt returns type i of the scope.
func (s *scope) typeAt(i uint32) (rtype, error) {
	if uint64(i) >= uint64(len(s.types)) {
		return nil, fmt.Errorf("type index %d out of range (%d types)", i, len(s.types))
	}
	return s.types[i], nil
}

func (s *scope) valType(v ValType) (rtype, error) {
	if v.Prim != 0 {
		return rprim(v.Prim), nil
	}
	t, err := s.typeAt(v.Index)
	if err != nil {
		return nil, err
	}
	switch t.(type) {
	case *rfunc, *rinstance, *rcomponentType, *rresource, nil:
		return nil, fmt.Errorf("type %d is not a value type", v.Index)
	}
	return t, nil
}

func (s *scope) optValType(v *ValType) (rtype, error) {
	if v == nil {
		return nil, nil
	}
	return s.valType(*v)
}

func (s *scope) fields(fs []Field) ([]rfield, error) {
	out := make([]rfield, len(fs))
	for i, f := range fs {
		t, err := s.valType(f.Type)
		if err != nil {
			return nil, err
		}
		out[i] = rfield{name: f.Name, t: t}
	}
	return out, nil
}

func (s *scope) resource(i uint32) (*rresource, error) {
	t, err := s.typeAt(i)
	if err != nil {
		return nil, err
	}
	r, ok := t.(*rresource)
	if !ok {
		return nil, fmt.Errorf("type %d is not a resource", i)
	}
	return r, nil
}

// resolve resolves a type definition in the scope, refusing a value or
// function type past the size limits (typesize.go).
func (s *scope) resolve(t Type) (rtype, error) {
	rt, err := s.resolveType(t)
	if err != nil {
		return nil, err
	}
	if err := s.state.measure(rt); err != nil {
		return nil, err
	}
	setLayout(rt)
	return rt, nil
}

func (s *scope) resolveType(t Type) (rtype, error) {
	switch t := t.(type) {
	case PrimType:
		return rprim(t.Prim), nil
	case RecordType:
		fs, err := s.fields(t.Fields)
		return &rrecord{fields: fs}, err
	case VariantType:
		v := &rvariant{}
		for _, c := range t.Cases {
			ct, err := s.optValType(c.Type)
			if err != nil {
				return nil, err
			}
			v.cases = append(v.cases, rfield{name: c.Name, t: ct})
		}
		return v, nil
	case ListType:
		e, err := s.valType(t.Elem)
		return &rlist{elem: e}, err
	case TupleType:
		tu := &rtuple{}
		for _, e := range t.Elems {
			et, err := s.valType(e)
			if err != nil {
				return nil, err
			}
			tu.elems = append(tu.elems, et)
		}
		return tu, nil
	case FlagsType:
		return &rflags{n: len(t.Names), names: t.Names}, nil
	case EnumType:
		return &renum{n: len(t.Names), names: t.Names}, nil
	case OptionType:
		e, err := s.valType(t.Elem)
		return &roption{elem: e}, err
	case ResultType:
		ok, err := s.optValType(t.OK)
		if err != nil {
			return nil, err
		}
		e, err := s.optValType(t.Err)
		return &rresult{ok: ok, err: e}, err
	case OwnType:
		r, err := s.resource(t.Resource)
		return &rown{res: r}, err
	case BorrowType:
		r, err := s.resource(t.Resource)
		return &rborrow{res: r}, err
	case FuncType:
		ps, err := s.fields(t.Params)
		if err != nil {
			return nil, err
		}
		res, err := s.optValType(t.Result)
		return &rfunc{params: ps, result: res}, err
	case ResourceType:
		return s.definedResource(t)
	case InstanceType:
		return s.instanceType(t.Decls)
	case ComponentType:
		return &rcomponentType{decls: t.Decls}, nil
	}
	return nil, fmt.Errorf("unknown type %T", t)
}

// instanceType evaluates the declarations of an instance type in a fresh
// type index space that can alias the enclosing ones.
func (s *scope) instanceType(decls []Decl) (*rinstance, error) {
	in := &scope{parent: s, state: s.state}
	it := &rinstance{exports: map[string]rtype{}}
	for _, d := range decls {
		switch d := d.Def.(type) {
		case TypeDef:
			t, err := in.resolve(d.Type)
			if err != nil {
				return nil, err
			}
			in.types = append(in.types, t)
		case CoreTypeDef:
			// Core types have their own index space; nothing refers to it
			// in the supported subset.
		case Alias:
			if d.Kind != AliasOuter || d.Of != SortType {
				return nil, fmt.Errorf("instance type declares a %s alias, only outer type aliases are allowed", d.Of)
			}
			t, err := in.outerType(d.Count, d.Index)
			if err != nil {
				return nil, err
			}
			in.types = append(in.types, t)
		case Export:
			var t rtype
			var err error
			switch d.Desc.Sort {
			case SortType:
				if d.Desc.SubResource {
					t = &rresource{name: d.Name}
				} else {
					t, err = in.typeAt(d.Desc.Type)
				}
				in.types = append(in.types, t)
			case SortFunc:
				if t, err = in.typeAt(d.Desc.Type); err == nil {
					if _, ok := t.(*rfunc); !ok {
						err = fmt.Errorf("export %q: type %d is not a function type", d.Name, d.Desc.Type)
					}
				}
			case SortInstance:
				if t, err = in.typeAt(d.Desc.Type); err == nil {
					if _, ok := t.(*rinstance); !ok {
						err = fmt.Errorf("export %q: type %d is not an instance type", d.Name, d.Desc.Type)
					}
				}
			default:
				err = notSupported("%s exports in instance types", d.Desc.Sort)
			}
			if err != nil {
				return nil, err
			}
			if _, dup := it.exports[d.Name]; dup {
				return nil, fmt.Errorf("instance type exports %q twice", d.Name)
			}
			it.exports[d.Name] = t
			it.order = append(it.order, d.Name)
		default:
			return nil, fmt.Errorf("unexpected declaration %T in an instance type", d)
		}
	}
	return it, nil
}

// outerType returns type index of the scope count levels out.
func (s *scope) outerType(count, index uint32) (rtype, error) {
	o := s
	for range count {
		if o.parent == nil {
			return nil, fmt.Errorf("outer alias %d levels out of %d", count, s.depth())
		}
		o = o.parent
	}
	return o.typeAt(index)
}

func (s *scope) depth() int {
	n := 0
	for o := s.parent; o != nil; o = o.parent {
		n++
	}
	return n
}

// bindImport names the resources of an imported instance type after the
// import, so resource.drop finds the interface that serves them. Each
// instance type is walked once: a second walk, by another import or as
// a part of another type, would find its resources named already (an
// instance type exporting two instances of the one before, n levels
// deep, is 2^n instances expanded).
func bindImport(name string, it *rinstance) {
	if it.bound {
		return
	}
	it.bound = true
	for _, n := range it.order {
		switch t := it.exports[n].(type) {
		case *rresource:
			if t.iface == "" && !t.defined {
				t.iface = name
			}
		case *rinstance:
			bindImport(name, t)
		}
	}
}
