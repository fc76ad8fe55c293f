package tlshost_test

import (
	"context"
	"log"
	"os"

	"github.com/tetratelabs/wazero"

	_ "github.com/wasitls/wasitls/backends/circl-pq" // links the circl-pq backend
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// Example serves wasi:tls with the circl-pq backend to a guest that may
// connect to example.com:443 only.
func Example() {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtime.NewFastRuntimeConfig())
	defer r.Close(ctx)

	policy := new(sockets.Policy)
	if err := policy.AllowConnect("example.com:443"); err != nil {
		log.Fatal(err)
	}
	rt, err := runtime.New(ctx, r, runtime.Config{
		Network:    policy,
		Extensions: []runtime.Extension{tlshost.New(tlshost.Config{BackendName: "circl-pq"})},
		StopFlag:   true,
	})
	if err != nil {
		log.Fatal(err)
	}
	wasm, err := os.ReadFile("client.wasm")
	if err != nil {
		log.Fatal(err)
	}
	compiled, err := runtime.CompileModule(ctx, r, wasm)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
		Args:   []string{"client", "example.com", "443"},
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	}); err != nil {
		log.Fatal(err)
	}
}
