//go:build !wasip1

package tlsdraft

import (
	"testing"

	"github.com/wasitls/wasitls/guest/wasi/internal/witabi"
)

func TestLayouts(t *testing.T) {
	r := witabi.Load(t)
	opt := witabi.Result(t, r, "wasi:tls/types@0.2.0-draft", "[method]future-client-streams.get")
	witabi.CheckLayout(t, futureClientStreamsGetMem{}, opt)
	outer := witabi.Case(t, opt, 1)
	inner := witabi.Case(t, outer, 0)
	off := witabi.PayloadOffset(t, opt)
	witabi.CheckOffset(t, futureClientStreamsGetMem{}, "Outer", off)
	off += witabi.PayloadOffset(t, outer)
	witabi.CheckOffset(t, futureClientStreamsGetMem{}, "Inner", off)
	off += witabi.PayloadOffset(t, inner)
	witabi.CheckOffset(t, futureClientStreamsGetMem{}, "Handles", off)
	tuple := witabi.Case(t, inner, 0)
	offs := witabi.FieldOffsets(t, tuple)
	if offs[1] != 4 || offs[2] != 8 {
		t.Errorf("tuple offsets %v", offs)
	}
	witabi.CheckFits(t, futureClientStreamsGetMem{}, "Handles", tuple)
	witabi.CheckFits(t, futureClientStreamsGetMem{}, "Handles", witabi.Case(t, inner, 1))
}
