package component

import (
	"errors"
	"fmt"
)

// Instantiation limits. A component instance can instantiate a nested
// component any number of times, and each level of nesting can do so
// again: 24 levels each instantiating the one below twice make 2^24
// instances of the innermost from a few hundred bytes. Instantiate counts
// what it does over the whole component, nested instances included, and
// refuses past these bounds, before doing it.
//
// The core instances and their memories are what the instantiation makes
// the host hold: their bounds are Options (CoreInstances, InitialMemory),
// the runtime's Limits.CoreInstances and Limits.MemoryPages. The
// definitions run, each counting its entries, are work, and what the host
// holds of them (the exports of the instances made of them, some tens of
// bytes each) is small beside a memory: they stay bounded by a constant.
const (
	// DefaultCoreInstances bounds the core module instances of a
	// component (its modules, the synthetic instances of exports and the
	// batches of canonical built-ins) unless Options.CoreInstances says
	// otherwise, as wasmtime's default store limit of 10,000 instances
	// does: each may allocate a memory.
	DefaultCoreInstances = 10_000
	// DefaultInitialMemory bounds the bytes the memories a component's
	// core instances define take when instantiated, together, unless
	// Options.InitialMemory says otherwise: each memory's maximum is the
	// runtime's, but without a bound for them together many instances of
	// a module declaring a large minimum would make the host allocate
	// that many times it. It is the most one memory can declare (4 GiB),
	// so any memory valid on its own is allowed.
	DefaultInitialMemory = 1 << 32
	// MaxDefinitionsRun bounds the definitions run, counting each
	// definition of a nested component once per instantiation of it, and
	// a definition of many entries as that many (see weight): the
	// exports of an instance made of them, which the host holds, or the
	// fields of a type it resolves.
	MaxDefinitionsRun = 1_000_000
)

// ErrCoreInstances, ErrInitialMemory and ErrTableEntries are wrapped by
// the errors of an instantiation refused past Options.CoreInstances,
// Options.InitialMemory and twice Options.Rewrite.TableEntries.
var (
	ErrCoreInstances = errors.New("too many core instances")
	ErrInitialMemory = errors.New("too much initial memory")
	ErrTableEntries  = errors.New("too many table entries")
)

// A limitError is an instantiation refused past a limit: msg, which
// names it, wrapping the limit's error.
type limitError struct {
	msg   string
	limit error
}

func (e *limitError) Error() string { return e.msg }
func (e *limitError) Unwrap() error { return e.limit }

// coreInstancesLimit returns the most core instances the instantiation
// makes.
func (st *state) coreInstancesLimit() int {
	if st.limits.CoreInstances <= 0 {
		return DefaultCoreInstances
	}
	return st.limits.CoreInstances
}

// initialMemoryLimit returns the most bytes the memories of the
// instantiation's core instances take together when instantiated.
func (st *state) initialMemoryLimit() uint64 {
	if st.limits.InitialMemory == 0 {
		return DefaultInitialMemory
	}
	return st.limits.InitialMemory
}

// limitName returns name, or field when it is empty.
func limitName(name, field string) string {
	if name == "" {
		return field
	}
	return name
}

// countCoreInstance counts one more core instance, refusing it past
// Options.CoreInstances.
func (st *state) countCoreInstance() error {
	if st.coreInstances++; st.coreInstances > st.coreInstancesLimit() {
		return &limitError{fmt.Sprintf("more than %d core instances (%s)", st.coreInstancesLimit(),
			limitName(st.limits.CoreInstancesName, "component.Options.CoreInstances")), ErrCoreInstances}
	}
	return nil
}

// countMemory counts the initial memory of one more core instance of
// module b, refusing it past Options.InitialMemory.
func (st *state) countMemory(b []byte) error {
	st.initialMemory += initialMemory(b)
	if st.initialMemory > st.initialMemoryLimit() {
		return &limitError{fmt.Sprintf("the memories of the component's core instances take %d bytes together when instantiated, more than the %d the host allows (%s)",
			st.initialMemory, st.initialMemoryLimit(), limitName(st.limits.InitialMemoryName, "component.Options.InitialMemory")), ErrInitialMemory}
	}
	return nil
}

// initialMemory returns the bytes the memories core module b defines
// take when instantiated (their minimums), or 0 for a module it cannot
// read (the compiler refuses it).
func initialMemory(b []byte) uint64 {
	if len(b) < 8 {
		return 0
	}
	r := &reader{b: b[8:], off: 8}
	var total uint64
	for !r.empty() {
		id, s, err := r.section()
		if err != nil || id != 5 {
			if err != nil {
				return total
			}
			continue
		}
		n, err := s.count("memories")
		if err != nil {
			return total
		}
		for range n {
			flags, err := s.byte("memory limits")
			if err != nil {
				return total
			}
			min, err := s.u32("memory minimum")
			if err != nil {
				return total
			}
			total += uint64(min) << 16
			if flags&0x01 != 0 {
				if _, err := s.u32("memory maximum"); err != nil {
					return total
				}
			}
		}
	}
	return total
}

// countDefinition counts definition d about to run, refusing it past
// MaxDefinitionsRun or once the context of the instantiation is done.
func (st *state) countDefinition(d Def) error {
	if err := st.ctx.Err(); err != nil {
		return fmt.Errorf("instantiation stopped: %w", err)
	}
	if st.definitions += weight(d); st.definitions > MaxDefinitionsRun {
		return fmt.Errorf("more than %d definitions run, nested instances included (component.MaxDefinitionsRun)", MaxDefinitionsRun)
	}
	return nil
}

// weight is what running definition d counts against MaxDefinitionsRun:
// one, and one more for each of its entries, which running it walks (and
// of an instance made of exports, holds): the exports of an instance or
// core instance made of them, the arguments of an instantiation, the
// fields, cases, elements, labels or parameters of a type, the
// declarations of an instance or component type. Else a nested
// component's single definition of a million entries, run once per
// instantiation of it, would count one each time.
func weight(d Def) int {
	switch d := d.(type) {
	case Exports:
		return 1 + len(d.Exports)
	case CoreExports:
		return 1 + len(d.Exports)
	case ComponentInstantiate:
		return 1 + len(d.Args)
	case CoreInstantiate:
		return 1 + len(d.Args)
	case TypeDef:
		return typeWeight(d.Type)
	}
	return 1
}

func typeWeight(t Type) int {
	n := 1
	switch t := t.(type) {
	case RecordType:
		n += len(t.Fields)
	case VariantType:
		n += len(t.Cases)
	case TupleType:
		n += len(t.Elems)
	case FlagsType:
		n += len(t.Names)
	case EnumType:
		n += len(t.Names)
	case FuncType:
		n += len(t.Params)
	case InstanceType:
		n += declsWeight(t.Decls)
	case ComponentType:
		n += declsWeight(t.Decls)
	}
	return n
}

func declsWeight(decls []Decl) int {
	n := 0
	for _, d := range decls {
		n += weight(d.Def)
	}
	return n
}
