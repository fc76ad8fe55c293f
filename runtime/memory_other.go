//go:build !(linux || darwin)

package runtime

// newLinearMemory returns a memory backed by a Go slice whose capacity is
// the limit: growth never copies, and the Go runtime maps the untouched
// part lazily.
func newLinearMemory(size uint64) *linearMemory {
	return &linearMemory{reserved: make([]byte, size)}
}

func (m *linearMemory) commit(from, to uint64) error { return nil }

func (m *linearMemory) decommit() {}

func (m *linearMemory) unmap() {}
