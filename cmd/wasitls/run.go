package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/internal/hostfile"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/component"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/stopcheck"
)

func init() {
	register(&command{
		Name:    "run",
		Summary: "run a guest (a core module or a command component) with WASI 0.2 and a network policy",
		Run:     runCommand,
	})
}

// A runExtension contributes flags to "wasitls run" and, after parsing, a
// runtime extension (such as the wasi:tls host with --backend). Files of
// this package append to runExtensions from init.
type runExtension func(fs *flag.FlagSet) (build func() (runtime.Extension, error))

var runExtensions []runExtension

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

const runUsage = `usage: wasitls run [flags] guest.wasm [args...]

Runs a core WebAssembly module (for Go: GOOS=wasip1 GOARCH=wasm) with
wasi_snapshot_preview1 and WASI 0.2 io, clocks, random, cli, filesystem and
sockets, at whatever 0.2.N patch version the guest imports, or a command
component (built by wasm-tools or jco from any language) through its
wasi:cli/run export. Flags come before guest.wasm: every argument after it
goes to the guest.
Network access is denied unless a flag allows it. Rules are HOST:PORT, HOST
being *, an address, a CIDR range, a name or *.domain, PORT a number, a
range (8000-8999) or *. UDP rules (--allow-udp) name the peers a guest may
exchange datagrams with (no names); with one, it may bind UDP sockets to
ephemeral ports, and fixed ports need --allow-listen as for TCP. Each access
denied is noted on stderr with the flag that would allow it. The guest
runs under limits on what it can make the host hold (--max-memory,
--max-handles, --max-sockets, --max-tls-connections,
--max-pending-handshakes, --max-identity-bytes, --max-peer-cert-bytes,
--max-read-ahead-bytes, --max-tls-settings-bytes, --max-files,
--max-disk-bytes, --max-disk-files, --max-datagram, --max-datagram-queue,
--max-datagram-bytes, --max-lookups, --max-lookup-grants, --max-lookup-addrs,
--max-nested-calls, --max-table-entries, --max-stack, --max-core-instances,
--session-cache-size, --send-linger, --max-unsent-bytes,
--max-poll-subscriptions), each with a default below, and under what
all the guests of the process share (--process-sockets, --process-lookups).

Examples (the guests are examples/client-minimal and examples/server-minimal,
built with GOOS=wasip1 GOARCH=wasm go build -o bin/NAME.wasm ./examples/NAME;
README.md, "Run your own guest", makes the server's certificate):
  wasitls run --allow-connect example.com:443 bin/client-minimal.wasm example.com 443 /
  wasitls run --allow-listen 127.0.0.1:8443 --dir bin/certs:/certs:ro \
      bin/server-minimal.wasm 8443 /certs/server.key /certs/server.pem
  wasitls run --allow-connect localhost:8443 --ca bin/certs/server.pem \
      bin/client-minimal.wasm localhost 8443

flags:
`

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var connect, listen, env, dirs listFlag
	fs.Var(&connect, "allow-connect", "allow connecting to `HOST:PORT` (repeatable); names listed here may be resolved. Loopback and link-local addresses (127.0.0.0/8, ::1, 169.254.0.0/16, fe80::/10) need a rule inside their range (127.0.0.1:8443) or naming the host (localhost:8443): * and wider ranges (0.0.0.0/0) do not allow them, nor does a wildcard name's lookup grant them, nor IPv6 addresses that embed IPv4 ones (NAT64's 64:ff9b::/96, SIIT, 6to4, Teredo; on a DNS64 network allow [64:ff9b::/96]:PORT); private ranges they do allow")
	fs.Var(&listen, "allow-listen", "allow binding and listening on `ADDR:PORT` (repeatable)")
	var udpPeers listFlag
	fs.Var(&udpPeers, "allow-udp", "allow exchanging UDP datagrams with `ADDR:PORT` (repeatable; datagrams from other peers are dropped)")
	fs.Var(&env, "env", "set the guest environment variable `KEY=VALUE` (repeatable)")
	inheritEnv := fs.Bool("inherit-env", false, "pass the whole host environment to the guest")
	fs.Var(&dirs, "dir", "preopen host directory `HOST[:GUEST][:ro|:rw]` for wasi_snapshot_preview1 and wasi:filesystem (repeatable; GUEST defaults to HOST; writable unless :ro; a HOST holding colons is taken whole when GUEST follows it; paths stay beneath it, symbolic links included)")
	cacheDir := fs.String("compilation-cache", "", "keep the guest's compiled code in `DIR` (created 0700; refused if another user's or writable by group or others) "+
		"and load it from there in later runs: a start-up several times as fast for a large guest. Off by default")
	limits := limitFlags(fs)
	pools := poolFlags(fs)
	var builds []func() (runtime.Extension, error)
	for _, ext := range runExtensions {
		builds = append(builds, ext(fs))
	}
	fs.Usage = func() {
		fmt.Fprint(stderr, runUsage)
		fs.PrintDefaults()
	}
	if done, err := parseFlags(fs, args); done {
		return err
	}
	if fs.NArg() < 1 {
		fmt.Fprint(stderr, "wasitls run: no guest file: give the .wasm file to run after the flags\n"+
			"usage: wasitls run [flags] guest.wasm [args...]\n"+
			"Run \"wasitls run -h\" for its flags.\n")
		return errUsage
	}
	path := fs.Arg(0)
	noteMisplacedFlags(fs, stderr)

	policy := new(sockets.Policy)
	if err := policy.AllowConnect(connect...); err != nil {
		return fmt.Errorf("--allow-connect: %w", err)
	}
	if err := policy.AllowListen(listen...); err != nil {
		return fmt.Errorf("--allow-listen: %w", err)
	}
	if err := policy.AllowUDP(udpPeers...); err != nil {
		return fmt.Errorf("--allow-udp: %w", err)
	}
	policy.OnDeny(denialNotes(stderr))
	lim, err := limits()
	if err != nil {
		return err
	}
	// The runtime's records (a cap that refused the guest, naming its
	// flag; a panic of the host's code it recovered) go to stderr beside
	// the denials' notes.
	socketPool, lookupPool, err := pools()
	if err != nil {
		return err
	}
	cfg := runtime.Config{Network: policy, Limits: lim, SocketPool: socketPool, LookupPool: lookupPool, Logger: slog.New(slog.NewTextHandler(stderr, nil))}
	for _, b := range builds {
		ext, err := b()
		if err != nil {
			return err
		}
		if ext != nil {
			cfg.Extensions = append(cfg.Extensions, ext)
		}
	}

	mc := runtime.ModuleConfig{
		Args:   append([]string{path}, fs.Args()[1:]...),
		Stdin:  os.Stdin,
		Stdout: stdout,
		Stderr: stderr,
	}
	if *inheritEnv {
		mc.Env = os.Environ()
	}
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("--env %q: want KEY=VALUE, KEY not empty", kv)
		}
		mc.Env = append(mc.Env, kv)
	}
	for _, d := range dirs {
		dir, err := parseDir(d)
		if err != nil {
			return err
		}
		mc.Dirs = append(mc.Dirs, dir)
	}

	wasm, err := hostfile.Read(path, hostfile.Kind{What: "a wasm module or component", Max: maxGuestFile, Magic: "\x00asm"})
	if err != nil {
		return fmt.Errorf("guest: %w", err)
	}
	var cache *runtime.CompilationCache
	if *cacheDir != "" {
		if cache, err = runtime.OpenCompilationCache(*cacheDir, "--compilation-cache"); err != nil {
			return err
		}
	}
	return runGuest(ctx, path, wasm, cache, cfg, mc, stderr)
}

