package cmplugin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestRequestRecord(t *testing.T) {
	req, err := http.NewRequest(http.MethodPost, "https://vault.example:8200/v1/x?y=1", strings.NewReader("hi"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Vault-Token", "t")
	req.Header.Add("Accept", "application/json")
	req.Header.Add("Accept", "text/plain")
	got, err := encodeRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"method":"POST","url":"https://vault.example:8200/v1/x?y=1","headers":[["Accept","application/json"],["Accept","text/plain"],["X-Vault-Token","t"]],"body":"aGk="}`
	if string(got) != want {
		t.Fatalf("record\n%s\nwant\n%s", got, want)
	}

	req, _ = http.NewRequest("", "http://h/", nil)
	req.Host = "other"
	got, _ = encodeRequest(req)
	want = `{"method":"GET","url":"http://h/","headers":[["Host","other"]]}`
	if string(got) != want {
		t.Fatalf("record %s, want %s", got, want)
	}
}

func TestResponseRecord(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "http://h/", nil)
	resp, err := decodeResponse(0, []byte(`{"status":404,"headers":[["content-type","application/json"],["set-cookie","a"],["set-cookie","b"]],"body":"e30="}`), req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 404 || resp.Status != "404 Not Found" || string(body) != "{}" ||
		resp.ContentLength != 2 || resp.Header.Get("Content-Type") != "application/json" ||
		strings.Join(resp.Header.Values("Set-Cookie"), ",") != "a,b" || resp.Request != req {
		t.Fatalf("response %+v, body %q", resp, body)
	}
	// No body: an empty one.
	resp, err = decodeResponse(0, []byte(`{"status":204,"headers":[]}`), req)
	if err != nil || resp.ContentLength != 0 {
		t.Fatalf("%v %v", resp, err)
	}
	for _, bad := range []string{
		`not json`,
		`{"status":200,"headers":[["a"]]}`,
		`{"status":0,"headers":[]}`,
		`{"error":"x"}`,
	} {
		if _, err := decodeResponse(0, []byte(bad), req); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestHostErrors(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "http://h/", nil)
	for _, tc := range []struct {
		code int32
		kind error
		text string
	}{
		{-10, ErrHostNotAllowed, "cm: host not allowed: host h is not allowed"},
		{-11, ErrBadRequest, "cm: bad request: host h is not allowed"},
		{-12, ErrTransport, "cm: transport failure: host h is not allowed"},
	} {
		_, err := decodeResponse(tc.code, []byte(`{"error":"host h is not allowed"}`), req)
		var he *HostError
		if !errors.Is(err, tc.kind) || !errors.As(err, &he) || he.Code != tc.code || err.Error() != tc.text {
			t.Errorf("code %d: %v", tc.code, err)
		}
	}
	_, err := decodeResponse(-12, []byte(`{}`), req)
	if err == nil || err.Error() != "cm: transport failure" {
		t.Fatalf("%v", err)
	}
}

// The client path: a Go http.Client over a fake exchange sees what cm answers.
func TestRoundTripThroughAClient(t *testing.T) {
	var sent string
	fake := func(record []byte) (int32, []byte, error) {
		sent = string(record)
		return 0, []byte(`{"status":200,"headers":[["Content-Type","text/plain"]],"body":"b2s="}`), nil
	}
	client := &http.Client{Transport: roundTripperFunc(func(r *http.Request) (*http.Response, error) { return roundTrip(r, fake) })}
	resp, err := client.Get("http://h/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "ok" || sent != `{"method":"GET","url":"http://h/x","headers":[]}` {
		t.Fatalf("body %q, sent %s", body, sent)
	}

	// A cancelled context never reaches the host.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sent = ""
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://h/x", nil)
	if _, err := roundTrip(req, fake); !errors.Is(err, context.Canceled) || sent != "" {
		t.Fatalf("%v, sent %q", err, sent)
	}

	// Natively there is no host.
	if _, err := (&http.Client{Transport: Transport{}}).Get("http://h/"); !errors.Is(err, ErrNoHost) {
		t.Fatalf("%v", err)
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
