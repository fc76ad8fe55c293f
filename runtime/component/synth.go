package component

import (
	"fmt"
	"strconv"

	"github.com/tetratelabs/wazero/api"
)

// coreExports builds a core instance made of exports of other items: a
// generated core module that imports each item from the instance it lives
// in and exports it under its new name. Imported and re-exported, a
// function, memory or global keeps its identity.
func (s *scope) coreExports(d CoreExports) (*coreInstance, error) {
	var w synth
	hosts := map[string]hostFunc{}
	args := map[string]api.Module{}
	modName := map[api.Module]string{}
	for _, e := range d.Exports {
		it, ok := s.get(e.Sort, e.Index)
		if !ok {
			return nil, fmt.Errorf("export %q: %s index %d out of range", e.Name, e.Sort, e.Index)
		}
		src, ok := it.v.(coreItem)
		if !ok {
			return nil, notSupported("a %s in a core instance made of exports", e.Sort)
		}
		if e.Sort == SortCoreFunc {
			if sh := src.inst.shim; sh != nil {
				if t, ok := sh.fast[src.name]; ok {
					src = t // see shim.go
				}
			}
			if hf, ok := src.inst.hostFunc(src.name); ok {
				hosts[e.Name] = hf
			}
		}
		mod, err := s.state.module(src.inst)
		if err != nil {
			return nil, err
		}
		m, ok := modName[mod]
		if !ok {
			m = strconv.Itoa(len(modName))
			modName[mod] = m
			args[m] = mod
		}
		switch e.Sort {
		case SortCoreFunc:
			f := mod.ExportedFunction(src.name)
			if f == nil {
				return nil, fmt.Errorf("export %q: no function %q", e.Name, src.name)
			}
			def := f.Definition()
			w.fn(m, src.name, e.Name, def.ParamTypes(), def.ResultTypes())
		case SortCoreMemory:
			mem := mod.ExportedMemory(src.name)
			if mem == nil {
				return nil, fmt.Errorf("export %q: no memory %q", e.Name, src.name)
			}
			max, hasMax := mem.Definition().Max()
			w.memory(m, src.name, e.Name, mem.Definition().Min(), max, hasMax)
		case SortCoreGlobal:
			g := mod.ExportedGlobal(src.name)
			if g == nil {
				return nil, fmt.Errorf("export %q: no global %q", e.Name, src.name)
			}
			_, mutable := g.(api.MutableGlobal)
			w.global(m, src.name, e.Name, g.Type(), mutable)
		default:
			return nil, notSupported("a %s in a core instance made of exports", e.Sort)
		}
	}
	mod, err := s.state.instantiateCore(w.bytes(), nil, args)
	if err != nil {
		return nil, fmt.Errorf("core instance of exports: %w", err)
	}
	return &coreInstance{mod: mod, hosts: hosts}, nil
}

// synth writes a core module of imports re-exported.
type synth struct {
	types   [][2][]api.ValueType
	imports []byte
	nimp    int
	exports []byte
	nexp    int
	counts  [4]uint32 // functions, tables, memories, globals imported so far
}

func (w *synth) typeIndex(params, results []api.ValueType) uint32 {
	for i, t := range w.types {
		if string(t[0]) == string(params) && string(t[1]) == string(results) {
			return uint32(i)
		}
	}
	w.types = append(w.types, [2][]api.ValueType{params, results})
	return uint32(len(w.types) - 1)
}

func (w *synth) entry(module, name, export string, kind byte, desc []byte) {
	w.imports = appendName(appendName(w.imports, module), name)
	w.imports = append(w.imports, kind)
	w.imports = append(w.imports, desc...)
	w.nimp++
	w.exports = appendName(w.exports, export)
	w.exports = append(w.exports, kind)
	w.exports = appendU32(w.exports, w.counts[kind])
	w.nexp++
	w.counts[kind]++
}

func (w *synth) fn(module, name, export string, params, results []api.ValueType) {
	w.entry(module, name, export, 0x00, appendU32(nil, w.typeIndex(params, results)))
}

func (w *synth) memory(module, name, export string, min, max uint32, hasMax bool) {
	var desc []byte
	if hasMax {
		desc = appendU32(appendU32([]byte{0x01}, min), max)
	} else {
		desc = appendU32([]byte{0x00}, min)
	}
	w.entry(module, name, export, 0x02, desc)
}

func (w *synth) global(module, name, export string, t api.ValueType, mutable bool) {
	m := byte(0)
	if mutable {
		m = 1
	}
	w.entry(module, name, export, 0x03, []byte{t, m})
}

func (w *synth) bytes() []byte {
	out := append([]byte{}, 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00)
	if len(w.types) > 0 {
		var sec []byte
		sec = appendU32(sec, uint32(len(w.types)))
		for _, t := range w.types {
			sec = append(sec, 0x60)
			sec = appendU32(sec, uint32(len(t[0])))
			sec = append(sec, t[0]...)
			sec = appendU32(sec, uint32(len(t[1])))
			sec = append(sec, t[1]...)
		}
		out = appendSection(out, 1, sec)
	}
	out = appendSection(out, 2, append(appendU32(nil, uint32(w.nimp)), w.imports...))
	out = appendSection(out, 7, append(appendU32(nil, uint32(w.nexp)), w.exports...))
	return out
}

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func appendName(b []byte, s string) []byte {
	return append(appendU32(b, uint32(len(s))), s...)
}

func appendSection(b []byte, id byte, content []byte) []byte {
	b = append(b, id)
	b = appendU32(b, uint32(len(content)))
	return append(b, content...)
}

// coreImportModules lists the module names a core module imports from,
// reading its import section.
func coreImportModules(b []byte) ([]string, error) {
	cs, err := readCoreShape(b)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, im := range cs.imports {
		if !seen[im.module] {
			seen[im.module] = true
			out = append(out, im.module)
		}
	}
	return out, nil
}
