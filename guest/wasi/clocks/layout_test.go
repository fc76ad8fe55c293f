//go:build !wasip1

package clocks

import (
	"testing"

	"github.com/wasitls/wasitls/guest/wasi/internal/witabi"
)

func TestLayouts(t *testing.T) {
	r := witabi.Load(t)
	dt := witabi.Result(t, r, "wasi:clocks/wall-clock@0.2.8", "now")
	witabi.CheckLayout(t, datetimeMem{}, dt)
	off := witabi.FieldOffsets(t, dt)
	witabi.CheckOffset(t, datetimeMem{}, "Seconds", off[0])
	witabi.CheckOffset(t, datetimeMem{}, "Nanoseconds", off[1])
}
