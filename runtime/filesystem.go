package runtime

import (
	"context"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
	"github.com/wasitls/wasitls/cabi"
)

// preopensHost serves wasi:filesystem/preopens from the guest's FS.
type preopensHost struct{}

func (preopensHost) GetDirectories(ctx context.Context) []cabi.Tuple2[types.Descriptor, string] {
	return stateFrom(ctx, "wasi:filesystem/preopens#get-directories").fs.Directories()
}
