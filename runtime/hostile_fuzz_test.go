package runtime_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"

	_ "github.com/wasitls/wasitls/backends/circl-pq"
	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/tlshost"

	"github.com/wasitls/wasitls/bindings/wasi/cli/environment"
	"github.com/wasitls/wasitls/bindings/wasi/cli/exit"
	"github.com/wasitls/wasitls/bindings/wasi/cli/stderr"
	"github.com/wasitls/wasitls/bindings/wasi/cli/stdin"
	"github.com/wasitls/wasitls/bindings/wasi/cli/stdout"
	terminalinput "github.com/wasitls/wasitls/bindings/wasi/cli/terminal-input"
	terminaloutput "github.com/wasitls/wasitls/bindings/wasi/cli/terminal-output"
	terminalstderr "github.com/wasitls/wasitls/bindings/wasi/cli/terminal-stderr"
	terminalstdin "github.com/wasitls/wasitls/bindings/wasi/cli/terminal-stdin"
	terminalstdout "github.com/wasitls/wasitls/bindings/wasi/cli/terminal-stdout"
	monotonicclock "github.com/wasitls/wasitls/bindings/wasi/clocks/monotonic-clock"
	"github.com/wasitls/wasitls/bindings/wasi/clocks/timezone"
	wallclock "github.com/wasitls/wasitls/bindings/wasi/clocks/wall-clock"
	"github.com/wasitls/wasitls/bindings/wasi/filesystem/preopens"
	filesystemtypes "github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
	ioerror "github.com/wasitls/wasitls/bindings/wasi/io/error"
	"github.com/wasitls/wasitls/bindings/wasi/io/poll"
	"github.com/wasitls/wasitls/bindings/wasi/io/streams"
	"github.com/wasitls/wasitls/bindings/wasi/random/insecure"
	insecureseed "github.com/wasitls/wasitls/bindings/wasi/random/insecure-seed"
	"github.com/wasitls/wasitls/bindings/wasi/random/random"
	instancenetwork "github.com/wasitls/wasitls/bindings/wasi/sockets/instance-network"
	ipnamelookup "github.com/wasitls/wasitls/bindings/wasi/sockets/ip-name-lookup"
	"github.com/wasitls/wasitls/bindings/wasi/sockets/network"
	"github.com/wasitls/wasitls/bindings/wasi/sockets/tcp"
	tcpcreatesocket "github.com/wasitls/wasitls/bindings/wasi/sockets/tcp-create-socket"
	"github.com/wasitls/wasitls/bindings/wasi/sockets/udp"
	udpcreatesocket "github.com/wasitls/wasitls/bindings/wasi/sockets/udp-create-socket"
	wasitls "github.com/wasitls/wasitls/bindings/wasi/tls/tls"
	wasitlstypes "github.com/wasitls/wasitls/bindings/wasi/tls/types"
	extensions010 "github.com/wasitls/wasitls/bindings/wasitls/tls/v0.1.0/extensions"
	extensions020 "github.com/wasitls/wasitls/bindings/wasitls/tls/v0.2.0/extensions"
	extensions030 "github.com/wasitls/wasitls/bindings/wasitls/tls/v0.3.0/extensions"
)

// A binding is one generated binding package: its directory under
// bindings/, its import module name with version, and its functions with
// their core signatures.
type binding struct {
	dir, module string
	funcs       []cabi.HostFunc
}

