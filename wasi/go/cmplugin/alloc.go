package cmplugin

import (
	"sync"
	"unsafe"
)

// MaxAllocation is the largest size allocate grants; over it, allocate returns 0. It leaves
// room in a 4 GiB wasm32 memory for the Go runtime and a second buffer of the same size (the
// host's input and output); cm's own records are far smaller (responses are capped at 16 MiB).
const MaxAllocation = 1 << 30

// pins keeps the buffers handed to the host alive: the Go GC does not move objects, so a
// buffer's address stays valid as long as something references it, and the host's address is
// the only reference until deallocate.
type pins struct {
	mu   sync.Mutex
	live map[uintptr][]byte
}

// alloc is allocate: a zeroed buffer of size bytes (one byte for 0, so that every grant is a
// distinct, non-zero address), or 0 over MaxAllocation.
func (p *pins) alloc(size uint32) uintptr {
	if size > MaxAllocation {
		return 0
	}
	buf := make([]byte, max(size, 1))
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live == nil {
		p.live = make(map[uintptr][]byte)
	}
	p.live[addr] = buf
	return addr
}

// free is deallocate: the buffer at addr may be collected. The size is the ABI's, and unused:
// the map knows it. An address that was never granted, or is freed twice, is ignored, as
// free(NULL) is: the host's bookkeeping is not the module's to police.
func (p *pins) free(addr uintptr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.live, addr)
}

// count is the number of live buffers.
func (p *pins) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.live)
}
