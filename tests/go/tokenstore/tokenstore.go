// Package tokenstore is a hand-written Go binding of ../../../proto/token_store.proto
// (package `proto`, service TokenStore) for the go-plugin interop fixtures.
//
// No protoc step is needed: the messages carry golang/protobuf (APIv1) struct tags,
// which the protobuf runtime marshals by reflection exactly as generated code would,
// and the service is described by a hand-written grpc.ServiceDesc. The method path
// is therefore `/proto.TokenStore/Value`, as configmanager's plugins serve it.
package tokenstore

import (
	"context"

	"github.com/golang/protobuf/proto"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Handshake is configmanager's go-plugin handshake (core protocol 1, app protocol 1).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "CONFIGMANAGER_PLUGIN",
	MagicCookieValue: "hello",
}

// PluginName is the name the plugin is dispensed under.
const PluginName = "configmanager_token_store"

// TokenValueRequest is proto.TokenValueRequest.
type TokenValueRequest struct {
	Token    string `protobuf:"bytes,1,opt,name=token,proto3" json:"token,omitempty"`
	Metadata []byte `protobuf:"bytes,2,opt,name=metadata,proto3" json:"metadata,omitempty"`
}

func (m *TokenValueRequest) Reset()         { *m = TokenValueRequest{} }
func (m *TokenValueRequest) String() string { return proto.CompactTextString(m) }
func (*TokenValueRequest) ProtoMessage()    {}

// TokenValueResponse is proto.TokenValueResponse.
type TokenValueResponse struct {
	Value string `protobuf:"bytes,1,opt,name=value,proto3" json:"value,omitempty"`
}

func (m *TokenValueResponse) Reset()         { *m = TokenValueResponse{} }
func (m *TokenValueResponse) String() string { return proto.CompactTextString(m) }
func (*TokenValueResponse) ProtoMessage()    {}

func init() {
	proto.RegisterType((*TokenValueRequest)(nil), "proto.TokenValueRequest")
	proto.RegisterType((*TokenValueResponse)(nil), "proto.TokenValueResponse")
}

// TokenStoreServer is the server side of the TokenStore service.
type TokenStoreServer interface {
	Value(context.Context, *TokenValueRequest) (*TokenValueResponse, error)
}

const valueMethod = "/proto.TokenStore/Value"

func valueHandler(srv interface{}, ctx context.Context, dec func(interface{}) error, interceptor grpc.UnaryServerInterceptor) (interface{}, error) {
	in := new(TokenValueRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(TokenStoreServer).Value(ctx, in)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: valueMethod}
	handler := func(ctx context.Context, req interface{}) (interface{}, error) {
		return srv.(TokenStoreServer).Value(ctx, req.(*TokenValueRequest))
	}
	return interceptor(ctx, in, info, handler)
}

var serviceDesc = grpc.ServiceDesc{
	ServiceName: "proto.TokenStore",
	HandlerType: (*TokenStoreServer)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "Value", Handler: valueHandler},
	},
	Streams:  []grpc.StreamDesc{},
	Metadata: "token_store.proto",
}

// RegisterTokenStoreServer registers impl on s.
func RegisterTokenStoreServer(s *grpc.Server, impl TokenStoreServer) {
	s.RegisterService(&serviceDesc, impl)
}

// Client is the host-side view of a TokenStore plugin.
type Client struct {
	conn *grpc.ClientConn
}

// Value calls /proto.TokenStore/Value.
func (c *Client) Value(ctx context.Context, token string, metadata []byte) (string, error) {
	out := new(TokenValueResponse)
	if err := c.conn.Invoke(ctx, valueMethod, &TokenValueRequest{Token: token, Metadata: metadata}, out); err != nil {
		return "", err
	}
	return out.Value, nil
}

// GRPCPlugin is the go-plugin glue, used by both sides: the plugin sets Impl, the host leaves it nil.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl TokenStoreServer
}

// GRPCServer implements plugin.GRPCPlugin.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	RegisterTokenStoreServer(s, p.Impl)
	return nil
}

// GRPCClient implements plugin.GRPCPlugin.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return &Client{conn: c}, nil
}
