package pyroscopereceiver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/consumer/xconsumer"
	"go.opentelemetry.io/collector/pdata/pprofile"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otel-ai-collector/otel-ai-collector/internal/pyroscopeattr"
	"github.com/otel-ai-collector/otel-ai-collector/receiver/pyroscopereceiver/internal/metadata"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// startReceiver runs the receiver on a free loopback port and returns its
// base URL.
func startReceiver(t testing.TB, next xconsumer.Profiles) string {
	t.Helper()
	return startReceiverWith(t, next, nil)
}

// startReceiverWith is startReceiver with a changed configuration.
func startReceiverWith(t testing.TB, next xconsumer.Profiles, edit func(*Config)) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := listener.Addr().String()
	_ = listener.Close()

	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = endpoint
	if edit != nil {
		edit(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rcv, err := newReceiver(receivertest.NewNopSettings(metadata.Type), cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	if err := rcv.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rcv.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return "http://" + endpoint
}

func push(t *testing.T, base string, query url.Values, contentType string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/ingest?"+query.Encode(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

func TestIngestGoSDKPush(t *testing.T) {
	sink := new(consumertest.ProfilesSink)
	base := startReceiver(t, sink)

	from := time.Unix(1_700_000_000, 0)
	until := from.Add(15 * time.Second)
	contentType, body := multipartBody(t, harness.CPUProfile(t, from), `{"cpu":{"units":"samples","sampled":true}}`)
	query := url.Values{
		"name":            {"checkout{env=prod,process.runtime.name=go}"},
		"from":            {strconv.FormatInt(from.UnixNano(), 10)},
		"until":           {strconv.FormatInt(until.UnixNano(), 10)},
		"spyName":         {"gospy"},
		"sampleRate":      {"100"},
		"units":           {"samples"},
		"aggregationType": {"sum"},
		"format":          {"pprof"},
	}
	status, msg := push(t, base, query, contentType, body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, msg)
	}
	if len(sink.AllProfiles()) != 1 {
		t.Fatalf("%d batches consumed, want 1", len(sink.AllProfiles()))
	}
	got := sink.AllProfiles()[0]
	resource := got.ResourceProfiles().At(0).Resource().Attributes()
	for key, want := range map[string]string{"service.name": "checkout", "env": "prod", "process.runtime.name": "go"} {
		if v, ok := resource.Get(key); !ok || v.Str() != want {
			t.Errorf("resource %s = %v, want %q", key, v.AsRaw(), want)
		}
	}
	scope := got.ResourceProfiles().At(0).ScopeProfiles().At(0)
	scopeAttrs := scope.Scope().Attributes()
	if v, _ := scopeAttrs.Get(pyroscopeattr.SpyName); v.Str() != "gospy" {
		t.Errorf("spy name = %q", v.Str())
	}
	if v, _ := scopeAttrs.Get(pyroscopeattr.SampleRate); v.Int() != 100 {
		t.Errorf("sample rate = %d", v.Int())
	}
	if v, _ := scopeAttrs.Get(pyroscopeattr.SampleTypeConfig); !strings.Contains(v.Str(), `"sampled":true`) {
		t.Errorf("sample type config = %q", v.Str())
	}
	// One OTLP profile per pprof sample type; the default (cpu) comes first.
	dict := got.Dictionary()
	profiles := scope.Profiles()
	if profiles.Len() != 2 {
		t.Fatalf("%d profiles, want 2", profiles.Len())
	}
	first := profiles.At(0)
	if typ := dict.StringTable().At(int(first.SampleType().TypeStrindex())); typ != "cpu" {
		t.Errorf("first profile type %q, want cpu", typ)
	}
	// The pprof's own time and duration (10 s), as Pyroscope files it; the
	// push's range is kept for the processor.
	for _, p := range profiles.All() {
		if !p.Time().AsTime().Equal(from) || time.Duration(p.DurationNano()) != 10*time.Second {
			t.Errorf("time %s + %s, want the pprof's %s + 10s", p.Time().AsTime(), time.Duration(p.DurationNano()), from)
		}
	}
	if v, _ := scopeAttrs.Get(pyroscopeattr.From); v.Int() != from.UnixNano() {
		t.Errorf("%s = %d, want %d", pyroscopeattr.From, v.Int(), from.UnixNano())
	}
	if v, _ := scopeAttrs.Get(pyroscopeattr.Until); v.Int() != until.UnixNano() {
		t.Errorf("%s = %d, want %d", pyroscopeattr.Until, v.Int(), until.UnixNano())
	}
	if !hasFunction(got, "main.burn") {
		t.Error("main.burn is not in the function table")
	}
}

func TestIngestRawBodyAndErrors(t *testing.T) {
	sink := new(consumertest.ProfilesSink)
	base := startReceiver(t, sink)
	body := harness.CPUProfile(t, time.Now())

	// A raw pprof body, as clients other than the Go SDK send it.
	if status, msg := push(t, base, url.Values{"name": {"worker"}}, "application/octet-stream", body); status != http.StatusOK {
		t.Fatalf("raw body: %d %s", status, msg)
	}
	if status, msg := push(t, base, url.Values{}, "", body); status != http.StatusBadRequest || !strings.Contains(msg, "name") {
		t.Errorf("missing name: %d %s", status, msg)
	}
	resp, err := http.Get(base + "/ingest?name=app")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /ingest: %d, want 405", resp.StatusCode)
	}
	resp, err = http.Post(base+"/render", "application/proto", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %d, want 404", resp.StatusCode)
	}
	if len(sink.AllProfiles()) != 1 {
		t.Errorf("%d batches consumed, want only the good push", len(sink.AllProfiles()))
	}
}

func TestIngestPipelineErrorIs503(t *testing.T) {
	base := startReceiver(t, consumertest.NewErr(errors.New("queue is full")))
	status, msg := push(t, base, url.Values{"name": {"app"}}, "", harness.CPUProfile(t, time.Now()))
	if status != http.StatusServiceUnavailable || !strings.Contains(msg, "queue is full") {
		t.Errorf("got %d %q, want 503 naming the cause", status, msg)
	}
}

func TestIngestTooLarge(t *testing.T) {
	sink := new(consumertest.ProfilesSink)
	base := startReceiver(t, sink)
	status, msg := push(t, base, url.Values{"name": {"app"}}, "", make([]byte, defaultMaxRequestBodySize+1))
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("got %d %q, want 413", status, msg)
	}
}

