package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"cm/wasi/cmplugin"
)

// mountSeparator splits a token into mount and secret path.
const mountSeparator = "___"

// settings are where Vault is and how to talk to it, from the vault CLI's variables.
type settings struct {
	addr      string // VAULT_ADDR without a trailing "/"
	token     string // VAULT_TOKEN
	namespace string // VAULT_NAMESPACE, or ""
}

// settingsFrom reads the settings through getenv (os.Getenv in the module). Unlike cm's native
// plugin there is no default address and no ~/.vault-token: a module has no files, and sees a
// variable only when it was granted, so a missing one is said with the grant that provides it.
func settingsFrom(getenv func(string) string) (settings, error) {
	get := func(name string) (string, error) {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return "", cmplugin.InitError(fmt.Errorf("%s is not set (or not granted: cm plugin install --allow-env %s)", name, name))
		}
		return v, nil
	}
	addr, err := get("VAULT_ADDR")
	if err != nil {
		return settings{}, err
	}
	addr = strings.TrimRight(addr, "/")
	u, err := url.Parse(addr)
	if err != nil {
		return settings{}, cmplugin.InitError(fmt.Errorf("VAULT_ADDR=%q is not a URL: %v", addr, err))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return settings{}, cmplugin.InitError(fmt.Errorf("VAULT_ADDR=%q is not an http:// or https:// address", addr))
	}
	token, err := get("VAULT_TOKEN")
	if err != nil {
		return settings{}, err
	}
	if strings.HasPrefix(token, "aws_iam") {
		return settings{}, cmplugin.InitError(errors.New("VAULT_TOKEN asks for the AWS IAM login (aws_iam), which this example plugin does not implement"))
	}
	return settings{addr: addr, token: token, namespace: strings.TrimSpace(getenv("VAULT_NAMESPACE"))}, nil
}

// address is a token's mount and secret path.
type address struct {
	mount, secret string
}

// parseAddress splits MOUNT___SECRET/PATH at the first "___", dropping a leading "/" of either
// part (and a trailing one of the mount), as cm's native plugin and configmanager do.
func parseAddress(path string) (address, error) {
	mount, secret, ok := strings.Cut(path, mountSeparator)
	if !ok {
		return address{}, fmt.Errorf("the token must be MOUNT%sSECRET/PATH (no %q in %q)", mountSeparator, mountSeparator, path)
	}
	mount = strings.Trim(mount, "/")
	secret = strings.TrimLeft(secret, "/")
	if mount == "" {
		return address{}, fmt.Errorf("the mount before %q is empty", mountSeparator)
	}
	if secret == "" {
		return address{}, fmt.Errorf("the secret path after %q is empty", mountSeparator)
	}
	return address{mount: mount, secret: secret}, nil
}

// parseVersion reads the version metadata: nil for the latest.
func parseVersion(t cmplugin.Token) (*uint64, error) {
	v := t.Version
	if v == "" {
		v = t.Metadata["version"]
	}
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("metadata version=%q is not a version number (a whole number, 0 or more)", v)
	}
	return &n, nil
}

// dataURL is {addr}/v1/{mount}/data/{secret}[?version=N], each path segment percent-encoded.
func dataURL(addr string, a address, version *uint64) string {
	u := addr + "/v1/" + encodePath(a.mount) + "/data/" + encodePath(a.secret)
	if version != nil {
		u += "?version=" + strconv.FormatUint(*version, 10)
	}
	return u
}

