package runtime

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"path"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/capreport"
	"github.com/wasitls/wasitls/runtime/filesystem"
	"github.com/wasitls/wasitls/runtime/sockets"
)

// A Guest is the host side of one guest, a core module ([Instance]) or a
// component ([ComponentInstance]), and the one owner of everything the
// host holds for it: the resource table (its cabi.Instance, whose Data is
// the Guest), its [Limits], its network stack with the socket count, its
// memory, its arguments, environment and standard streams, and the
// per-guest state of extensions ([GuestExtension], [Guest.SetValue]).
// Host functions find it with [GuestFrom].
type Guest struct {
	id     uint64
	cabi   *cabi.Instance
	state  *state
	limits Limits
	memory *memoryBudget

	mu     sync.Mutex
	values map[any]any // extension state by key
}

// GuestFrom returns the guest a host call belongs to, from the context of
// the call, or nil outside Runtime.Instantiate and InstantiateComponent.
func GuestFrom(ctx context.Context) *Guest {
	ci := cabi.InstanceFrom(ctx)
	if ci == nil {
		return nil
	}
	g, _ := ci.Data.(*Guest)
	return g
}

// ID returns the number the runtime gave the guest, unique in the
// process: what its log records (capreport) and the network policy's
// denials (sockets.Denial.GuestID) name it by.
func (g *Guest) ID() uint64 { return g.id }

// Cabi returns the guest's canonical ABI state and resource table.
func (g *Guest) Cabi() *cabi.Instance { return g.cabi }

// Limits returns the limits the guest runs under, defaults filled in.
func (g *Guest) Limits() Limits { return g.limits }

// Sockets reports how many sockets the guest holds.
func (g *Guest) Sockets() int { return g.state.stack.Sockets() }

// PoolSockets reports how many units of the runtime's socket pool
// (Config.SocketPool) the guest's sockets hold.
func (g *Guest) PoolSockets() int { return g.state.stack.PoolSockets() }

// PoolLookups reports how many units of the runtime's lookup pool
// (Config.LookupPool) the guest's name lookups hold.
func (g *Guest) PoolLookups() int { return g.state.stack.PoolLookups() }

// HoldSocket counts one more socket against Limits.Sockets for something
// an extension holds for the guest that costs what a connection does
// without being one of its sockets (the wasi:tls host's connection
// tunnelled through another's cleartext); release gives it back, once.
// Past the limit it fails with an error naming it that wraps
// sockets.NewSocketLimit, the error code a socket past it gets (test it
// with errors.Is).
func (g *Guest) HoldSocket() (release func(), err error) {
	release, err = g.state.stack.Hold()
	if err != nil {
		return nil, fmt.Errorf("the guest holds %d sockets, the most allowed (runtime.Limits.Sockets, wasitls run --max-sockets): %w", g.limits.Sockets, err)
	}
	return release, nil
}

// UnsentBytes reports how many bytes the guest's TCP connections hold
// unsent beyond their floors, against Limits.UnsentBytes.
func (g *Guest) UnsentBytes() int64 { return g.state.stack.UnsentBytes() }

// LookupGrants reports how many addresses the guest's name lookups keep
// connectable (Limits.LookupGrants).
func (g *Guest) LookupGrants() int { return g.state.stack.Grants() }

// LookupAddrs reports how many addresses the answers of the guest's name
// lookups hold for it, unread (Limits.LookupAddrs).
func (g *Guest) LookupAddrs() int { return g.state.stack.LookupAddrs() }

// MemoryBytes reports how much linear memory the guest has grown to, every
// memory together.
func (g *Guest) MemoryBytes() uint64 { return g.memory.inUse() }

// SetValue keeps v as the per-guest state of key, typically an extension's
// (see GuestExtension). A v that implements io.Closer is closed when the
// guest is closed, after its resources were dropped.
func (g *Guest) SetValue(key, v any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.values == nil {
		g.values = make(map[any]any)
	}
	g.values[key] = v
}

// Value returns what SetValue kept for key, or nil.
func (g *Guest) Value(key any) any {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.values[key]
}

