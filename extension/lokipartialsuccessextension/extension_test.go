package lokipartialsuccessextension

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configmiddleware"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/exporter/otlphttpexporter"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/otel-ai-collector/otel-ai-collector/extension/lokipartialsuccessextension/internal/metadata"
)

var extID = component.NewID(metadata.Type)

type setup struct {
	tel  *componenttest.Telemetry
	logs *observer.ObservedLogs
	ext  *lokiPartialSuccess
}

func newSetup(t testing.TB) setup {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	core, logs := observer.New(zap.WarnLevel)
	set := extensiontest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	ext, err := NewFactory().Create(context.Background(), set, createDefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := ext.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ext.Shutdown(context.Background()) })
	return setup{tel, logs, ext.(*lokiPartialSuccess)}
}

func (s setup) refused(t *testing.T) int64 {
	t.Helper()
	m, err := s.tel.GetMetric("otelcol_extension_loki_partial_success_refused_log_records")
	if err != nil {
		return 0 // never recorded
	}
	var total int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		total += dp.Value
	}
	return total
}

// client is an HTTP client as an exporter gets it from confighttp, with
// the extension as its middleware.
func (s setup) client(t *testing.T, compression configcompression.Type) *http.Client {
	t.Helper()
	cfg := confighttp.NewDefaultClientConfig()
	cfg.Compression = compression
	cfg.Middlewares = []configmiddleware.Config{{ID: extID}}
	c, err := cfg.ToClient(context.Background(), map[component.ID]component.Component{extID: s.ext}, componenttest.NewNopTelemetrySettings())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// lokiAnswer answers as Loki's pkg/loghttp/push/push.go OTLPError does: the
// status code, then a protobuf google.rpc.Status with code 0 and the
// message (its Content-Type, set after WriteHeader, is not sent; Go's
// server sniffs one).
func lokiAnswer(code int, msg string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(code)
		body, _ := proto.Marshal(status.New(0, msg).Proto())
		_, _ = w.Write(body)
	}
}

func logs(n int) plog.Logs {
	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i := range n {
		recs.AppendEmpty().Body().SetStr(fmt.Sprintf("line %d", i))
	}
	return ld
}

func encode(t *testing.T, contentType string, ld plog.Logs) []byte {
	t.Helper()
	req := plogotlp.NewExportRequestFromLogs(ld)
	var b []byte
	var err error
	if contentType == jsonContentType {
		b, err = req.MarshalJSON()
	} else {
		b, err = req.MarshalProto()
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func post(t *testing.T, c *http.Client, url, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, got
}

// Loki stored 3 of 5 records: the exporter gets 200 with a partial success
// rejecting 2 and Loki's message, in the request's encoding, whatever the
// compression (the encodings Loki accepts).
func TestTranslatesPartialRefusal(t *testing.T) {
	at := time.Date(2026, 11, 20, 1, 2, 3, 0, time.UTC)
	msg := grouped([]string{tooOld(svc, at), tooOld(svc, at.Add(time.Second))})
	for _, ct := range []string{protobufContentType, jsonContentType} {
		for _, comp := range []configcompression.Type{"", configcompression.TypeGzip, configcompression.TypeZstd, configcompression.TypeLz4} {
			t.Run(ct+"/"+string(comp), func(t *testing.T) {
				s := newSetup(t)
				var gotEncoding string
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					gotEncoding = r.Header.Get("Content-Encoding")
					lokiAnswer(http.StatusBadRequest, msg)(w, r)
				}))
				defer srv.Close()

				resp, body := post(t, s.client(t, comp), srv.URL, ct, encode(t, ct, logs(5)))
				if gotEncoding != string(comp) {
					t.Fatalf("Loki got Content-Encoding %q, want %q", gotEncoding, comp)
				}
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ct || resp.ContentLength != int64(len(body)) {
					t.Fatalf("answer %d %q, length %d for %d bytes; want 200 %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.ContentLength, len(body), ct)
				}
				out := plogotlp.NewExportResponse()
				var err error
				if ct == jsonContentType {
					err = out.UnmarshalJSON(body)
				} else {
					err = out.UnmarshalProto(body)
				}
				if err != nil {
					t.Fatal(err)
				}
				if ps := out.PartialSuccess(); ps.RejectedLogRecords() != 2 || ps.ErrorMessage() != msg {
					t.Errorf("partial success rejected %d, message %q; want 2, %q", ps.RejectedLogRecords(), ps.ErrorMessage(), msg)
				}
				if got := s.refused(t); got != 2 {
					t.Errorf("refused counter %d, want 2", got)
				}
				warn := s.logs.FilterMessageSnippet("as an OTLP partial success").All()
				if len(warn) != 1 || warn[0].ContextMap()["refused_log_records"] != int64(2) ||
					warn[0].ContextMap()["log_records"] != int64(5) || warn[0].ContextMap()["loki_message"] != msg {
					t.Errorf("warnings %v; want one with refused_log_records 2, log_records 5 and Loki's message", s.logs.All())
				}
			})
		}
	}
}

