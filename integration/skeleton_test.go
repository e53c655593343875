package integration

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// claudeCode is the resource Claude Code sets on its telemetry.
var claudeCode = []attribute.KeyValue{
	attribute.String("service.name", "claude-code"),
	attribute.String("service.version", "2.0.0"),
}

// startDefault runs the binary with no --config, the monitor pointed at sink.
func startDefault(t *testing.T, sink *harness.Sink, env map[string]string) *harness.Collector {
	t.Helper()
	all := map[string]string{"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT": sink.URL}
	for k, v := range env {
		all[k] = v
	}
	return harness.Start(t, binary, harness.Options{Env: all})
}

func withTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// spansNamed returns the spans with the given name across requests, each
// with its resource's service.name.
func spansNamed(reqs []harness.Request, name string) (spans []ptrace.Span, services []string) {
	for _, r := range reqs {
		if r.Path != "/v1/traces" {
			continue
		}
		for _, rs := range r.Traces.ResourceSpans().All() {
			service, _ := rs.Resource().Attributes().Get("service.name")
			for _, ss := range rs.ScopeSpans().All() {
				for _, span := range ss.Spans().All() {
					if span.Name() == name {
						spans = append(spans, span)
						services = append(services, service.AsString())
					}
				}
			}
		}
	}
	return spans, services
}

