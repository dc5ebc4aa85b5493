package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"cm/wasi/cmplugin"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestSettings(t *testing.T) {
	s, err := settingsFrom(env(map[string]string{"VAULT_ADDR": " https://v:8200/prefix/ ", "VAULT_TOKEN": "t", "VAULT_NAMESPACE": "team"}))
	if err != nil || s != (settings{addr: "https://v:8200/prefix", token: "t", namespace: "team"}) {
		t.Fatalf("%+v %v", s, err)
	}
	for _, tc := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"VAULT_TOKEN": "t"}, "VAULT_ADDR is not set (or not granted: cm plugin install --allow-env VAULT_ADDR)"},
		{map[string]string{"VAULT_ADDR": "http://v"}, "VAULT_TOKEN is not set (or not granted: cm plugin install --allow-env VAULT_TOKEN)"},
		{map[string]string{"VAULT_ADDR": "v:8200", "VAULT_TOKEN": "t"}, `VAULT_ADDR="v:8200" is not an http:// or https:// address`},
		{map[string]string{"VAULT_ADDR": "http://v", "VAULT_TOKEN": "aws_iam"}, "VAULT_TOKEN asks for the AWS IAM login (aws_iam), which this example plugin does not implement"},
	} {
		_, err := settingsFrom(env(tc.vars))
		if err == nil || err.Error() != tc.want || !cmplugin.IsInitError(err) {
			t.Errorf("%v: %v, want the init error %q", tc.vars, err, tc.want)
		}
	}
}

func TestValueWithoutSettingsIsAnInitError(t *testing.T) {
	t.Setenv("VAULT_ADDR", "")
	t.Setenv("VAULT_TOKEN", "t")
	_, err := Value(cmplugin.Token{Path: "secret___a"})
	if !cmplugin.IsInitError(err) {
		t.Fatalf("%v", err)
	}
}

func TestAddresses(t *testing.T) {
	for path, want := range map[string]address{
		"secret___app/db":     {"secret", "app/db"},
		"/kv/team___/a___b/c": {"kv/team", "a___b/c"},
	} {
		got, err := parseAddress(path)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v", path, got, err)
		}
	}
	for path, want := range map[string]string{
		"secret/app/db": `the token must be MOUNT___SECRET/PATH (no "___" in "secret/app/db")`,
		"___app":        `the mount before "___" is empty`,
		"secret___":     `the secret path after "___" is empty`,
	} {
		if _, err := parseAddress(path); err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %q", path, err, want)
		}
	}
}

