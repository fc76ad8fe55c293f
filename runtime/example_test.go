package runtime_test

import (
	"context"
	"log"
	"os"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
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
