package runtime_test

import (
	"context"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/runtime"
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
