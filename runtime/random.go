package runtime

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	mrand "math/rand/v2"

	"github.com/wasitls/wasitls/cabi"
)

// maxRandomBytes bounds one request for random bytes: more is a guest
// asking the host to allocate without limit.
const maxRandomBytes = 64 << 20

// checkRandomLen traps a request for more random bytes than one call
// returns or than the guest's memory may ever hold, before the host
// allocates them: else a guest held to a small memory could make the host
// allocate and fill 64 MiB at every call, only for its memory to refuse
// the list.
func checkRandomLen(ctx context.Context, fn string, n uint64) {
	if n > maxRandomBytes {
		cabi.Trapf(fn, "request for %d random bytes exceeds the limit of %d", n, maxRandomBytes)
	}
	if g := GuestFrom(ctx); g != nil {
		if mem := uint64(g.limits.MemoryPages) << 16; n > mem {
			cabi.Trapf(fn, "request for %d random bytes is more than the guest's memory may hold, %d bytes (%s)", n, mem, memoryLimitName)
		}
	}
}

// randomHost serves wasi:random/random from crypto/rand.
type randomHost struct{}

func (randomHost) GetRandomBytes(ctx context.Context, n uint64) []byte {
	checkRandomLen(ctx, "wasi:random/random#get-random-bytes", n)
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func (randomHost) GetRandomU64(ctx context.Context) uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// insecureHost serves wasi:random/insecure from math/rand/v2's generator.
type insecureHost struct{}

func (insecureHost) GetInsecureRandomBytes(ctx context.Context, n uint64) []byte {
	checkRandomLen(ctx, "wasi:random/insecure#get-insecure-random-bytes", n)
	b := make([]byte, n)
	for i := 0; i < len(b); i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], mrand.Uint64())
		copy(b[i:], w[:])
	}
	return b
}

func (insecureHost) GetInsecureRandomU64(ctx context.Context) uint64 { return mrand.Uint64() }

// seedHost serves wasi:random/insecure-seed: a random value fixed per
// guest instance.
type seedHost struct{}

func (seedHost) InsecureSeed(ctx context.Context) cabi.Tuple2[uint64, uint64] {
	st := stateFrom(ctx, "wasi:random/insecure-seed#insecure-seed")
	return cabi.Tuple2[uint64, uint64]{F0: st.seed[0], F1: st.seed[1]}
}