// bindings lists every generated binding package;
// TestHostileGuestKnowsEveryBinding checks that none is missing.
func bindings() []binding {
	var out []binding
	add := func(dir, module, version string, fns func(string) []cabi.HostFunc) {
		m := module + "@" + version
		out = append(out, binding{dir: dir, module: m, funcs: fns(m)})
	}
	add("wasi/cli/environment", environment.ModuleName, environment.Version, func(m string) []cabi.HostFunc { return environment.Functions(nil, m) })
	add("wasi/cli/exit", exit.ModuleName, exit.Version, func(m string) []cabi.HostFunc { return exit.Functions(nil, m) })
	add("wasi/cli/stderr", stderr.ModuleName, stderr.Version, func(m string) []cabi.HostFunc { return stderr.Functions(nil, m) })
	add("wasi/cli/stdin", stdin.ModuleName, stdin.Version, func(m string) []cabi.HostFunc { return stdin.Functions(nil, m) })
	add("wasi/cli/stdout", stdout.ModuleName, stdout.Version, func(m string) []cabi.HostFunc { return stdout.Functions(nil, m) })
	add("wasi/cli/terminal-input", terminalinput.ModuleName, terminalinput.Version, func(m string) []cabi.HostFunc { return terminalinput.Functions(nil, m) })
	add("wasi/cli/terminal-output", terminaloutput.ModuleName, terminaloutput.Version, func(m string) []cabi.HostFunc { return terminaloutput.Functions(nil, m) })
	add("wasi/cli/terminal-stderr", terminalstderr.ModuleName, terminalstderr.Version, func(m string) []cabi.HostFunc { return terminalstderr.Functions(nil, m) })
	add("wasi/cli/terminal-stdin", terminalstdin.ModuleName, terminalstdin.Version, func(m string) []cabi.HostFunc { return terminalstdin.Functions(nil, m) })
	add("wasi/cli/terminal-stdout", terminalstdout.ModuleName, terminalstdout.Version, func(m string) []cabi.HostFunc { return terminalstdout.Functions(nil, m) })
	add("wasi/clocks/monotonic-clock", monotonicclock.ModuleName, monotonicclock.Version, func(m string) []cabi.HostFunc { return monotonicclock.Functions(nil, m) })
	add("wasi/clocks/timezone", timezone.ModuleName, timezone.Version, func(m string) []cabi.HostFunc { return timezone.Functions(nil, m) })
	add("wasi/clocks/wall-clock", wallclock.ModuleName, wallclock.Version, func(m string) []cabi.HostFunc { return wallclock.Functions(nil, m) })
	add("wasi/filesystem/preopens", preopens.ModuleName, preopens.Version, func(m string) []cabi.HostFunc { return preopens.Functions(nil, m) })
	add("wasi/filesystem/types", filesystemtypes.ModuleName, filesystemtypes.Version, func(m string) []cabi.HostFunc { return filesystemtypes.Functions(nil, m) })
	add("wasi/io/error", ioerror.ModuleName, ioerror.Version, func(m string) []cabi.HostFunc { return ioerror.Functions(nil, m) })
	add("wasi/io/poll", poll.ModuleName, poll.Version, func(m string) []cabi.HostFunc { return poll.Functions(nil, m) })
	add("wasi/io/streams", streams.ModuleName, streams.Version, func(m string) []cabi.HostFunc { return streams.Functions(nil, m) })
	add("wasi/random/insecure", insecure.ModuleName, insecure.Version, func(m string) []cabi.HostFunc { return insecure.Functions(nil, m) })
	add("wasi/random/insecure-seed", insecureseed.ModuleName, insecureseed.Version, func(m string) []cabi.HostFunc { return insecureseed.Functions(nil, m) })
	add("wasi/random/random", random.ModuleName, random.Version, func(m string) []cabi.HostFunc { return random.Functions(nil, m) })
	add("wasi/sockets/instance-network", instancenetwork.ModuleName, instancenetwork.Version, func(m string) []cabi.HostFunc { return instancenetwork.Functions(nil, m) })
	add("wasi/sockets/ip-name-lookup", ipnamelookup.ModuleName, ipnamelookup.Version, func(m string) []cabi.HostFunc { return ipnamelookup.Functions(nil, m) })
	add("wasi/sockets/network", network.ModuleName, network.Version, func(m string) []cabi.HostFunc { return network.Functions(nil, m) })
	add("wasi/sockets/tcp", tcp.ModuleName, tcp.Version, func(m string) []cabi.HostFunc { return tcp.Functions(nil, m) })
	add("wasi/sockets/tcp-create-socket", tcpcreatesocket.ModuleName, tcpcreatesocket.Version, func(m string) []cabi.HostFunc { return tcpcreatesocket.Functions(nil, m) })
	add("wasi/sockets/udp", udp.ModuleName, udp.Version, func(m string) []cabi.HostFunc { return udp.Functions(nil, m) })
	add("wasi/sockets/udp-create-socket", udpcreatesocket.ModuleName, udpcreatesocket.Version, func(m string) []cabi.HostFunc { return udpcreatesocket.Functions(nil, m) })
	add("wasi/tls/tls", wasitls.ModuleName, wasitls.Version, func(m string) []cabi.HostFunc { return wasitls.Functions(nil, m) })
	add("wasi/tls/types", wasitlstypes.ModuleName, wasitlstypes.Version, func(m string) []cabi.HostFunc { return wasitlstypes.Functions(nil, m) })
	add("wasitls/tls/v0.1.0/extensions", extensions010.ModuleName, extensions010.Version, func(m string) []cabi.HostFunc { return extensions010.Functions(nil, m) })
	add("wasitls/tls/v0.2.0/extensions", extensions020.ModuleName, extensions020.Version, func(m string) []cabi.HostFunc { return extensions020.Functions(nil, m) })
	add("wasitls/tls/v0.3.0/extensions", extensions030.ModuleName, extensions030.Version, func(m string) []cabi.HostFunc { return extensions030.Functions(nil, m) })
	return out
}

// hostileEnv is one runtime per backend with the hostile guest compiled.
type hostileEnv struct {
	funcs    []importedFunc
	runtimes map[string]*hostileRuntime
}

