package component

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/pinname"
	"github.com/wasitls/wasitls/internal/wasmsize"
	"github.com/wasitls/wasitls/internal/wazeroclosed"
	"github.com/wasitls/wasitls/runtime/stopcheck"
)

// A Linker supplies the host functions a component's imports bind to; the
// runtime's link.Linker is one.
type Linker interface {
	// Resolve returns the host function that serves function name of the
	// interface module (such as "wasi:io/streams@0.2.12") with the core
	// signature params -> results, or an error naming the interface,
	// version and function.
	Resolve(module, name string, params, results []api.ValueType) (cabi.HostFunc, error)
}

// state is what one instantiation shares across its nested scopes.
type state struct {
	ctx    context.Context
	r      wazero.Runtime
	ci     *cabi.Instance
	linker Linker
	name   string // of every core instance: Options.Released's pin

	stop     *Stop             // the stop flag's globals (stop.go), or nil without it
	stack    *Stack            // the stack budget's globals without the stop flag (Options.Stack), or nil
	rewrite  stopcheck.Options // of every core module (Options.Rewrite)
	compiled map[*CoreModule]wazero.CompiledModule
	// tables are the table entries of each compiled module, and of the
	// core instances made (Options).
	tables      map[*CoreModule]uint64
	tablesTotal uint64
	modules     []api.Module // instantiated, in order
	// compiledAll are the modules compiled, closed with the instance:
	// the runtime holds each until then (a host batch is compiled anew
	// for each instantiation).
	compiledAll []wazero.CompiledModule
	batch       *hostBatch // canonical built-ins not yet instantiated
	// lowered are the lowered imports made, by what they are made of
	// (canon.go).
	lowered map[lowerKey]item

	shimDepth atomic.Int32 // nesting of calls through shims (shim.go)

	measures map[rtype]typeMeasure // of the composite types resolved (typesize.go)

	coreInstances, definitions int     // made and run so far (budget.go)
	initialMemory              uint64  // bytes of the core instances' memories
	limits                     Options // CoreInstances, InitialMemory and their names
}

// Instantiate instantiates c in r. Lowered imports are bound through
// linker and share ci, whose resource table is the component instance's
// (each nested component instance gets one of its own from
// ci.NewTable); ctx is
// the context of the instantiation (it must carry what the host functions
// need, as for a core module) and of the core start functions.
//
// ci holds the instance's state between calls: its resources, and whether
// a call trapped or exited (after which no call enters it), or is in
// progress (a second one is refused). The embedder that gives one sets its
// limits, attaches it to the contexts its host functions look it up in
// (cabi.WithInstance) and closes it. ci may be nil: the instantiation then
// makes a cabi.Instance of its own, with the default limits, which
// [Instance.Close] closes; the guards are the same.
func Instantiate(ctx context.Context, r wazero.Runtime, c *Component, ci *cabi.Instance, linker Linker) (*Instance, error) {
	return InstantiateWith(ctx, r, c, ci, linker, Options{})
}

// Options adjust an instantiation (InstantiateWith); the zero value is
// Instantiate's.
type Options struct {
	// Stop, when set, makes the instantiation InstantiateStop's, with
	// every core module compiled with the stop global, which Stop sets.
	Stop *Stop

	// Stack, when set and Stop is not, rewrites every core module with
	// the stack budget alone (stopcheck.InstrumentStack), for a
	// component under wazero's termination checks: each core instance's
	// call stack is bounded by Stack.Bytes, as Stop.StackBytes bounds it
	// under the stop flag.
	Stack *Stack

	// Rewrite are the options of the rewrite of every core module: the
	// stop flag's (stopcheck.InstrumentWith) with Stop, the stack
	// budget's (stopcheck.InstrumentStack) with Stack, the table
	// section's alone (stopcheck.CapTables) with neither. Each module's tables
	// hold at most Rewrite.TableEntries entries together
	// (stopcheck.DefaultTableEntries when zero), and the tables of all
	// the component's core instances at most twice that
	// (DefaultTableEntries by default): an instantiation past it is
	// refused with an error wrapping ErrTableEntries, naming
	// Rewrite.TableEntriesName when set.
	Rewrite stopcheck.Options

	// CoreInstances bounds the core instances the instantiation makes,
	// nested components' included; zero means DefaultCoreInstances.
	// Past it the instantiation is refused with an error wrapping
	// ErrCoreInstances.
	CoreInstances int

	// InitialMemory bounds the bytes the memories the core instances
	// define take together when instantiated (their minimums), nested
	// components' included; zero means DefaultInitialMemory. Past it the
	// instantiation is refused with an error wrapping ErrInitialMemory,
	// before the instance that would cross it is made.
	InitialMemory uint64

	// Released, when set, is called once no core instance the
	// instantiation made is reachable, closed or not, its instantiation
	// failed or not: nor an api.Module, api.Memory or api.Function of
	// one, a Func, the Instance, nor a call running in one. The core
	// instances are named with one string (empty, in an allocation of
	// its own: pinname.Pin) whose cleanup calls it. An embedder that
	// allocates the core instances' memories itself
	// (experimental.WithMemoryAllocator) releases them then: one core
	// instance's memory is another's too when it imports it, and a host
	// function a core instance called may keep its api.Module.
	Released func()

	// CoreInstancesName and InitialMemoryName are how the errors name
	// CoreInstances and InitialMemory, for an embedder that sets them
	// from its own settings; empty, they name the Options fields.
	CoreInstancesName, InitialMemoryName string
}