// Everything but a countable refusal of part of the request reaches the
// exporter as it came.
func TestPassesOtherAnswersOn(t *testing.T) {
	at := time.Date(2026, 11, 20, 1, 2, 3, 0, time.UTC)
	statusBody := func(msg string) []byte {
		b, _ := proto.Marshal(status.New(0, msg).Proto())
		return b
	}
	huge := statusBody(grouped([]string{tooOld(svc, at), strings.Repeat("x", maxStatusBytes)}))
	for _, tc := range []struct {
		name    string
		code    int
		body    []byte
		records int
		warn    bool // a warning about the 400 passed on
	}{
		{"stored all", http.StatusNoContent, nil, 5, false},
		{"unavailable", http.StatusServiceUnavailable, statusBody("rpc error: code = Unavailable"), 5, false},
		{"no tenant", http.StatusBadRequest, statusBody("no org id"), 5, false},
		{"malformed request", http.StatusBadRequest, statusBody("proto: cannot parse invalid wire-format data"), 5, false},
		{"refused all", http.StatusBadRequest, statusBody(grouped([]string{tooOld(svc, at), tooOld(svc, at), tooNew(svc, at)})), 3, false},
		{"refused more than sent", http.StatusBadRequest, statusBody(grouped([]string{tooOld(svc, at), tooOld(svc, at)})), 1, true},
		{"stream-level refusal", http.StatusBadRequest,
			statusBody(grouped([]string{tooOld(svc, at), fmt.Sprintf("entry for stream '%s' has %d label names; limit %d", svc, 31, 30)})), 5, true},
		{"not a Status", http.StatusBadRequest, []byte("<html><body>400 Bad Request</body></html>"), 5, false},
		{"longer than read", http.StatusBadRequest, huge, 5, false},
		{"rate limited", http.StatusTooManyRequests, statusBody(tooOld(svc, at)), 5, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSetup(t)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.WriteHeader(tc.code)
				_, _ = w.Write(tc.body)
			}))
			defer srv.Close()
			resp, body := post(t, s.client(t, configcompression.TypeGzip), srv.URL, protobufContentType, encode(t, protobufContentType, logs(tc.records)))
			if resp.StatusCode != tc.code || !bytes.Equal(body, tc.body) {
				t.Errorf("answer %d with %d bytes; want %d with the %d bytes Loki sent", resp.StatusCode, len(body), tc.code, len(tc.body))
			}
			if got := s.refused(t); got != 0 {
				t.Errorf("refused counter %d, want 0", got)
			}
			warned := s.logs.FilterMessageSnippet("for a whole log request").Len() > 0
			if warned != tc.warn || s.logs.FilterMessageSnippet("as an OTLP partial success").Len() > 0 {
				t.Errorf("warnings %v; want the may-have-stored warning: %v", s.logs.All(), tc.warn)
			}
		})
	}
}

// A request whose body cannot be read again is passed on, with the warning.
func TestPassesOnWhenTheRequestCannotBeCounted(t *testing.T) {
	s := newSetup(t)
	msg := tooOld(svc, time.Date(2026, 11, 20, 1, 2, 3, 0, time.UTC))
	srv := httptest.NewServer(lokiAnswer(http.StatusBadRequest, msg))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, io.MultiReader(bytes.NewReader(encode(t, protobufContentType, logs(5)))))
	req.Header.Set("Content-Type", protobufContentType)
	resp, err := s.client(t, "").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || s.logs.FilterMessageSnippet("may have stored part of it").Len() != 1 {
		t.Errorf("answer %d, warnings %v; want 400 and the may-have-stored warning", resp.StatusCode, s.logs.All())
	}
}

// Loki's message is cut so that the answer fits what the exporter reads.
func TestLongMessageFitsTheExporter(t *testing.T) {
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var refusals []string
	for i := range 2000 {
		refusals = append(refusals, tooOld(stream("service_name", strings.Repeat("<&>", 10)), at.Add(time.Duration(i)*time.Second)))
	}
	msg := grouped(refusals)
	for _, ct := range []string{protobufContentType, jsonContentType} {
		s := newSetup(t)
		srv := httptest.NewServer(lokiAnswer(http.StatusBadRequest, msg))
		resp, body := post(t, s.client(t, configcompression.TypeGzip), srv.URL, ct, encode(t, ct, logs(4000)))
		srv.Close()
		if resp.StatusCode != http.StatusOK || len(body) > maxAnswerBytes {
			t.Errorf("%s: answer %d with %d bytes; want 200 with at most %d", ct, resp.StatusCode, len(body), maxAnswerBytes)
		}
		if got := s.refused(t); got != 2000 {
			t.Errorf("%s: refused counter %d, want 2000", ct, got)
		}
	}
}

