package cmplugin

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestInputDecodesToToken(t *testing.T) {
	var got Token
	in := &instance{value: func(t Token) (string, error) { got = t; return "v", nil }}
	r := in.call([]byte(`{"token":"secret___app/db","metadata":{"version":"2","role":"r"},"version":"2","extra":1}`), 16)
	if r.code != CodeOK || string(r.out) != "v" || r.outLen != 1 {
		t.Fatalf("reply %+v", r)
	}
	want := Token{Path: "secret___app/db", Metadata: map[string]string{"version": "2", "role": "r"}, Version: "2"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("token %+v, want %+v", got, want)
	}
	// Without metadata (omitted when empty), as the host sends most tokens.
	in.call([]byte(`{"token":"p","version":""}`), 16)
	if !reflect.DeepEqual(got, Token{Path: "p"}) {
		t.Fatalf("token %+v", got)
	}
}

func TestCodesForBadInput(t *testing.T) {
	called := false
	in := &instance{value: func(Token) (string, error) { called = true; return "v", nil }}
	for _, tc := range []struct {
		input string
		code  Code
		out   string
	}{
		{"", CodeEmptyInput, ""},
		{"\xff\xfe", CodeInvalidUTF8, ""},
		{"not json", CodeUnmarshal, "invalid character 'o' in literal null (expecting 'u')"},
		{`{"token":"p","metadata":{"version":2}}`, CodeUnmarshal, "json: cannot unmarshal number into Go struct field Token.metadata.version of type string"},
	} {
		r := in.call([]byte(tc.input), 256)
		if r.code != tc.code || string(r.out) != tc.out || r.outLen != uint32(len(tc.out)) {
			t.Errorf("input %q: reply %d %q (len %d), want %d %q", tc.input, r.code, r.out, r.outLen, tc.code, tc.out)
		}
	}
	if called {
		t.Fatal("the function was called for bad input")
	}
}

func TestErrorsBecomeCodesWithTheirReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code Code
	}{
		{errors.New("secret not found"), CodeValueRetrieval},
		{InitError(errors.New("VAULT_ADDR is not set")), CodeInitStore},
		// Wrapped further, an init error stays one.
		{fmt.Errorf("setup: %w", InitError(errors.New("bad"))), CodeInitStore},
	} {
		in := &instance{value: func(Token) (string, error) { return "ignored", tc.err }}
		r := in.call([]byte(`{"token":"p"}`), 256)
		if r.code != tc.code || string(r.out) != tc.err.Error() || r.outLen != uint32(len(tc.err.Error())) {
			t.Errorf("%v: reply %+v, want code %d", tc.err, r, tc.code)
		}
	}
	if InitError(nil) != nil {
		t.Fatal("InitError(nil) is not nil")
	}
	base := errors.New("x")
	if !errors.Is(InitError(base), base) {
		t.Fatal("InitError does not unwrap")
	}
}

func TestReasonsAreCutToTheBufferAtACharacterBoundary(t *testing.T) {
	in := &instance{value: func(Token) (string, error) { return "", errors.New("ab€cd") }}
	// "€" is 3 bytes at offset 2: a 4-byte buffer holds "ab" only.
	r := in.call([]byte(`{"token":"p"}`), 4)
	if r.code != CodeValueRetrieval || string(r.out) != "ab" || r.outLen != 2 {
		t.Fatalf("reply %+v", r)
	}
	r = in.call([]byte(`{"token":"p"}`), 0)
	if r.code != CodeValueRetrieval || len(r.out) != 0 || r.outLen != 0 {
		t.Fatalf("reply %+v", r)
	}
}

func TestPanicsAreInternal(t *testing.T) {
	in := &instance{value: func(Token) (string, error) { panic("boom") }}
	r := in.call([]byte(`{"token":"p"}`), 256)
	if r.code != CodeInternal || string(r.out) != "panic: boom" {
		t.Fatalf("reply %+v", r)
	}
	in = &instance{}
	r = in.call([]byte(`{"token":"p"}`), 256)
	if r.code != CodeInternal || !strings.Contains(string(r.out), "cmplugin.Register") {
		t.Fatalf("reply %+v", r)
	}
}

func TestTooSmallThenRetryCallsOnce(t *testing.T) {
	calls := 0
	in := &instance{value: func(t Token) (string, error) { calls++; return strings.Repeat("x", 10) + t.Path, nil }}
	input := []byte(`{"token":"p"}`)
	r := in.call(input, 4)
	if r.code != CodeBufferTooSmall || r.outLen != 11 || len(r.out) != 0 {
		t.Fatalf("reply %+v", r)
	}
	r = in.call(input, r.outLen)
	if r.code != CodeOK || string(r.out) != "xxxxxxxxxxp" || r.outLen != 11 || calls != 1 {
		t.Fatalf("retry reply %+v after %d calls", r, calls)
	}
	// The kept value is used once: the next call fetches again.
	in.call(input, 64)
	if calls != 2 {
		t.Fatalf("%d calls", calls)
	}
	// A different input after -1 is a new fetch, not the kept value.
	in.call(input, 4)
	r = in.call([]byte(`{"token":"q"}`), 64)
	if string(r.out) != "xxxxxxxxxxq" || calls != 4 {
		t.Fatalf("reply %+v after %d calls", r, calls)
	}
	// A retry still too small stays -1 (the host gives up after one retry).
	in.call(input, 4)
	r = in.call(input, 5)
	if r.code != CodeBufferTooSmall || r.outLen != 11 {
		t.Fatalf("reply %+v", r)
	}
}

func TestEmptyValueFitsAnyBuffer(t *testing.T) {
	in := &instance{value: func(Token) (string, error) { return "", nil }}
	r := in.call([]byte(`{"token":"p"}`), 0)
	if r.code != CodeOK || r.outLen != 0 {
		t.Fatalf("reply %+v", r)
	}
}

func TestRegisterOnce(t *testing.T) {
	defer func() { registered = nil }()
	Register(func(Token) (string, error) { return "", nil })
	defer func() {
		if recover() == nil {
			t.Fatal("a second Register did not panic")
		}
	}()
	Register(func(Token) (string, error) { return "", nil })
}

func TestCodeNames(t *testing.T) {
	if CodeInitStore.String() != "failed to initialize the client" ||
		CodeValueRetrieval.String() != "failed to retrieve config item" ||
		Code(-9).String() != "unknown code -9" {
		t.Fatal(CodeInitStore, CodeValueRetrieval, Code(-9))
	}
}

func TestAllocationsStayUntilFreed(t *testing.T) {
	var p pins
	a := p.alloc(100)
	b := p.alloc(0)
	if a == 0 || b == 0 || a == b || p.count() != 2 {
		t.Fatalf("addresses %x %x, %d live", a, b, p.count())
	}
	p.live[a][99] = 7 // the whole size is usable
	if p.alloc(MaxAllocation+1) != 0 {
		t.Fatal("an allocation over MaxAllocation was granted")
	}
	p.free(a)
	p.free(a)
	p.free(12345)
	if p.count() != 1 {
		t.Fatalf("%d live", p.count())
	}
}
