package integration

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

const testHostname = "workstation-test"

// startWithRemote runs the embedded default with remote export to remoteURL.
func startWithRemote(t *testing.T, sink *harness.Sink, remoteURL string, opts harness.Options) *harness.Collector {
	t.Helper()
	env := map[string]string{
		"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT": sink.URL,
		"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT":  remoteURL,
		"OTEL_AI_COLLECTOR_HOSTNAME":         testHostname,
	}
	for k, v := range opts.Env {
		env[k] = v
	}
	opts.Env = env
	return harness.Start(t, binary, opts)
}

// remoteSpans flattens what the backend received into name -> resource.
func remoteSpans(batches []ptrace.Traces) map[string]pcommon.Map {
	out := map[string]pcommon.Map{}
	for _, td := range batches {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, span := range ss.Spans().All() {
					out[span.Name()] = rs.Resource().Attributes()
				}
			}
		}
	}
	return out
}

// metricNamed finds the latest metric of that name across batches, with its
// resource.
func metricNamed(batches []pmetric.Metrics, name string) (pmetric.Metric, pcommon.Map, bool) {
	for i := len(batches) - 1; i >= 0; i-- {
		md := batches[i]
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					if m.Name() == name {
						return m, rm.Resource().Attributes(), true
					}
				}
			}
		}
	}
	return pmetric.Metric{}, pcommon.Map{}, false
}

func attr(m pcommon.Map, key string) string {
	v, ok := m.Get(key)
	if !ok {
		return "<unset>"
	}
	return v.AsString()
}