func TestVersions(t *testing.T) {
	if v, err := parseVersion(cmplugin.Token{}); v != nil || err != nil {
		t.Fatal(v, err)
	}
	if v, err := parseVersion(cmplugin.Token{Version: "3"}); err != nil || *v != 3 {
		t.Fatal(v, err)
	}
	if v, err := parseVersion(cmplugin.Token{Metadata: map[string]string{"version": "0"}}); err != nil || *v != 0 {
		t.Fatal(v, err)
	}
	for _, bad := range []string{"latest", "-1", "1.5"} {
		_, err := parseVersion(cmplugin.Token{Version: bad})
		want := `metadata version="` + bad + `" is not a version number (a whole number, 0 or more)`
		if err == nil || err.Error() != want {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestURLs(t *testing.T) {
	if got := dataURL("http://v:8200", address{"secret", "app/db"}, nil); got != "http://v:8200/v1/secret/data/app/db" {
		t.Fatal(got)
	}
	two := uint64(2)
	got := dataURL("https://v/proxy", address{"kv team", "a b/c?d#é"}, &two)
	if got != "https://v/proxy/v1/kv%20team/data/a%20b/c%3Fd%23%C3%A9?version=2" {
		t.Fatal(got)
	}
}

func TestOutcomes(t *testing.T) {
	a := address{"secret", "app/db"}
	nine, one := uint64(9), uint64(1)
	value, err := outcome(200, []byte(`{"data":{"data":{"pw":"p1","n":12345678901234567890123,"f":0.1},"metadata":{"version":1}},"errors":null}`), a, &one)
	if err != nil || value != `{"pw":"p1","n":12345678901234567890123,"f":0.1}` {
		t.Fatalf("%q %v", value, err)
	}
	for _, tc := range []struct {
		status  int
		body    string
		version *uint64
		want    string
		maybeV1 bool
	}{
		{404, `{"errors":[]}`, nil, `secret "app/db" in mount "secret" not found (HTTP 404)`, true},
		{404, `{"errors":[]}`, &nine, `version 9 of secret "app/db" in mount "secret" not found (HTTP 404)`, true},
		{200, `{"data":{"a":"b"}}`, nil, `secret "app/db" in mount "secret": the answer is not a KV version 2 secret`, true},
		{404, `{"data":{"data":null,"metadata":{"deletion_time":"2026-12-01T10:29:29Z","destroyed":false,"version":1}}}`, &one,
			`version 1 of secret "app/db" in mount "secret" was deleted at 2026-12-01T10:29:29Z (HTTP 404)`, false},
		{404, `{"data":{"data":null,"metadata":{"deletion_time":"2026-12-01T10:29:29Z","destroyed":true,"version":3}}}`, nil,
			`version 3 of secret "app/db" in mount "secret" was destroyed (HTTP 404)`, false},
		{404, `{"errors":["no handler for route \"nope/data/x\". route entry not found."]}`, nil,
			`secret "app/db" in mount "secret": no handler for route "nope/data/x". route entry not found. (HTTP 404)`, false},
		{403, `{"errors":["permission denied"]}`, nil, `secret "app/db" in mount "secret": permission denied (HTTP 403)`, false},
		{403, ``, nil, `secret "app/db" in mount "secret": permission denied (HTTP 403)`, false},
		{503, `{"errors":["Vault is sealed"]}`, nil, `secret "app/db" in mount "secret": Vault is sealed (HTTP 503)`, false},
		{502, "Bad Gateway\n", nil, `secret "app/db" in mount "secret": Bad Gateway (HTTP 502)`, false},
		{200, `<html>`, nil, `secret "app/db" in mount "secret": the answer is not JSON with a data object`, false},
	} {
		_, err := outcome(tc.status, []byte(tc.body), a, tc.version)
		var maybe errMaybeKV1
		if err == nil || err.Error() != tc.want || errors.As(err, &maybe) != tc.maybeV1 {
			t.Errorf("%d %s: %v, want %q (maybe KV v1: %v)", tc.status, tc.body, err, tc.want, tc.maybeV1)
		}
	}
}

func TestMountVersions(t *testing.T) {
	for body, want := range map[string]int{
		`{"data":{"type":"kv","options":{"version":"1"}}}`: 1,
		`{"data":{"type":"kv","options":{"version":"2"}}}`: 2,
		`{"data":{"type":"kv","options":null}}`:            1,
		`{"data":{"type":"pki","options":null}}`:           0,
	} {
		if got := kvVersion(200, []byte(body)); got != want {
			t.Errorf("%s: %d, want %d", body, got, want)
		}
	}
	if kvVersion(403, []byte(`{"data":{"type":"kv"}}`)) != 0 {
		t.Fatal("a refused answer gave a version")
	}
}

// A fake Vault over real HTTP: what the plugin sends and how it reads the answers. In the
// module the same code goes through cmplugin.Transport; here through Go's own client.
func TestReadsFromAServer(t *testing.T) {
	var seen []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r)
		switch r.URL.Path {
		case "/v1/secret/data/app/db":
			w.Write([]byte(`{"data":{"data":{"pw":"p1"},"metadata":{"version":2}}}`))
		case "/v1/sys/internal/ui/mounts/kv1":
			w.Write([]byte(`{"data":{"type":"kv","options":{"version":"1"}}}`))
		default:
			w.WriteHeader(404)
			w.Write([]byte(`{"errors":[]}`))
		}
	}))
	defer srv.Close()
	v := vault{client: srv.Client(), s: settings{addr: srv.URL, token: "root", namespace: "team"}}
	ctx := context.Background()

	value, err := v.read(ctx, cmplugin.Token{Path: "secret___app/db", Version: "2"})
	if err != nil || value != `{"pw":"p1"}` {
		t.Fatalf("%q %v", value, err)
	}
	r := seen[0]
	if r.Method != "GET" || r.URL.RawQuery != "version=2" || r.Header.Get("X-Vault-Token") != "root" ||
		r.Header.Get("X-Vault-Namespace") != "team" || r.Header.Get("X-Vault-Request") != "true" {
		t.Fatalf("request %s %s %v", r.Method, r.URL, r.Header)
	}

	_, err = v.read(ctx, cmplugin.Token{Path: "kv1___app/db"})
	if err == nil || err.Error() != `mount "kv1" is a KV version 1 secrets engine; VAULT tokens read KV version 2 mounts only` {
		t.Fatalf("%v", err)
	}
	_, err = v.read(ctx, cmplugin.Token{Path: "secret___nope"})
	if err == nil || err.Error() != `secret "nope" in mount "secret" not found (HTTP 404)` {
		t.Fatalf("%v", err)
	}
	if len(seen) != 5 {
		t.Fatalf("%d requests, want 5 (the mount asked after each 404)", len(seen))
	}

	// The token's own errors send nothing.
	if _, err := v.read(ctx, cmplugin.Token{Path: "nope"}); err == nil || len(seen) != 5 {
		t.Fatalf("%v after %d requests", err, len(seen))
	}
}
