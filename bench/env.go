package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/testpki"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/component"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// GuestPackage is the import path of the benchmark guest.
const GuestPackage = "github.com/wasitls/wasitls/bench/testdata/benchguest"

// serverName is the name the certificate carries and clients ask for.
const serverName = "bench.test"

// guestSocketLimit lets a guest server hold the idle scenario's
// connections (the default limit is lower).
const guestSocketLimit = 1 << 15

// An env holds what every scenario shares: the PKI, the compiled guest and
// one wazero runtime with the wasi:tls host per backend.
type env struct {
	ca       *testpki.CA
	leaf     *testpki.Leaf
	roots    *x509.CertPool
	cert     tls.Certificate
	guestEnv []string // KEY, CHAIN, CA for the guest

	wasm []byte
	// altWasm, when set, is another build of the benchmark guest (from
	// another source tree) whose server the wasialt subjects run beside
	// this tree's, on runtimes of their own: a change in the guest
	// libraries measured in one process, in interleaved rounds.
	altWasm []byte
	// cwasm and cserver are the C guest's client and server, nil when
	// they could not be built for want of a tool (cErr says which).
	cwasm, cserver []byte
	cErr           error
	// ccomp is the C guest built as a component (its world embedded,
	// `jco new` with the preview1 command adapter), nil unless the caller
	// built it: building it needs Node.js and jco.
	ccomp    *component.Component
	cache    wazero.CompilationCache
	mu       sync.Mutex
	runtimes map[string]*hostRuntime
	// checks is how guests are stopped (see Options.Checks).
	checks string
	// handshakeTimeout is the wasi:tls host's (tlshost.Config); zero for
	// its default.
	handshakeTimeout time.Duration
	// listeners, when set, is given to wazero for the host modules of the
	// runtimes created from then on (the latency budget counts host calls
	// with it).
	listeners experimental.FunctionListenerFactory
}

// hostRuntime is a wazero runtime serving WASI 0.2 and wasi:tls on one
// backend, with the benchmark guest compiled in it.
type hostRuntime struct {
	r        wazero.Runtime
	rt       *runtime.Runtime
	compiled wazero.CompiledModule
	// cserver is the C guest's server, compiled beside the Go guest (it
	// runs on the same host configuration as the Go guest's server); nil
	// in the C client's runtimes and without the C guest.
	cserver wazero.CompiledModule
	// ctcp is the C guest's client compiled beside the Go guest, for its
	// plain TCP connections, which no group's host configuration
	// concerns; nil likewise.
	ctcp wazero.CompiledModule
}

func newEnv() (*env, error) {
	ca, err := testpki.NewCAWith("wasitls bench CA", testpki.ECDSAP256)
	if err != nil {
		return nil, err
	}
	leaf, err := ca.Issue(testpki.LeafOptions{
		DNSNames: []string{serverName}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, Key: testpki.ECDSAP256,
	})
	if err != nil {
		return nil, err
	}
	wasm, err := guestbuild.Build(GuestPackage)
	if err != nil {
		return nil, fmt.Errorf("bench: %w (run from the wasitls source tree)", err)
	}
	cwasm, cserver, cErr := buildCGuests()
	if _, missing := cErr.(*MissingToolError); cErr != nil && !missing {
		return nil, cErr
	}
	return &env{
		ca: ca, leaf: leaf, roots: ca.Pool(), cert: leaf.TLSCertificate(),
		guestEnv: []string{"KEY=" + string(leaf.KeyPEM()), "CHAIN=" + string(leaf.ChainPEM()), "CA=" + string(ca.CertPEM())},
		wasm:     wasm, cwasm: cwasm, cserver: cserver, cErr: cErr,
		cache:    wazero.NewCompilationCache(),
		runtimes: map[string]*hostRuntime{},

		checks: ChecksStopFlag,
	}, nil
}

// close releases every runtime; guests still running are closed.
func (e *env) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, h := range e.runtimes {
		h.r.Close(context.Background())
	}
	e.runtimes = map[string]*hostRuntime{}
	e.cache.Close(context.Background())
}

// runtime returns the runtime for backend with the Go guest compiled in
// it, creating it on first use.
func (e *env) runtime(backend string) (*hostRuntime, error) { return e.runtimeFor(backend, 0) }

// runtimeFor returns the runtime for backend, creating it on first use:
// with group 0 the Go guest's; otherwise the C guest's, with the host
// allowing only group (the draft interface the C guest uses cannot choose
// groups, so the host's configuration does, as the Go guest does through
// the extension interface). Components run on the same runtime, stopped
// as its core modules are (under the stop flag, the runtime compiles their
// core modules with it). Its guests are stopped as e.checks says.
func (e *env) runtimeFor(backend string, group tls.CurveID) (*hostRuntime, error) {
	return e.runtimeChecks(backend, group, "")
}

