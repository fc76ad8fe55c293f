package runtime

import (
	"context"

	"github.com/wasitls/wasitls/bindings/wasi/io/poll"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// pollHost serves wasi:io/poll's freestanding function. The resource
// methods of error, pollable and the streams are methods of the wasiio
// values themselves.
type pollHost struct{}

// Poll implements poll.Host. See wasiio.Wait for the cost model: one
// registration per pollable, no busy wait, every ready index returned.
func (pollHost) Poll(ctx context.Context, in []poll.Pollable) []uint32 {
	return wasiio.Poll(ctx, in)
}
