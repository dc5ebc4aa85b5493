//go:build wasip1

package cmplugin

import (
	"fmt"
	"unsafe"
)

// cm.http_request: the request record at [req, req+reqLen); cm writes the pending record's
// length at *respLen. Pointer parameters keep the Go objects alive across the call.
//
//go:wasmimport cm http_request
func hostHTTPRequest(req *byte, reqLen uint32, respLen *uint32) int32

// cm.http_response: copies the pending record into [out, out+outCap) and clears it.
//
//go:wasmimport cm http_response
func hostHTTPResponse(out *byte, outCap uint32) int32

// hostExchange makes the two calls of the ABI: the host never calls back into the module
// while an import is on its stack, so the module allocates the response buffer itself, in
// between.
func hostExchange(record []byte) (int32, []byte, error) {
	var pendingLen uint32
	code := hostHTTPRequest(unsafe.SliceData(record), uint32(len(record)), &pendingLen)
	switch code {
	case hostOK, hostNotAllowed, hostBadRequest, hostTransport:
	default:
		return 0, nil, fmt.Errorf("cmplugin: cm.http_request returned unknown code %d", code)
	}
	// A spare byte of capacity: SliceData then points into the slice even when it is empty.
	pending := make([]byte, pendingLen, pendingLen+1)
	if rc := hostHTTPResponse(unsafe.SliceData(pending), pendingLen); rc != hostOK {
		switch rc {
		case hostBufferTooSmall:
			return 0, nil, fmt.Errorf("cmplugin: cm.http_response wants more than the %d bytes cm.http_request announced", pendingLen)
		case hostNothingPending:
			return 0, nil, fmt.Errorf("cmplugin: cm.http_response has no record pending after cm.http_request returned %d", code)
		}
		return 0, nil, fmt.Errorf("cmplugin: cm.http_response returned unknown code %d", rc)
	}
	return code, pending, nil
}