type hostileRuntime struct {
	r        wazero.Runtime
	rt       *runtime.Runtime
	compiled wazero.CompiledModule
}

var hostileBackends = []string{"stdtls", "circl-pq"}

// hostileOnce makes the one hostileEnv every fuzz input shares.
var hostileOnce = sync.OnceValues(newHostileEnv)

func hostileEnvFor(t testing.TB) *hostileEnv { return mustEnv(t, hostileOnce) }

// mustEnv returns the environment once makes, failing t if it could not.
func mustEnv[E any](t testing.TB, once func() (E, error)) E {
	e, err := once()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func newHostileEnv() (*hostileEnv, error) {
	ctx := context.Background()
	e := &hostileEnv{runtimes: map[string]*hostileRuntime{}}
	for _, b := range hostileBackends {
		r := wazero.NewRuntimeWithConfig(ctx, runtime.NewRuntimeConfig())
		// Listening on loopback works, connecting nowhere.
		policy := new(sockets.Policy)
		if err := policy.AllowListen("127.0.0.1:*"); err != nil {
			return nil, err
		}
		rt, err := runtime.New(ctx, r, runtime.Config{
			Network:    policy,
			Extensions: []runtime.Extension{tlshost.New(tlshost.Config{BackendName: b})},
		})
		if err != nil {
			return nil, err
		}
		if e.funcs == nil {
			e.funcs = served(rt, r)
		}
		compiled, err := r.CompileModule(ctx, hostileModule(e.funcs))
		if err != nil {
			return nil, err
		}
		e.runtimes[b] = &hostileRuntime{r: r, rt: rt, compiled: compiled}
	}
	return e, nil
}

// served lists, sorted, every function of every binding package that rt
// serves: through its linker (WASI) or as a host module an extension
// registered (wasi:tls, its draft, the extensions).
func served(rt *runtime.Runtime, r wazero.Runtime) []importedFunc {
	var out []importedFunc
	for _, b := range bindings() {
		if !rt.Linker().Knows(b.module) && r.Module(b.module) == nil {
			continue
		}
		for _, f := range b.funcs {
			out = append(out, importedFunc{module: b.module, name: f.Name, params: f.Params, results: f.Results})
		}
	}
	slices.SortFunc(out, func(a, b importedFunc) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// A hostile input: which backend, bytes for the guest's memory, and up to
// maxSteps calls, each a selector (which served function) and the raw
// parameter values, 8 bytes each, little-endian.
//
//	backend u8 | patch length u16 | patch | (selector u16 | 8 bytes per parameter)...
const (
	maxSteps   = 16
	maxPatch   = 4096
	callBudget = 200 * time.Millisecond // a call still blocked after this closes the instance
	hangLimit  = 10 * time.Second       // a call still blocked this long after Close hangs
)

type hostileStep struct {
	fn   int
	args []byte
}

// decodeHeader splits off the header the hostile fuzzers share (backend
// u8 | patch length u16 | patch), returning what follows it.
func decodeHeader(data []byte) (backend int, patch, rest []byte) {
	if len(data) == 0 {
		return 0, nil, nil
	}
	backend, data = int(data[0]%byte(len(hostileBackends))), data[1:]
	if len(data) >= 2 {
		n := min(int(binary.LittleEndian.Uint16(data)), maxPatch, len(data)-2)
		patch, data = data[2:2+n], data[2+n:]
	}
	return backend, patch, data
}

// encodeHeader is the header decodeHeader reads: first (the backend, or
// the preview1 fuzzer's mode), then patch with its length.
func encodeHeader(first byte, patch []byte) []byte {
	s := []byte{first}
	s = binary.LittleEndian.AppendUint16(s, uint16(len(patch)))
	return append(s, patch...)
}

func decodeHostile(data []byte, nfuncs int, params func(int) int) (backend int, patch []byte, steps []hostileStep) {
	backend, patch, data = decodeHeader(data)
	for len(data) >= 2 && len(steps) < maxSteps {
		fn := int(binary.LittleEndian.Uint16(data)) % nfuncs
		data = data[2:]
		args := make([]byte, 8*params(fn))
		data = data[copy(args, data):]
		steps = append(steps, hostileStep{fn, args})
	}
	return backend, patch, steps
}

// guardedCall runs call, a call of f into inst, closing inst if the call
// takes longer than callBudget, and returns whether the close ended it and
// the call's error. A call that Close cannot end hangs the host: it
// crashes hangLimit after the close, so that the fuzzer keeps the input.
func guardedCall(inst *runtime.Instance, f fmt.Stringer, call func() error) (blocked bool, err error) {
	stuck := time.AfterFunc(callBudget, func() { inst.Close(context.Background()) })
	hung := time.AfterFunc(callBudget+hangLimit, func() {
		buf := make([]byte, 1<<20)
		panic(f.String() + ": the call did not end " + hangLimit.String() + " after Close\n" + string(buf[:goruntime.Stack(buf, true)]))
	})
	err = call()
	hung.Stop()
	return !stuck.Stop(), err
}

// runHostile runs one input on a fresh instance of the hostile guest. Each
// call must return, trap with a *cabi.Trap that is not a host panic, or
// end the guest (an exit, or the instance closed because a call blocked);
// afterwards the instance's goroutines must be gone.
func runHostile(t testing.TB, e *hostileEnv, data []byte) {
	bi, patch, steps := decodeHostile(data, len(e.funcs), func(i int) int { return len(e.funcs[i].params) })
	h := e.runtimes[hostileBackends[bi]]
	base := goruntime.NumGoroutine()
	ctx := context.Background()
	inst, err := h.rt.Instantiate(ctx, h.compiled, runtime.ModuleConfig{})
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	mem := inst.Module().Memory()
	mem.Write(patchAt, patch)
	for _, s := range steps {
		f := e.funcs[s.fn]
		mem.Write(0, s.args)
		blocked, err := guardedCall(inst, f, func() error {
			_, err := inst.Module().ExportedFunction("f" + itoa(s.fn)).Call(inst.Context())
			return err
		})
		if err := acceptable(err); err != nil {
			t.Fatalf("%v(% x): %v", f, s.args, err)
		}
		if err != nil || blocked || inst.Cabi().Trapped() {
			break // the guest is gone
		}
	}
	if err := inst.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	settleGoroutines(t, base)
}

// acceptable returns nil for the outcomes a hostile call may have.
func acceptable(err error) error {
	if err == nil {
		return nil
	}
	var trap *cabi.Trap
	if errors.As(err, &trap) {
		if strings.HasPrefix(trap.Msg, "host panic") {
			return err
		}
		return nil
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return nil
	}
	return errors.New("neither a result, a *cabi.Trap nor an exit: " + err.Error())
}

// settleGoroutines waits, at most 10 s, until the goroutine count is back
// at base.
func settleGoroutines(t testing.TB, base int) {
	deadline := time.Now().Add(10 * time.Second)
	for goruntime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines leaked: %d > %d\n%s", goruntime.NumGoroutine(), base, buf[:goruntime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		if i /= 10; i == 0 {
			return string(b[n:])
		}
	}
}

// FuzzHostCalls calls the host functions of every binding the runtime
// serves, WASI, wasi:tls, its draft and the extensions, from a guest whose
// memory and arguments are fuzzed, on both backends:
//
//	go test ./runtime -run '^$' -fuzz FuzzHostCalls -fuzztime 10m
func FuzzHostCalls(f *testing.F) {
	e := hostileEnvFor(f)
	for _, seed := range hostileSeeds(e) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) { runHostile(t, e, data) })
}

