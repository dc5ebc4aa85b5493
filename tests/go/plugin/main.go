// Command go-plugin is a real HashiCorp go-plugin (v1.0.1, gRPC) configmanager token-store
// plugin used as an interop fixture. It behaves like configmanager's `empty` plugin:
//
//   - Value(token, metadata) returns token + "->" + string(metadata);
//   - token "err" fails with "implementation GOTEST error: simulated failure for token: err";
//   - a token starting with "json/" returns a compact JSON document that includes the token.
//
// If CM_GO_PLUGIN_CALL_LOG is set, one line "<token>\n" is appended to that file per Value call.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"

	"cmgofixtures/tokenstore"
)

type store struct {
	logger  hclog.Logger
	mu      sync.Mutex
	callLog string
}

type jsonDoc struct {
	User   string            `json:"user"`
	Port   int               `json:"port"`
	Nested map[string]string `json:"nested"`
	Token  string            `json:"token"`
}

func (s *store) record(token string) {
	if s.callLog == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(s.callLog, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		s.logger.Error("cannot open call log", "path", s.callLog, "error", err)
		return
	}
	defer f.Close()
	if _, err := f.WriteString(token + "\n"); err != nil {
		s.logger.Error("cannot write call log", "path", s.callLog, "error", err)
	}
}

func (s *store) Value(_ context.Context, req *tokenstore.TokenValueRequest) (*tokenstore.TokenValueResponse, error) {
	s.record(req.Token)
	switch {
	case req.Token == "err":
		return nil, fmt.Errorf("implementation GOTEST error: simulated failure for token: %s", req.Token)
	case strings.HasPrefix(req.Token, "json/"):
		b, err := json.Marshal(jsonDoc{
			User:   "go-user",
			Port:   5432,
			Nested: map[string]string{"k": "v"},
			Token:  req.Token,
		})
		if err != nil {
			return nil, err
		}
		return &tokenstore.TokenValueResponse{Value: string(b)}, nil
	default:
		return &tokenstore.TokenValueResponse{Value: req.Token + "->" + string(req.Metadata)}, nil
	}
}

func main() {
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       "go-fixture",
		Level:      hclog.Trace,
		Output:     os.Stderr,
		JSONFormat: true,
	})
	logger.Info("go fixture plugin starting", "pid", os.Getpid())

	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: tokenstore.Handshake,
		Plugins: map[string]plugin.Plugin{
			tokenstore.PluginName: &tokenstore.GRPCPlugin{
				Impl: &store{logger: logger, callLog: os.Getenv("CM_GO_PLUGIN_CALL_LOG")},
			},
		},
		GRPCServer: plugin.DefaultGRPCServer,
		Logger:     logger,
	})
}
