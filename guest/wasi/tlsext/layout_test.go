//go:build !wasip1

package tlsext

import (
	"testing"

	"github.com/wasitls/wasitls/guest/wasi/internal/witabi"
)

func TestLayouts(t *testing.T) {
	r := witabi.Load(t)
	const m = "wasitls:tls/extensions@0.1.0"
	for _, f := range []string{
		"configure-client-protocol-versions", "configure-client-cipher-suites",
		"configure-client-groups", "configure-server-protocol-versions",
		"configure-server-cipher-suites", "configure-server-groups",
		"close-client-output", "close-server-output",
	} {
		res := witabi.Result(t, r, m, f)
		witabi.CheckLayout(t, resultStringErrMem{}, res)
		witabi.CheckOffset(t, resultStringErrMem{}, "Ptr", witabi.PayloadOffset(t, res))
	}
	for _, f := range []string{"client-negotiated-group", "server-negotiated-group"} {
		res := witabi.Result(t, r, m, f)
		witabi.CheckLayout(t, optionU16Mem{}, res)
		witabi.CheckOffset(t, optionU16Mem{}, "Value", witabi.PayloadOffset(t, res))
	}
}
