package cmplugin

import "net/http"

// Transport is an http.RoundTripper that sends each request through cm: the host import
// cm.http_request, which makes it from cm's process (TLS with cm's root certificates) if the
// request's host is among the plugin's --allow-host grants. Use it as any transport:
//
//	client := &http.Client{Transport: cmplugin.Transport{}}
//	cfg, err := config.LoadDefaultConfig(ctx, config.WithHTTPClient(client)) // the AWS SDK
//
// A refused or failed request is a [*HostError] (errors.Is it with [ErrHostNotAllowed],
// [ErrBadRequest], [ErrTransport]); any HTTP status is a response. Limits, from the ABI:
//   - the call is synchronous and cannot be interrupted: the request's context is checked
//     before the request is sent (a cancelled or expired context fails it), not during it; cm's
//     --timeout bounds the call on the host side;
//   - bodies are whole in memory both ways (cm refuses response bodies over 16 MiB);
//   - the response is HTTP/1.1-shaped whatever the wire used, with the body as cm decoded it.
//
// Outside a wasip1 module (a native build, e.g. in go test) every request fails with
// [ErrNoHost].
type Transport struct{}

// RoundTrip implements http.RoundTripper.
func (Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return roundTrip(req, hostExchange)
}

// exchange hands a request record to cm and returns cm.http_request's code and the pending
// record (a response, or the host's error).
type exchange func(record []byte) (code int32, pending []byte, err error)

// roundTrip is RoundTrip over any exchange, so the record handling is tested natively.
func roundTrip(req *http.Request, send exchange) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	record, err := encodeRequest(req)
	if err != nil {
		return nil, err
	}
	code, pending, err := send(record)
	if err != nil {
		return nil, err
	}
	return decodeResponse(code, pending, req)
}
