package tlshost

import (
	"context"
	"io"
	"testing"

	"github.com/wasitls/wasitls/runtime/wasiio"
)

// TestCloseOutputWrittenAllocatesNothing pins that close-output of a
// cleartext output with nothing left to write sends close_notify without
// the bounded wait: no context with its timer, no ready list (five
// allocations per close before). A close that must wait keeps its bound
// (the send linger tests).
func TestCloseOutputWrittenAllocatesNothing(t *testing.T) {
	fresh := func() *cleartextOutput {
		return &cleartextOutput{OutputStream: wasiio.NewInlineOutputStream(io.Discard, nil, func() error { return nil })}
	}
	made := testing.AllocsPerRun(100, func() { fresh() })
	closed := testing.AllocsPerRun(100, func() {
		if err := closeOutput(context.Background(), fresh()); err != nil {
			t.Fatal(err)
		}
	})
	if closed > made {
		t.Errorf("close-output of a written output: %.0f allocations beyond the stream's own %.0f, want none", closed-made, made)
	}
}