// runtimeChecks is runtimeFor with the guests stopped as checks says
// (Options.Checks; empty for e.checks): a runtime of its own when it is
// not e.checks.
func (e *env) runtimeChecks(backend string, group tls.CurveID, checks string) (*hostRuntime, error) {
	return e.runtimeWith(backend, group, checks, false)
}

// runtimeWith is runtimeChecks, with e.altWasm as the Go guest when alt
// (group 0), on a runtime of its own.
func (e *env) runtimeWith(backend string, group tls.CurveID, checks string, alt bool) (*hostRuntime, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := backend
	if group != 0 {
		key = fmt.Sprintf("%s/c/%d", backend, uint16(group))
	} else if alt {
		if e.altWasm == nil {
			return nil, errors.New("bench: no other build of the guest to run (TestBudget -budget.guest)")
		}
		key += "/alt"
	}
	if checks == "" || checks == e.checks {
		checks = e.checks
	} else {
		key += "/checks=" + checks
	}
	if h, ok := e.runtimes[key]; ok {
		return h, nil
	}
	ctx := context.Background()
	if e.listeners != nil {
		ctx = experimental.WithFunctionListenerFactory(ctx, e.listeners)
	}
	policy := new(sockets.Policy)
	if err := policy.AllowConnect("127.0.0.1:*"); err != nil {
		return nil, err
	}
	if err := policy.AllowListen("127.0.0.1:*"); err != nil {
		return nil, err
	}
	rc := wazero.NewRuntimeConfig().WithCloseOnContextDone(checks == ChecksWazero)
	if checks == ChecksStopFlag {
		rc = runtime.NewFastRuntimeConfig()
	}
	r := wazero.NewRuntimeWithConfig(ctx, rc.WithCompilationCache(e.cache))
	cfg := tlshost.Config{BackendName: backend, RootCAs: e.roots, ClientCAs: e.roots, HandshakeTimeout: e.handshakeTimeout}
	wasm := e.wasm
	if group != 0 {
		cfg.Groups, wasm = []uint16{uint16(group)}, e.cwasm
	} else if alt {
		wasm = e.altWasm
	}
	ext := tlshost.New(cfg)
	rt, err := runtime.New(ctx, r, runtime.Config{Network: policy, Limits: runtime.Limits{Sockets: guestSocketLimit}, Extensions: []runtime.Extension{ext},
		StopFlag: checks == ChecksStopFlag})
	if err != nil {
		r.Close(ctx)
		return nil, err
	}
	compile := r.CompileModule
	if checks == ChecksStopFlag {
		compile = func(ctx context.Context, wasm []byte) (wazero.CompiledModule, error) {
			return runtime.CompileModule(ctx, r, wasm)
		}
	}
	compiled, err := compile(ctx, wasm)
	if err != nil {
		r.Close(ctx)
		return nil, err
	}
	h := &hostRuntime{r: r, rt: rt, compiled: compiled}
	if group == 0 && e.cserver != nil {
		if h.cserver, err = compile(ctx, e.cserver); err != nil {
			r.Close(ctx)
			return nil, err
		}
		if h.ctcp, err = compile(ctx, e.cwasm); err != nil {
			r.Close(ctx)
			return nil, err
		}
	}
	e.runtimes[key] = h
	return h, nil
}

// impl names how a guest does TLS.
type impl string

const (
	implNative impl = "native" // crypto/tls in this process
	implWASI   impl = "wasi"   // through the host's wasi:tls
	implGo     impl = "go"     // crypto/tls compiled into the guest
	implC      impl = "c"      // the C guest, through the host's wasi:tls
)

// A guest is a running instance of the benchmark guest.
type guest struct {
	inst   atomic.Pointer[runtime.Instance]
	cancel context.CancelFunc
	stdin  *io.PipeWriter
	lines  chan string
	done   chan error
	output *lockedTail
}

// startGuest runs the benchmark guest with args on backend's runtime (the
// backend is irrelevant for impl "go" but a runtime is still needed).
func (e *env) startGuest(backend string, args ...string) (*guest, error) {
	return e.startGuestOf(backend, false, args...)
}

// startGuestOf is startGuest, with e.altWasm's guest when alt.
func (e *env) startGuestOf(backend string, alt bool, args ...string) (*guest, error) {
	h, err := e.runtimeWith(backend, 0, "", alt)
	if err != nil {
		return nil, err
	}
	return e.start(h, "benchguest", args)
}

// startCGuest runs the C guest (as a component if s.component) with
// args on s.backend's runtime for group (group 0: the Go guest's, for
// plain TCP).
func (e *env) startCGuest(s subject, group tls.CurveID, args ...string) (*guest, error) {
	if e.cwasm == nil {
		return nil, e.cErr
	}
	if s.component && e.ccomp == nil {
		return nil, errors.New("bench: the C guest was not built as a component")
	}
	h, err := e.runtimeChecks(s.backend, group, s.checks)
	if err != nil {
		return nil, err
	}
	switch {
	case s.component:
		return e.startComponent(h, e.ccomp, "cguest", args)
	case group == 0:
		return e.startModule(h, h.ctcp, "cguest", args)
	}
	return e.start(h, "cguest", args)
}

