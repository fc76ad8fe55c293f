package runtime

import "syscall"

// newLinearMemory reserves size bytes of address space, none of it
// accessible or resident yet. When the system refuses the reservation the
// memory is a Go slice instead.
func newLinearMemory(size uint64) *linearMemory {
	if size == 0 {
		return &linearMemory{}
	}
	b, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANON|mapNoReserve)
	if err != nil {
		return &linearMemory{limit: size}
	}
	return &linearMemory{limit: size, buf: b, mapped: true}
}

// unmap releases the reservation. Nothing may run on the memory any more.
func (m *linearMemory) unmap() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mapped {
		syscall.Munmap(m.buf)
		m.mapped, m.buf, m.freed = false, nil, true
	}
}

// commit makes [from, to) readable and writable. The pages read as zero
// and become resident when the guest touches them.
func (m *linearMemory) commit(from, to uint64) error {
	if !m.mapped {
		m.growSlice(to)
		return nil
	}
	return syscall.Mprotect(m.buf[from:to], syscall.PROT_READ|syscall.PROT_WRITE)
}

// decommit gives the committed pages back to the system. The range stays
// mapped, reading as zero, for a guest still running when it was freed.
func (m *linearMemory) decommit() {
	if !m.mapped {
		m.buf = nil // wazero's own reference keeps it for a running guest
		return
	}
	if m.committed > 0 {
		syscall.Madvise(m.buf[:m.committed], syscall.MADV_DONTNEED)
	}
}

// mapNoReserve keeps the reservation out of the system's commit charge:
// only pages the guest touches count.
const mapNoReserve = syscall.MAP_NORESERVE
