package component

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
)

// recordLinker is trapLinker noting what it resolves, as iface#name.
type recordLinker struct{ names *[]string }

func (l recordLinker) Resolve(module, name string, params, results []api.ValueType) (cabi.HostFunc, error) {
	*l.names = append(*l.names, module+"#"+name)
	return trapLinker{}.Resolve(module, name, params, results)
}

// doublingInstances is a component whose type 0 is an instance type
// exporting "f", a func(), and each type k up to n an instance type
// exporting two instances, "a" and "b", of type k-1 (an outer alias); it
// imports type n as many times as imports says, under the names xaaa,
// xbaa, ...: a few bytes a type, 2^n instances when expanded. It then
// aliases "a" of the first import n times, down to an instance of type
// 0, and lowers its "f".
func doublingInstances(n, imports int) []byte {
	types := [][]byte{cat([]byte{0x42}, vec(
		[]byte{0x01, 0x40, 0x00, 0x01, 0x00}, // type 0: func()
		cat([]byte{0x04, 0x00}, name("f"), []byte{0x01}, u32(0)),
	))}
	for k := 1; k <= n; k++ {
		types = append(types, cat([]byte{0x42}, vec(
			cat([]byte{0x02, 0x03, 0x02}, u32(1), u32(uint32(k-1))), // alias outer type k-1: type 0
			cat([]byte{0x04, 0x00}, name("a"), []byte{0x05}, u32(0)),
			cat([]byte{0x04, 0x00}, name("b"), []byte{0x05}, u32(0)),
		)))
	}
	var imps [][]byte
	for i := range imports {
		imps = append(imps, cat([]byte{0x00}, name("x"+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676))), []byte{0x05}, u32(uint32(n))))
	}
	aliases := [][]byte{cat([]byte{0x05, 0x00}, u32(0), name("a"))}
	for k := 1; k < n; k++ {
		aliases = append(aliases, cat([]byte{0x05, 0x00}, u32(uint32(imports+k-1)), name("a")))
	}
	aliases = append(aliases, cat([]byte{0x01, 0x00}, u32(uint32(imports+n-1)), name("f"))) // func 0
	return comp(section(secType, vec(types...)), section(secImport, vec(imps...)),
		section(secAlias, vec(aliases...)),
		section(secCanon, vec(cat([]byte{0x01, 0x00}, u32(0), vec()))))
}

// TestHostileInstanceTypes checks that importing an instance type costs
// the host what its bytes do, not what it is expanded: an instance type
// exporting two instances of the one before, 64 levels deep (2^64
// instances), imported 2,000 times, instantiates at once, and the
// function the innermost instance exports is reached by aliases and
// lowered, bound to the first import's interface. Before,
// each import walked and built the whole expansion: the instantiation
// never ended, allocating until the process was killed, out of reach of
// its context (one definition).
func TestHostileInstanceTypes(t *testing.T) {
	b := doublingInstances(64, 2000)
	var resolved []string
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		inst, err := instantiate(t, b, recordLinker{&resolved})
		if err == nil {
			inst.Close(ctx)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"xaaa#f"}; !slices.Equal(resolved, want) {
			t.Errorf("resolved %v, want %v", resolved, want)
		}
	case <-ctx.Done():
		t.Fatal("instantiating the imports did not end in 30 s")
	}
}
