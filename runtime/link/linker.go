package link

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/wazeroclosed"
)

// An Implementation is one interface as the host serves it.
type Implementation struct {
	// Interface is the interface name without version:
	// "wasi:clocks/wall-clock".
	Interface string
	// Version is the version of the WIT it implements: "0.2.8".
	Version string
	// Functions returns its functions for the import module named module
	// (the generated Functions of its binding package, bound to the host).
	Functions func(module string) []cabi.HostFunc
}

type impl struct {
	Implementation
	v     version
	funcs map[string]cabi.HostFunc // made for the implementation's own name, to compare signatures
}

// A Linker resolves import module names onto implementations. Its methods
// are safe for concurrent use.
type Linker struct {
	mu      sync.Mutex
	impls   map[string][]*impl                  // by interface, newest first
	defined map[string]map[string]cabi.HostFunc // host modules Define made, by module name
}

// NewLinker returns a Linker serving impls.
func NewLinker(impls ...Implementation) (*Linker, error) {
	l := &Linker{impls: map[string][]*impl{}, defined: map[string]map[string]cabi.HostFunc{}}
	for _, im := range impls {
		if err := l.add(im); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (l *Linker) add(im Implementation) error {
	v, ok := parseVersion(im.Version)
	if !ok {
		return fmt.Errorf("link: %s: version %q is not MAJOR.MINOR.PATCH[-pre]", im.Interface, im.Version)
	}
	for _, have := range l.impls[im.Interface] {
		if have.v == v {
			return fmt.Errorf("link: %s@%s is implemented twice", im.Interface, im.Version)
		}
	}
	x := &impl{Implementation: im, v: v, funcs: map[string]cabi.HostFunc{}}
	for _, f := range im.Functions(im.Interface + "@" + im.Version) {
		x.funcs[f.Name] = f
	}
	list := append(l.impls[im.Interface], x)
	sort.SliceStable(list, func(i, j int) bool { return list[i].v.newer(list[j].v) })
	l.impls[im.Interface] = list
	return nil
}

// Knows reports whether module names an interface the Linker implements,
// in any version.
func (l *Linker) Knows(module string) bool {
	iface, _ := splitModule(module)
	return len(l.impls[iface]) > 0
}

// A LinkError says that an imported function cannot be bound.
type LinkError struct {
	Interface string // "wasi:cli/exit"
	Version   string // as imported: "0.2.12"
	Function  string // "exit-with-code"
	Reason    string
}

func (e *LinkError) Error() string {
	return fmt.Sprintf("link: cannot import %s@%s#%s: %s", e.Interface, e.Version, e.Function, e.Reason)
}

// compatible returns the implementations serving module, newest first, or
// why there are none.
func (l *Linker) compatible(module string) ([]*impl, string) {
	iface, ver := splitModule(module)
	all := l.impls[iface]
	if len(all) == 0 {
		return nil, "this host does not implement " + iface
	}
	want, ok := parseVersion(ver)
	if !ok {
		return nil, fmt.Sprintf("version %q is not a semantic version (implemented: %s)", ver, versions(all))
	}
	var out []*impl
	for _, x := range all {
		if x.v.serves(want) {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Sprintf("no implemented version is compatible (implemented: %s)", versions(all))
	}
	return out, ""
}

func versions(list []*impl) string {
	var s []string
	for _, x := range list {
		s = append(s, x.Version)
	}
	return strings.Join(s, ", ")
}

// resolve picks the implementation of one function.
func (l *Linker) resolve(module, name string, params, results []api.ValueType) (*impl, *LinkError) {
	iface, ver := splitModule(module)
	fail := func(format string, args ...any) (*impl, *LinkError) {
		return nil, &LinkError{Interface: iface, Version: ver, Function: name, Reason: fmt.Sprintf(format, args...)}
	}
	list, why := l.compatible(module)
	if list == nil {
		return fail("%s", why)
	}
	var mismatch []string
	for _, x := range list {
		f, ok := x.funcs[name]
		if !ok {
			continue
		}
		if f.SameSignature(params, results) {
			return x, nil
		}
		mismatch = append(mismatch, fmt.Sprintf("%s in %s", Signature(f.Params, f.Results), x.Version))
	}
	if len(mismatch) > 0 {
		return fail("the guest imports it as %s but this host has %s",
			Signature(params, results), strings.Join(mismatch, ", "))
	}
	return fail("this host implements %s up to %s, which has no such function (a newer patch version may have added it)",
		iface, list[0].Version)
}

// Check reports whether the import module#name with the core signature
// params -> results resolves: nil, or a *LinkError.
func (l *Linker) Check(module, name string, params, results []api.ValueType) error {
	if _, err := l.resolve(module, name, params, results); err != nil {
		return err
	}
	return nil
}

// Resolve returns the host function that serves the import module#name
// with the core signature params -> results, made for module (its traps
// name it), or a *LinkError. A module whose interface the Linker does not
// know is a *LinkError too.
func (l *Linker) Resolve(module, name string, params, results []api.ValueType) (cabi.HostFunc, error) {
	x, err := l.resolve(module, name, params, results)
	if err != nil {
		return cabi.HostFunc{}, err
	}
	for _, f := range x.Functions(module) {
		if f.Name == name {
			return f, nil
		}
	}
	panic("link: " + x.Interface + ": Functions changed between calls")
}

// Define instantiates in r a host module for every import module of
// imports that the Linker knows and r lacks, named as imported, and checks
// every imported function of a known module against what serves it. It
// returns every *LinkError, joined; modules it does not know are left to
// the caller.
func (l *Linker) Define(ctx context.Context, r wazero.Runtime, imports []api.FunctionDefinition) error {
	byModule := map[string][]api.FunctionDefinition{}
	var order []string
	for _, def := range imports {
		module, _, _ := def.Import()
		if !l.Knows(module) {
			continue
		}
		if _, ok := byModule[module]; !ok {
			order = append(order, module)
		}
		byModule[module] = append(byModule[module], def)
	}
	sort.Strings(order)

	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, module := range order {
		if err := l.defineModule(ctx, r, module, byModule[module]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// defineModule checks and, if needed, instantiates one module. l.mu is held.
func (l *Linker) defineModule(ctx context.Context, r wazero.Runtime, module string, defs []api.FunctionDefinition) error {
	if have, ok := l.defined[module]; ok && r.Module(module) != nil {
		// Already made: only check the imports against it.
		var errs []error
		for _, def := range defs {
			_, name, _ := def.Import()
			if f, ok := have[name]; !ok || !f.SameSignature(def.ParamTypes(), def.ResultTypes()) {
				_, err := l.resolve(module, name, def.ParamTypes(), def.ResultTypes())
				if err == nil { // a function the first guest did not import, resolved elsewhere
					err = &LinkError{Function: name, Reason: "the host module was already defined with another implementation of it"}
					err.Interface, err.Version = splitModule(module)
				}
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}

	chosen := map[string]*impl{}
	var errs []error
	for _, def := range defs {
		_, name, _ := def.Import()
		x, err := l.resolve(module, name, def.ParamTypes(), def.ResultTypes())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		chosen[name] = x
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if r.Module(module) != nil {
		// Registered by someone else (an extension): leave it.
		return nil
	}
	list, _ := l.compatible(module)
	// Functions nobody imported yet come from the newest implementation
	// that has them.
	for _, x := range list {
		for name := range x.funcs {
			if _, ok := chosen[name]; !ok {
				chosen[name] = x
			}
		}
	}
	made := map[*impl]map[string]cabi.HostFunc{}
	funcs := map[string]cabi.HostFunc{}
	names := make([]string, 0, len(chosen))
	for name := range chosen {
		names = append(names, name)
	}
	sort.Strings(names)
	b := r.NewHostModuleBuilder(module)
	for _, name := range names {
		x := chosen[name]
		if made[x] == nil {
			made[x] = map[string]cabi.HostFunc{}
			for _, f := range x.Functions(module) {
				made[x][f.Name] = f
			}
		}
		f := made[x][name]
		f.Define(b)
		funcs[name] = f
	}
	if err := wazeroclosed.Guard(ctx, r, "compiling", func() error {
		_, err := b.Instantiate(ctx)
		return err
	}); err != nil {
		return fmt.Errorf("link: instantiating %s: %w", module, err)
	}
	l.defined[module] = funcs
	return nil
}

// Signature formats a core signature: "(i32, i64) -> (i32)".
func Signature(params, results []api.ValueType) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("(%s) -> (%s)", names(params), names(results))
}
