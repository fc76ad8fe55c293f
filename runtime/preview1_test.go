package runtime_test

import (
	"context"
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime"
)

// preview1Funcs lists, sorted by name, every function of the
// wasi_snapshot_preview1 module registered in r.
func preview1Funcs(r wazero.Runtime) []importedFunc {
	var out []importedFunc
	for name, d := range r.Module(wasi_snapshot_preview1.ModuleName).ExportedFunctionDefinitions() {
		out = append(out, importedFunc{module: wasi_snapshot_preview1.ModuleName, name: name, params: d.ParamTypes(), results: d.ResultTypes()})
	}
	slices.SortFunc(out, func(a, b importedFunc) int { return strings.Compare(a.name, b.name) })
	return out
}

// preview1Named returns the named functions of the wasi_snapshot_preview1
// module registered in r, in the order named; the test fails if one is
// missing.
func preview1Named(t *testing.T, r wazero.Runtime, names ...string) []importedFunc {
	t.Helper()
	all := preview1Funcs(r)
	out := make([]importedFunc, len(names))
	for i, name := range names {
		k := slices.IndexFunc(all, func(f importedFunc) bool { return f.name == name })
		if k < 0 {
			t.Fatalf("wasi_snapshot_preview1 has no %s", name)
		}
		out[i] = all[k]
	}
	return out
}

// forwarder instantiates, with mcfg, a forwardingGuest of the named
// wasi_snapshot_preview1 functions in a Runtime of cfg; the instance and
// the runtime are closed when the test ends.
func forwarder(t *testing.T, cfg runtime.Config, mcfg runtime.ModuleConfig, names ...string) *runtime.Instance {
	t.Helper()
	return forwarderPages(t, 1, cfg, mcfg, names...)
}

// forwarderPages is forwarder with a memory of the given pages.
func forwarderPages(t *testing.T, pages int, cfg runtime.Config, mcfg runtime.ModuleConfig, names ...string) *runtime.Instance {
	t.Helper()
	ctx := context.Background()
	r, rt := testRuntime(t, runtime.NewRuntimeConfig(), cfg)
	compiled, err := r.CompileModule(ctx, forwardingGuestPages(pages, preview1Named(t, r, names...)...))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := rt.Instantiate(ctx, compiled, mcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close(ctx) })
	return inst
}

// forwarderCall returns a function that calls inst's export name (a
// forwarder's) with args and returns its errno, failing the test if the
// call traps.
func forwarderCall(t *testing.T, inst *runtime.Instance) func(name string, args ...uint64) uint64 {
	return func(name string, args ...uint64) uint64 {
		t.Helper()
		res, err := inst.Module().ExportedFunction(name).Call(inst.Context(), args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return res[0]
	}
}

// forwardingGuest imports the named wasi_snapshot_preview1 functions and
// exports each under its name, forwarding its parameters and returning
// its errno; its memory is one page.
func forwardingGuest(funcs ...importedFunc) []byte { return forwardingGuestPages(1, funcs...) }

// forwardingGuestPages is forwardingGuest with a memory of the given
// pages.
func forwardingGuestPages(pages int, funcs ...importedFunc) []byte {
	var m wasmbin.Module
	for _, f := range funcs {
		m.ImportFunc(f.module, f.name, m.Type(f.params, f.results))
	}
	m.Memory(pages, pages)
	for k, f := range funcs {
		var body []byte
		for i := range f.params {
			body = append(body, 0x20)
			body = append(body, uleb(uint64(i))...)
		}
		body = append(body, 0x10)
		body = append(body, uleb(uint64(k))...)
		m.Export(f.name, wasmbin.ExportFunc, m.Func(m.Type(f.params, f.results), nil, body))
	}
	m.Export("memory", wasmbin.ExportMemory, 0)
	return m.Bytes()
}

// TestPreview1Errnos: calls from a wasm guest that wazero's
// wasi_snapshot_preview1 answered with a Go panic, recovered into a trap
// carrying the host's stack, answer an errno: poll_oneoff for a count of
// subscriptions whose sizes overflow 32 bits (wazero wrapped them and
// indexed an empty slice) or exceed the guest's memory answers inval,
// fd_filestat_set_times on a standard stream nosys. What wazero answers
// itself is unchanged: a sleep of one subscription succeeds, a count
// that fits in 32 bits but not the memory is a fault.
func TestPreview1Errnos(t *testing.T) {
	inst := forwarder(t, runtime.Config{}, runtime.ModuleConfig{}, "poll_oneoff", "fd_filestat_set_times")
	// One clock subscription of 1 µs at 0, its event at 64, nevents at 128.
	sub := make([]byte, 48)
	binary.LittleEndian.PutUint64(sub, 7)
	binary.LittleEndian.PutUint32(sub[16:], 1)
	binary.LittleEndian.PutUint64(sub[24:], 1000)
	inst.Module().Memory().Write(0, sub)
	const (
		success = 0
		fault   = 21
		inval   = 28
		nosys   = 52
	)
	for _, c := range []struct {
		name string
		fn   string
		args []uint64
		want uint64
	}{
		{"one clock subscription", "poll_oneoff", []uint64{0, 64, 1, 128}, success},
		{"2^28 subscriptions (sizes wrap to 0)", "poll_oneoff", []uint64{0, 64, 1 << 28, 128}, inval},
		{"0x5555556 subscriptions (sizes wrap to 32 and 0xc0)", "poll_oneoff", []uint64{0, 64, 0x5555556, 128}, inval},
		{"2^32-1 subscriptions", "poll_oneoff", []uint64{0, 64, 0xffffffff, 128}, inval},
		{"subscriptions past the memory", "poll_oneoff", []uint64{0, 64, 0x10000/48 + 1, 128}, inval},
		{"subscriptions fitting, starting past the memory", "poll_oneoff", []uint64{0xfff0, 64, 1, 128}, fault},
		{"no subscriptions", "poll_oneoff", []uint64{0, 64, 0, 128}, inval},
		{"times of standard output", "fd_filestat_set_times", []uint64{1, 0, 0, 2}, nosys},
		{"times of standard input", "fd_filestat_set_times", []uint64{0, 0, 0, 8}, nosys},
		{"times of no descriptor", "fd_filestat_set_times", []uint64{9, 0, 0, 2}, 8},
	} {
		res, err := inst.Module().ExportedFunction(c.fn).Call(inst.Context(), c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if res[0] != c.want {
			t.Errorf("%s: errno %d, want %d", c.name, res[0], c.want)
		}
	}
	if inst.Cabi().Trapped() {
		t.Error("the guest is marked trapped")
	}
}