// startCServer runs the C guest's server with args on backend's runtime,
// the Go guest's.
func (e *env) startCServer(backend string, args ...string) (*guest, error) {
	if e.cserver == nil {
		return nil, e.cErr
	}
	h, err := e.runtime(backend)
	if err != nil {
		return nil, err
	}
	return e.startModule(h, h.cserver, "cserver", args)
}

func (e *env) start(h *hostRuntime, argv0 string, args []string) (*guest, error) {
	return e.startModule(h, h.compiled, argv0, args)
}

// startModule runs module m of h's runtime.
func (e *env) startModule(h *hostRuntime, m wazero.CompiledModule, argv0 string, args []string) (*guest, error) {
	return e.run(argv0, args, func(ctx context.Context, cfg runtime.ModuleConfig, g *guest) error {
		cfg.Started = g.inst.Store
		_, err := h.rt.Instantiate(ctx, m, cfg)
		return err
	})
}

// startComponent runs command component c on h's runtime.
func (e *env) startComponent(h *hostRuntime, c *component.Component, argv0 string, args []string) (*guest, error) {
	return e.run(argv0, args, func(ctx context.Context, cfg runtime.ModuleConfig, _ *guest) error {
		return h.rt.RunComponent(ctx, c, cfg)
	})
}

// run starts a guest that run runs to its end with the configuration
// given: arguments, environment and pipes for the standard streams.
func (e *env) run(argv0 string, args []string, run func(context.Context, runtime.ModuleConfig, *guest) error) (*guest, error) {
	ctx, cancel := context.WithCancel(context.Background())
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	g := &guest{
		cancel: cancel, stdin: inW, lines: make(chan string, 16),
		done: make(chan error, 1), output: &lockedTail{},
	}
	go func() {
		err := run(ctx, runtime.ModuleConfig{
			Args: append([]string{argv0}, args...), Env: e.guestEnv,
			Stdin: inR, Stdout: outW, Stderr: outW,
		}, g)
		outW.CloseWithError(io.EOF)
		inR.Close()
		g.done <- err
	}()
	go func() {
		defer close(g.lines)
		s := bufio.NewScanner(outR)
		for s.Scan() {
			line := s.Text()
			g.output.add(line)
			select {
			case g.lines <- line:
			default: // nobody listens: keep only the tail
			}
		}
		io.Copy(io.Discard, outR)
	}()
	return g, nil
}

// tableLen returns the number of live handles in the guest's resource
// table, 0 before it started.
func (g *guest) tableLen() int {
	if inst := g.inst.Load(); inst != nil {
		return inst.Cabi().Table().Len()
	}
	return 0
}

// memorySize returns the size of the guest's linear memory, 0 before it
// started.
func (g *guest) memorySize() uint64 {
	if inst := g.inst.Load(); inst != nil {
		if mem := inst.Module().Memory(); mem != nil {
			return uint64(mem.Size())
		}
	}
	return 0
}

// expect waits for a line starting with prefix and returns the rest.
func (g *guest) expect(prefix string, timeout time.Duration) (string, error) {
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-g.lines:
			if !ok {
				return "", g.failure("exited before printing " + strconv.Quote(prefix))
			}
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				return rest, nil
			}
			if strings.HasPrefix(line, "error:") {
				return "", g.failure(line)
			}
		case <-deadline:
			return "", g.failure("timed out waiting for " + strconv.Quote(prefix))
		}
	}
}

func (g *guest) failure(what string) error {
	return fmt.Errorf("bench: guest %s; its output:\n%s", what, g.output.String())
}

// stop ends the guest: end of stdin first, then the instance is closed.
func (g *guest) stop() error {
	g.stdin.Close()
	select {
	case err := <-g.done:
		g.cancel()
		return err
	case <-time.After(2 * time.Second):
	}
	g.cancel()
	select {
	case <-g.done:
		return nil // closed on purpose
	case <-time.After(30 * time.Second):
		return errors.New("bench: guest did not stop")
	}
}

// kill closes the instance at once (for servers, which never read stdin).
func (g *guest) kill() error {
	g.cancel()
	select {
	case <-g.done:
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("bench: guest did not stop")
	}
}

// lockedTail keeps the last lines a guest printed, for error messages.
type lockedTail struct {
	mu    sync.Mutex
	lines []string
}

func (t *lockedTail) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == 20 {
		t.lines = t.lines[1:]
	}
	t.lines = append(t.lines, s)
}

func (t *lockedTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
