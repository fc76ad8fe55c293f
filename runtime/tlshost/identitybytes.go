package tlshost

import (
	"context"
	"fmt"
	goruntime "runtime"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/capreport"
	"github.com/wasitls/wasitls/runtime"
)

// Identity bytes.
//
// A private identity a guest parses (private-identity.parse) holds its
// key and chain on the host for as long as anything uses it: the guest's
// handle, and the connections it configured with it, which keep it after
// the handle is dropped. So that a guest cannot make the host hold its
// handle limit's worth of certificate chains (each up to what its memory
// holds), the identities a guest parsed hold at most
// Config.IdentityBytes together, counted as the key and chain bytes it
// passed and chainElemCost per chain element, and what the parse made of
// them, the parsed private key and leaf certificate, as they hold the
// heap (backends.IdentityHeapBytes) with identityParsedBytes beside,
// from the parse until the
// identity is garbage: a cleanup on the leaf certificate's DER, which
// every user of the identity (its chain, the parsed leaf, the backend's
// certificate) shares, gives them back. Past the limit parse fails,
// naming it. The count is per guest, kept in its runtime.Guest;
// identities the host loaded (Config.Identities) do not count.
//
// The bytes passed are counted before the parse, what it made after: a
// parse refused then held what it made only until it returned. Before,
// only the bytes passed counted, and the parsed key and leaf came on top,
// several times their encoding: an Ed25519 identity of 274 bytes held
// 2,000 (7 times), one whose leaf names 4,000 one-letter URIs 39 times
// its 16 KiB, one whose ML-DSA-87 key is a 54-byte seed 15 times its
// 7.7 KiB (the key expands to 106 KiB of matrices).

// chainElemCost is what each element of a chain costs the host beyond its
// bytes, counted with them: its slice header in the identity's chain and
// the rounding of its allocation (35 bytes measured with either backend,
// a 2-byte element included). Before, an element counted its bytes
// alone: a chain of 2-byte DER elements (an empty SEQUENCE passes the
// parse) held 17 times what it counted, 280 MiB under the 16 MiB default.
const chainElemCost = 48

// identityParsedBytes is what a parsed identity holds beside its key,
// leaf and chain: the identity, the guest's resource over it, the handle,
// the cleanup that gives its bytes back.
const identityParsedBytes = 256

// DefaultIdentityBytes is the default of Config.IdentityBytes: 16 MiB,
// room for thousands of ordinary chains (a few KiB each).
const DefaultIdentityBytes = 16 << 20

// identityBytes is one guest's count of identity bytes.
type identityBytes struct{ byteBudget }

type identityBytesKey struct{ h *Host }

func (h *Host) identityBytesLimit() int64 {
	if h.cfg.IdentityBytes > 0 {
		return int64(h.cfg.IdentityBytes)
	}
	return DefaultIdentityBytes
}

// identityBytes returns the count of the guest of a host call (NewGuest
// made it; a guest instantiated without that hook gets it on first use,
// as pending does); a call outside any runtime.Guest traps.
func (h *Host) identityBytes(ctx context.Context, fn string) *identityBytes {
	return guestValue(h.guest(ctx, fn), identityBytesKey{h}, h.newIdentityBytes)
}

// newIdentityBytes is a guest's count of identity bytes.
func (h *Host) newIdentityBytes(g *runtime.Guest) *identityBytes {
	return &identityBytes{byteBudget{limit: h.identityBytesLimit(), caps: capreport.From(g), cap: capreport.IdentityBytes}}
}

// parse counts the n bytes of a parse, or fails naming the limit.
func (b *identityBytes) parse(n int64) error {
	if used, ok := b.take(n); !ok {
		return fmt.Errorf("the guest's private identities would hold %d bytes, more than the %d allowed (tlshost.Config.IdentityBytes, wasitls run --max-identity-bytes)", used, b.limit)
	}
	return nil
}

// hold gives the n bytes back once id is garbage.
func (b *identityBytes) hold(id *backends.Identity, n int64) {
	if len(id.Chain) == 0 || len(id.Chain[0]) == 0 {
		b.give(n) // nothing to follow (no backend returns this)
		return
	}
	goruntime.AddCleanup(&id.Chain[0][0], b.give, n)
}
