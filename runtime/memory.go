package runtime

import (
	"sync"

	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasitls/wasitls/internal/capreport"
)

// Guest memory.
//
// wazero's own linear memory is a Go slice that grows by append: each
// memory.grow past its capacity allocates a larger slice and copies the
// old one into it, and the old one stays on the Go heap until a collection
// frees it. A guest growing to 1 GiB that way made the host peak at 3.4
// GiB resident, one growing to 4 GiB at about 17 GB. Instead, each guest
// gets a memoryBudget as its wazero memory allocator: every linear memory
// is one reservation of address space, made accessible as the guest grows,
// so growing never copies, nothing is on the Go heap, and the host's
// resident memory is what the guest touched. The budget holds the guest's
// memories together to Limits.MemoryPages as they grow (a component may
// have several). It allows the first allocation of a memory, its declared
// minimum, whatever it holds already (wazero cannot fail it): what the
// memories start with is bounded before they are made, by checkMemory for
// a core module and, for a component, by its instantiation, which counts
// the minimums of its core instances' memories together
// (component.Options.InitialMemory).
//
// On Linux a memory is an anonymous mapping reserved up front
// (address space only, MAP_NORESERVE); on other systems, or when the
// system refuses the reservation, it is a Go slice grown by doubling up to
// the limit, as wazero's own (bounded, but copied on growth). Free gives
// the pages back at once. wazero may free a memory while the guest still
// runs on another goroutine (Close during a call), and an embedder may
// still read it through an api.Module or api.Memory it kept (a host
// function's), so the mapping stays, reading as zero, until release: when
// no module instance of the guest is reachable, closed or not, its
// instantiation failed or not. Each is named with a string pinned to the
// release (internal/pinname): a core module's its ModuleConfig.Name, a
// component's core instances one empty name (component.Options.Released).
// A module instance holds its name for as long as it is reachable, as do
// its memory (through the instance's engine) and its functions; wazero
// returns no module instance when its instantiation fails, and drops the
// memory's allocator (the linearMemory) as it closes the module, so
// neither could carry the cleanup.

// A memoryBudget is the memory allocator of one guest.
type memoryBudget struct {
	mu       sync.Mutex
	limit    uint64 // bytes, every memory together
	used     uint64 // bytes committed, every memory together
	memories []*linearMemory
	released bool
	caps     *capreport.Reporter // told of each growth refused for the limit
}

var _ experimental.MemoryAllocator = (*memoryBudget)(nil)

func newMemoryBudget(pages uint32) *memoryBudget {
	return &memoryBudget{limit: uint64(pages) << 16}
}

// Allocate implements experimental.MemoryAllocator: it reserves the
// memory's maximum, or the guest's limit when that is less.
func (b *memoryBudget) Allocate(capBytes, maxBytes uint64) experimental.LinearMemory {
	// A declared minimum above the limit is refused before instantiation
	// (Limits.checkMemory) for exported memories; for any other, honour
	// the minimum and allow no growth, rather than fail inside wazero.
	size := max(min(maxBytes, b.limit), capBytes)
	m := newLinearMemory(size)
	m.budget = b
	b.mu.Lock()
	b.memories = append(b.memories, m)
	b.mu.Unlock()
	return m
}

// grow accounts for n more committed bytes, or reports that the limit does
// not allow them. The first allocation of a memory, its declared minimum,
// is always allowed.
func (b *memoryBudget) grow(n uint64, first bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !first && b.used+n > b.limit {
		b.caps.Refused(capreport.MemoryPages, b.limit>>16)
		return false
	}
	b.used += n
	return true
}

func (b *memoryBudget) shrink(n uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
}

func (b *memoryBudget) inUse() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// release unmaps every memory of the guest. Nothing may run on them any
// more.
func (b *memoryBudget) release() {
	b.mu.Lock()
	memories := b.memories
	b.memories, b.released = nil, true
	b.mu.Unlock()
	for _, m := range memories {
		m.unmap()
	}
}

// A linearMemory is one guest memory of at most limit bytes. The guest's
// goroutine grows it while another may free it, hence the mutex.
type linearMemory struct {
	budget *memoryBudget
	limit  uint64 // the reservation: most bytes the memory grows to

	mu        sync.Mutex
	buf       []byte // the mmap reservation, or the Go slice so far
	committed uint64 // bytes usable by the guest
	started   bool   // the first Reallocate, the declared minimum, happened
	freed     bool
	mapped    bool // buf is an mmap region, not a Go slice
}

// growSlice grows a Go slice memory to n bytes, doubling its capacity up
// to the limit.
func (m *linearMemory) growSlice(n uint64) {
	if n <= uint64(cap(m.buf)) {
		m.buf = m.buf[:n]
		return
	}
	b := make([]byte, n, min(max(n, 2*uint64(cap(m.buf))), m.limit))
	copy(b, m.buf)
	m.buf = b
}

// Reallocate implements experimental.LinearMemory: it grows the memory to
// size bytes, or returns nil past the reservation, past the guest's
// budget, or after Free.
func (m *linearMemory) Reallocate(size uint64) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.freed {
		return nil
	}
	if size > m.limit {
		// wazero refuses growth past the memory's declared maximum
		// itself: the reservation, below it, is the guest's limit.
		m.budget.caps.Refused(capreport.MemoryPages, m.budget.limit>>16)
		return nil
	}
	if size > m.committed {
		if !m.budget.grow(size-m.committed, !m.started) {
			return nil
		}
		if err := m.commit(m.committed, size); err != nil {
			m.budget.shrink(size - m.committed)
			return nil
		}
		m.committed = size
	}
	m.started = true
	return m.buf[:size:size]
}

// Free implements experimental.LinearMemory: it gives the pages back to
// the system now, and the reservation at release.
func (m *linearMemory) Free() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.freed {
		return
	}
	m.freed = true
	m.decommit()
	m.budget.shrink(m.committed)
}
