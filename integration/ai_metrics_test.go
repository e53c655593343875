package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// AI CLI metrics through the binary into a real Prometheus 3 OTLP receiver
// (the OTLP translation Mimir's /otlp endpoint runs), in direct mode and
// behind an OTLP gateway: Claude Code's delta counters arrive as cumulative
// series with the right running totals and increase(), next to cumulative
// counters, span metrics and host metrics, and the collector counts no
// failed points.

// claudeRound is what one Claude Code export interval recorded: tokens by
// model and type, cost by model, lines of code by type, sessions.
type claudeRound struct {
	tokens   map[[2]string]float64 // {model, type}
	cost     map[string]float64    // model
	lines    map[string]float64    // added, removed
	sessions float64
}

// claudeRounds are four export intervals of a session using two models.
// Every round has a point for every token and cost stream, so all of them
// share their sample timestamps in Prometheus and one evaluation time is
// every stream's last sample (see the increase() checks).
var claudeRounds = []claudeRound{
	{
		tokens: map[[2]string]float64{
			{"claude-sonnet-4-5", "input"}: 1200, {"claude-sonnet-4-5", "output"}: 340,
			{"claude-sonnet-4-5", "cacheRead"}: 15000, {"claude-sonnet-4-5", "cacheCreation"}: 2200,
			{"claude-haiku-4-5", "input"}: 300, {"claude-haiku-4-5", "output"}: 45,
		},
		cost:     map[string]float64{"claude-sonnet-4-5": 0.0412, "claude-haiku-4-5": 0.0006},
		lines:    map[string]float64{"added": 12, "removed": 3},
		sessions: 1,
	},
	{
		tokens: map[[2]string]float64{
			{"claude-sonnet-4-5", "input"}: 800, {"claude-sonnet-4-5", "output"}: 910,
			{"claude-sonnet-4-5", "cacheRead"}: 16200, {"claude-sonnet-4-5", "cacheCreation"}: 10,
			{"claude-haiku-4-5", "input"}: 20, {"claude-haiku-4-5", "output"}: 5,
		},
		cost:  map[string]float64{"claude-sonnet-4-5": 0.0287, "claude-haiku-4-5": 0.00004},
		lines: map[string]float64{"added": 40},
	},
	{
		tokens: map[[2]string]float64{
			{"claude-sonnet-4-5", "input"}: 50, {"claude-sonnet-4-5", "output"}: 75,
			{"claude-sonnet-4-5", "cacheRead"}: 900, {"claude-sonnet-4-5", "cacheCreation"}: 1,
			{"claude-haiku-4-5", "input"}: 120, {"claude-haiku-4-5", "output"}: 30,
		},
		cost:  map[string]float64{"claude-sonnet-4-5": 0.0019, "claude-haiku-4-5": 0.0003},
		lines: map[string]float64{"removed": 8},
	},
	{
		tokens: map[[2]string]float64{
			{"claude-sonnet-4-5", "input"}: 2000, {"claude-sonnet-4-5", "output"}: 150,
			{"claude-sonnet-4-5", "cacheRead"}: 31000, {"claude-sonnet-4-5", "cacheCreation"}: 400,
			{"claude-haiku-4-5", "input"}: 1, {"claude-haiku-4-5", "output"}: 2,
		},
		cost:     map[string]float64{"claude-sonnet-4-5": 0.0083, "claude-haiku-4-5": 0.00001},
		sessions: 1,
	},
}

// claudeMeter records rounds with Claude Code's instruments (names, units and
// attributes of its monitoring documentation), in delta temporality as
// Claude Code exports by default.
type claudeMeter struct {
	tokens, cost, lines, sessions metric.Float64Counter
	flush                         func(context.Context) error
}