// maxGuestFile bounds the guest's file, the most the host reads into
// memory to compile: 1 GiB, the most V8 compiles too. A larger file, a
// device, or a pipe that never ends is an error, not a read without
// bound; a file that does not begin as wasm does (/dev/zero) is refused
// on its first bytes.
const maxGuestFile = 1 << 30

// noteMisplacedFlags notes, on stderr, each argument after the guest file
// that names a flag of this command: it goes to the guest, which is
// rarely what was meant. The guest still gets it, since it may have a flag
// of the same name.
func noteMisplacedFlags(fs *flag.FlagSet, stderr io.Writer) {
	for _, arg := range fs.Args()[1:] {
		name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if strings.HasPrefix(arg, "-") && fs.Lookup(name) != nil {
			fmt.Fprintf(stderr, "wasitls: %s comes after the guest file, so the guest gets it; put the flags of wasitls run before %s\n", arg, fs.Arg(0))
		}
	}
}

// parseDir parses HOST[:GUEST][:ro|:rw]. A HOST holding colons is taken
// whole when it names a directory and a GUEST follows it. A GUEST holding
// a colon is refused: "/a:rw" is a mode misspelt or in the wrong place far more often
// than a guest path, and taken as one it preopened a writable directory
// under a name the guest would not look for.
func parseDir(s string) (runtime.Dir, error) {
	d := runtime.Dir{}
	arg := s
	if rest, ok := strings.CutSuffix(s, ":ro"); ok {
		d.ReadOnly, s = true, rest
	} else if rest, ok := strings.CutSuffix(s, ":rw"); ok {
		s = rest
	}
	host, guest, ok := strings.Cut(s, ":")
	if !ok {
		guest = host
	}
	if i := strings.LastIndex(s, ":"); i > len(host) {
		// A host directory whose path holds colons: HOST is the part
		// before the last colon, if that names a directory.
		if fi, err := os.Stat(s[:i]); err == nil && fi.IsDir() {
			host, guest = s[:i], s[i+1:]
		}
	}
	if host == "" || guest == "" || strings.Contains(guest, ":") {
		return d, fmt.Errorf("--dir %q: want HOST[:GUEST][:ro|:rw]", arg)
	}
	if fi, err := os.Stat(host); err != nil {
		return d, fmt.Errorf("--dir %q: %w", arg, err)
	} else if !fi.IsDir() {
		return d, fmt.Errorf("--dir %q: %s is not a directory", arg, host)
	}
	d.Host, d.Guest = host, guest
	return d, nil
}

