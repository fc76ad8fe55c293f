//go:build !wasip1

package tls

import (
	"testing"

	"github.com/wasitls/wasitls/guest/wasi/internal/witabi"
)

func TestLayouts(t *testing.T) {
	r := witabi.Load(t)
	const m = "wasi:tls/tls@0.2.0-pr104"
	checks := []struct {
		v     any
		field string
		funcs []string
	}{
		{listMem{}, "", []string{
			"[method]public-identity.export-X509-chain", "[method]client-hello.alpn-ids",
			"[method]client-hello.cipher-suites",
		}},
		{resultHandleMem{}, "Handle", []string{
			"[static]private-identity.parse", "[method]client-connection.connect",
			"[method]client-connection.client-identity", "[method]client-connection.server-identity",
			"[method]client-handshake.verify-server-identity",
			"[method]client-handshake.receive-client-identity-request",
			"[method]server-connection.accept", "[method]server-connection.request-client-identity",
			"[method]server-connection.client-identity", "[method]server-connection.server-identity",
			"[method]server-handshake.receive-client-hello",
			"[method]server-handshake.request-client-identity",
		}},
		{optionListMem{}, "List", []string{
			"[method]client-connection.server-name", "[method]client-connection.alpn-id",
			"[method]server-connection.server-name", "[method]server-connection.alpn-id",
			"[method]client-hello.server-name",
		}},
		{optionU16Mem{}, "Value", []string{
			"[method]client-connection.protocol-version", "[method]client-connection.cipher-suite",
			"[method]server-connection.protocol-version", "[method]server-connection.cipher-suite",
		}},
	}
	for _, c := range checks {
		for _, f := range c.funcs {
			res := witabi.Result(t, r, m, f)
			witabi.CheckLayout(t, c.v, res)
			if c.field != "" {
				witabi.CheckOffset(t, c.v, c.field, witabi.PayloadOffset(t, res))
			}
		}
	}

	// The futures: option<result<result<T>>>, each level's payload offset.
	futures := []struct {
		v     any
		get   string
		inner string // field holding T
	}{
		{futureStreamsGetMem{}, "[method]future-streams.get", "Handles"},
		{futureHandleGetMem{}, "[method]future-client-hello.get", "Handle"},
		{futureOptionHandleGetMem{}, "[method]future-public-identity.get", "Option"},
		{futureOptionHandleGetMem{}, "[method]future-client-identity-request.get", "Option"},
	}
	for _, f := range futures {
		opt := witabi.Result(t, r, m, f.get)
		witabi.CheckLayout(t, f.v, opt)
		outer := witabi.Case(t, opt, 1)
		inner := witabi.Case(t, outer, 0)
		value := witabi.Case(t, inner, 0)
		off := witabi.PayloadOffset(t, opt)
		witabi.CheckOffset(t, f.v, "Outer", off)
		off += witabi.PayloadOffset(t, outer)
		witabi.CheckOffset(t, f.v, "Inner", off)
		off += witabi.PayloadOffset(t, inner)
		witabi.CheckOffset(t, f.v, f.inner, off)
		if f.inner == "Option" {
			witabi.CheckLayout(t, resultHandleMem{}, value)
			witabi.CheckOffset(t, resultHandleMem{}, "Handle", witabi.PayloadOffset(t, value))
		}
		if f.inner == "Handles" {
			offs := witabi.FieldOffsets(t, value)
			if offs[1]-offs[0] != 4 {
				t.Errorf("tuple<input-stream, output-stream> offsets %v", offs)
			}
		}
	}
}