func TestFanOutToMonitorAndRemote(t *testing.T) {
	sink := harness.NewSink(t)
	backend := harness.StartBackend(t, binary)
	c := startWithRemote(t, sink, backend.URL, harness.Options{})
	ctx := withTimeout(t, 90*time.Second)

	ai := harness.NewSDK(t, harness.HTTP, c.OTLPHTTPEndpoint, append(claudeCode, attribute.String("session.id", "sess-42"))...)
	// Claude Code's own tool spans as 2.1.328 sends them: all named
	// claude_code.tool, the tool in gen_ai.tool.name and tool_name.
	_, read := ai.Tracer.Start(ctx, "claude_code.tool")
	read.SetAttributes(attribute.String("gen_ai.request.model", "claude-sonnet-4-5"), attribute.String("gen_ai.tool.name", "Read"), attribute.String("tool_name", "Read"))
	read.End()
	_, generic := ai.Tracer.Start(ctx, "claude_code.tool")
	generic.SetAttributes(attribute.String("gen_ai.tool.name", "Bash"), attribute.String("tool_name", "Bash"), attribute.String("gen_ai.request.model", "claude-sonnet-4-5"))
	generic.End()
	ai.EmitLog(ctx, "claude_code.tool_result", log.String("event.name", "tool_result"), log.String("tool_name", "Read"))
	tokens, err := ai.Meter.Int64Counter("claude_code.token.usage")
	if err != nil {
		t.Fatal(err)
	}
	tokens.Add(ctx, 1234, metric.WithAttributes(attribute.String("type", "input"), attribute.String("model", "claude-sonnet-4-5")))
	if err := ai.FlushMetrics(ctx); err != nil {
		t.Fatal(err)
	}

	// A non-AI app that sets its own host.name: remote only, host.name kept.
	app := harness.NewSDK(t, harness.GRPC, c.OTLPGRPCEndpoint,
		attribute.String("service.name", "my-web-app"), attribute.String("host.name", "laptop-2"))
	_, web := app.Tracer.Start(ctx, "GET /")
	web.End()
	// Only Claude Code's spans are renamed, whatever their attributes.
	_, query := app.Tracer.Start(ctx, "claude_code.tool")
	query.SetAttributes(attribute.String("gen_ai.tool.name", "psql"))
	query.End()

	// Remote: everything, enriched, tool spans renamed, span metrics added.
	var spans map[string]pcommon.Map
	deadline := time.Now().Add(60 * time.Second)
	for {
		spans = remoteSpans(backend.Traces())
		_, _, haveTokens := metricNamed(backend.Metrics(), "claude_code.token.usage")
		// A cumulative span metric series starts at 0; the next flush
		// (15 s later) carries the counts.
		calls, _, found := metricNamed(backend.Metrics(), "traces.span.metrics.calls")
		haveCalls := found && sumOf(calls) == 2
		if len(spans) >= 4 && haveTokens && haveCalls && len(backend.Logs()) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("remote got spans %v, tokens metric %v, span metrics %v, %d log batches",
				keys(spans), haveTokens, haveCalls, len(backend.Logs()))
		}
		time.Sleep(200 * time.Millisecond)
	}
	for name, want := range map[string][2]string{
		"claude_code.tool (Read)": {"claude-code", testHostname},
		"claude_code.tool (Bash)": {"claude-code", testHostname},
		"GET /":                   {"my-web-app", "laptop-2"},
		"claude_code.tool":        {"my-web-app", "laptop-2"},
	} {
		res, ok := spans[name]
		if !ok {
			t.Errorf("remote has no span %q (has %v)", name, keys(spans))
			continue
		}
		if got := attr(res, "service.name"); got != want[0] {
			t.Errorf("span %q: service.name %q, want %q", name, got, want[0])
		}
		if got := attr(res, "host.name"); got != want[1] {
			t.Errorf("span %q: host.name %q, want %q", name, got, want[1])
		}
		if got := attr(res, "service.instance.id"); got != testHostname {
			t.Errorf("span %q: service.instance.id %q, want %q", name, got, testHostname)
		}
	}
	calls, res, _ := metricNamed(backend.Metrics(), "traces.span.metrics.calls")
	if attr(res, "service.name") != "claude-code" {
		t.Errorf("span metrics resource service.name %q, want claude-code", attr(res, "service.name"))
	}
	for _, dp := range calls.Sum().DataPoints().All() {
		if _, ok := dp.Attributes().Get("span.name"); ok {
			t.Errorf("span metrics carry span.name (high cardinality): %v", dp.Attributes().AsRaw())
		}
		if got := attr(dp.Attributes(), "gen_ai.request.model"); got != "claude-sonnet-4-5" {
			t.Errorf("span metrics gen_ai.request.model %q", got)
		}
	}

	// Monitor: AI telemetry only, as sent (names not rewritten), JSON.
	reqs, err := sink.WaitFor(ctx, func(reqs []harness.Request) bool {
		g, _ := spansNamed(reqs, "claude_code.tool")
		_, _, haveTokens := metricNamed(requestMetrics(reqs), "claude_code.token.usage")
		return len(g) == 2 && len(logRecords(reqs)) == 1 && haveTokens
	})
	if err != nil {
		t.Fatal(err)
	}
	if web, _ := spansNamed(reqs, "GET /"); len(web) != 0 {
		t.Errorf("non-AI span reached the monitor")
	}
	if _, _, ok := metricNamed(requestMetrics(reqs), "traces.span.metrics.calls"); ok {
		t.Errorf("span metrics reached the monitor")
	}
	for _, r := range reqs {
		if r.ContentType != "application/json" || r.ContentEncoding != "" {
			t.Errorf("monitor request %s: %q %q, want uncompressed JSON", r.Path, r.ContentType, r.ContentEncoding)
		}
	}
}

// sumOf adds up a Sum metric's data points (0 for any other metric).
func sumOf(m pmetric.Metric) int64 {
	if m.Type() != pmetric.MetricTypeSum {
		return 0
	}
	var total int64
	for _, dp := range m.Sum().DataPoints().All() {
		total += dp.IntValue()
	}
	return total
}

func requestMetrics(reqs []harness.Request) []pmetric.Metrics {
	var out []pmetric.Metrics
	for _, r := range reqs {
		if r.Path == "/v1/metrics" {
			out = append(out, r.Metrics)
		}
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
