// Command echo is the smallest cm WASI plugin on package cmplugin: the value of a token is its
// path, and `[fail=init]` or `[fail=value]` make it fail with -6 or -7. cm's WASI benchmark
// (benches/wasi.rs) times it: with no store behind it, what is measured is cm and the runtime.
//
// Build (from wasi/go):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o echo.wasm ./examples/echo
package main

import (
	"errors"

	"cm/wasi/cmplugin"
)

// Value answers with the token's path.
func Value(t cmplugin.Token) (string, error) {
	switch t.Metadata["fail"] {
	case "init":
		return "", cmplugin.InitError(errors.New("asked to fail at init"))
	case "value":
		return "", errors.New("asked to fail")
	}
	return t.Path, nil
}

func init() { cmplugin.Register(Value) }

// main is never called: -buildmode=c-shared makes a reactor, whose _initialize runs the inits.
func main() {}
