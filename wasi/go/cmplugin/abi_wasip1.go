//go:build wasip1

package cmplugin

import (
	"encoding/binary"
	"unsafe"
)

// The module's exports. They live in this package, not in the plugin's main package: Go
// 1.24's //go:wasmexport works in any package linked into the module.

var (
	buffers pins
	current instance
)

//go:wasmexport allocate
func allocate(size uint32) uint32 {
	return uint32(buffers.alloc(size))
}

//go:wasmexport deallocate
func deallocate(ptr, _ uint32) {
	buffers.free(uintptr(ptr))
}

//go:wasmexport strategy_token_value
func strategyTokenValue(inPtr, inLen, outPtr, outCap, outLenPtr uint32) int32 {
	current.value = registered
	r := current.call(linear(inPtr, inLen), outCap)
	copy(linear(outPtr, outCap), r.out)
	// The seed skips a null length cell; Go never places an object at address 0.
	if outLenPtr != 0 {
		binary.LittleEndian.PutUint32(linear(outLenPtr, 4), r.outLen)
	}
	return int32(r.code)
}

// linear is the module's linear memory at [ptr, ptr+n): the host names buffers by their
// wasm32 address, which is what a Go pointer is in this module. An address past the memory's
// end traps, which the host reports.
func linear(ptr, n uint32) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(nil), uintptr(ptr))), n)
}
