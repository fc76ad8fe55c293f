//go:build wasip1

// Command proxygen is the proxy guest of testdata/proxy written against
// the generated guest bindings of wasi:http/proxy (internal/proxyguest):
// handle reads the request's path, drops the request, and answers through
// the response-outparam with 200 for "/ok", 404 else. Build with
// -buildmode=c-shared.
package main

import (
	"github.com/wasitls/wasitls/cabi/witval"
	incominghandler "github.com/wasitls/wasitls/generator/internal/proxyguest/wasi/http/incoming-handler"
	"github.com/wasitls/wasitls/generator/internal/proxyguest/wasi/http/types"
)

func main() {}

func init() { incominghandler.SetExports(handler{}) }

type handler struct{}

func (handler) Handle(request types.IncomingRequest, out types.ResponseOutparam) {
	path, _ := request.PathWithQuery()
	request.Drop()
	resp := types.NewOutgoingResponse(types.NewFields())
	code := types.StatusCode(404)
	if path == "/ok" {
		code = 200
	}
	if err := resp.SetStatusCode(code); err != nil {
		panic(err)
	}
	types.ResponseOutparamSet(out, witval.OK[types.OutgoingResponse, types.ErrorCode](resp))
}
