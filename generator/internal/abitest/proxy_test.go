package abitest

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasitls/wasitls/cabi"
	incominghandler "github.com/wasitls/wasitls/generator/internal/proxy/wasi/http/incoming-handler"
	"github.com/wasitls/wasitls/generator/internal/proxy/wasi/http/types"
	"github.com/wasitls/wasitls/internal/guestbuild"
)

// The part of wasi:http/types the proxy guest uses. The embedded
// interfaces stay nil: a call of anything else panics, which the glue
// turns into a trap failing the test.
type httpHost struct {
	types.Host
	response *outgoingResponse // set by response-outparam.set
	outs     int               // response-outparams dropped
}

type incomingRequest struct {
	types.IncomingRequest
	path    string
	dropped bool
}

func (r *incomingRequest) PathWithQuery(context.Context) (string, bool) { return r.path, true }
func (r *incomingRequest) Drop()                                        { r.dropped = true }

type fields struct{ types.Fields }

func (*fields) Drop() {}

type outgoingResponse struct {
	types.OutgoingResponse
	headers types.Headers
	status  uint16
}

func (r *outgoingResponse) SetStatusCode(_ context.Context, code uint16) error {
	r.status = code
	return nil
}
func (r *outgoingResponse) Drop() { r.headers.Drop() }

type responseOutparam struct {
	types.ResponseOutparam
	h *httpHost
}

func (o *responseOutparam) Drop() { o.h.outs++ }

func (h *httpHost) NewFields(context.Context) types.Fields { return &fields{} }

func (h *httpHost) NewOutgoingResponse(_ context.Context, headers types.Headers) types.OutgoingResponse {
	return &outgoingResponse{headers: headers, status: 200}
}

func (h *httpHost) ResponseOutparamSet(_ context.Context, out types.ResponseOutparam, resp cabi.Result[types.OutgoingResponse, types.ErrorCode]) {
	out.Drop()
	if r, _, isErr := resp.Get(); !isErr {
		h.response = r.(*outgoingResponse)
	}
}

// TestProxyHandle calls the wasi:http/proxy export incoming-handler.handle
// of two Go guests through the generated host bindings (internal/proxy):
// one writes the Canonical ABI by hand (testdata/proxy), the other uses
// the generated guest bindings (testdata/proxygen, internal/proxyguest).
// The request and the response-outparam go in as own host resources, the
// guest answers through response-outparam.set.
func TestProxyHandle(t *testing.T) {
	for _, guest := range []string{"./testdata/proxy", "./testdata/proxygen"} {
		t.Run(guest[len("./testdata/"):], func(t *testing.T) { proxyHandle(t, guest) })
	}
}

func proxyHandle(t *testing.T, guest string) {
	ctx := context.Background()
	r := newRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	h := &httpHost{}
	if err := types.Register(ctx, r, h); err != nil {
		t.Fatal(err)
	}
	wasm := guestbuild.MustBuild(t, guest, "-buildmode=c-shared")
	inst := cabi.NewInstance()
	ctx = cabi.WithInstance(ctx, inst)
	mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithStartFunctions("_initialize"))
	if err != nil {
		t.Fatal(err)
	}
	x, err := incominghandler.Bind(inst, mod, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want uint16
	}{{"/ok", 200}, {"/missing?q=ü", 404}} {
		h.response = nil
		req := &incomingRequest{path: tc.path}
		if err := x.Handle(ctx, req, &responseOutparam{h: h}); err != nil {
			t.Fatalf("handle %s: %v", tc.path, err)
		}
		if h.response == nil || h.response.status != tc.want {
			t.Errorf("handle %s: response %+v, want status %d", tc.path, h.response, tc.want)
		}
		if !req.dropped {
			t.Errorf("handle %s: the guest did not drop the request", tc.path)
		}
	}
	if h.outs != 2 || inst.Table().Len() != 0 {
		t.Errorf("%d response-outparams dropped, %d handles left; want 2 and 0", h.outs, inst.Table().Len())
	}
}
