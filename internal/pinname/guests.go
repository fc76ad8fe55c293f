package pinname

import (
	"context"
	goruntime "runtime"
	"sync"
	"unsafe"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// Guests' names.
//
// wazero resolves a module's imports by module name against every named
// module instance of its runtime, guests included: a guest instantiated
// with a name (runtime.ModuleConfig.Name) is importable by every module
// instantiated after it, whose imports of its functions, memory, tables
// and globals then reach into it. A guest's name is made by PinGuest,
// which notes its allocation for as long as it lives, so that Guest tells
// a guest's module instance from a host module of the same runtime, and
// Resolver refuses the first as an import.

// guests counts the live names PinGuest made, by the address of their
// bytes. A name's entry leaves with its cleanup, once nothing reaches it:
// while a module instance named with it is reachable, so is the entry.
var guests struct {
	mu sync.Mutex
	m  map[uintptr]int
}

// PinGuest is Pin for the name of a guest's module instance: until release
// runs, Guest reports the module instances named with it.
func PinGuest(name string, release func()) string {
	if name == "" {
		return Pin(name, release) // anonymous: wazero imports nothing from it
	}
	b := make([]byte, max(len(name), minSize))
	copy(b, name)
	at := uintptr(unsafe.Pointer(&b[0]))
	guests.mu.Lock()
	if guests.m == nil {
		guests.m = map[uintptr]int{}
	}
	guests.m[at]++
	guests.mu.Unlock()
	goruntime.AddCleanup(&b[0], forgetGuest, guestRelease{at, release})
	return unsafe.String(&b[0], len(name))
}

// guestRelease is what a guest name's cleanup takes: its address, and the
// caller's release.
type guestRelease struct {
	at      uintptr
	release func()
}

// forgetGuest is the cleanup of a name PinGuest made.
func forgetGuest(g guestRelease) {
	guests.mu.Lock()
	if guests.m[g.at]--; guests.m[g.at] <= 0 {
		delete(guests.m, g.at)
	}
	guests.mu.Unlock()
	g.release()
}

// Guest reports whether m is the module instance of a guest (its name made
// by PinGuest). m may be nil.
func Guest(m api.Module) bool {
	if m == nil || m.Name() == "" {
		return false
	}
	at := uintptr(unsafe.Pointer(unsafe.StringData(m.Name())))
	guests.mu.Lock()
	defer guests.mu.Unlock()
	return guests.m[at] > 0
}

// Resolver returns ctx with an import resolver for instantiating a module
// in r: an import resolves by name in r, as wazero does, except that one
// from a guest's module instance resolves to an empty module, so that the
// instantiation fails. refused then names the guest's module (the first
// such): the caller fails the instantiation whenever it is set, whatever
// wazero returned. The returned done closes the empty module, if one was
// made; call it once the instantiation returned.
func Resolver(ctx context.Context, r wazero.Runtime, refused *string) (_ context.Context, done func()) {
	var empty api.Module
	resolver := func(name string) api.Module {
		if !Guest(r.Module(name)) {
			// wazero's own resolution by name: r.Module wraps a host
			// module in a type wazero's resolver does not take.
			return nil
		}
		if *refused == "" {
			*refused = name
		}
		if empty == nil {
			empty = emptyModule(r)
		}
		if empty == nil {
			// Only a closed runtime makes no module, and instantiates
			// none either: the instantiation fails anyway.
			return r.Module("wasi_snapshot_preview1")
		}
		return empty
	}
	return experimental.WithImportResolver(ctx, resolver), func() {
		if empty != nil {
			empty.Close(context.Background())
		}
	}
}

// emptyModule instantiates an anonymous module with nothing in it (a host
// module must have a name, which would take one of the embedder's); nil
// when r cannot (closed).
func emptyModule(r wazero.Runtime) api.Module {
	ctx := context.Background()
	c, err := r.CompileModule(ctx, []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00})
	if err != nil {
		return nil
	}
	defer c.Close(ctx)
	m, err := r.InstantiateModule(ctx, c, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return nil
	}
	return m
}
