module cm/wasi

// 1.24: //go:wasmexport, which makes a reactor module's exports.
go 1.24
