package cmplugin

import (
	"errors"
	"fmt"
)

// Code is what strategy_token_value returns: configmanager's codes, shared with the host.
type Code int32

// The codes of configmanager's WASI ABI (its plugins package: OK, ERR_BUF_TOO_SMALL, ...).
const (
	// CodeOK: the value is in the output buffer.
	CodeOK Code = 0
	// CodeBufferTooSmall: *outLenPtr is the length needed; the host retries with that.
	CodeBufferTooSmall Code = -1
	// CodeInvalidUTF8: the input is not UTF-8.
	CodeInvalidUTF8 Code = -2
	// CodeEmptyInput: the input is empty.
	CodeEmptyInput Code = -3
	// CodeInternal: a panic, or no function registered.
	CodeInternal Code = -4
	// CodeUnmarshal: the input is not the message exchange's JSON.
	CodeUnmarshal Code = -5
	// CodeInitStore: an [InitError] ("failed to initialize the client").
	CodeInitStore Code = -6
	// CodeValueRetrieval: any other error ("failed to retrieve config item").
	CodeValueRetrieval Code = -7
)

// InitError marks err as a failure to set up the store's client (a missing setting, a bad
// address), which the host reports as configmanager's "failed to initialize the client" (code
// -6) instead of "failed to retrieve config item" (-7). InitError(nil) is nil.
func InitError(err error) error {
	if err == nil {
		return nil
	}
	return &initError{err}
}

type initError struct{ err error }

func (e *initError) Error() string { return e.err.Error() }
func (e *initError) Unwrap() error { return e.err }

// IsInitError reports whether err, or an error it wraps, was made by [InitError].
func IsInitError(err error) bool {
	var ie *initError
	return errors.As(err, &ie)
}

// codeFor is the code a Value error becomes.
func codeFor(err error) Code {
	if IsInitError(err) {
		return CodeInitStore
	}
	return CodeValueRetrieval
}

func (c Code) String() string {
	switch c {
	case CodeOK:
		return "ok"
	case CodeBufferTooSmall:
		return "output buffer too small"
	case CodeInvalidUTF8:
		return "invalid UTF-8"
	case CodeEmptyInput:
		return "empty input"
	case CodeInternal:
		return "internal error"
	case CodeUnmarshal:
		return "failed to unmarshal message"
	case CodeInitStore:
		return "failed to initialize the client"
	case CodeValueRetrieval:
		return "failed to retrieve config item"
	}
	return fmt.Sprintf("unknown code %d", int32(c))
}
