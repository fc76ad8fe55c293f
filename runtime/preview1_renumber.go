package runtime

import (
	"context"

	"github.com/tetratelabs/wazero/api"
)

const (
	renumberName = "fd_renumber"
	errnoBadf    = 8

	// renumberFallback bounds fd_renumber's target for a call whose
	// context names no guest (an export called straight through wazero
	// with a context of the embedder's), whose limits are unknown.
	renumberFallback = 1 << 16
)

// boundRenumber is fd_renumber(from, to) that answers EBADF, before
// wazero runs, for a target beyond every descriptor the guest can hold
// (renumberBound), as dup2 does for one past RLIMIT_NOFILE. wazero's
// descriptor table grows to hold the target, one 8-byte entry for each
// number below it, and keeps them for the guest's life: a guest of one
// page renumbering a file to 2^24 made the host hold 129 MiB, to 2^31-1
// 16 GiB, past every cap and in one call.
func boundRenumber(fn api.GoModuleFunction) api.GoModuleFunction {
	return api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		if uint64(uint32(stack[1])) >= renumberBound(GuestFrom(ctx)) {
			stack[0] = errnoBadf
			return
		}
		fn.Call(ctx, mod, stack)
	})
}

// renumberBound is one past the highest descriptor number g may hold:
// wazero numbers descriptors from the lowest free one, and g holds the
// three standard streams, its preopens and at most Limits.Files files;
// Limits.Sockets more leave room for sockets an embedder gives it through
// ModuleConfig.Configure. Without a guest it is renumberFallback.
func renumberBound(g *Guest) uint64 {
	if g == nil {
		return renumberFallback
	}
	l := g.limits // defaults filled in
	return 3 + uint64(len(g.state.cfg.Dirs)) + uint64(max(l.Files, 0)) + uint64(max(l.Sockets, 0))
}
