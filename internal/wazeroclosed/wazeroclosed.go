// Package wazeroclosed turns the panics of wazero's compilation racing the
// embedder's Close of the wazero.Runtime into errors.
//
// wazero's Runtime.Close drops its store's function type table (and its
// module table); wazero checks for a closed runtime on entry of
// CompileModule only, and not at all in a host module builder's Compile,
// which look up or add the types of the module they compile in that table
// once compiled. A compilation that the Close overtakes so, on another
// goroutine, adds to a nil map: a panic of the Go runtime, "assignment to
// entry in nil map", on the goroutine of the embedder's that compiled or
// instantiated a guest (the host modules a guest's imports need are
// defined by its Instantiate). The embedder may close its runtime when it
// likes; its process must not crash for it.
package wazeroclosed

import (
	"context"
	"fmt"
	goruntime "runtime"

	"github.com/tetratelabs/wazero"
)

// Guard runs f, which compiles or instantiates in r, and returns its
// error. A panic of the Go runtime in f (a runtime.Error) while r is
// closed is returned as an error saying so, prefixed with what (what f
// did); any other panic goes on.
func Guard(ctx context.Context, r wazero.Runtime, what string, f func() error) (err error) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if re, ok := v.(goruntime.Error); ok && Closed(ctx, r) {
			err = fmt.Errorf("%s: the wazero.Runtime was closed meanwhile (%v)", what, re)
			return
		}
		panic(v)
	}()
	return f()
}

// GuardValue is Guard for f that also returns a value (a compiled
// module): what f returns, or a zero value and the error Guard made of
// its panic.
func GuardValue[T any](ctx context.Context, r wazero.Runtime, what string, f func() (T, error)) (v T, err error) {
	err = Guard(ctx, r, what, func() (err error) {
		v, err = f()
		return err
	})
	return v, err
}

// empty is the smallest module: its header, no sections.
var empty = []byte{0, 'a', 's', 'm', 1, 0, 0, 0}

// Closed reports whether r is closed: wazero has no method saying so,
// but its CompileModule refuses on a closed runtime, and an empty module
// it compiles otherwise, adding no type.
func Closed(ctx context.Context, r wazero.Runtime) bool {
	c, err := r.CompileModule(ctx, empty)
	if err != nil {
		return true
	}
	c.Close(ctx)
	return false
}