func TestDefaultConfigAcceptsOTLPOverGRPCAndHTTP(t *testing.T) {
	sink := harness.NewSink(t)
	c := startDefault(t, sink, nil)
	ctx := withTimeout(t, 30*time.Second)

	for _, tc := range []struct {
		protocol harness.Protocol
		endpoint string
	}{
		{harness.GRPC, c.OTLPGRPCEndpoint},
		{harness.HTTP, c.OTLPHTTPEndpoint},
	} {
		sdk := harness.NewSDK(t, tc.protocol, tc.endpoint, claudeCode...)
		_, span := sdk.Tracer.Start(ctx, "claude_code.interaction."+string(tc.protocol))
		span.SetAttributes(attribute.String("session.id", "s-1"))
		span.End()
	}

	reqs, err := sink.WaitFor(ctx, func(reqs []harness.Request) bool {
		grpc, _ := spansNamed(reqs, "claude_code.interaction.grpc")
		http, _ := spansNamed(reqs, "claude_code.interaction.http/protobuf")
		return len(grpc) > 0 && len(http) > 0
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"claude_code.interaction.grpc", "claude_code.interaction.http/protobuf"} {
		spans, services := spansNamed(reqs, name)
		if len(spans) != 1 {
			t.Errorf("%s: got %d spans at the monitor, want exactly 1", name, len(spans))
			continue
		}
		if services[0] != "claude-code" {
			t.Errorf("%s: service.name = %q, want claude-code", name, services[0])
		}
		if v, _ := spans[0].Attributes().Get("session.id"); v.AsString() != "s-1" {
			t.Errorf("%s: session.id = %q, want s-1", name, v.AsString())
		}
	}
}

func TestAILogRecordReachesMonitorAsUncompressedJSON(t *testing.T) {
	sink := harness.NewSink(t)
	c := startDefault(t, sink, nil)
	ctx := withTimeout(t, 30*time.Second)

	// A non-AI service first: it must not reach the monitor.
	other := harness.NewSDK(t, harness.HTTP, c.OTLPHTTPEndpoint, attribute.String("service.name", "my-web-app"))
	other.EmitLog(ctx, "not an AI session", log.String("event.name", "web.request"))

	sdk := harness.NewSDK(t, harness.HTTP, c.OTLPHTTPEndpoint, claudeCode...)
	sdk.EmitLog(ctx, "claude_code.user_prompt",
		log.String("event.name", "user_prompt"),
		log.String("session.id", "7d3c5f0e-1b2a-4c3d-9e8f-0a1b2c3d4e5f"),
		log.Int("prompt_length", 42),
	)

	reqs, err := sink.WaitFor(ctx, func(reqs []harness.Request) bool { return len(logRecords(reqs)) > 0 })
	if err != nil {
		t.Fatal(err)
	}
	// Give a wrongly routed non-AI record time to arrive before asserting.
	time.Sleep(500 * time.Millisecond)
	reqs = sink.Requests()

	records := logRecords(reqs)
	if len(records) != 1 {
		t.Fatalf("monitor got %d log records, want exactly the 1 from claude-code: %v", len(records), records)
	}
	got := records[0]
	if got.service != "claude-code" || got.body != "claude_code.user_prompt" {
		t.Errorf("got service %q body %q, want claude-code / claude_code.user_prompt", got.service, got.body)
	}
	wantAttrs := map[string]any{
		"event.name":    "user_prompt",
		"session.id":    "7d3c5f0e-1b2a-4c3d-9e8f-0a1b2c3d4e5f",
		"prompt_length": int64(42),
	}
	if diff := compareMaps(got.attributes, wantAttrs); diff != "" {
		t.Errorf("attributes: %s", diff)
	}
	for _, r := range reqs {
		if r.ContentType != "application/json" || r.ContentEncoding != "" {
			t.Errorf("monitor request %s: Content-Type %q, Content-Encoding %q; want application/json, none",
				r.Path, r.ContentType, r.ContentEncoding)
		}
	}
}

func TestAIServiceListIsConfigurable(t *testing.T) {
	sink := harness.NewSink(t)
	c := startDefault(t, sink, map[string]string{"OTEL_AI_COLLECTOR_AI_SERVICES": "my.agent,aider"})
	ctx := withTimeout(t, 30*time.Second)

	for _, service := range []string{"claude-code", "myXagent", "my.agent"} {
		status, msg, err := harness.PostLogs(c.OTLPHTTPEndpoint, harness.NewLogs(service, "from "+service))
		if err != nil || status != http.StatusOK {
			t.Fatalf("%s: %d %q %v", service, status, msg, err)
		}
	}
	if _, err := sink.WaitFor(ctx, func(reqs []harness.Request) bool { return len(logRecords(reqs)) > 0 }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	records := logRecords(sink.Requests())
	if len(records) != 1 || records[0].service != "my.agent" {
		t.Errorf("monitor got %v; want only my.agent's record (the list replaces the defaults, '.' is literal)", records)
	}
	// claude-code's record looked like an AI CLI's: the list left it out,
	// which is counted and said once.
	if err := c.WaitForLog(ctx, "left out of the selected pipelines"); err != nil {
		t.Errorf("no log line for the AI-looking record the list left out: %v", err)
	}
	if n, err := c.Metric("otelcol_connector_ordered_fanout_unselected_resources_total", `signal="logs"`); err != nil || n != 1 {
		t.Errorf("unselected resources counted %v (%v), want 1 (claude-code; myXagent does not look like an AI CLI)", n, err)
	}
	if got := strings.Count(c.Logs(), "left out of the selected pipelines"); got != 1 {
		t.Errorf("%d log lines about left-out telemetry, want 1", got)
	}
}

// Without a list, AI CLIs' telemetry is recognised by what it is: any
// service.name of theirs (codex exec sends codex_exec, which no list had),
// or, under any service.name, their scopes and event names. Others' is not.
func TestAITelemetryRecognised(t *testing.T) {
	sink := harness.NewSink(t)
	c := startDefault(t, sink, nil)
	ctx := withTimeout(t, 30*time.Second)

	send := func(service, scope, eventName, body string) {
		t.Helper()
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", service)
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName(scope)
		rec := sl.LogRecords().AppendEmpty()
		rec.Body().SetStr(body)
		if eventName != "" {
			rec.Attributes().PutStr("event.name", eventName)
		}
		status, msg, err := harness.PostLogs(c.OTLPHTTPEndpoint, ld)
		if err != nil || status != http.StatusOK {
			t.Fatalf("%s: %d %q %v", service, status, msg, err)
		}
	}
	send("codex_exec", "codex_otel.log_only", "codex.user_prompt", "")
	send("codex-tui", "", "", "plain line")
	send("my-claude-wrapper", "com.anthropic.claude_code.events", "user_prompt", "claude_code.user_prompt")
	send("renamed-by-user", "", "gemini_cli.api_request", "")
	send("my-web-app", "my.scope", "http.request", "GET /")
	send("codexample", "", "", "codex is mentioned here")

	want := []string{"codex-tui", "codex_exec", "my-claude-wrapper", "renamed-by-user"}
	if _, err := sink.WaitFor(ctx, func(reqs []harness.Request) bool { return len(logRecords(reqs)) >= len(want) }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	var got []string
	for _, r := range logRecords(sink.Requests()) {
		got = append(got, r.service)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("monitor got records of %v, want %v", got, want)
	}
	if strings.Contains(c.Logs(), "left out of the selected pipelines") {
		t.Error("without a list, nothing is reported as left out")
	}
}

// eBPF spans relayed over OTLP (e.g. by another collector) are kept off the
// monitor path by their telemetry.sdk.name, whatever their service.name.
func TestEBPFSpansOverOTLPSkipTheMonitor(t *testing.T) {
	sink := harness.NewSink(t)
	c := startDefault(t, sink, nil)
	ctx := withTimeout(t, 30*time.Second)
	ebpf := harness.NewSDK(t, harness.HTTP, c.OTLPHTTPEndpoint,
		attribute.String("service.name", "claude-code"), attribute.String("telemetry.sdk.name", "otel-ai-collector-ebpf"))
	_, span := ebpf.Tracer.Start(ctx, "tcp.connection")
	span.End()
	ai := harness.NewSDK(t, harness.HTTP, c.OTLPHTTPEndpoint, claudeCode...)
	_, span = ai.Tracer.Start(ctx, "claude_code.interaction")
	span.End()

	if _, err := sink.WaitFor(ctx, func(reqs []harness.Request) bool {
		s, _ := spansNamed(reqs, "claude_code.interaction")
		return len(s) == 1
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if s, _ := spansNamed(sink.Requests(), "tcp.connection"); len(s) != 0 {
		t.Errorf("an eBPF span reached the monitor")
	}
}

type logRecord struct {
	service    string
	body       string
	attributes map[string]any
}

func logRecords(reqs []harness.Request) []logRecord {
	var out []logRecord
	for _, r := range reqs {
		if r.Path != "/v1/logs" {
			continue
		}
		for _, rl := range r.Logs.ResourceLogs().All() {
			service, _ := rl.Resource().Attributes().Get("service.name")
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					out = append(out, logRecord{service.AsString(), lr.Body().AsString(), lr.Attributes().AsRaw()})
				}
			}
		}
	}
	return out
}

func compareMaps(got, want map[string]any) string {
	var diffs []string
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			diffs = append(diffs, k+": got "+pcommonString(g)+", want "+pcommonString(w))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, "unexpected "+k)
		}
	}
	return strings.Join(diffs, "; ")
}