// encodePath percent-encodes all but RFC 3986's unreserved characters and the "/" between
// segments (url.PathEscape would encode the "/" too).
func encodePath(path string) string {
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		c := path[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// answer is what the plugin reads of a KV v2 answer.
type answer struct {
	Data *struct {
		// Absent in a KV v1 answer, null for a deleted or destroyed version.
		Data     json.RawMessage `json:"data"`
		Metadata *struct {
			DeletionTime string  `json:"deletion_time"`
			Destroyed    bool    `json:"destroyed"`
			Version      *uint64 `json:"version"`
		} `json:"metadata"`
	} `json:"data"`
	Errors []string `json:"errors"`
}

// errMaybeKV1 marks an outcome that a KV version 1 mount would also give: the mount's version
// decides the message.
type errMaybeKV1 struct{ err error }

func (e errMaybeKV1) Error() string { return e.err.Error() }

// outcome reads a KV v2 answer of status: the secret's data map as Vault sent it, or the
// refusal in Vault's own words (cm's native plugin's wording).
func outcome(status int, body []byte, a address, version *uint64) (string, error) {
	which := fmt.Sprintf("secret %q in mount %q", a.secret, a.mount)
	if version != nil && *version > 0 {
		which = fmt.Sprintf("version %d of %s", *version, which)
	}
	var ans answer
	parsed := json.Unmarshal(body, &ans) == nil
	reasons := ""
	if parsed {
		reasons = strings.Join(ans.Errors, "; ")
	}
	switch {
	case status == http.StatusOK && parsed && ans.Data != nil:
		if data := bytes.TrimSpace(ans.Data.Data); len(data) > 0 && data[0] == '{' {
			return string(data), nil
		}
		// A KV v1 mount has no data.data.
		return "", errMaybeKV1{fmt.Errorf("%s: the answer is not a KV version 2 secret", which)}
	case status == http.StatusOK:
		return "", fmt.Errorf("%s: the answer is not JSON with a data object", which)
	case status == http.StatusNotFound:
		// A deleted or destroyed version answers 404 with its metadata.
		if parsed && ans.Data != nil && ans.Data.Metadata != nil {
			m := ans.Data.Metadata
			if m.Destroyed || m.DeletionTime != "" {
				what := "was deleted at " + m.DeletionTime
				if m.Destroyed {
					what = "was destroyed"
				}
				prefix := ""
				if m.Version != nil {
					prefix = fmt.Sprintf("version %d of ", *m.Version)
				}
				return "", fmt.Errorf("%ssecret %q in mount %q %s (HTTP 404)", prefix, a.secret, a.mount, what)
			}
		}
		if reasons != "" {
			// "no handler for route ...": no such mount; Vault's words say it.
			return "", fmt.Errorf("%s: %s (HTTP 404)", which, reasons)
		}
		return "", errMaybeKV1{fmt.Errorf("%s not found (HTTP 404)", which)}
	case status == http.StatusForbidden:
		if reasons == "" {
			reasons = "permission denied"
		}
		return "", fmt.Errorf("%s: %s (HTTP 403)", which, reasons)
	default:
		if reasons == "" {
			reasons = strings.TrimSpace(string(body))
		}
		return "", fmt.Errorf("%s: %s (HTTP %d)", which, reasons, status)
	}
}

// kvVersion is a mount's KV version from GET /v1/sys/internal/ui/mounts/MOUNT (what the vault
// CLI asks too): 1 or 2 for a KV mount, 0 when it is not KV or the answer says nothing.
func kvVersion(status int, body []byte) int {
	if status != http.StatusOK {
		return 0
	}
	var mount struct {
		Data *struct {
			Type    string `json:"type"`
			Options *struct {
				Version string `json:"version"`
			} `json:"options"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &mount) != nil || mount.Data == nil || mount.Data.Type != "kv" {
		return 0
	}
	// A KV mount created without options is version 1.
	if mount.Data.Options == nil {
		return 1
	}
	switch mount.Data.Options.Version {
	case "2":
		return 2
	case "1", "":
		return 1
	}
	return 0
}

// vault reads secrets with one HTTP client.
type vault struct {
	client *http.Client
	s      settings
}

// get sends one GET with the headers the vault CLI sends: the status and the body.
func (v vault) get(ctx context.Context, u string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	// A Vault Agent with require_request_header refuses requests without it.
	req.Header.Set("X-Vault-Request", "true")
	req.Header.Set("X-Vault-Token", v.s.token)
	if v.s.namespace != "" {
		req.Header.Set("X-Vault-Namespace", v.s.namespace)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, body, nil
}

// read is one token's value: the secret's data map as JSON.
func (v vault) read(ctx context.Context, t cmplugin.Token) (string, error) {
	a, err := parseAddress(t.Path)
	if err != nil {
		return "", err
	}
	version, err := parseVersion(t)
	if err != nil {
		return "", err
	}
	status, body, err := v.get(ctx, dataURL(v.s.addr, a, version))
	if err != nil {
		return "", err
	}
	value, err := outcome(status, body, a, version)
	var maybe errMaybeKV1
	if errors.As(err, &maybe) {
		status, body, askErr := v.get(ctx, v.s.addr+"/v1/sys/internal/ui/mounts/"+encodePath(a.mount))
		if askErr == nil && kvVersion(status, body) == 1 {
			return "", fmt.Errorf("mount %q is a KV version 1 secrets engine; VAULT tokens read KV version 2 mounts only", a.mount)
		}
		return "", maybe.err
	}
	return value, err
}
