//go:build !wasip1

package io

import (
	"testing"

	"github.com/wasitls/wasitls/guest/wasi/internal/witabi"
)

func TestLayouts(t *testing.T) {
	r := witabi.Load(t)
	const streams = "wasi:io/streams@0.2.8"

	se := witabi.Type(t, r, streams, "stream-error")
	witabi.CheckLayout(t, streamErrorMem{}, se)
	witabi.CheckOffset(t, streamErrorMem{}, "Handle", witabi.PayloadOffset(t, se))

	read := witabi.Result(t, r, streams, "[method]input-stream.read")
	witabi.CheckLayout(t, resultListStreamError{}, read)
	witabi.CheckOffset(t, resultListStreamError{}, "Payload", witabi.PayloadOffset(t, read))
	witabi.CheckLayout(t, resultListStreamError{}, witabi.Result(t, r, streams, "[method]input-stream.blocking-read"))
	witabi.CheckFits(t, resultListStreamError{}, "Payload", witabi.Case(t, read, 0))
	witabi.CheckFits(t, resultListStreamError{}, "Payload", witabi.Case(t, read, 1))
	witabi.CheckLayout(t, listMem{}, witabi.Case(t, read, 0))

	for _, f := range []string{
		"[method]input-stream.skip", "[method]input-stream.blocking-skip",
		"[method]output-stream.check-write", "[method]output-stream.splice",
		"[method]output-stream.blocking-splice",
	} {
		res := witabi.Result(t, r, streams, f)
		witabi.CheckLayout(t, resultU64StreamError{}, res)
		witabi.CheckOffset(t, resultU64StreamError{}, "Payload", witabi.PayloadOffset(t, res))
		witabi.CheckFits(t, resultU64StreamError{}, "Payload", witabi.Case(t, res, 1))
	}
	for _, f := range []string{
		"[method]output-stream.write", "[method]output-stream.blocking-write-and-flush",
		"[method]output-stream.flush", "[method]output-stream.blocking-flush",
		"[method]output-stream.write-zeroes", "[method]output-stream.blocking-write-zeroes-and-flush",
	} {
		res := witabi.Result(t, r, streams, f)
		witabi.CheckLayout(t, resultUnitStreamError{}, res)
		witabi.CheckOffset(t, resultUnitStreamError{}, "Payload", witabi.PayloadOffset(t, res))
		witabi.CheckFits(t, resultUnitStreamError{}, "Payload", witabi.Case(t, res, 1))
	}
	witabi.CheckLayout(t, listMem{}, witabi.Result(t, r, "wasi:io/poll@0.2.8", "poll"))
	witabi.CheckLayout(t, listMem{}, witabi.Result(t, r, "wasi:io/error@0.2.8", "[method]error.to-debug-string"))
}
