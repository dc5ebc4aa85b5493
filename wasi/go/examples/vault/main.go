// Command vault is a cm WASI plugin for HashiCorp Vault and OpenBao KV version 2, on package
// cmplugin: the example of a plugin written in Go for cm's WASI host.
//
// Token: MOUNT___SECRET/PATH, e.g. VAULT://secret___app/db|password[version=2]. The value is
// the secret's data map as JSON, exactly as Vault sent it (cm applies the key path).
//
// Settings, each granted with `cm plugin install --allow-env NAME`: VAULT_ADDR and VAULT_TOKEN
// (required: a missing one is "failed to initialize the client"), VAULT_NAMESPACE (optional).
// VAULT_ADDR's host must be granted with --allow-host HOST:PORT.
//
// Build (from wasi/go):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o vault.wasm ./examples/vault
package main

import (
	"context"
	"net/http"
	"os"

	"cm/wasi/cmplugin"
)

// client sends through cm: a module has no sockets of its own.
var client = &http.Client{Transport: cmplugin.Transport{}}

// Value reads one secret. Settings are read per call: os.Getenv is a lookup in the module's
// own copy of the granted environment, and a call costs one request anyway.
func Value(t cmplugin.Token) (string, error) {
	s, err := settingsFrom(os.Getenv)
	if err != nil {
		return "", err
	}
	return vault{client: client, s: s}.read(context.Background(), t)
}

func init() { cmplugin.Register(Value) }

// main is never called: -buildmode=c-shared makes a reactor, whose _initialize runs the inits.
func main() {}
