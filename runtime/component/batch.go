package component

import (
	"fmt"
	"strconv"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/wazeroclosed"
)

// A hostBatch collects canonical built-ins (lowered imports, resource
// built-ins) as host functions until a core instance needs one: then the
// batch becomes one anonymous host module.
type hostBatch struct {
	inst  *coreInstance
	funcs []hostFunc
}

type hostFunc struct {
	name            string
	fn              api.GoModuleFunc
	params, results []api.ValueType
	paramNames      []string
	// trampoline marks a shim function's stand-in (shim.go), which
	// is not a built-in of its own.
	trampoline bool
}

func (b *hostBatch) has(name string) bool {
	i, err := strconv.Atoi(name)
	return err == nil && i >= 0 && i < len(b.funcs) && b.funcs[i].name == name
}

// addHost adds a canonical built-in and returns it as a core function.
func (st *state) addHost(f hostFunc) coreItem {
	if st.batch == nil {
		st.batch = &hostBatch{}
		st.batch.inst = &coreInstance{batch: st.batch}
	}
	f.name = strconv.Itoa(len(st.batch.funcs))
	st.batch.funcs = append(st.batch.funcs, f)
	return coreItem{inst: st.batch.inst, name: f.name}
}

// flush instantiates the pending batch.
func (st *state) flush() error {
	b := st.batch
	if b == nil {
		return nil
	}
	st.batch = nil
	hb := st.r.NewHostModuleBuilder("component canonical built-ins")
	for _, f := range b.funcs {
		fb := hb.NewFunctionBuilder().WithGoModuleFunction(f.fn, f.params, f.results)
		if f.paramNames != nil {
			fb = fb.WithParameterNames(f.paramNames...)
		}
		fb.Export(f.name)
	}
	compiled, err := wazeroclosed.GuardValue(st.ctx, st.r, "compiling", func() (wazero.CompiledModule, error) {
		return hb.Compile(st.ctx)
	})
	if err != nil {
		return fmt.Errorf("canonical built-ins: %w", err)
	}
	st.compiledAll = append(st.compiledAll, compiled)
	if err := st.countCoreInstance(); err != nil {
		return err
	}
	mod, err := st.r.InstantiateModule(st.ctx, compiled, st.wazeroConfig())
	if err != nil {
		return fmt.Errorf("canonical built-ins: %w", err)
	}
	storeFence(st.r)
	st.modules = append(st.modules, mod)
	b.inst.mod = mod
	return nil
}