// runGuest compiles and runs wasm, read from path (which errors about the
// file itself name), through cache when not nil, which it closes; the
// guest's exit code comes back as a *sys.ExitError. Once ctx is done
// (SIGINT), the guest is closed at its next call or wait; a guest that
// has not stopped interruptGrace later is left behind, with a note on
// stderr, so that the command always ends promptly.
func runGuest(ctx context.Context, path string, wasm []byte, cache *runtime.CompilationCache, cfg runtime.Config, mc runtime.ModuleConfig, stderr io.Writer) error {
	var comp *component.Component
	if err := runtime.CheckBinary(wasm); errors.Is(err, runtime.ErrComponent) {
		if comp, err = component.Parse(wasm); err != nil {
			cache.Close(context.Background())
			return fmt.Errorf("%s: %w", path, err)
		}
	} else if err != nil {
		cache.Close(context.Background())
		return fmt.Errorf("%s: %w", path, err)
	}
	done := make(chan error, 1)
	go func() {
		// The cache is closed after the wazero runtime, by the guest's
		// goroutine: a guest left behind keeps its code.
		err := instantiate(ctx, wasm, comp, cache, cfg, mc, stderr)
		cache.Close(context.Background())
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	select {
	case err := <-done:
		return err
	case <-time.After(interruptGrace):
		// Still compiling, or not stopping: its staging directory goes
		// now, the process exiting without waiting for it.
		cache.Abandon()
		fmt.Fprintf(stderr, "%s %v after the interrupt; exiting without it\n", notStoppedNote, interruptGrace)
		return sys.NewExitError(sys.ExitCodeContextCanceled)
	}
}

// interruptGrace is how long an interrupted guest has to stop.
const interruptGrace = 500 * time.Millisecond

// notStoppedNote begins the note of a guest that did not stop within
// interruptGrace.
const notStoppedNote = "wasitls: the guest had not stopped"

// instantiate runs the component comp, or else the core module wasm, on a
// wazero runtime of its own, compiling through cache when not nil.
func instantiate(ctx context.Context, wasm []byte, comp *component.Component, cache *runtime.CompilationCache, cfg runtime.Config, mc runtime.ModuleConfig, stderr io.Writer) error {
	r, compiled, err := compile(ctx, wasm, comp, cache, &cfg, stderr)
	if err != nil {
		return err
	}
	defer r.Close(context.Background())
	rt, err := runtime.New(ctx, r, cfg)
	if err != nil {
		return err
	}
	if comp != nil {
		return rt.RunComponent(ctx, comp, mc)
	}
	if err := checkRunnable(compiled); err != nil {
		return err
	}
	noteReactor(compiled, stderr)
	inst, err := rt.Instantiate(ctx, compiled, mc)
	if err != nil {
		return err
	}
	return inst.Close(context.Background())
}

// compilationCache, when not nil, is shared in memory by the wazero
// runtimes the command makes without a cache on disk (--compilation-cache).
// A run compiles its guest once, so the command leaves it nil; the
// package's tests, which run the same few guests dozens of times in one
// process (seconds of CPU to compile each), set it. The demo, which runs
// each guest once a backend, makes one of its own (see sharedCache).
var compilationCache wazero.CompilationCache

// newRuntime is wazero.NewRuntimeWithConfig, compiling through cache when
// not nil, else with compilationCache.
func newRuntime(ctx context.Context, c wazero.RuntimeConfig, cache *runtime.CompilationCache) wazero.Runtime {
	return newRuntimeShared(ctx, c, cache, compilationCache)
}

// newRuntimeShared is newRuntime with shared, when not nil, in place of
// compilationCache: wazero keeps there the native code of each module it
// compiles, by the bytes it compiled and whether it checks for
// termination, and a runtime compiling the same module finds it there.
// Only the code is shared: each runtime instantiates its own modules,
// with their own memories, tables and globals (the stop flag among
// them).
func newRuntimeShared(ctx context.Context, c wazero.RuntimeConfig, cache *runtime.CompilationCache, shared wazero.CompilationCache) wazero.Runtime {
	if cache != nil {
		return cache.NewRuntime(ctx, c)
	}
	if shared != nil {
		c = c.WithCompilationCache(shared)
	}
	return wazero.NewRuntimeWithConfig(ctx, c)
}

// sharedCache returns the in-memory compilation cache for the runtimes
// of a command that compiles the same modules in several of them, and
// the function that closes it once they are closed: compilationCache
// when set, else one of its own. With a cache on disk it returns nil,
// that cache holding the code in memory as well.
func sharedCache(cache *runtime.CompilationCache) (wazero.CompilationCache, func()) {
	if cache != nil {
		return nil, func() {}
	}
	if compilationCache != nil {
		return compilationCache, func() {}
	}
	shared := wazero.NewCompilationCache()
	return shared, func() { shared.Close(context.Background()) }
}

// compile makes the wazero runtime the guest runs on and compiles a core
// module. A core module and a component run with the stop flag
// (runtime.CompileModule, cfg.StopFlag, the runtime compiling a
// component's core modules with it); a module, or a component with a core
// module, that the flag's rewriter refuses for the stop global's name,
// which it reserves, runs with wazero's own termination checks, with a
// note on stderr (what the stack budget's rewrite refuses too, such as
// an instruction it does not know, is refused), its tables and call
// stack still bounded
// (runtime.Limits.TableEntries, applied here as the modules are compiled,
// and runtime.Limits.Stack).
func compile(ctx context.Context, wasm []byte, comp *component.Component, cache *runtime.CompilationCache, cfg *runtime.Config, stderr io.Writer) (wazero.Runtime, wazero.CompiledModule, error) {
	if comp != nil {
		// Every core module, nested components' included, must take the
		// flag, or none runs with it; the rewrites are kept for the
		// instantiation, which does not rewrite again.
		if err := comp.PrepareStopWith(cfg.Limits.RewriteOptions()); err != nil {
			fmt.Fprintf(stderr, "wasitls: running the component with wazero's termination checks (slower): %v\n", err)
			return newRuntime(ctx, runtime.NewRuntimeConfig(), cache), nil, nil
		}
		cfg.StopFlag = true
		return newRuntime(ctx, runtime.NewFastRuntimeConfig(), cache), nil, nil
	}
	r := newRuntime(ctx, runtime.NewFastRuntimeConfig(), cache)
	compiled, err := runtime.CompileModuleLimits(ctx, r, wasm, cfg.Limits)
	var refused *stopcheck.Error
	if errors.As(err, &refused) {
		r.Close(context.Background())
		r = newRuntime(ctx, runtime.NewRuntimeConfig(), cache)
		if compiled, err = runtime.CompileModuleChecked(ctx, r, wasm, cfg.Limits); err == nil {
			fmt.Fprintf(stderr, "wasitls: running the guest with wazero's termination checks (slower): %v\n", refused)
		}
	} else {
		cfg.StopFlag = true
	}
	if err != nil {
		r.Close(context.Background())
		return nil, nil, fmt.Errorf("compile: %w", err)
	}
	return r, compiled, nil
}

// noteReactor notes, on stderr, that a reactor (_initialize and no
// _start) runs only its _initialize: nothing calls its other exports, so a
// Go guest built with -buildmode=c-shared and //go:wasmexport functions
// would otherwise exit 0 without a word, its main never run.
func noteReactor(m wazero.CompiledModule, stderr io.Writer) {
	fns := m.ExportedFunctions()
	_, start := fns["_start"]
	_, initialize := fns["_initialize"]
	if start || !initialize {
		return
	}
	var names []string
	for name := range fns {
		if name != "_initialize" && name != stopcheck.StartName {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return // checkRunnable refused it, or its start section is its work
	}
	slices.Sort(names)
	if len(names) > 3 {
		names = append(names[:3], "...")
	}
	fmt.Fprintf(stderr, "wasitls: the module is a reactor: only its _initialize runs, and nothing calls its exports (%s); "+
		"a command exports _start (a Go guest: package main built without -buildmode=c-shared)\n", strings.Join(names, ", "))
}

// checkRunnable refuses a module that has nothing to run: no _start (a
// command) and no exported function besides _initialize (a reactor), which
// would otherwise exit 0 having done nothing.
func checkRunnable(m wazero.CompiledModule) error {
	fns := m.ExportedFunctions()
	_, start := fns["_start"]
	_, initialize := fns["_initialize"]
	switch {
	case start || len(fns) > 1 || len(fns) == 1 && !initialize:
		return nil
	case initialize:
		return errors.New("the module is a reactor that exports only _initialize: there is nothing to run; " +
			"build a Go guest as a command, without -buildmode=c-shared")
	}
	return errors.New("the module exports neither _start (a command) nor any function (a reactor): there is nothing to run; " +
		"a Go guest needs package main with a main function, built with GOOS=wasip1 GOARCH=wasm")
}
