package runtime_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/component"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// Example runs a guest built with GOOS=wasip1 GOARCH=wasm that may connect
// to example.com on port 443 and to anything in 10.0.0.0/8, and listen on
// 127.0.0.1:8443; every other network access is denied.
func Example() {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtime.NewFastRuntimeConfig())
	defer r.Close(ctx)

	policy := new(sockets.Policy)
	if err := policy.AllowConnect("example.com:443", "10.0.0.0/8:*"); err != nil {
		log.Fatal(err)
	}
	if err := policy.AllowListen("127.0.0.1:8443"); err != nil {
		log.Fatal(err)
	}
	// StopFlag: Instantiate refuses a module runtime.CompileModule did
	// not compile, which nothing could stop.
	rt, err := runtime.New(ctx, r, runtime.Config{Network: policy, StopFlag: true})
	if err != nil {
		log.Fatal(err)
	}

	wasm, err := os.ReadFile("guest.wasm")
	if err != nil {
		log.Fatal(err)
	}
	if err := runtime.CheckBinary(wasm); err != nil {
		log.Fatal(err) // a component, or not WebAssembly at all
	}
	// With the stop flag: a guest computing without end stops when ctx
	// ends. A module the rewriter refuses (a *stopcheck.Error) would run
	// on a runtime of runtime.NewRuntimeConfig(), compiled with
	// runtime.CompileModuleChecked, without StopFlag.
	compiled, err := runtime.CompileModule(ctx, r, wasm)
	if err != nil {
		log.Fatal(err)
	}
	_, err = rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
		Args:   []string{"guest", "https://example.com/"},
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Dirs:   []runtime.Dir{{Host: "./certs", Guest: "/certs", ReadOnly: true}},
	})
	if err != nil {
		log.Fatal(err) // a trap, missing imports, or a *sys.ExitError
	}
}

// ExampleNew_preview1 is what a wazero program that registers wazero's
// wasi_snapshot_preview1 itself, as many do, meets when it adds this
// runtime: New refuses the wazero runtime, since its guests would get that
// module without the runtime's guards. Leave the call out: New registers
// wasi_snapshot_preview1, and ModuleConfig takes the per-guest settings.
func ExampleNew_preview1() {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r) // the program's own

	_, err := runtime.New(ctx, r, runtime.Config{})
	fmt.Println(err)
	// Output:
	// runtime: the wazero runtime already has a wasi_snapshot_preview1 module (registered by wasi_snapshot_preview1.Instantiate or MustInstantiate, say), which would serve guests without the runtime's guards: leave that call out, since runtime.New registers wasi_snapshot_preview1 itself, and set what your wazero.ModuleConfig did through runtime.ModuleConfig (Args, Env, Stdin, Stdout, Stderr, Dirs; Configure for the rest)
}

// ExampleRuntime_RunComponent runs a command component (a WASI 0.2
// program, such as one `jco new --wasi-command` made of a wasip1 module;
// docs/components.md has the commands and what is supported) with the
// wasi:tls host, which components import through the runtime's linker as
// core modules do through host modules. A component is parsed, not
// compiled: component.Parse, then RunComponent, or InstantiateComponent
// for a reactor whose exports Go calls. Under Config.StopFlag the runtime
// compiles each of its core modules with the stop global itself.
func ExampleRuntime_RunComponent() {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx) // no termination checks: the stop flag stops guests
	defer r.Close(ctx)
	policy := new(sockets.Policy)
	if err := policy.AllowConnect("example.com:443"); err != nil {
		log.Fatal(err)
	}
	rt, err := runtime.New(ctx, r, runtime.Config{
		Network:    policy,
		Extensions: []runtime.Extension{tlshost.New(tlshost.Config{})},
		StopFlag:   true,
	})
	if err != nil {
		log.Fatal(err)
	}
	wasm, err := os.ReadFile("client.component.wasm")
	if err != nil {
		log.Fatal(err)
	}
	c, err := component.Parse(wasm) // runtime.CompileModule refuses a component, saying so
	if err != nil {
		log.Fatal(err) // not a component, or a feature outside the supported subset, named
	}
	err = rt.RunComponent(ctx, c, runtime.ModuleConfig{
		Args:   []string{"client", "example.com", "443"},
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	})
	if err != nil {
		log.Fatal(err) // a trap, missing imports, or a *sys.ExitError
	}
}
