package tlshost_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// TestRegisterTwice: a second wasi:tls host in one wazero runtime (a
// second runtime.New over it listing one) is refused with an error that
// says why and what to do, not wazero's "already instantiated".
func TestRegisterTwice(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	if _, err := runtime.New(ctx, r, runtime.Config{Extensions: []runtime.Extension{tlshost.New(tlshost.Config{})}}); err != nil {
		t.Fatal(err)
	}
	_, err := runtime.New(ctx, r, runtime.Config{Extensions: []runtime.Extension{tlshost.New(tlshost.Config{InsecureSkipVerify: true})}})
	if err == nil {
		t.Fatal("a second wasi:tls host was registered in one wazero runtime")
	}
	for _, want := range []string{"already has a wasi:tls host", "make a wazero.Runtime for each wasi:tls configuration"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
}