// InstantiateWith is Instantiate, or InstantiateStop with o.Stop set, with
// the core modules rewritten as o says.
func InstantiateWith(ctx context.Context, r wazero.Runtime, c *Component, ci *cabi.Instance, linker Linker, o Options) (*Instance, error) {
	own := ci == nil
	if own {
		ci = cabi.NewInstance()
	}
	st := &state{ctx: ctx, r: r, ci: ci, linker: linker, stop: o.Stop, stack: o.Stack, rewrite: o.Rewrite, compiled: map[*CoreModule]wazero.CompiledModule{},
		tables: map[*CoreModule]uint64{}, limits: o}
	if o.Released != nil {
		st.name = pinname.Pin("", o.Released)
	}
	top := &scope{state: st, exports: &cinstance{}, table: ci.Table()}
	inst := &Instance{ci: ci, ownCI: own, state: st}
	if err := top.run(c); err != nil {
		inst.Close(context.Background())
		return nil, fmt.Errorf("component: %w", err)
	}
	inst.exports = top.exports
	return inst, nil
}

// run evaluates the definitions of c in order.
func (s *scope) run(c *Component) error {
	s.defs = c.Defs
	for i, d := range c.Defs {
		s.pos = i
		if err := s.state.countDefinition(d); err != nil {
			return err
		}
		if err := s.def(d); err != nil {
			return fmt.Errorf("definition %d (%s): %w", i, describe(d), err)
		}
	}
	return nil
}

func describe(d Def) string {
	switch d := d.(type) {
	case Import:
		return "import " + d.Name
	case Export:
		return "export " + d.Name
	case Canon:
		return [...]string{"canon lift", "canon lower", "canon resource.new", "canon resource.drop", "canon resource.rep"}[d.Kind]
	case Alias:
		return d.Of.String() + " alias " + d.Name
	case CoreInstantiate:
		return "core instantiate"
	case CoreExports:
		return "core instance of exports"
	}
	return d.Space().String()
}

func (s *scope) def(d Def) error {
	switch d := d.(type) {
	case CoreModule:
		s.push(item{SortCoreModule, &d})
	case CoreTypeDef:
		s.push(item{SortCoreType, d.Func})
	case CoreInstantiate:
		ci, err := s.coreInstantiate(d)
		if err != nil {
			return err
		}
		s.push(item{SortCoreInstance, ci})
	case CoreExports:
		ci, err := s.coreExports(d)
		if err != nil {
			return err
		}
		s.push(item{SortCoreInstance, ci})
	case Nested:
		s.push(item{SortComponent, &nested{c: d.Component, outer: s}})
	case ComponentInstantiate:
		ci, err := s.instantiate(d)
		if err != nil {
			return err
		}
		s.push(item{SortInstance, ci})
	case Exports:
		ci := &cinstance{}
		for _, e := range d.Exports {
			it, ok := s.get(e.Sort, e.Index)
			if !ok {
				return fmt.Errorf("export %q: %s index %d out of range", e.Name, e.Sort, e.Index)
			}
			ci.add(e.Name, it)
		}
		s.push(item{SortInstance, ci})
	case Alias:
		it, err := s.alias(d)
		if err != nil {
			return err
		}
		s.push(it)
	case TypeDef:
		t, err := s.resolve(d.Type)
		if err != nil {
			return err
		}
		s.push(item{SortType, t})
	case Canon:
		it, err := s.canon(d)
		if err != nil {
			return err
		}
		s.push(it)
	case Start:
		return notSupported("component start functions")
	case Import:
		it, err := s.importDef(d)
		if err != nil {
			return err
		}
		s.push(it)
	case Export:
		it, ok := s.get(d.Sort, d.Index)
		if !ok {
			return fmt.Errorf("%s index %d out of range", d.Sort, d.Index)
		}
		s.exports.add(d.Name, it)
		s.push(it)
	default:
		return fmt.Errorf("unknown definition %T", d)
	}
	return nil
}

