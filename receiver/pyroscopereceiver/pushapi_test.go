package pyroscopereceiver

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
	"github.com/otel-ai-collector/otel-ai-collector/internal/pyroscopeattr"
)

// encodePushRequest is harness.EncodePushRequest for this package's type.
func encodePushRequest(series ...pushSeries) []byte {
	converted := make([]harness.PushSeries, len(series))
	for i, s := range series {
		converted[i] = harness.PushSeries{Labels: s.labels, Samples: s.samples}
	}
	return harness.EncodePushRequest(converted...)
}

func postPush(t *testing.T, base, contentType string, body []byte, gzipped bool) (int, map[string]string) {
	t.Helper()
	if gzipped {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = buf.Bytes()
	}
	req, err := http.NewRequest(http.MethodPost, base+pushAPIPath, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if gzipped {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	var connectErr map[string]string
	if resp.StatusCode != http.StatusOK {
		if err := json.Unmarshal(answer, &connectErr); err != nil {
			t.Fatalf("error body %q is not a Connect error: %v", answer, err)
		}
	}
	return resp.StatusCode, connectErr
}

// A push shaped like pyroscope-rs's (the Python SDK's engine): gzip
// Content-Encoding, application/proto, labels with __name__ and service_name,
// an uncompressed pprof with its own time range.
func TestPushAPIRustSDKShape(t *testing.T) {
	sink := new(consumertest.ProfilesSink)
	base := startReceiver(t, sink)
	start := time.Unix(1_700_000_000, 0)
	body := encodePushRequest(pushSeries{
		labels: map[string]string{
			"__name__": "process_cpu", "service_name": "indexer", "env": "prod",
			"otel.scope.name": "pyroscope-rs", "process.runtime.name": "python",
		},
		samples: [][]byte{harness.CPUProfile(t, start)},
	})
	if status, errBody := postPush(t, base, "application/proto", body, true); status != http.StatusOK {
		t.Fatalf("status %d: %v", status, errBody)
	}
	if len(sink.AllProfiles()) != 1 {
		t.Fatalf("%d batches, want 1", len(sink.AllProfiles()))
	}
	got := sink.AllProfiles()[0]
	attrs := got.ResourceProfiles().At(0).Resource().Attributes()
	for key, want := range map[string]string{"service.name": "indexer", "env": "prod", "process.runtime.name": "python"} {
		if v, ok := attrs.Get(key); !ok || v.Str() != want {
			t.Errorf("resource %s = %q, want %q", key, v.AsString(), want)
		}
	}
	for _, key := range []string{"service_name", "__name__"} {
		if _, ok := attrs.Get(key); ok {
			t.Errorf("label %s became a resource attribute", key)
		}
	}
	scope := got.ResourceProfiles().At(0).ScopeProfiles().At(0)
	if v, _ := scope.Scope().Attributes().Get(pyroscopeattr.ProfileName); v.Str() != "process_cpu" {
		t.Errorf("profile name %q, want process_cpu", v.Str())
	}
	if p := scope.Profiles().At(0); !p.Time().AsTime().Equal(start) || time.Duration(p.DurationNano()) != 10*time.Second {
		t.Errorf("time range from the pprof: %s + %s", p.Time().AsTime(), time.Duration(p.DurationNano()))
	}
}

func TestPushAPIRefusals(t *testing.T) {
	sink := new(consumertest.ProfilesSink)
	base := startReceiver(t, sink)
	good := harness.CPUProfile(t, time.Now())
	for _, tc := range []struct {
		name        string
		contentType string
		body        []byte
		status      int
		code        string
		mentions    string
	}{
		{"JSON", "application/json", []byte(`{"series":[]}`), 415, "invalid_argument", "application/proto"},
		{"gRPC", "application/grpc", nil, 415, "invalid_argument", "application/proto"},
		{"not protobuf", "application/proto", []byte{0xff, 0xff, 0xff}, 400, "invalid_argument", "protobuf"},
		{"no series", "application/proto", nil, 400, "invalid_argument", "no series"},
		{"no samples", "application/proto", encodePushRequest(pushSeries{labels: map[string]string{"service_name": "a"}}), 400, "invalid_argument", "no samples"},
		{"not pprof", "application/proto", encodePushRequest(pushSeries{labels: map[string]string{"service_name": "a"}, samples: [][]byte{[]byte("nope")}}), 400, "invalid_argument", "pprof"},
		{"bad label name", "application/proto", encodePushRequest(pushSeries{labels: map[string]string{"service_name": "a", "my-label": "x"}, samples: [][]byte{good}}), 400, "invalid_argument", "label name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, connectErr := postPush(t, base, tc.contentType, tc.body, false)
			if status != tc.status || connectErr["code"] != tc.code || !strings.Contains(connectErr["message"], tc.mentions) {
				t.Errorf("got %d %v, want %d %s mentioning %q", status, connectErr, tc.status, tc.code, tc.mentions)
			}
		})
	}
	if n := len(sink.AllProfiles()); n != 0 {
		t.Errorf("%d refused pushes reached the pipeline", n)
	}
}

// Pyroscope accepts a push API series without service_name (and files it
// under unknown_service); so does the receiver, leaving service.name unset
// for the pipeline's default.
func TestPushAPIWithoutServiceName(t *testing.T) {
	sink := new(consumertest.ProfilesSink)
	base := startReceiver(t, sink)
	body := encodePushRequest(pushSeries{labels: map[string]string{"__name__": "process_cpu", "env": "prod"}, samples: [][]byte{harness.CPUProfile(t, time.Now())}})
	if status, answer := postPush(t, base, "application/proto", body, false); status != http.StatusOK {
		t.Fatalf("%d %v, want 200", status, answer)
	}
	if len(sink.AllProfiles()) != 1 {
		t.Fatalf("%d batches, want 1", len(sink.AllProfiles()))
	}
	attrs := sink.AllProfiles()[0].ResourceProfiles().At(0).Resource().Attributes()
	if _, ok := attrs.Get("service.name"); ok {
		t.Errorf("service.name set: %v", attrs.AsRaw())
	}
	if v, _ := attrs.Get("env"); v.Str() != "prod" {
		t.Errorf("env = %q", v.Str())
	}
}