func pcommonString(v any) string {
	value := pcommon.NewValueEmpty()
	_ = value.FromRaw(v)
	return value.AsString()
}

func TestMalformedOTLPIsRejectedWith4xx(t *testing.T) {
	sink := harness.NewSink(t)
	c := startDefault(t, sink, nil)

	var gzipped bytes.Buffer
	gz := gzip.NewWriter(&gzipped)
	_, _ = gz.Write([]byte(`{"resourceLogs": [`))
	_ = gz.Close()

	// 21 MiB, over the receiver's 8 MiB request limit (and the stock 20 MiB).
	oversized := []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"` +
		strings.Repeat("x", 21<<20) + `"}}]}]}]}`)

	// 200 MiB of zeros in about 200 KiB of gzip: must be cut off while
	// decompressing, not inflated into memory.
	var bomb bytes.Buffer
	gz, _ = gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 200 {
		_, _ = gz.Write(zeros)
	}
	_ = gz.Close()

	for _, tc := range []struct {
		name, contentType, encoding string
		body                        []byte
		wantStatus                  int
	}{
		{"bad JSON", "application/json", "", []byte(`{"resourceLogs": [{`), http.StatusBadRequest},
		{"bad protobuf", "application/x-protobuf", "", []byte{0xff, 0xff, 0xff, 0x01, 0x02}, http.StatusBadRequest},
		{"wrong content type", "text/plain", "", []byte("hello"), http.StatusUnsupportedMediaType},
		{"truncated JSON inside gzip", "application/json", "gzip", gzipped.Bytes(), http.StatusBadRequest},
		{"gzip header on plain body", "application/json", "gzip", []byte(`{}`), http.StatusBadRequest},
		{"oversized body", "application/json", "", oversized, http.StatusBadRequest},
		{"gzip bomb", "application/x-protobuf", "gzip", bomb.Bytes(), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, c.OTLPHTTPEndpoint+"/v1/logs", bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tc.contentType)
			if tc.encoding != "" {
				req.Header.Set("Content-Encoding", tc.encoding)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d (body %q)", resp.StatusCode, tc.wantStatus, body)
			}
			if len(bytes.TrimSpace(body)) == 0 {
				t.Errorf("no error message in the %d response", resp.StatusCode)
			}
		})
	}

	if rss, err := c.RSS(); err != nil || rss > 150<<20 {
		t.Errorf("RSS after malformed input %d MiB (err %v); the oversized inputs were buffered", rss>>20, err)
	}

	// The collector is still up and still forwarding.
	ctx := withTimeout(t, 30*time.Second)
	sdk := harness.NewSDK(t, harness.HTTP, c.OTLPHTTPEndpoint, claudeCode...)
	sdk.EmitLog(ctx, "claude_code.api_request", log.String("session.id", "s-2"))
	if _, err := sink.WaitFor(ctx, func(reqs []harness.Request) bool { return len(logRecords(reqs)) == 1 }); err != nil {
		t.Fatalf("after malformed input: %v", err)
	}
	if got := logRecords(sink.Requests()); len(got) != 1 || got[0].body != "claude_code.api_request" {
		t.Errorf("monitor got %v, want only the valid claude_code.api_request record", got)
	}
}

