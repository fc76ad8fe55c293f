package runtime_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
)

// countingExt is a GuestExtension that gives each guest a closer and
// records what the runtime did with it.
type countingExt struct {
	mu     sync.Mutex
	guests []*runtime.Guest
	closed int
	limits []runtime.Limits
}

type extKey struct{}

type extState struct{ ext *countingExt }

func (s extState) Close() error {
	s.ext.mu.Lock()
	defer s.ext.mu.Unlock()
	s.ext.closed++
	return nil
}

func (e *countingExt) Register(context.Context, wazero.Runtime) error { return nil }

func (e *countingExt) NewGuest(ctx context.Context, g *runtime.Guest) error {
	if runtime.GuestFrom(ctx) != g {
		panic("NewGuest's context does not carry its guest")
	}
	g.SetValue(extKey{}, extState{e})
	e.mu.Lock()
	defer e.mu.Unlock()
	e.guests = append(e.guests, g)
	e.limits = append(e.limits, g.Limits())
	return nil
}

// Each guest gets its own extension state through the hook, under its own
// limits, and the state is closed with the guest.
func TestGuestExtensionState(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtime.NewRuntimeConfig().WithCompilationCache(cache))
	defer r.Close(ctx)
	ext := &countingExt{}
	rt, err := runtime.New(ctx, r, runtime.Config{Limits: runtime.Limits{Handles: 1000}, Extensions: []runtime.Extension{ext}})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(t, "./testdata/hog"))
	if err != nil {
		t.Fatal(err)
	}
	for _, handles := range []int{0, 50} {
		inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Args: []string{"hog", "pollables", "10"}, Limits: runtime.Limits{Handles: handles}})
		if err != nil {
			t.Fatal(err)
		}
		if inst.Guest != ext.guests[len(ext.guests)-1] {
			t.Errorf("instance %d: the hook saw another guest", len(ext.guests))
		}
		if inst.Value(extKey{}) != nil {
			t.Errorf("instance %d: the extension state outlived the guest", len(ext.guests))
		}
	}
	if len(ext.guests) != 2 || ext.guests[0] == ext.guests[1] || ext.closed != 2 {
		t.Errorf("%d guests (distinct: %v), %d states closed; want 2, 2", len(ext.guests), len(ext.guests) == 2 && ext.guests[0] != ext.guests[1], ext.closed)
	}
	if ext.limits[0].Handles != 1000 || ext.limits[1].Handles != 50 || ext.limits[0].Sockets == 0 || ext.limits[0].MemoryPages != runtime.DefaultMemoryPages {
		t.Errorf("limits seen by the hook: %+v, want the runtime's (1000 handles, defaults filled in) then 50 handles", ext.limits)
	}
}

// holdingExt is a GuestExtension that holds sockets for its guests
// (Guest.HoldSocket) as the wasi:tls host holds tunnelled connections,
// and records what the second of two holds under a limit of one said.
type holdingExt struct {
	mu       sync.Mutex
	err      error
	released bool
}

func (e *holdingExt) Register(context.Context, wazero.Runtime) error { return nil }

func (e *holdingExt) NewGuest(_ context.Context, g *runtime.Guest) error {
	release, err := g.HoldSocket()
	if err != nil {
		return err
	}
	_, err = g.HoldSocket()
	release()
	// Given back, the socket may be held again.
	again, err2 := g.HoldSocket()
	if err2 == nil {
		again()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.err, e.released = err, err2 == nil && g.Sockets() == 0
	return nil
}

// TestHoldSocketLimit: a hold past Limits.Sockets fails with an error
// that wraps the socket limit's error code, sockets.NewSocketLimit (an
// extension tells it from its other failures with errors.Is), and names
// the limit and its flag; a hold given back makes room again; the guest,
// a real wasm module, runs.
func TestHoldSocketLimit(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtime.NewRuntimeConfig().WithCompilationCache(cache))
	defer r.Close(ctx)
	ext := &holdingExt{}
	rt, err := runtime.New(ctx, r, runtime.Config{Limits: runtime.Limits{Sockets: 1}, Extensions: []runtime.Extension{ext}})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(t, "./testdata/hog"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Args: []string{"hog", "pollables", "1"}}); err != nil {
		t.Fatal(err)
	}
	ext.mu.Lock()
	defer ext.mu.Unlock()
	if !errors.Is(ext.err, sockets.NewSocketLimit) {
		t.Errorf("the hold past the limit: %v, want an error wrapping sockets.NewSocketLimit", ext.err)
	}
	if ext.err == nil || !strings.Contains(ext.err.Error(), "holds 1 sockets") || !strings.Contains(ext.err.Error(), "--max-sockets") {
		t.Errorf("the hold past the limit does not name the limit and its flag: %v", ext.err)
	}
	if !ext.released {
		t.Error("a socket given back could not be held again")
	}
}

// TestConfigExtensionsCopied: New keeps its own copy of
// Config.Extensions, so an embedder that reuses its slice once the
// runtime is made (another extension in its place, for the next
// runtime) changes nothing for this runtime's guests, as New copies
// Config.Limits. Before, the runtime kept the embedder's slice and called
// NewGuest for each guest on whatever it held then: an extension it never
// registered.
func TestConfigExtensionsCopied(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtime.NewRuntimeConfig().WithCompilationCache(cache))
	defer r.Close(ctx)
	registered, other := &countingExt{}, &countingExt{}
	exts := []runtime.Extension{registered}
	rt, err := runtime.New(ctx, r, runtime.Config{Extensions: exts})
	if err != nil {
		t.Fatal(err)
	}
	exts[0] = other
	compiled, err := r.CompileModule(ctx, []byte("\x00asm\x01\x00\x00\x00"))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{})
	if err != nil {
		t.Fatal(err)
	}
	inst.Close(ctx)
	if len(registered.guests) != 1 || len(other.guests) != 0 {
		t.Errorf("NewGuest called %d times on the registered extension, %d on the one put in its place after New; want 1, 0", len(registered.guests), len(other.guests))
	}
}
