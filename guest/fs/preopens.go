//go:build wasip1

package wasifs

import (
	"sync"

	"github.com/wasitls/wasitls/guest/wasi/bindings/wasi/filesystem/preopens"
)

var (
	preopenOnce sync.Once
	preopened   []*Dir
)

// Preopens returns the host's preopened directories, in the host's
// order. They are fetched on the first call and kept for the guest's
// lifetime: every call returns the same Dirs, which must not be closed.
func Preopens() []*Dir {
	preopenOnce.Do(func() {
		for _, t := range preopens.GetDirectories() {
			preopened = append(preopened, &Dir{d: t.F0, name: t.F1})
		}
	})
	return preopened
}

// Preopen returns the preopened directory the guest knows as name (such
// as "/data"), or nil.
func Preopen(name string) *Dir {
	for _, d := range Preopens() {
		if d.name == name {
			return d
		}
	}
	return nil
}