func (s *scope) alias(a Alias) (item, error) {
	switch a.Kind {
	case AliasExport:
		it, ok := s.get(SortInstance, a.Instance)
		if !ok {
			return item{}, fmt.Errorf("instance index %d out of range", a.Instance)
		}
		ex, ok := it.v.(*cinstance).export(a.Name)
		if !ok {
			return item{}, fmt.Errorf("instance %d has no export %q", a.Instance, a.Name)
		}
		if ex.sort != a.Of {
			return item{}, fmt.Errorf("export %q is a %s, not a %s", a.Name, ex.sort, a.Of)
		}
		return ex, nil
	case AliasCoreExport:
		switch a.Of {
		case SortCoreFunc, SortCoreTable, SortCoreMemory, SortCoreGlobal:
		default:
			return item{}, fmt.Errorf("core export alias of a %s", a.Of)
		}
		it, ok := s.get(SortCoreInstance, a.Instance)
		if !ok {
			return item{}, fmt.Errorf("core instance index %d out of range", a.Instance)
		}
		ci := it.v.(*coreInstance)
		if err := s.state.exportCheck(ci, a.Of, a.Name); err != nil {
			return item{}, err
		}
		return item{a.Of, coreItem{inst: ci, name: a.Name}}, nil
	case AliasOuter:
		o := s
		for range a.Count {
			if o.parent == nil {
				return item{}, fmt.Errorf("outer alias %d levels out", a.Count)
			}
			o = o.parent
		}
		switch a.Of {
		case SortType, SortCoreModule, SortComponent, SortCoreType:
		default:
			return item{}, fmt.Errorf("outer alias of a %s", a.Of)
		}
		it, ok := o.get(a.Of, a.Index)
		if !ok {
			return item{}, fmt.Errorf("outer %s index %d out of range", a.Of, a.Index)
		}
		return it, nil
	}
	return item{}, fmt.Errorf("unknown alias kind %d", a.Kind)
}

// exportCheck verifies that core instance ci exports name with sort so
// (when ci is instantiated; a host batch exports what it was given).
// Under the stop flag, the stop global and start function the rewriter
// exports are the host's: a component that aliases them (to hand the
// global to another core module, which could clear it between the
// checks of a spinning one, or to call a start function again) is
// refused.
func (st *state) exportCheck(ci *coreInstance, so Sort, name string) error {
	if st.stop != nil && (name == stopcheck.GlobalName || name == stopcheck.StartName || name == stopcheck.StackName) {
		return fmt.Errorf("alias of core export %q: a name the host reserves for the stop flag of each core instance", name)
	}
	if st.stop == nil && st.stack != nil && (name == stopcheck.StartName || name == stopcheck.StackName) {
		return fmt.Errorf("alias of core export %q: a name the host reserves for the stack budget of each core instance", name)
	}
	if ci.mod == nil {
		if ci.batch != nil && so == SortCoreFunc && ci.batch.has(name) {
			return nil
		}
		return fmt.Errorf("core instance has no %s export %q", so, name)
	}
	ok := false
	switch so {
	case SortCoreFunc:
		ok = ci.mod.ExportedFunction(name) != nil
	case SortCoreMemory:
		ok = ci.mod.ExportedMemory(name) != nil
	case SortCoreGlobal:
		ok = ci.mod.ExportedGlobal(name) != nil
	case SortCoreTable:
		ok = true // wazero does not list exported tables; instantiation checks them
	}
	if !ok {
		return fmt.Errorf("core instance has no %s export %q", so, name)
	}
	return nil
}

