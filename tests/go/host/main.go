// Command go-host is a small go-plugin (v1.0.1) host used to check plugins from the Go side:
//
//	go-host [-mtls] [-n N] PLUGIN_BINARY TOKEN [METADATA]
//
// It starts PLUGIN_BINARY with configmanager's handshake (the cookie value can be
// overridden with GOHOST_COOKIE_VALUE), dispenses "configmanager_token_store", calls
// Value (N times concurrently with -n), prints each value on its own line and exits 0.
// On any error it prints "gohost: <error>" to stderr and exits 1.
// go-plugin's own log (including the plugin's forwarded stderr) goes to stderr at
// level GOHOST_LOG_LEVEL (trace, debug, info, warn, error, off; default trace).
package main

import (
	"context"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"os/exec"
	"sync"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"

	"cmgofixtures/tokenstore"
)

func main() {
	os.Exit(run())
}

func run() int {
	mtls := flag.Bool("mtls", false, "use go-plugin AutoMTLS")
	n := flag.Int("n", 1, "call Value N times concurrently")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go-host [-mtls] [-n N] PLUGIN_BINARY TOKEN [METADATA]")
		flag.PrintDefaults()
	}
	flag.Parse()
	args := flag.Args()
	if len(args) < 2 || len(args) > 3 || *n < 1 {
		flag.Usage()
		return 2
	}
	var metadata []byte
	if len(args) == 3 {
		metadata = []byte(args[2])
	}

	handshake := tokenstore.Handshake
	if v, ok := os.LookupEnv("GOHOST_COOKIE_VALUE"); ok {
		handshake.MagicCookieValue = v
	}

	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake,
		Plugins:          map[string]plugin.Plugin{tokenstore.PluginName: &tokenstore.GRPCPlugin{}},
		Cmd:              exec.Command(args[0]),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         *mtls,
		Logger:           hostLogger(),
	})
	defer client.Kill()

	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "gohost: %v\n", err)
		return 1
	}

	rpcClient, err := client.Client()
	if err != nil {
		return fail(err)
	}
	raw, err := rpcClient.Dispense(tokenstore.PluginName)
	if err != nil {
		return fail(err)
	}
	store, ok := raw.(*tokenstore.Client)
	if !ok {
		return fail(fmt.Errorf("dispensed %T, want *tokenstore.Client", raw))
	}

	values := make([]string, *n)
	errs := make([]error, *n)
	var wg sync.WaitGroup
	for i := 0; i < *n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			values[i], errs[i] = store.Value(context.Background(), args[1], metadata)
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fail(err)
		}
	}
	for _, v := range values {
		fmt.Println(v)
	}
	return 0
}

// hostLogger is go-plugin's client logger; it also re-logs the plugin's stderr.
func hostLogger() hclog.Logger {
	opts := &hclog.LoggerOptions{Name: "plugin", Output: os.Stderr, Level: hclog.Trace}
	switch v := os.Getenv("GOHOST_LOG_LEVEL"); v {
	case "":
	case "off":
		opts.Output = ioutil.Discard
	default:
		opts.Level = hclog.LevelFromString(v)
	}
	return hclog.New(opts)
}