func hasFunction(p pprofile.Profiles, name string) bool {
	dict := p.Dictionary()
	for _, fn := range dict.FunctionTable().All() {
		if dict.StringTable().At(int(fn.NameStrindex())) == name {
			return true
		}
	}
	return false
}

// The profiles' time is the one Pyroscope files a push under (fixTime,
// pkg/og/convert/pprof/profile.go v2.0.6): the pprof's own, and from only
// when the pprof has none or one in 1970.
func TestProfileTimeAsPyroscopeFilesIt(t *testing.T) {
	from := time.Unix(1_700_000_000, 0)
	until := from.Add(10 * time.Second)
	for _, tc := range []struct {
		name      string
		timeNanos int64
		want      time.Time
	}{
		{"heap profile taken at until", until.UnixNano(), until},
		{"no time", 0, from},
		{"microseconds (1970)", from.UnixMicro(), from},
	} {
		parsed, err := profile.ParseData(harness.CPUProfile(t, from))
		if err != nil {
			t.Fatal(err)
		}
		parsed.TimeNanos = tc.timeNanos
		push := &ingestRequest{serviceName: "app", from: from, until: until, profile: parsed}
		profiles, err := toProfiles(push, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range profiles.ResourceProfiles().At(0).ScopeProfiles().At(0).Profiles().All() {
			if got := p.Time().AsTime(); !got.Equal(tc.want) {
				t.Errorf("%s: time %s, want %s", tc.name, got, tc.want)
			}
		}
	}
}