func (s *scope) importDef(d Import) (item, error) {
	if s.args != nil {
		it, ok := s.args[d.Name]
		if !ok {
			return item{}, fmt.Errorf("nested component import %q not supplied", d.Name)
		}
		if it.sort != d.Desc.Sort {
			return item{}, fmt.Errorf("nested component import %q is a %s, given a %s", d.Name, d.Desc.Sort, it.sort)
		}
		return it, nil
	}
	switch d.Desc.Sort {
	case SortInstance:
		t, err := s.typeAt(d.Desc.Type)
		if err != nil {
			return item{}, err
		}
		it, ok := t.(*rinstance)
		if !ok {
			return item{}, fmt.Errorf("type %d is not an instance type", d.Desc.Type)
		}
		bindImport(d.Name, it)
		return item{SortInstance, importedInstance(d.Name, it)}, nil
	case SortFunc:
		t, err := s.typeAt(d.Desc.Type)
		if err != nil {
			return item{}, err
		}
		ft, ok := t.(*rfunc)
		if !ok {
			return item{}, fmt.Errorf("type %d is not a function type", d.Desc.Type)
		}
		return item{SortFunc, &cfunc{typ: ft, name: d.Name}}, nil
	case SortType:
		if d.Desc.SubResource {
			return item{}, notSupported("importing a bare resource type %q", d.Name)
		}
		t, err := s.typeAt(d.Desc.Type)
		return item{SortType, t}, err
	}
	return item{}, notSupported("importing a %s (%q)", d.Desc.Sort, d.Name)
}

// importedInstance is the instance the host supplies for an import of
// instance type it: its exports are made when named (cinstance.export),
// its functions bind to the host when lowered.
func importedInstance(name string, it *rinstance) *cinstance {
	return &cinstance{iface: name, typ: it}
}

func (s *scope) instantiate(d ComponentInstantiate) (*cinstance, error) {
	it, ok := s.get(SortComponent, d.Component)
	if !ok {
		return nil, fmt.Errorf("component index %d out of range", d.Component)
	}
	n := it.v.(*nested)
	inner := &scope{parent: n.outer, state: s.state, args: map[string]item{}, exports: &cinstance{}}
	for _, a := range d.Args {
		v, ok := s.get(a.Sort, a.Index)
		if !ok {
			return nil, fmt.Errorf("argument %q: %s index %d out of range", a.Name, a.Sort, a.Index)
		}
		inner.args[a.Name] = v
	}
	if err := inner.run(n.c); err != nil {
		return nil, fmt.Errorf("nested component: %w", err)
	}
	return inner.exports, nil
}

// coreInstantiate instantiates a core module with its argument instances.
func (s *scope) coreInstantiate(d CoreInstantiate) (*coreInstance, error) {
	it, ok := s.get(SortCoreModule, d.Module)
	if !ok {
		return nil, fmt.Errorf("core module index %d out of range", d.Module)
	}
	m := it.v.(*CoreModule)
	args := map[string]api.Module{}
	insts := map[string]*coreInstance{}
	for _, a := range d.Args {
		ai, ok := s.get(SortCoreInstance, a.Instance)
		if !ok {
			return nil, fmt.Errorf("argument %q: core instance index %d out of range", a.Name, a.Instance)
		}
		insts[a.Name] = ai.v.(*coreInstance)
		mod, err := s.state.module(insts[a.Name])
		if err != nil {
			return nil, err
		}
		args[a.Name] = mod
	}
	mod, err := s.state.instantiateCore(m.Bytes, m, args)
	if err != nil {
		return nil, err
	}
	for name, ai := range insts {
		if ai.shim != nil {
			ai.shim.fill(m.Bytes, name, insts)
		}
	}
	ci := &coreInstance{mod: mod}
	if len(d.Args) == 0 {
		if sh, ok := recognizeShim(m.Bytes); ok {
			sh.mod, sh.depth = mod, &s.state.shimDepth
			ci.shim = sh
			s.seeThrough(sh, uint32(s.count(SortCoreInstance)))
		}
	}
	return ci, nil
}

// module returns the wazero module of a core instance, instantiating the
// pending batch of canonical built-ins if that is where it lives.
func (st *state) module(ci *coreInstance) (api.Module, error) {
	if ci.mod == nil && ci.batch != nil {
		if err := st.flush(); err != nil {
			return nil, err
		}
	}
	if ci.mod == nil {
		return nil, errors.New("core instance is not instantiated")
	}
	return ci.mod, nil
}