func TestValidate(t *testing.T) {
	t.Run("embedded default is valid", func(t *testing.T) {
		out, err := exec.Command(binary, "validate").CombinedOutput()
		if err != nil {
			t.Fatalf("validate: %v\n%s", err, out)
		}
	})
	t.Run("with remote export", func(t *testing.T) {
		cmd := exec.Command(binary, "validate")
		cmd.Env = append(os.Environ(), "OTEL_AI_COLLECTOR_REMOTE_ENDPOINT=https://gateway.example:4318",
			"OTEL_AI_COLLECTOR_STATE_DIR="+t.TempDir())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("validate: %v\n%s", err, out)
		}
	})
	t.Run("shipped examples", func(t *testing.T) {
		root, err := harness.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		for _, layers := range [][]string{
			{"embedded:default.yaml", "embedded:remote.yaml", "embedded:host-metrics.yaml", "embedded:journald.yaml", "embedded:remote-gateway.yaml"},
			{"embedded:default.yaml", "embedded:remote.yaml", "embedded:host-metrics.yaml", filepath.Join(root, "config/examples/remote-direct.yaml")},
			{"embedded:default.yaml", "embedded:remote.yaml", filepath.Join(root, "config/examples/remote-gateway-grpc.yaml")},
		} {
			args := []string{"validate"}
			for _, layer := range layers {
				args = append(args, "--config", layer)
			}
			cmd := exec.Command(binary, args...)
			cmd.Env = append(os.Environ(), "OTEL_AI_COLLECTOR_REMOTE_ENDPOINT=https://gateway.example:4318",
				"OTEL_AI_COLLECTOR_STATE_DIR="+t.TempDir())
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("validate %v: %v\n%s", layers, err, out)
			}
		}
	})
	t.Run("broken config names the key", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "broken.yaml")
		config := `
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:4318
        max_request_body_sise: 10
exporters:
  debug: {}
service:
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [debug]
`
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(binary, "validate", "--config", path).CombinedOutput()
		if err == nil {
			t.Fatalf("validate accepted a config with an unknown key:\n%s", out)
		}
		if !strings.Contains(string(out), "max_request_body_sise") {
			t.Errorf("validate's message does not name the bad key:\n%s", out)
		}
	})
}

func TestComponentsListsTheDistribution(t *testing.T) {
	out, err := exec.Command(binary, "components").CombinedOutput()
	if err != nil {
		t.Fatalf("components: %v\n%s", err, out)
	}
	for _, name := range []string{
		// receivers
		"otlp", "host_metrics", "journald",
		// processors
		"batch", "memory_limiter", "resource", "attributes", "transform", "filter", "delta_to_cumulative",
		// connectors
		"forward", "span_metrics",
		// exporters
		"otlp_grpc", "otlp_http", "debug", "file",
		// extensions
		"file_storage", "resilient_file_storage", "health_check", "zpages", "pprof", "bearertokenauth", "loki_partial_success",
	} {
		if !strings.Contains(string(out), "- name: "+name+"\n") {
			t.Errorf("components does not list %q", name)
		}
	}
}
