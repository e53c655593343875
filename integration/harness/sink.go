package harness

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// Request is one OTLP/HTTP export request a Sink received.
type Request struct {
	Path            string
	ContentType     string
	ContentEncoding string
	Received        time.Time
	Traces          ptrace.Traces   // set for /v1/traces
	Metrics         pmetric.Metrics // set for /v1/metrics
	Logs            plog.Logs       // set for /v1/logs
	// Status is what the sink answered: an HTTP status, or 0 when it held
	// the request until the client gave up or reset the connection
	// (SetFault).
	Status int
}

// Sink is an OTLP/HTTP server on loopback that decodes what it receives with
// pdata (JSON or protobuf, optionally gzip), like otel-ai-monitor or a remote
// backend would. It stands in for both in tests.
type Sink struct {
	URL string // base URL, e.g. http://127.0.0.1:PORT

	server     *http.Server
	mu         sync.Mutex
	requests   []Request
	notify     chan struct{}
	status     int
	fault      Fault
	retryAfter string
	discard    bool

	spans, dataPoints, logRecords atomic.Int64
}

// NewCountingSink is a Sink that decodes and counts what it receives but keeps
// no requests, for load tests.
func NewCountingSink(t testing.TB) *Sink {
	s := NewSink(t)
	s.discard = true
	return s
}

// Counts returns how many spans, metric data points and log records the sink
// has received.
func (s *Sink) Counts() (spans, dataPoints, logRecords int64) {
	return s.spans.Load(), s.dataPoints.Load(), s.logRecords.Load()
}

// NewSink starts a sink on a free loopback port; it stops when the test ends.
func NewSink(t testing.TB) *Sink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return NewSinkOn(t, l, "http://"+l.Addr().String())
}

// NewSinkOn serves a sink on l (for instance a TLS listener, or a fixed
// address inside a private network namespace); url is its base URL.
func NewSinkOn(t testing.TB, l net.Listener, url string) *Sink {
	t.Helper()
	s := &Sink{URL: url, notify: make(chan struct{}, 1), status: http.StatusOK}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", s.handle)
	mux.HandleFunc("POST /v1/metrics", s.handle)
	mux.HandleFunc("POST /v1/logs", s.handle)
	s.server = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.server.Serve(l) }()
	t.Cleanup(func() { _ = s.server.Close() })
	return s
}

// SetStatus makes the sink answer every following request with code (after
// decoding and recording it); 200 by default. A non-zero retryAfter is sent
// as a Retry-After header.
func (s *Sink) SetStatus(code int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = code
	s.retryAfter = ""
	if retryAfter > 0 {
		s.retryAfter = strconv.Itoa(int(retryAfter.Seconds()))
	}
}

// Fault is a way the sink fails a request other than by a status code.
type Fault int

const (
	NoFault Fault = iota
	// Hang holds every request unanswered until the client gives up (its
	// timeout), as a remote that stopped responding.
	Hang
	// Reset closes the connection without an answer, as a remote that
	// crashed or a proxy that dropped it.
	Reset
)

// SetFault makes the sink fail every following request (after decoding and
// recording it) this way instead of answering; NoFault restores answers.
func (s *Sink) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

func (s *Sink) handle(w http.ResponseWriter, r *http.Request) {
	req := Request{
		Path:            r.URL.Path,
		ContentType:     r.Header.Get("Content-Type"),
		ContentEncoding: r.Header.Get("Content-Encoding"),
		Received:        time.Now(),
	}
	var body io.Reader = r.Body
	if req.ContentEncoding == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = gz
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	response, err := decode(&req, raw)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch req.Path {
	case "/v1/traces":
		s.spans.Add(int64(req.Traces.SpanCount()))
	case "/v1/metrics":
		s.dataPoints.Add(int64(req.Metrics.DataPointCount()))
	case "/v1/logs":
		s.logRecords.Add(int64(req.Logs.LogRecordCount()))
	}
	s.mu.Lock()
	status, retryAfter, fault := s.status, s.retryAfter, s.fault
	if fault == NoFault {
		req.Status = status
	}
	if !s.discard {
		s.requests = append(s.requests, req)
	}
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	switch fault {
	case Hang:
		<-r.Context().Done()
		return
	case Reset:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
		return
	}
	if status != http.StatusOK {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		http.Error(w, http.StatusText(status), status)
		return
	}
	w.Header().Set("Content-Type", req.ContentType)
	_, _ = w.Write(response)
}

// decode fills req from raw and returns an encoded empty export response.
func decode(req *Request, raw []byte) ([]byte, error) {
	isJSON := req.ContentType == "application/json"
	if !isJSON && req.ContentType != "application/x-protobuf" {
		return nil, fmt.Errorf("unsupported content type %q", req.ContentType)
	}
	type message interface {
		UnmarshalJSON([]byte) error
		UnmarshalProto([]byte) error
	}
	type response interface {
		MarshalJSON() ([]byte, error)
		MarshalProto() ([]byte, error)
	}
	var in message
	var out response
	switch req.Path {
	case "/v1/traces":
		r := ptraceotlp.NewExportRequest()
		in, out = &r, ptraceotlp.NewExportResponse()
		defer func() { req.Traces = r.Traces() }()
	case "/v1/metrics":
		r := pmetricotlp.NewExportRequest()
		in, out = &r, pmetricotlp.NewExportResponse()
		defer func() { req.Metrics = r.Metrics() }()
	case "/v1/logs":
		r := plogotlp.NewExportRequest()
		in, out = &r, plogotlp.NewExportResponse()
		defer func() { req.Logs = r.Logs() }()
	}
	if isJSON {
		if err := in.UnmarshalJSON(raw); err != nil {
			return nil, err
		}
		return out.MarshalJSON()
	}
	if err := in.UnmarshalProto(raw); err != nil {
		return nil, err
	}
	return out.MarshalProto()
}

// Requests returns a copy of every request received so far.
func (s *Sink) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// WaitFor polls until match returns true for the requests received so far.
func (s *Sink) WaitFor(ctx context.Context, match func([]Request) bool) ([]Request, error) {
	for {
		reqs := s.Requests()
		if match(reqs) {
			return reqs, nil
		}
		select {
		case <-ctx.Done():
			return reqs, fmt.Errorf("sink %s: condition not met: %w", s.URL, ctx.Err())
		case <-s.notify:
		case <-time.After(100 * time.Millisecond):
		}
	}
}
