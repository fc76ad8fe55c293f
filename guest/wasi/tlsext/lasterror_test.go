//go:build !wasip1

package tlsext

import (
	"testing"

	"github.com/wasitls/wasitls/guest/wasi/internal/witabi"
)

func TestLastErrorLayout(t *testing.T) {
	r := witabi.Load(t)
	for _, f := range []string{"client-last-error", "server-last-error"} {
		res := witabi.Result(t, r, "wasitls:tls/extensions@0.1.0", f)
		witabi.CheckLayout(t, resultStringErrMem{}, res)
		witabi.CheckOffset(t, resultStringErrMem{}, "Ptr", witabi.PayloadOffset(t, res))
	}
}
