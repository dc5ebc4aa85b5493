// Package cmplugin turns a Go function into a cm WASI plugin: a wasip1 reactor module that cm
// loads in-process, sandboxed, with the network only where the user granted it.
//
// A plugin is a main package with one function and an init registration:
//
//	package main
//
//	import "cm/wasi/cmplugin"
//
//	func Value(t cmplugin.Token) (string, error) {
//		return "the value of " + t.Path, nil
//	}
//
//	func init() { cmplugin.Register(Value) }
//
//	func main() {}
//
// built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o p.wasm .
//
// (-buildmode=c-shared makes a reactor: the host calls _initialize, which runs the package
// inits, main is never called.)
//
// # The ABI
//
// The module exports what configmanager's WASI experiment defined (its seed document), and
// this package implements it:
//
//   - allocate(size u32) u32 and deallocate(ptr, size u32). Unlike the seed's 64 KiB bump arena,
//     each allocation is a Go byte slice kept alive (pinned in a map keyed by its address) until
//     deallocate, so any size works and memory is reused across calls. allocate returns 0 only
//     for a size over [MaxAllocation]; a Go heap that cannot grow any more is a runtime fatal
//     error (the host sees a trap), as Go gives no way to catch it.
//   - strategy_token_value(inPtr, inLen, outPtr, outCap, outLenPtr u32) i32. The input is the
//     JSON of configmanager's MessagExchange, {"token": PATH, "metadata": {K: V}, "version": V},
//     decoded into a [Token] and handed to the registered function. The codes are [Code]'s.
//
// On 0 the value is in the output buffer and its length at *outLenPtr (u32, little-endian).
// On -1 the buffer was too small and *outLenPtr is the length needed; the value is kept, so the
// host's retry with a bigger buffer (the same input) does not call the function again.
//
// # Errors: the reason travels with the code
//
// configmanager's host only knew codes. Here, on every code but 0 and -1, the output buffer
// holds the reason as UTF-8 text and *outLenPtr its length, cut at a character boundary to fit
// outCap (0 when there is nothing to say). cm appends it to configmanager's wording for the
// code, e.g. "failed to retrieve config item: secret not found". An error the function returns
// is -7 ([CodeValueRetrieval]), or -6 ([CodeInitStore], "failed to initialize the client") when
// it is wrapped with [InitError]. A panic is recovered and becomes -4 with its text.
//
// # Network: Transport
//
// A wasip1 module cannot open sockets. [Transport] is an http.RoundTripper over cm's host
// import cm.http_request, which makes the request from cm (TLS with cm's root certificates) to
// hosts the user granted with `cm plugin install --allow-host`. Any Go HTTP client works on it,
// the AWS SDK's too (config.WithHTTPClient(&http.Client{Transport: cmplugin.Transport{}})).
//
// # Environment
//
// os.Getenv works as usual; a module sees only the variables granted with
// `cm plugin install --allow-env NAME`, so an unset variable may mean "not granted". There is
// no file system and no other capability.
package cmplugin