func newClaudeMeter(t *testing.T, endpoint string) *claudeMeter {
	meter, flush := harness.NewMeter(t, endpoint, metricdata.DeltaTemporality, claudeCode...)
	m := &claudeMeter{flush: flush}
	var err error
	m.tokens, err = meter.Float64Counter("claude_code.token.usage", metric.WithUnit("tokens"),
		metric.WithDescription("Number of tokens used"))
	must(t, err)
	m.cost, err = meter.Float64Counter("claude_code.cost.usage", metric.WithUnit("USD"),
		metric.WithDescription("Cost of the Claude Code session"))
	must(t, err)
	m.lines, err = meter.Float64Counter("claude_code.lines_of_code.count", metric.WithUnit("count"),
		metric.WithDescription("Count of lines of code modified"))
	must(t, err)
	m.sessions, err = meter.Float64Counter("claude_code.session.count", metric.WithUnit("count"),
		metric.WithDescription("Count of CLI sessions started"))
	must(t, err)
	return m
}

// record records one round and exports it.
func (m *claudeMeter) record(ctx context.Context, t *testing.T, r claudeRound) {
	session := attribute.String("session.id", "5f2c7e0a-claude-session")
	user := attribute.String("user.account_uuid", "acct-0001")
	for k, v := range r.tokens {
		m.tokens.Add(ctx, v, metric.WithAttributes(session, user, attribute.String("model", k[0]), attribute.String("type", k[1])))
	}
	for model, v := range r.cost {
		m.cost.Add(ctx, v, metric.WithAttributes(session, user, attribute.String("model", model)))
	}
	for kind, v := range r.lines {
		m.lines.Add(ctx, v, metric.WithAttributes(session, user, attribute.String("type", kind)))
	}
	if r.sessions > 0 {
		m.sessions.Add(ctx, r.sessions, metric.WithAttributes(session, user))
	}
	// An export interval: the points' start time (the SDK's previous
	// collection, or a stream's first measurement) lies before their
	// timestamp, in milliseconds too, as with Claude Code's 60 s interval.
	// Prometheus ingests the start as a zero sample only if it is earlier.
	time.Sleep(50 * time.Millisecond)
	if err := m.flush(ctx); err != nil {
		t.Fatalf("export to the collector: %v", err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// totals sums rounds: tokens by {model, type}, cost by model.
func totals(rounds []claudeRound) (map[[2]string]float64, map[string]float64) {
	tokens, cost := map[[2]string]float64{}, map[string]float64{}
	for _, r := range rounds {
		for k, v := range r.tokens {
			tokens[k] += v
		}
		for k, v := range r.cost {
			cost[k] += v
		}
	}
	return tokens, cost
}

// directLayer is a direct-mode layer like config/examples/remote-direct.yaml
// (same persistent queues, batching and consumers), without TLS and tokens:
// metrics to Prometheus 3's OTLP endpoint, traces and logs to a sink.
func directLayer(t *testing.T, metricsURL, otherURL string) string {
	return directLayerWith(t, metricsURL, otherURL, 1, "1s")
}

// directLayerWith sets the metrics exporter's queue consumers and first
// retry interval (the example's is 5s).
func directLayerWith(t *testing.T, metricsURL, otherURL string, consumers int, retry string) string {
	return writeLayer(t, fmt.Sprintf(`
exporters:
  otlp_http/mimir:
    metrics_endpoint: %s
    sending_queue:
      enabled: true
      storage: resilient_file_storage/queue
      sizer: bytes
      queue_size: 104857600
      num_consumers: %d
      block_on_overflow: false
      batch: { flush_timeout: 2s, sizer: items, min_size: 2048, max_size: 8192 }
    retry_on_failure:
      enabled: true
      initial_interval: %s
      # No jitter: tests order a retry against the next batch, and the
      # default factor (0.5) could bring a 5 s retry forward to 2.5 s.
      randomization_factor: 0
      max_interval: 5s
      max_elapsed_time: 2m
  otlp_http/tempo_loki:
    endpoint: %s
    sending_queue:
      enabled: true
      storage: resilient_file_storage/queue
      sizer: bytes
      queue_size: 104857600
      num_consumers: 2
      block_on_overflow: false
      batch: { flush_timeout: 2s, sizer: items, min_size: 2048, max_size: 8192 }
    retry_on_failure: { enabled: true, initial_interval: 1s, max_interval: 5s, max_elapsed_time: 2m }
service:
  pipelines:
    traces/export:
      receivers: [forward/remote_traces]
      exporters: [otlp_http/tempo_loki]
    metrics/export:
      receivers: [forward/remote_metrics]
      exporters: [otlp_http/mimir]
    logs/export:
      receivers: [forward/remote_logs]
      exporters: [otlp_http/tempo_loki]
`, metricsURL, consumers, retry, otherURL))
}

// startGateway starts a second collector process as the OTLP gateway in
// front of Prometheus: OTLP/HTTP in, OTLP/HTTP out to Prometheus' OTLP
// endpoint, no queue, so a refusal by Prometheus reaches the workstation
// collector as a refusal of its export. Returns the gateway's base URL.
func startGateway(t *testing.T, prom *harness.Prometheus) string {
	addr, health := harness.FreeAddr(t), harness.FreeAddr(t)
	harness.Start(t, binary, harness.Options{HealthEndpoint: health, Config: fmt.Sprintf(`
extensions:
  health_check: { endpoint: %s }
receivers:
  otlp:
    protocols:
      http: { endpoint: %s }
exporters:
  otlp_http/mimir:
    metrics_endpoint: %s
    sending_queue: { enabled: false }
    retry_on_failure: { enabled: false }
  nop: {}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics: { receivers: [otlp], exporters: [otlp_http/mimir] }
    traces: { receivers: [otlp], exporters: [nop] }
    logs: { receivers: [otlp], exporters: [nop] }
`, health, addr, prom.OTLPMetricsURL)})
	return "http://" + addr
}

const aiHost = "ws-ai-test"

type aiMode struct {
	name string
	// start starts the workstation collector; otlpHTTP, when not empty, is
	// the OTLP/HTTP listen address to reuse (a restart).
	start func(t *testing.T, prom *harness.Prometheus, stateDir, otlpHTTP string, extraArgs ...string) *harness.Collector
}

var aiModes = []aiMode{
	{"direct", func(t *testing.T, prom *harness.Prometheus, stateDir, otlpHTTP string, extraArgs ...string) *harness.Collector {
		args := append([]string{"--config", "embedded:default.yaml", "--config", "embedded:remote.yaml",
			"--config", "embedded:host-metrics.yaml",
			"--config", directLayer(t, prom.OTLPMetricsURL, harness.NewCountingSink(t).URL)}, extraArgs...)
		return harness.Start(t, binary, harness.Options{Args: args, StateDir: stateDir, Env: aiEnv(t, otlpHTTP)})
	}},
	{"gateway", func(t *testing.T, prom *harness.Prometheus, stateDir, otlpHTTP string, extraArgs ...string) *harness.Collector {
		env := aiEnv(t, otlpHTTP)
		env["OTEL_AI_COLLECTOR_REMOTE_ENDPOINT"] = startGateway(t, prom)
		env["OTEL_AI_COLLECTOR_REMOTE_MAX_RETRY_TIME"] = "2m"
		args := append([]string{"--config", "embedded:default.yaml", "--config", "embedded:remote.yaml",
			"--config", "embedded:host-metrics.yaml", "--config", "embedded:remote-gateway.yaml"}, extraArgs...)
		return harness.Start(t, binary, harness.Options{Args: args, StateDir: stateDir, Env: env})
	}},
}

func aiEnv(t *testing.T, otlpHTTP string) map[string]string {
	env := map[string]string{
		"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT":      harness.NewCountingSink(t).URL,
		"OTEL_AI_COLLECTOR_HOSTNAME":              aiHost,
		"OTEL_AI_COLLECTOR_HOST_METRICS":          "on",
		"OTEL_AI_COLLECTOR_HOST_METRICS_INTERVAL": "5s",
	}
	if otlpHTTP != "" {
		env["OTEL_AI_COLLECTOR_OTLP_HTTP_ENDPOINT"] = otlpHTTP
	}
	return env
}

// waitValue polls an instant query until it returns one series with value
// want (within 1e-9 relative), and returns the series.
func waitValue(ctx context.Context, t *testing.T, prom *harness.Prometheus, query string, want float64) {
	t.Helper()
	var last []harness.Series
	for {
		series, err := prom.Query(query)
		if err != nil {
			t.Fatal(err)
		}
		last = series
		if len(series) == 1 && near(series[0].Value, want) {
			return
		}
		select {
		case <-ctx.Done():
			names, _ := prom.MetricNames()
			t.Fatalf("%s: want one series = %v, got %v; Prometheus has %v", query, want, last, names)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func near(value string, want float64) bool {
	v, err := strconv.ParseFloat(value, 64)
	if err != nil {
		return false
	}
	d := v - want
	if d < 0 {
		d = -d
	}
	return d <= 1e-9*max(1, want)
}

// lastSample is the timestamp of the newest sample of the single series
// query selects.
func lastSample(t *testing.T, prom *harness.Prometheus, query string) time.Time {
	t.Helper()
	return sampleTime(t, prom, "timestamp("+query+")")
}

// newestSample is the timestamp of the newest sample of the series query
// selects.
func newestSample(t *testing.T, prom *harness.Prometheus, query string) time.Time {
	t.Helper()
	return sampleTime(t, prom, "max(timestamp("+query+"))")
}

// sampleTime runs a query giving one series whose value is a sample's
// timestamp in seconds.
func sampleTime(t *testing.T, prom *harness.Prometheus, query string) time.Time {
	t.Helper()
	series, err := prom.Query(query)
	if err != nil || len(series) != 1 {
		t.Fatalf("%s: %v %v", query, series, err)
	}
	seconds, err := strconv.ParseFloat(series[0].Value, 64)
	must(t, err)
	return time.UnixMilli(int64(seconds*1000 + 0.5))
}

func TestAIMetricsReachPrometheusOTLP(t *testing.T) {
	for _, mode := range aiModes {
		t.Run(mode.name, func(t *testing.T) {
			ctx := withTimeout(t, 3*time.Minute)
			prom := harness.StartPrometheus3(t)
			c := mode.start(t, prom, "", "")

			claude := newClaudeMeter(t, c.OTLPHTTPEndpoint)
			// A cumulative counter of another instrumented app.
			appMeter, appFlush := harness.NewMeter(t, c.OTLPHTTPEndpoint, metricdata.CumulativeTemporality,
				attribute.String("service.name", "ai-gateway-app"))
			requests, err := appMeter.Int64Counter("app.requests", metric.WithUnit("{request}"))
			must(t, err)
			// AI spans feed the span_metrics connector.
			tracing := harness.NewSDK(t, harness.HTTP, c.OTLPHTTPEndpoint, claudeCode...)

			for i, r := range claudeRounds {
				claude.record(ctx, t, r)
				requests.Add(ctx, int64(10*(i+1)))
				must(t, appFlush(ctx))
				_, span := tracing.Tracer.Start(ctx, "claude_code.llm_request")
				span.SetAttributes(attribute.String("gen_ai.request.model", "claude-sonnet-4-5"))
				span.End()
				// Export intervals: the delta points' timestamps must
				// advance (milliseconds in Prometheus).
				time.Sleep(1100 * time.Millisecond)
			}

			// Running totals: the cumulative value Prometheus stores is the
			// sum of the deltas sent.
			tokens, cost := totals(claudeRounds)
			for k, want := range tokens {
				waitValue(ctx, t, prom, fmt.Sprintf(`claude_code_token_usage_tokens_total{model=%q, type=%q, host_name=%q, job="claude-code"}`,
					k[0], k[1], aiHost), want)
			}
			for model, want := range cost {
				waitValue(ctx, t, prom, fmt.Sprintf(`claude_code_cost_usage_USD_total{model=%q, host_name=%q}`, model, aiHost), want)
			}
			waitValue(ctx, t, prom, `sum(claude_code_lines_of_code_count_total{type="added"})`, 52)
			waitValue(ctx, t, prom, `sum(claude_code_lines_of_code_count_total{type="removed"})`, 11)
			waitValue(ctx, t, prom, `claude_code_session_count_total`, 2)
			waitValue(ctx, t, prom, `app_requests_total{job="ai-gateway-app", host_name="`+aiHost+`"}`, 100)

			// increase() over the whole run, evaluated at the last sample:
			// exact, because Prometheus ingests the first point's start time
			// as a zero sample (no extrapolation on either side).
			sel := `claude_code_token_usage_tokens_total{model="claude-sonnet-4-5", type="input"}`
			at := lastSample(t, prom, sel)
			got, err := prom.QueryAt(`increase(`+sel+`[10m])`, at)
			if err != nil || len(got) != 1 || !near(got[0].Value, tokens[[2]string{"claude-sonnet-4-5", "input"}]) {
				t.Errorf("increase(%s[10m]) at the last sample = %v (%v), want %v; samples: %s", sel, got, err,
					tokens[[2]string{"claude-sonnet-4-5", "input"}], prom.Raw(sel+"[10m]", at))
			}
			// The docs' per-model per-host per-day queries, on this data.
			for _, q := range aiCostQueries(t, prom) {
				t.Logf("%s", q)
			}

			// Span metrics (cumulative) and host metrics (cumulative and
			// gauges) share the metrics path and the batches.
			// The first flush's calls point is 0 while the duration
			// histogram already counts the spans: the stock connector
			// (connector/spanmetricsconnector/internal/metrics, v0.158.0)
			// deliberately emits a new cumulative calls stream's first
			// point as 0, so that rate() and increase() see its first calls
			// as an increase; the real count follows one flush (15 s) later,
			// and increase() over both points is exact.
			spans := float64(len(claudeRounds))
			calls := `traces_span_metrics_calls_total{gen_ai_request_model="claude-sonnet-4-5", host_name="` + aiHost + `"}`
			waitValue(ctx, t, prom, `sum(traces_span_metrics_duration_milliseconds_count{gen_ai_request_model="claude-sonnet-4-5"})`, spans)
			if got, err := prom.Query(`sum(` + calls + `)`); err != nil || len(got) != 1 || !near(got[0].Value, 0) {
				t.Errorf("calls at the first flush = %v (%v), want the connector's initial 0", got, err)
			}
			waitValue(ctx, t, prom, `sum(`+calls+`)`, spans)
			if got, err := prom.QueryAt(`increase(`+calls+`[10m])`, lastSample(t, prom, calls)); err != nil || len(got) != 1 || !near(got[0].Value, spans) {
				t.Errorf("increase(%s[10m]) = %v (%v), want %v", calls, got, err, spans)
			}
			for _, name := range []string{"system_cpu_time_seconds_total", "system_memory_usage_bytes"} {
				series, err := prom.Query(name + `{host_name="` + aiHost + `"}`)
				if err != nil || len(series) == 0 {
					t.Errorf("%s{host_name=%q}: %v %v", name, aiHost, series, err)
				}
			}

			// Nothing was refused on the way: no point failed in any exporter,
			// and the conversion dropped none.
			for _, m := range []string{"otelcol_exporter_send_failed_metric_points_total", "otelcol_exporter_enqueue_failed_metric_points_total",
				"otelcol_deltatocumulative_datapoints_total"} {
				labels := []string{}
				if m == "otelcol_deltatocumulative_datapoints_total" {
					labels = []string{`error=`}
				}
				failed, err := c.Metric(m, labels...)
				must(t, err)
				if failed != 0 {
					t.Errorf("%s%v = %v, want 0", m, labels, failed)
				}
			}
			converted, err := c.Metric("otelcol_deltatocumulative_datapoints_total")
			must(t, err)
			t.Logf("%s mode: %v delta points converted, all series right in Prometheus 3", mode.name, converted)
		})
	}
}

// aiCostQueries runs the queries of docs/ai-metrics.md at time at and checks
// them against the data sent: tokens and cost per model per host per day.
func aiCostQueries(t *testing.T, prom *harness.Prometheus) []string {
	t.Helper()
	tokens, cost := totals(claudeRounds)
	perModel := map[string]float64{}
	for k, v := range tokens {
		perModel[k[0]] += v
	}
	var out []string
	for _, q := range []struct {
		query, metric string
		want          map[string]float64
	}{
		{aiTokensPerModelPerHostPerDay, "claude_code_token_usage_tokens_total", perModel},
		{aiCostPerModelPerHostPerDay, "claude_code_cost_usage_USD_total", cost},
	} {
		// Each at its own metric's newest sample: the Go SDK stamps each
		// instrument's points when it collects that instrument, so the
		// cost points of an export can be a millisecond later than the
		// token points; evaluated before them, increase() would
		// extrapolate from the earlier samples.
		series, err := prom.QueryAt(q.query, newestSample(t, prom, q.metric))
		if err != nil {
			t.Errorf("%s: %v", q.query, err)
			continue
		}
		if len(series) != len(q.want) {
			t.Errorf("%s: %d series %v, want %d", q.query, len(series), series, len(q.want))
		}
		for _, s := range series {
			if s.Labels["host_name"] != aiHost || !near(s.Value, q.want[s.Labels["model"]]) {
				t.Errorf("%s: %v = %s, want host_name=%s and %v", q.query, s.Labels, s.Value, aiHost, q.want[s.Labels["model"]])
			}
		}
		out = append(out, fmt.Sprintf("%s -> %v", q.query, series))
	}
	return out
}

// The queries docs/ai-metrics.md gives; TestAIUsageDashboardQueries checks
// that the doc and docs/grafana/ai-usage-dashboard.json use them.
const (
	aiTokensPerModelPerHostPerDay = `sum by (host_name, model) (increase(claude_code_token_usage_tokens_total[1d]))`
	aiCostPerModelPerHostPerDay   = `sum by (host_name, model) (increase(claude_code_cost_usage_USD_total[1d]))`
)

// The doc shows the queries the tests run, and the Grafana panels are the
// same queries with the dashboard's host filter and a 1d query interval.
func TestAIUsageDashboardQueries(t *testing.T) {
	root, err := harness.RepoRoot()
	must(t, err)
	doc, err := os.ReadFile(filepath.Join(root, "docs/ai-metrics.md"))
	must(t, err)
	raw, err := os.ReadFile(filepath.Join(root, "docs/grafana/ai-usage-dashboard.json"))
	must(t, err)
	var dashboard struct {
		Panels []struct {
			Title    string `json:"title"`
			Interval string `json:"interval"`
			Targets  []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	must(t, json.Unmarshal(raw, &dashboard))
	want := map[string]string{
		"Tokens per model per host per day": aiTokensPerModelPerHostPerDay,
		"Cost per model per host per day":   aiCostPerModelPerHostPerDay,
	}
	for _, p := range dashboard.Panels {
		query, ok := want[p.Title]
		if !ok {
			continue
		}
		delete(want, p.Title)
		if len(p.Targets) != 1 || p.Interval != "1d" {
			t.Errorf("panel %q: want one target and interval 1d, got %+v", p.Title, p)
			continue
		}
		expr := strings.NewReplacer(`{host_name=~"$host"}`, "", "$__interval", "1d").Replace(p.Targets[0].Expr)
		if expr != query {
			t.Errorf("panel %q: %s, want (with the host filter and 1d) %s", p.Title, p.Targets[0].Expr, query)
		}
	}
	for title := range want {
		t.Errorf("dashboard has no panel %q", title)
	}
	for _, q := range []string{aiTokensPerModelPerHostPerDay, aiCostPerModelPerHostPerDay} {
		if !strings.Contains(string(doc), q) {
			t.Errorf("docs/ai-metrics.md does not show %s", q)
		}
	}
}

// A collector restart loses the running totals (in memory only): each stream
// starts again from its next delta, which Prometheus reads as a counter
// reset. increase() counts across it, so the per-day queries stay exact.
func TestAIMetricsAcrossCollectorRestart(t *testing.T) {
	ctx := withTimeout(t, 3*time.Minute)
	prom := harness.StartPrometheus3(t)
	direct := aiModes[0]
	stateDir := t.TempDir()
	c := direct.start(t, prom, stateDir, "")
	claude := newClaudeMeter(t, c.OTLPHTTPEndpoint)
	sel := `claude_code_token_usage_tokens_total{model="claude-sonnet-4-5", type="output"}`
	key := [2]string{"claude-sonnet-4-5", "output"}

	before, after := claudeRounds[:2], claudeRounds[2:]
	for _, r := range before {
		claude.record(ctx, t, r)
		time.Sleep(1100 * time.Millisecond)
	}
	beforeTokens, _ := totals(before)
	waitValue(ctx, t, prom, sel, beforeTokens[key])
	c.Stop()

	// The same listen address, as the unit restarting under a running
	// Claude Code, whose SDK keeps exporting deltas to it.
	c = direct.start(t, prom, stateDir, c.OTLPHTTPEndpoint[len("http://"):])
	for _, r := range after {
		claude.record(ctx, t, r)
		time.Sleep(1100 * time.Millisecond)
	}
	afterTokens, afterCost := totals(after)
	// The stored value restarted: it is the sum of the deltas since the restart.
	waitValue(ctx, t, prom, sel, afterTokens[key])
	// The cost series too: evaluated before its last sample is in,
	// increase() would extrapolate from the earlier ones.
	waitValue(ctx, t, prom, `claude_code_cost_usage_USD_total{model="claude-sonnet-4-5"}`, afterCost["claude-sonnet-4-5"])
	waitValue(ctx, t, prom, `claude_code_cost_usage_USD_total{model="claude-haiku-4-5"}`, afterCost["claude-haiku-4-5"])
	at := lastSample(t, prom, sel)
	allTokens, _ := totals(claudeRounds)
	for query, want := range map[string]float64{
		`resets(` + sel + `[10m])`:   1,
		`increase(` + sel + `[10m])`: allTokens[key],
	} {
		got, err := prom.QueryAt(query, at)
		if err != nil || len(got) != 1 || !near(got[0].Value, want) {
			t.Errorf("%s at the last sample = %v (%v), want %v; samples: %s", query, got, err, want, prom.Raw(sel+"[10m]", at))
		}
	}
	for _, q := range aiCostQueries(t, prom) {
		t.Logf("after a restart: %s", q)
	}
}

// Without the conversion (the remote metrics pipeline as it was before
// delta_to_cumulative), Prometheus refuses every export holding a delta
// point with HTTP 500, which the exporter drops as permanent: no series, and
// failed points in the collector's own metrics. This is what the tests above
// guard against.
func TestDeltaMetricsRefusedWithoutConversion(t *testing.T) {
	ctx := withTimeout(t, 2*time.Minute)
	prom := harness.StartPrometheus3(t)
	noConversion := filepath.Join(t.TempDir(), "no-conversion.yaml")
	must(t, os.WriteFile(noConversion, []byte(`
service:
  pipelines:
    metrics/remote:
      processors: [memory_limiter, resource/host]
`), 0o600))
	c := aiModes[0].start(t, prom, "", "", "--config", noConversion)
	claude := newClaudeMeter(t, c.OTLPHTTPEndpoint)
	appMeter, appFlush := harness.NewMeter(t, c.OTLPHTTPEndpoint, metricdata.CumulativeTemporality,
		attribute.String("service.name", "ai-gateway-app"))
	requests, err := appMeter.Int64Counter("app.requests")
	must(t, err)
	for _, r := range claudeRounds[:2] {
		claude.record(ctx, t, r)
		requests.Add(ctx, 10)
		must(t, appFlush(ctx))
		time.Sleep(1100 * time.Millisecond)
	}
	for {
		failed, err := c.Metric("otelcol_exporter_send_failed_metric_points_total", `exporter="otlp_http/mimir"`)
		must(t, err)
		if failed > 0 {
			t.Logf("without conversion: %v metric points failed (refused by Prometheus, dropped)", failed)
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no failed metric points: Prometheus 3 accepted delta points")
		case <-time.After(250 * time.Millisecond):
		}
	}
	series, err := prom.Query(`claude_code_token_usage_tokens_total`)
	must(t, err)
	if len(series) != 0 {
		t.Errorf("delta token usage stored without conversion: %v", series)
	}
	// The cumulative counter exported in the same seconds shares the
	// queue's batches, and Prometheus rolls a refused request back whole.
	app, err := prom.Query(`app_requests_total`)
	must(t, err)
	t.Logf("cumulative app_requests_total batched with the refused deltas: %d series stored", len(app))
}

// Prometheus' OTLP handler answers a request holding a sample older than
// the series' newest with 400 and stores none of it (v3.16,
// storage/remote/write_otlp_handler.go), and the exporter drops a 400. With
// two queue consumers, a batch retried after a 503 arrives after the next
// batch and is dropped; with one (the direct example's Mimir exporter) the
// next batch waits and nothing is lost.
func TestMetricsInOrderAfterARetry(t *testing.T) {
	for _, tc := range []struct {
		consumers  int
		wantFailed bool
	}{{2, true}, {1, false}} {
		t.Run(fmt.Sprintf("%d consumers", tc.consumers), func(t *testing.T) {
			ctx := withTimeout(t, 2*time.Minute)
			prom := harness.StartPrometheus3(t)
			// The first export is answered 503 (retryable), then every
			// request reaches Prometheus.
			target, err := url.Parse(prom.URL)
			must(t, err)
			proxy := httputil.NewSingleHostReverseProxy(target)
			var requests atomic.Int32
			flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if requests.Add(1) == 1 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				proxy.ServeHTTP(w, r)
			}))
			t.Cleanup(flaky.Close)
			env := aiEnv(t, "")
			env["OTEL_AI_COLLECTOR_HOST_METRICS"] = "off"
			c := harness.Start(t, binary, harness.Options{Env: env, Args: []string{
				"--config", "embedded:default.yaml", "--config", "embedded:remote.yaml", "--config",
				directLayerWith(t, flaky.URL+"/api/v1/otlp/v1/metrics", harness.NewCountingSink(t).URL, tc.consumers, "5s"),
			}})
			claude := newClaudeMeter(t, c.OTLPHTTPEndpoint)
			// Two batches (the queue batches for 2 s): the first is
			// refused and retried 5 s later, the second is sent meanwhile.
			claude.record(ctx, t, claudeRounds[0])
			time.Sleep(2500 * time.Millisecond)
			claude.record(ctx, t, claudeRounds[1])
			sel := `claude_code_token_usage_tokens_total{model="claude-sonnet-4-5", type="input"}`
			waitValue(ctx, t, prom, sel, 2000)
			var failed float64
			for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
				failed, err = c.Metric("otelcol_exporter_send_failed_metric_points_total")
				must(t, err)
				sent, err := c.Metric("otelcol_exporter_sent_metric_points_total", `exporter="otlp_http/mimir"`)
				must(t, err)
				if failed > 0 || sent >= 20 { // round 1: 11 points, round 2: 9
					break
				}
			}
			samples := prom.Raw(sel+"[10m]", time.Now())
			t.Logf("%d consumers: %d requests, %v points failed; samples %s", tc.consumers, requests.Load(), failed, samples)
			if tc.wantFailed != (failed > 0) {
				t.Errorf("%d consumers: %v points failed", tc.consumers, failed)
			}
			// The running total is right either way (a cumulative point
			// carries the ones before it); the first round's sample is there
			// only if its batch got in.
			waitValue(ctx, t, prom, sel, 2000)
			if !tc.wantFailed {
				// The start-time zero, round 1, round 2.
				waitValue(ctx, t, prom, `count_over_time(`+sel+`[10m])`, 3)
			}
		})
	}
}
