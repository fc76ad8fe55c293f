package wazeroclosed

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
)

// nilMap panics as wazero's compilation does when Close overtook it: an
// assignment to an entry in a nil map.
func nilMap() error {
	var m map[int]int
	m[0] = 1
	return nil
}

// recovered runs f and returns what it panicked with, nil if nothing.
func recovered(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

// TestGuard: a Go runtime panic while the runtime is closed is an error
// naming what was done; the same panic on an open runtime, and any other
// panic on a closed one, goes on; f's own error and value come back.
func TestGuard(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	if Closed(ctx, r) {
		t.Fatal("Closed reports a new runtime closed")
	}
	if v := recovered(func() { Guard(ctx, r, "compiling", nilMap) }); v == nil {
		t.Fatal("a panic on an open runtime became an error")
	}
	want := errors.New("f's own")
	if v, err := GuardValue(ctx, r, "compiling", func() (int, error) { return 7, want }); v != 7 || err != want {
		t.Fatalf("GuardValue: %d, %v; want 7 and f's error", v, err)
	}

	r.Close(ctx)
	if !Closed(ctx, r) {
		t.Fatal("Closed reports a closed runtime open")
	}
	err := Guard(ctx, r, "compiling", nilMap)
	if err == nil || !strings.Contains(err.Error(), "compiling: the wazero.Runtime was closed meanwhile") {
		t.Fatalf("a panic on a closed runtime: %v", err)
	}
	v, err := GuardValue(ctx, r, "instantiating", func() (*int, error) { return new(int), nilMap() })
	if v != nil || err == nil || !strings.HasPrefix(err.Error(), "instantiating: ") {
		t.Fatalf("GuardValue on a closed runtime: %v, %v; want no value and the error", v, err)
	}
	if v := recovered(func() { Guard(ctx, r, "compiling", func() error { panic("not the Go runtime's") }) }); v != "not the Go runtime's" {
		t.Fatalf("another panic on a closed runtime: recovered %v", v)
	}
}
