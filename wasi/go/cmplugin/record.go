package cmplugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
)

// The codes of cm's host imports cm.http_request and cm.http_response.
const (
	hostOK             int32 = 0
	hostBufferTooSmall int32 = -1
	hostNotAllowed     int32 = -10
	hostBadRequest     int32 = -11
	hostTransport      int32 = -12
	hostNothingPending int32 = -14
)

// The kinds of request failure cm reports; a [HostError] matches one with errors.Is.
var (
	// ErrHostNotAllowed: the request's host is not among the plugin's --allow-host grants.
	ErrHostNotAllowed = errors.New("host not allowed")
	// ErrBadRequest: cm refused the request itself (a URL, scheme, method or header).
	ErrBadRequest = errors.New("bad request")
	// ErrTransport: the request failed on the way (DNS, connect, TLS, time-out, a response
	// body over cm's limit).
	ErrTransport = errors.New("transport failure")
	// ErrNoHost: the program is not a wasip1 module run by cm, so there is no cm to send
	// through (Transport in a native build, e.g. in tests).
	ErrNoHost = errors.New("no cm host: cmplugin.Transport works only in a wasip1 module run by cm")
)

// HostError is a request cm did not make or did not complete: the kind (cm.http_request's
// code) and cm's reason.
type HostError struct {
	// Code is cm.http_request's: -10, -11 or -12.
	Code int32
	// Reason is cm's text, e.g. "host vault.example:8200 is not allowed".
	Reason string
}

func (e *HostError) Error() string {
	kind := e.kind()
	if e.Reason == "" {
		return "cm: " + kind.Error()
	}
	return "cm: " + kind.Error() + ": " + e.Reason
}

// Is matches the error's kind: errors.Is(err, cmplugin.ErrHostNotAllowed).
func (e *HostError) Is(target error) bool { return target == e.kind() }

func (e *HostError) kind() error {
	switch e.Code {
	case hostNotAllowed:
		return ErrHostNotAllowed
	case hostBadRequest:
		return ErrBadRequest
	case hostTransport:
		return ErrTransport
	}
	return fmt.Errorf("unknown cm.http_request code %d", e.Code)
}

// requestRecord is the JSON cm.http_request reads.
type requestRecord struct {
	Method  string      `json:"method"`
	URL     string      `json:"url"`
	Headers [][2]string `json:"headers"`
	// Body is base64 in JSON, as the ABI has it; omitted when empty.
	Body []byte `json:"body,omitempty"`
}

// responseRecord is the JSON cm.http_response writes: status, headers and body, or error.
type responseRecord struct {
	Status  int        `json:"status"`
	Headers [][]string `json:"headers"`
	Body    []byte     `json:"body"`
	Error   *string    `json:"error"`
}

// encodeRequest is req as cm.http_request's record. It reads and closes req.Body. Headers go
// in name order (Go's header map has none), each name's values in their order; the Host header
// is only sent when req.Host overrides the URL's host.
func encodeRequest(req *http.Request) ([]byte, error) {
	if req.URL == nil {
		return nil, errors.New("cmplugin: request without a URL")
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	rec := requestRecord{Method: method, URL: req.URL.String(), Headers: [][2]string{}}
	names := make([]string, 0, len(req.Header))
	for name := range req.Header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, value := range req.Header[name] {
			rec.Headers = append(rec.Headers, [2]string{name, value})
		}
	}
	if req.Host != "" && req.Host != req.URL.Host {
		rec.Headers = append(rec.Headers, [2]string{"Host", req.Host})
	}
	if req.Body != nil && req.Body != http.NoBody {
		body, err := io.ReadAll(req.Body)
		closeErr := req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("cmplugin: reading the request body: %w", err)
		}
		if closeErr != nil {
			return nil, fmt.Errorf("cmplugin: closing the request body: %w", closeErr)
		}
		rec.Body = body
	}
	return json.Marshal(rec)
}

// decodeResponse turns the record cm.http_response copied out, for a request that returned
// code, into req's response or the host's error.
func decodeResponse(code int32, record []byte, req *http.Request) (*http.Response, error) {
	var rec responseRecord
	if err := json.Unmarshal(record, &rec); err != nil {
		return nil, fmt.Errorf("cmplugin: cm's response record is not JSON: %w", err)
	}
	if code != hostOK {
		reason := ""
		if rec.Error != nil {
			reason = *rec.Error
		}
		return nil, &HostError{Code: code, Reason: reason}
	}
	if rec.Error != nil {
		return nil, fmt.Errorf("cmplugin: cm answered code 0 with an error record: %s", *rec.Error)
	}
	if rec.Status < 100 || rec.Status > 999 {
		return nil, fmt.Errorf("cmplugin: cm's response record has status %d", rec.Status)
	}
	header := make(http.Header, len(rec.Headers))
	for _, pair := range rec.Headers {
		if len(pair) != 2 {
			return nil, fmt.Errorf("cmplugin: cm's response record has a header of %d strings, not a [name, value] pair", len(pair))
		}
		header.Add(pair[0], pair[1])
	}
	text := http.StatusText(rec.Status)
	if text == "" {
		text = "status code " + strconv.Itoa(rec.Status)
	}
	return &http.Response{
		Status:        strconv.Itoa(rec.Status) + " " + text,
		StatusCode:    rec.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          io.NopCloser(bytes.NewReader(rec.Body)),
		ContentLength: int64(len(rec.Body)),
		Request:       req,
	}, nil
}
