//go:build !linux

package runtime

// newLinearMemory returns a memory backed by a Go slice grown up to size
// bytes.
func newLinearMemory(size uint64) *linearMemory { return &linearMemory{limit: size} }

func (m *linearMemory) commit(from, to uint64) error {
	m.growSlice(to)
	return nil
}

// decommit lets the collector have the memory once wazero, which holds it
// for a guest still running, lets go of it too.
func (m *linearMemory) decommit() { m.buf = nil }

func (m *linearMemory) unmap() {}