// hostileSeeds calls every served function once with small arguments (a
// handle 1, a pointer into the patch, a length 4, ...), alternating the
// backends; the functions of wasi:tls and the extensions on both.
func hostileSeeds(e *hostileEnv) [][]byte {
	small := []uint64{1, patchAt, 4, 8, 2, 0, 1, patchAt + 32, 4, 0, 0, 0, 0, 0, 0, 0}
	patch := make([]byte, 64)
	copy(patch, "example.com\x00\x01\x02\x03\x04\x05\x06\x07hostile guest bytes")
	seed := func(backend, k int) []byte {
		s := encodeHeader(byte(backend), patch)
		s = binary.LittleEndian.AppendUint16(s, uint16(k))
		for _, v := range small[:len(e.funcs[k].params)] {
			s = binary.LittleEndian.AppendUint64(s, v)
		}
		return s
	}
	var seeds [][]byte
	for k, f := range e.funcs {
		seeds = append(seeds, seed(k%2, k))
		if strings.Contains(f.module, "tls") {
			seeds = append(seeds, seed(1-k%2, k))
		}
	}
	return seeds
}

// TestHostileGuestKnowsEveryBinding: the hostile guest's table lists every
// binding package, and the runtime serves them all, so the fuzz target
// reaches every host function there is.
func TestHostileGuestKnowsEveryBinding(t *testing.T) {
	var want []string
	err := filepath.WalkDir("../bindings", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".glue.go") {
			rel, _ := filepath.Rel("../bindings", filepath.Dir(path))
			want = append(want, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range bindings() {
		got = append(got, b.dir)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("binding packages in the hostile guest's table:\n%q\nin bindings/:\n%q", got, want)
	}
	e := hostileEnvFor(t)
	total := 0
	for _, b := range bindings() {
		total += len(b.funcs)
	}
	if len(e.funcs) != total {
		t.Errorf("the runtime serves %d of the %d binding functions", len(e.funcs), total)
	}
}
