package cmplugin

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Token is one value to fetch: configmanager's MessagExchange, as the host sends it.
type Token struct {
	// Path is the token's path, between the prefix's "://" and the "|" of a key path or the
	// "[" of its metadata: for VAULT://secret___app/db|pw[version=2], "secret___app/db".
	// (configmanager's MessagExchange calls it Token.)
	Path string `json:"token"`
	// Metadata holds the token's key=value pairs, [version=2,role=r] as {"version": "2",
	// "role": "r"}; nil when the token has none.
	Metadata map[string]string `json:"metadata,omitempty"`
	// Version is the "version" metadata's value, or "".
	Version string `json:"version"`
}

// ValueFunc is a plugin: the value for a token (any text: cm applies a key path to JSON
// values itself), or why there is none. Wrap a failure to set up the client with [InitError].
type ValueFunc func(Token) (string, error)

// registered is the plugin's function, set once by Register from an init function.
var registered ValueFunc

// Register makes fn the module's plugin. Call it once, from an init function: the host runs
// the inits (through _initialize) before its first call. A second call panics, as two plugins
// in one module is a bug that would otherwise pass unnoticed.
func Register(fn ValueFunc) {
	if fn == nil {
		panic("cmplugin.Register: nil function")
	}
	if registered != nil {
		panic("cmplugin.Register called twice")
	}
	registered = fn
}

// instance is the per-module-instance state of strategy_token_value.
type instance struct {
	value ValueFunc
	// The last value that did not fit (code -1), and the input it answered: the host's retry
	// sends the same input with a bigger buffer, and must not cost a second fetch.
	tooBigInput string
	tooBigValue []byte
}

// reply is one call's answer: the code, the bytes to copy into the output buffer (at most
// outCap of them) and the u32 to store at *outLenPtr.
type reply struct {
	code   Code
	out    []byte
	outLen uint32
}

// call answers one strategy_token_value call for input, given an output buffer of outCap
// bytes. It never panics: the function's panics become CodeInternal.
func (in *instance) call(input []byte, outCap uint32) reply {
	if len(input) == 0 {
		in.tooBigValue = nil
		return reply{code: CodeEmptyInput}
	}
	if in.tooBigValue != nil {
		value := in.tooBigValue
		same := in.tooBigInput == string(input)
		in.tooBigInput, in.tooBigValue = "", nil
		if same {
			return fit(CodeOK, value, outCap)
		}
	}
	if !utf8.Valid(input) {
		return reply{code: CodeInvalidUTF8}
	}
	var token Token
	if err := json.Unmarshal(input, &token); err != nil {
		return fit(CodeUnmarshal, []byte(err.Error()), outCap)
	}
	if in.value == nil {
		return fit(CodeInternal, []byte("no Value function is registered: call cmplugin.Register(Value) in an init function"), outCap)
	}
	value, err := in.run(token)
	if p, ok := err.(panicked); ok {
		return fit(CodeInternal, []byte(p.Error()), outCap)
	}
	if err != nil {
		return fit(codeFor(err), []byte(err.Error()), outCap)
	}
	r := fit(CodeOK, []byte(value), outCap)
	if r.code == CodeBufferTooSmall {
		in.tooBigInput, in.tooBigValue = string(input), []byte(value)
	}
	return r
}

// panicked is a panic of the plugin's function, recovered.
type panicked struct{ value any }

func (p panicked) Error() string { return fmt.Sprintf("panic: %v", p.value) }

// run calls the plugin's function, turning a panic into an error instead of a trap.
func (in *instance) run(token Token) (value string, err error) {
	defer func() {
		if p := recover(); p != nil {
			value, err = "", panicked{p}
		}
	}()
	return in.value(token)
}

// fit shapes a reply for a buffer of outCap bytes: a value that does not fit is
// CodeBufferTooSmall with the length needed; a reason that does not fit is cut at a character
// boundary, since it is only there to be read.
func fit(code Code, payload []byte, outCap uint32) reply {
	if uint64(len(payload)) <= uint64(outCap) {
		return reply{code: code, out: payload, outLen: uint32(len(payload))}
	}
	if code == CodeOK {
		return reply{code: CodeBufferTooSmall, outLen: uint32(len(payload))}
	}
	cut := int(outCap)
	for cut > 0 && !utf8.RuneStart(payload[cut]) {
		cut--
	}
	return reply{code: code, out: payload[:cut], outLen: uint32(cut)}
}