type host struct {
	component.Host
	ext map[component.ID]component.Component
}

func (h host) GetExtensions() map[component.ID]component.Component { return h.ext }

// The stock OTLP/HTTP exporter, with the extension as its middleware, logs
// the partial success with the refused count and does not fail the request;
// a refusal that cannot be counted still fails it as a whole.
func TestWithTheOTLPHTTPExporter(t *testing.T) {
	at := time.Date(2026, 11, 20, 1, 2, 3, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		msg       string
		permanent bool
		dropped   int64
	}{
		{"partial", tooOld(svc, at), false, 1},
		{"stream-level", fmt.Sprintf("entry for stream '%s' has %d label names; limit %d", svc, 31, 30), true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSetup(t)
			srv := httptest.NewServer(lokiAnswer(http.StatusBadRequest, tc.msg))
			defer srv.Close()

			f := otlphttpexporter.NewFactory()
			cfg := f.CreateDefaultConfig().(*otlphttpexporter.Config)
			cfg.LogsEndpoint = srv.URL + "/otlp/v1/logs"
			cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
			cfg.RetryConfig.Enabled = false
			cfg.ClientConfig.Middlewares = []configmiddleware.Config{{ID: extID}}
			core, expLogs := observer.New(zap.WarnLevel)
			set := exportertest.NewNopSettings(f.Type())
			set.Logger = zap.New(core)
			exp, err := f.CreateLogs(context.Background(), set, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := exp.Start(context.Background(), host{componenttest.NewNopHost(), map[component.ID]component.Component{extID: s.ext}}); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = exp.Shutdown(context.Background()) }()

			err = exp.ConsumeLogs(context.Background(), logs(5))
			if tc.permanent {
				if !consumererror.IsPermanent(err) {
					t.Errorf("ConsumeLogs: %v; want a permanent error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ConsumeLogs: %v", err)
			}
			lines := expLogs.FilterMessage("Partial success response").All()
			if len(lines) != 1 || lines[0].ContextMap()["dropped_log_records"] != tc.dropped || lines[0].ContextMap()["message"] != tc.msg {
				t.Errorf("exporter logged %v; want one Partial success response with %d dropped and Loki's message", expLogs.All(), tc.dropped)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Whatever a 400's body holds, the exporter gets either that 400 unchanged
// or a partial success refusing at least one and fewer than all records,
// with a count the message gives exactly.
func FuzzTranslate(f *testing.F) {
	at := time.Date(2026, 11, 20, 1, 2, 3, 0, time.UTC)
	for _, msg := range []string{tooOld(svc, at), grouped([]string{tooOld(svc, at), tooNew(svc, at), tooNew(svc, at)}), "no org id"} {
		b, _ := proto.Marshal(status.New(0, msg).Proto())
		f.Add(b, uint8(5))
	}
	f.Add([]byte("<html>"), uint8(1))
	s := newSetup(f)
	f.Fuzz(func(t *testing.T, body []byte, records uint8) {
		rt := &roundTripper{ext: s.ext, next: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusBadRequest, Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
		})}
		n := int(records % 20)
		req, _ := http.NewRequest(http.MethodPost, "http://loki.invalid/otlp/v1/logs", bytes.NewReader(encode(t, protobufContentType, logs(n))))
		req.Header.Set("Content-Type", protobufContentType)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		switch resp.StatusCode {
		case http.StatusBadRequest:
			if !bytes.Equal(got, body) {
				t.Fatalf("400 passed on with %d bytes, Loki sent %d", len(got), len(body))
			}
		case http.StatusOK:
			out := plogotlp.NewExportResponse()
			if err := out.UnmarshalProto(got); err != nil {
				t.Fatal(err)
			}
			var st statuspb.Status
			_ = proto.Unmarshal(body, &st)
			want, ok := countRefused(st.GetMessage())
			rejected := int(out.PartialSuccess().RejectedLogRecords())
			if !ok || rejected != want || rejected < 1 || rejected >= n {
				t.Fatalf("partial success rejecting %d of %d; message counts %d (%v)", rejected, n, want, ok)
			}
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}
