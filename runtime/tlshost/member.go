package tlshost

import (
	"context"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/runtime"
)

// Which guests a host serves.
//
// Host modules belong to the wazero.Runtime: every runtime.Runtime made
// over it links its core modules' wasi:tls imports to the one host
// registered there. A host a runtime.Runtime registered (tlshost.New in its
// Config.Extensions) serves the guests that runtime made, which its
// NewGuest marked, and traps on a call from any other: that guest's
// runtime was not given wasi:tls, and the host's settings (its trust
// anchors, its identities held by name, InsecureSkipVerify) are another
// runtime's. Membership is by extension: one tlshost.New listed by
// several Runtimes, each over a wazero runtime of its own, registers a
// host in each (the last one is the extension's, whose NewGuest marks
// the guests), and every one of them serves the guests of them all,
// whose settings are the same. A host the embedder registered itself
// (Host.Register) serves every guest of the wazero runtime, as it was
// asked to.

// memberKey marks, in a runtime.Guest, that a runtime listing ext made
// the guest.
type memberKey struct{ ext *extension }

// guest returns the runtime.Guest of a host call, trapping for a call
// outside any runtime.Guest and for a guest h does not serve.
func (h *Host) guest(ctx context.Context, fn string) *runtime.Guest {
	g := runtime.GuestFrom(ctx)
	if g == nil {
		cabi.Trapf(fn, "no runtime.Guest in the context: instantiate guests with runtime.Runtime.Instantiate")
	}
	h.admit(g, fn)
	return g
}

// admitCaller traps when the call comes from a guest h does not serve; a
// call outside any runtime.Guest passes (the caller decides what that
// means).
func (h *Host) admitCaller(ctx context.Context, fn string) {
	if g := runtime.GuestFrom(ctx); g != nil {
		h.admit(g, fn)
	}
}

// dropOnTrap runs check, which may trap, for a constructor the guest
// gave its streams (in and out): on a trap it drops them first. The
// generated glue moved them out of the guest's table before the call, so
// the instance's close does not drop them, and without this the
// connection their socket had (which the streams hold open) would stay
// open behind the trapped guest until the garbage collector found them.
func dropOnTrap(in, out cabi.Resource, check func()) {
	defer func() {
		if r := recover(); r != nil {
			in.Drop()
			out.Drop()
			panic(r)
		}
	}()
	check()
}

// admit traps unless h serves g.
func (h *Host) admit(g *runtime.Guest, fn string) {
	if h.ext != nil && g.Value(memberKey{h.ext}) == nil {
		cabi.Trapf(fn, "the guest's runtime.Runtime has no wasi:tls host: the one in its wazero runtime was "+
			"registered by another runtime.Runtime (tlshost.New in that one's Config.Extensions), whose TLS "+
			"settings and identities are not this guest's; give this Runtime a wazero.Runtime of its own "+
			"with tlshost.New in its Config.Extensions")
	}
}