// instantiateCore compiles (once) and instantiates core module bytes b,
// resolving its imports only from args.
func (st *state) instantiateCore(b []byte, key *CoreModule, args map[string]api.Module) (api.Module, error) {
	imports, err := coreImportModules(b)
	if err != nil {
		return nil, fmt.Errorf("core module: %w", err)
	}
	for _, name := range imports {
		if _, ok := args[name]; !ok {
			return nil, fmt.Errorf("core module imports from %q, which its instantiation does not supply", name)
		}
	}
	var compiled wazero.CompiledModule
	var tables uint64
	if key != nil {
		compiled, tables = st.compiled[key], st.tables[key]
	}
	if compiled == nil {
		// wazero's decoder allocates for the counts a module declares
		// before reading its items (see wasmsize).
		if err := wasmsize.Check(b); err != nil {
			return nil, fmt.Errorf("core module: %w", err)
		}
		switch {
		case st.stop == nil && st.stack != nil:
			// Without the stop flag, the stack budget alone.
			b, err = stopcheck.InstrumentStack(b, st.rewrite)
		case st.stop == nil:
			// Without either, the tables still get maximums.
			b, err = stopcheck.CapTables(b, st.rewrite)
		case key != nil:
			b, err = key.stopped(st.rewrite)
		default:
			b, err = stopcheck.InstrumentWith(b, st.rewrite)
		}
		if err != nil {
			return nil, fmt.Errorf("core module: %w", err)
		}
		tables = stopcheck.TableEntries(b)
		compiled, err = wazeroclosed.GuardValue(st.ctx, st.r, "compiling", func() (wazero.CompiledModule, error) {
			return st.r.CompileModule(st.ctx, b)
		})
		if err != nil {
			return nil, fmt.Errorf("compiling core module: %w", err)
		}
		st.compiledAll = append(st.compiledAll, compiled)
		if key != nil {
			st.compiled[key], st.tables[key] = compiled, tables
		}
	}
	if st.tablesTotal += tables; st.tablesTotal > 2*st.rewrite.Tables() {
		return nil, &limitError{fmt.Sprintf("core module: the tables of the component's core instances could hold %d entries together, more than the %d the host allows (twice %s)",
			st.tablesTotal, 2*st.rewrite.Tables(), limitName(st.rewrite.TableEntriesName, "component.Options.Rewrite.TableEntries")), ErrTableEntries}
	}
	if err := st.countCoreInstance(); err != nil {
		return nil, err
	}
	if err := st.countMemory(b); err != nil {
		return nil, err
	}
	ctx := experimental.WithImportResolver(st.ctx, func(name string) api.Module { return args[name] })
	mod, err := st.r.InstantiateModule(ctx, compiled, st.wazeroConfig())
	if err != nil {
		return nil, fmt.Errorf("instantiating core module: %w", err)
	}
	storeFence(st.r)
	st.modules = append(st.modules, mod)
	var err2 error
	switch {
	case st.stop != nil:
		err2 = st.stop.hold(mod)
	case st.stack != nil:
		err2 = st.stack.hold(mod)
	default:
		return mod, nil
	}
	if err2 == nil {
		err2 = st.startCore(mod)
	}
	if err2 != nil {
		return nil, err2
	}
	return mod, nil
}

// versionOf splits "wasi:io/streams@0.2.12" into the interface and the
// version.
func versionOf(module string) (iface, version string) {
	iface, version, _ = strings.Cut(module, "@")
	return iface, version
}

// wazeroConfig is the configuration of every core instance: anonymous
// (named with the empty st.name, see Options.Released), no start function
// run by name (a core module's start section still runs).
func (st *state) wazeroConfig() wazero.ModuleConfig {
	return wazero.NewModuleConfig().WithName(st.name).WithStartFunctions()
}

// storeFence takes and releases the lock of r's store. wazero sets a
// module's close notifier (the runtime's, see its closeWatch) once the
// module is in the store, outside that lock, and the wazero.Runtime's
// Close reads it under the lock: passing through the lock after each
// instantiation orders the two for a Close that comes later, as the race
// detector sees it.
func storeFence(r wazero.Runtime) { r.Module("wasi_snapshot_preview1") }
