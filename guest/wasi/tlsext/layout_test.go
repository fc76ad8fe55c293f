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
	const m2 = "wasitls:tls/extensions@0.2.0"
	for _, f := range []string{"allowed-algorithms", "default-algorithms"} {
		witabi.CheckLayout(t, algorithmsMem{}, witabi.Result(t, r, m2, f))
	}
	for _, f := range []string{"client-hello-versions", "client-hello-groups", "client-hello-signature-schemes",
		"client-identity-request-signature-schemes", "client-identity-request-authorities"} {
		witabi.CheckLayout(t, listMem{}, witabi.Result(t, r, m2, f))
	}
	res := witabi.Result(t, r, m2, "parse-private-identity")
	witabi.CheckLayout(t, resultHandleStringMem{}, res)
	witabi.CheckOffset(t, resultHandleStringMem{}, "Ptr", witabi.PayloadOffset(t, res))
	res = witabi.Result(t, r, m2, "host-identity")
	witabi.CheckLayout(t, optionHandleMem{}, res)
	witabi.CheckOffset(t, optionHandleMem{}, "Handle", witabi.PayloadOffset(t, res))
	for _, f := range []string{"export-client-keying-material", "export-server-keying-material"} {
		res := witabi.Result(t, r, m2, f)
		witabi.CheckLayout(t, resultStringErrMem{}, res)
		witabi.CheckOffset(t, resultStringErrMem{}, "Ptr", witabi.PayloadOffset(t, res))
	}
}
