package component

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/cabi"
)

// doublingInstances is a component of n levels, each nesting the one
// below and instantiating it twice: 2^n instances of the innermost,
// which is inner.
func doublingInstances(inner []byte, n int) []byte {
	c := inner
	for range n {
		c = comp(section(secComponent, c),
			section(secInstance, vec(cat([]byte{0x00}, u32(0), vec()), cat([]byte{0x00}, u32(0), vec()))))
	}
	return c
}

// TestHostileInstances checks that a component of a few hundred bytes
// that instantiates its nested components an exponential number of times
// is refused, quickly, rather than run: core instances (each with a
// memory the host allocates), the bytes of their memories and the
// definitions run are counted over the whole instantiation.
func TestHostileInstances(t *testing.T) {
	withMemory := comp(
		section(secCoreModule, core(section(5, vec([]byte{0x00, 0x01})))),
		section(secCoreInstance, vec(cat([]byte{0x00}, u32(0), vec()))),
	)
	// A 1 GiB memory, instantiated 8 times.
	bigMemory := comp(
		section(secCoreModule, core(section(5, vec(cat([]byte{0x00}, u32(1<<14)))))),
		section(secCoreInstance, vec(cat([]byte{0x00}, u32(0), vec()))),
	)
	empty := comp(section(secType, vec([]byte{0x73})))
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"core-instances", doublingInstances(withMemory, 24), "core instances"},
		{"memory", doublingInstances(bigMemory, 3), "MaxInitialMemory"},
		{"definitions", doublingInstances(empty, 60), "definitions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := instantiate(t, tc.b, trapLinker{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one about %s", err, tc.want)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestInstantiateContext checks that the instantiation's context bounds
// it between definitions, not only inside core code: a long one (2^19
// nested instances) stops when the context is cancelled.
func TestInstantiateContext(t *testing.T) {
	c, err := Parse(doublingInstances(comp(section(secType, vec([]byte{0x73}))), 19))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := wazero.NewRuntime(context.Background())
	defer r.Close(context.Background())
	_, err = Instantiate(ctx, r, c, cabi.NewInstance(), trapLinker{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