// newGuest makes the state of a new guest under the runtime's limits and
// cfg's, and returns it with ctx carrying it and the guest's memory
// allocator, for instantiating the guest.
func (rt *Runtime) newGuest(ctx context.Context, cfg ModuleConfig) (*Guest, context.Context, error) {
	lim := rt.cfg.Limits.override(cfg.Limits).withDefaults()
	if err := lim.validate(); err != nil {
		return nil, nil, err
	}
	id := guestIDs.Add(1)
	who := []any{"guest", id}
	if cfg.Name != "" {
		who = append(who, "module", cfg.Name)
	}
	caps := capreport.New(rt.cfg.Logger, who...)
	st, err := newState(rt, cfg, lim, caps)
	if err != nil {
		return nil, nil, fmt.Errorf("runtime: %w", err)
	}
	st.stack.SetGuest(id, cfg.Name)
	g := &Guest{
		id:     id,
		cabi:   cabi.NewInstance(),
		state:  st,
		limits: lim,
		memory: newMemoryBudget(lim.MemoryPages),
		values: map[any]any{capreport.Key: caps},
	}
	g.memory.caps = caps
	g.cabi.Table().SetLimit(lim.Handles, handlesLimitName)
	g.cabi.SetNestingLimit(lim.NestedCalls, nestedLimitName)
	g.cabi.OnLimit(func(name string) {
		switch name {
		case handlesLimitName:
			caps.Refused(capreport.Handles, lim.Handles)
		case nestedLimitName:
			caps.Refused(capreport.NestedCalls, lim.NestedCalls)
		case stackLimitName:
			caps.Refused(capreport.Stack, lim.Stack)
		}
	})
	g.cabi.Data = g
	ctx = cabi.WithInstance(ctx, g.cabi)
	ctx = experimental.WithMemoryAllocator(ctx, g.memory)
	for _, ext := range rt.cfg.Extensions {
		if ge, ok := ext.(GuestExtension); ok {
			if err := ge.NewGuest(ctx, g); err != nil {
				g.close(context.Background())
				return nil, nil, fmt.Errorf("runtime: extension: %w", err)
			}
		}
	}
	return g, ctx, nil
}

// close drops every resource the guest holds, closes its streams and the
// state of extensions. The memory is not released: the guest may still be
// running (see memoryBudget).
func (g *Guest) close(ctx context.Context) error {
	err1 := g.cabi.Close(ctx)
	err2 := g.state.close()
	g.mu.Lock()
	values := g.values
	g.values = nil
	g.mu.Unlock()
	errs := []error{err1, err2}
	for _, v := range values {
		if c, ok := v.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// stateFrom returns the guest state of a host call; a call without one is
// a host module used outside Runtime.Instantiate: a trap.
func stateFrom(ctx context.Context, fn string) *state {
	g := GuestFrom(ctx)
	if g == nil {
		cabi.Trapf(fn, "no runtime state in the context: instantiate guests with runtime.Runtime.Instantiate")
	}
	return g.state
}

// guestIDs numbers the guests of the process, for the records that name
// one (capreport).
var guestIDs atomic.Uint64

func newState(rt *Runtime, cfg ModuleConfig, lim Limits, caps *capreport.Reporter) (*state, error) {
	st := &state{stack: sockets.NewStack(rt.cfg.Network), cfg: shieldStdio(cfg, rt.cfg.Logger)}
	st.stack.SetSocketLimit(lim.Sockets)
	st.stack.SetUDPLimits(lim.Datagram, lim.DatagramQueue)
	st.stack.SetDatagramBytes(lim.DatagramBytes)
	st.stack.SetLookupLimit(lim.Lookups)
	st.stack.SetGrantLimit(lim.LookupGrants)
	st.stack.SetLookupAddrLimit(lim.LookupAddrs)
	st.stack.SetSendLinger(lim.SendLinger)
	st.stack.SetUnsentBytes(lim.UnsentBytes)
	st.stack.SetLogger(rt.cfg.Logger)
	st.stack.SetCapReporter(caps)
	st.stack.SetResolver(rt.cfg.Resolver)
	st.stack.SetSocketPool(rt.cfg.SocketPool)
	st.stack.SetLookupPool(rt.cfg.LookupPool)
	pre := make([]filesystem.Preopen, len(cfg.Dirs))
	at := map[string]string{} // guest path, cleaned: its host directory
	for i, d := range cfg.Dirs {
		// wazero's wasi_snapshot_preview1 keeps one preopen per guest
		// path, the last; wasi:filesystem would list both: a guest
		// would find a different directory, or a writable one for a
		// read-only one, by the interface its libc uses.
		g := path.Clean("/" + d.Guest)
		if other, dup := at[g]; dup {
			return nil, fmt.Errorf("ModuleConfig.Dirs (wasitls run --dir): %s and %s are both preopened at guest path %s: give each its own", other, d.Host, d.Guest)
		}
		at[g] = d.Host
		pre[i] = filesystem.Preopen{Host: d.Host, Guest: d.Guest, ReadOnly: d.ReadOnly}
	}
	fsys, err := filesystem.New(pre)
	if err != nil {
		return nil, err
	}
	fsys.SetLimit(lim.Files)
	// The guest's files and directories draw from the descriptor pool
	// its sockets do, through the same share: one budget, one floor.
	fsys.SetDescriptorBudget(st.stack.Descriptors())
	fsys.SetDiskLimit(lim.DiskBytes)
	fsys.SetDiskFileLimit(lim.DiskFiles)
	fsys.SetCapReporter(caps)
	st.fs = fsys
	var b [16]byte
	rand.Read(b[:])
	for i := range 8 {
		st.seed[0] |= uint64(b[i]) << (8 * i)
		st.seed[1] |= uint64(b[8+i]) << (8 * i)
	}
	return st, nil
}
