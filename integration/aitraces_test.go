package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-ai-collector/otel-ai-collector/connector/aisessiontracesconnector/aitracetest"
	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// The connector's scope name: spans with it were synthesized by the
// collector.
const aiTracesScope = "github.com/otel-ai-collector/otel-ai-collector/connector/aisessiontracesconnector"

// aiCLI is one CLI's fixture and how that CLI exports its logs.
type aiCLI struct {
	name, session string
	interval      time.Duration // the CLI's logs export interval (its batch processor's delay)
	json          bool          // sends OTLP/HTTP JSON (else protobuf)
	stripTraces   bool          // send without trace context (see the Gemini CLI case)
}

var aiCLIs = []aiCLI{
	// Claude Code: OTel JS, logs every 5 s, protocol chosen by the user.
	{name: "claude-code", session: "3f9c2a71-5b8e-4d0a-9c6f-2e7b14d8a5c3", interval: 5 * time.Second, json: true},
	// Codex: opentelemetry-rust batch processor, every 1 s, protobuf
	// ("binary") as the README configures it.
	{name: "codex", session: "01a1f866-05a8-7c3e-9b2d-5f4a8e1c7d20", interval: time.Second},
	// Gemini CLI: OTel JS, every 5 s; its "http" setting sends JSON. Its
	// records carry trace context because it exports its own spans; the
	// synthesized case sends them without it (TestAISessionTracesNative
	// covers the records as sent).
	{name: "gemini-cli", session: "3f6b2c1e-8d4a-4e7b-9c15-2a7e6d0b94f3", interval: 5 * time.Second, json: true, stripTraces: true},
}

func fixturePath(cli, file string) string {
	root, err := harness.RepoRoot()
	if err != nil {
		panic(err)
	}
	return filepath.Join(root, "connector", "aisessiontracesconnector", "testdata", cli, file)
}

func loadFixture(t *testing.T, cli string) plog.Logs {
	t.Helper()
	raw, err := os.ReadFile(fixturePath(cli, "session.json"))
	if err != nil {
		t.Fatal(err)
	}
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(raw)
	if err != nil {
		t.Fatal(err)
	}
	return ld
}

func recordTime(r plog.LogRecord) pcommon.Timestamp {
	if r.Timestamp() != 0 {
		return r.Timestamp()
	}
	return r.ObservedTimestamp()
}

// cliBatches splits a session into the export requests the CLI makes: the
// records of each export interval (at most 512, the SDKs' batch size),
// counted from the first record, in emission order.
func cliBatches(ld plog.Logs, interval time.Duration, stripTraces bool) []plog.Logs {
	var out []plog.Logs
	rl := ld.ResourceLogs().At(0)
	sl := rl.ScopeLogs().At(0)
	var current plog.LogRecordSlice
	var windowEnd pcommon.Timestamp
	for _, rec := range sl.LogRecords().All() {
		at := recordTime(rec)
		if len(out) == 0 || at >= windowEnd || current.Len() == 512 {
			batch := plog.NewLogs()
			brl := batch.ResourceLogs().AppendEmpty()
			rl.Resource().CopyTo(brl.Resource())
			bsl := brl.ScopeLogs().AppendEmpty()
			sl.Scope().CopyTo(bsl.Scope())
			current = bsl.LogRecords()
			windowEnd = at + pcommon.Timestamp(interval)
			out = append(out, batch)
		}
		copied := current.AppendEmpty()
		rec.CopyTo(copied)
		if stripTraces {
			copied.SetTraceID(pcommon.NewTraceIDEmpty())
			copied.SetSpanID(pcommon.NewSpanIDEmpty())
		}
	}
	return out
}

func postBatches(t *testing.T, endpoint string, batches []plog.Logs, asJSON bool) {
	t.Helper()
	for i, b := range batches {
		post := harness.PostLogs
		if asJSON {
			post = harness.PostLogsJSON
		}
		code, body, err := post(endpoint, b)
		if err != nil || code/100 != 2 {
			t.Fatalf("batch %d: %d %s %v", i, code, body, err)
		}
	}
}

// synthesized keeps the spans the connector made.
func synthesized(batches []ptrace.Traces) []ptrace.Traces {
	var out []ptrace.Traces
	for _, td := range batches {
		kept := ptrace.NewTraces()
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				if ss.Scope().Name() != aiTracesScope {
					continue
				}
				krs := kept.ResourceSpans().AppendEmpty()
				rs.Resource().CopyTo(krs.Resource())
				ss.CopyTo(krs.ScopeSpans().AppendEmpty())
			}
		}
		out = append(out, kept)
	}
	return out
}

func rootCount(batches []ptrace.Traces) int {
	n := 0
	for _, td := range batches {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					if s.ParentSpanID().IsEmpty() {
						n++
					}
				}
			}
		}
	}
	return n
}

// waitForTurns polls the backend until it holds the expected number of
// distinct roots and spans.
func waitForTurns(t *testing.T, backend *harness.Backend, roots, spans int, timeout time.Duration) []aitracetest.Span {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := aitracetest.Spans(synthesized(backend.Traces()))
		r := 0
		for _, s := range got {
			if s.Span.ParentSpanID().IsEmpty() {
				r++
			}
		}
		if r >= roots && len(got) >= spans {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("remote holds %d roots and %d spans, want %d and %d:\n%s", r, len(got), roots, spans, aitracetest.Dump(got))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func expectedSpanCount(turns []aitracetest.Turn) int {
	n := len(turns)
	for _, turn := range turns {
		n += len(turn.Children)
	}
	return n
}

func startAITraces(t *testing.T, sink *harness.Sink, backend *harness.Backend, stateDir string) *harness.Collector {
	return startWithRemote(t, sink, backend.URL, harness.Options{
		StateDir: stateDir,
		Env:      map[string]string{"OTEL_AI_COLLECTOR_AI_TRACES_IDLE": "2s"},
	})
}

// Each CLI's recorded-style session, sent through the binary as the CLI
// sends it, gives exactly the expected trees at the remote; a re-send of
// every batch (a sender's retry) adds no span id; otel-ai-monitor receives
// the raw events unchanged and no synthesized span.
func TestAISessionTracesPerCLI(t *testing.T) {
	for _, cli := range aiCLIs {
		t.Run(cli.name, func(t *testing.T) {
			sink := harness.NewSink(t)
			backend := harness.StartBackend(t, binary)
			c := startAITraces(t, sink, backend, "")
			want := aitracetest.LoadExpected(t, fixturePath(cli.name, "expected.json"))
			fixture := loadFixture(t, cli.name)
			batches := cliBatches(fixture, cli.interval, cli.stripTraces)
			t.Logf("%s: %d records in %d export requests (%s, JSON=%v)", cli.name, fixture.LogRecordCount(), len(batches), cli.interval, cli.json)

			postBatches(t, c.OTLPHTTPEndpoint, batches, cli.json)
			spans := waitForTurns(t, backend, len(want), expectedSpanCount(want), 60*time.Second)
			aitracetest.Check(t, spans, cli.name, cli.session, want)
			// host.name as elsewhere: the CLI's own (Codex and Gemini CLI
			// send one), else the collector's.
			wantHost := testHostname
			if own, ok := fixture.ResourceLogs().At(0).Resource().Attributes().Get("host.name"); ok {
				wantHost = own.AsString()
			}
			if host := attr(spans[0].Resource, "host.name"); host != wantHost {
				t.Errorf("host.name %q, want %q", host, wantHost)
			}

			// The sender retries everything: the same ids, nothing new.
			firstIDs := spanIDs(spans)
			postBatches(t, c.OTLPHTTPEndpoint, batches, cli.json)
			time.Sleep(5 * time.Second) // idle timeout, queue flush
			again := aitracetest.Spans(synthesized(backend.Traces()))
			if len(again) != len(spans) {
				t.Errorf("after a re-send the remote holds %d distinct spans, want %d", len(again), len(spans))
			}
			for id := range spanIDs(again) {
				if !firstIDs[id] {
					t.Errorf("re-send created span %s", id)
				}
			}
			if n := rootCount(synthesized(backend.Traces())); n != len(want) {
				t.Errorf("%d roots at the remote after the re-send, want %d (one per turn)", n, len(want))
			}

			// The monitor got the CLI's events as sent, twice, and no span
			// of the connector's.
			checkMonitorGotRawEvents(t, sink, fixture, 2)
		})
	}
}

func spanIDs(spans []aitracetest.Span) map[pcommon.SpanID]bool {
	m := map[pcommon.SpanID]bool{}
	for _, s := range spans {
		m[s.Span.SpanID()] = true
	}
	return m
}

// checkMonitorGotRawEvents compares the records otel-ai-monitor received
// with those sent (times copies): same times, names and attribute count.
func checkMonitorGotRawEvents(t *testing.T, sink *harness.Sink, fixture plog.Logs, copies int) {
	t.Helper()
	key := func(r plog.LogRecord) string {
		name, _ := r.Attributes().Get("event.name")
		return fmt.Sprintf("%d|%s|%s|%d", recordTime(r), r.Body().AsString(), name.AsString(), r.Attributes().Len())
	}
	var sent []string
	for range copies {
		for _, rl := range fixture.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, r := range sl.LogRecords().All() {
					sent = append(sent, key(r))
				}
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reqs, _ := sink.WaitFor(ctx, func(reqs []harness.Request) bool {
		n := 0
		for _, r := range reqs {
			if r.Path == "/v1/logs" {
				n += r.Logs.LogRecordCount()
			}
		}
		return n >= len(sent)
	})
	var got []string
	for _, r := range reqs {
		switch r.Path {
		case "/v1/traces":
			t.Errorf("otel-ai-monitor received %d spans; synthesized spans must stay on the remote path", r.Traces.SpanCount())
		case "/v1/logs":
			for _, rl := range r.Logs.ResourceLogs().All() {
				for _, sl := range rl.ScopeLogs().All() {
					for _, rec := range sl.LogRecords().All() {
						got = append(got, key(rec))
					}
				}
			}
		}
	}
	sort.Strings(sent)
	sort.Strings(got)
	if fmt.Sprint(sent) != fmt.Sprint(got) {
		t.Errorf("otel-ai-monitor received %d records, want the %d sent, unchanged", len(got), len(sent))
	}
}

// Gemini CLI's records as it sends them carry the trace context of its own
// spans, which are no turn tree (in -p mode each model call is a trace of
// its own). The collector makes one tree per turn all the same, whose root
// links to the CLI's spans: the same trees as without trace context, never
// a half tree beside the CLI's own.
func TestAISessionTracesLinkTheCLIsOwnSpans(t *testing.T) {
	sink := harness.NewSink(t)
	backend := harness.StartBackend(t, binary)
	c := startAITraces(t, sink, backend, "")
	fixture := loadFixture(t, "gemini-cli")
	postBatches(t, c.OTLPHTTPEndpoint, cliBatches(fixture, 5*time.Second, false), true)
	want := aitracetest.LoadExpected(t, fixturePath("gemini-cli", "expected.json"))
	spans := waitForTurns(t, backend, len(want), expectedSpanCount(want), 60*time.Second)
	aitracetest.Check(t, spans, "gemini-cli", "3f6b2c1e-8d4a-4e7b-9c15-2a7e6d0b94f3", want)
	for _, s := range spans {
		if s.Span.ParentSpanID().IsEmpty() && s.Span.Links().Len() == 0 {
			t.Errorf("the root of turn %s links to none of the CLI's own spans", attr(s.Span.Attributes(), "ai_session.turn.number"))
		}
	}
	if remoteLogRecords(backend) < fixture.LogRecordCount() {
		t.Errorf("the remote got %d of %d log records", remoteLogRecords(backend), fixture.LogRecordCount())
	}
}

func remoteLogRecords(b *harness.Backend) int {
	n := 0
	for _, ld := range b.Logs() {
		n += ld.LogRecordCount()
	}
	return n
}

// A collector killed with -9 in the middle of a turn, and restarted on the
// same state directory, continues the turn: at the remote every turn has
// exactly one root, with its real start and totals from both processes.
func TestAISessionTracesSurviveKill9MidTurn(t *testing.T) {
	sink := harness.NewSink(t)
	backend := harness.StartBackend(t, binary)
	stateDir := t.TempDir()
	c := startAITraces(t, sink, backend, stateDir)
	want := aitracetest.LoadExpected(t, fixturePath("claude-code", "expected.json"))
	fixture := loadFixture(t, "claude-code")
	// One record per request, as a CLI flushing at exit would; the kill
	// comes after the tenth, in the middle of turn 1.
	var singles []plog.Logs
	for _, b := range cliBatches(fixture, time.Nanosecond, false) {
		singles = append(singles, b)
	}
	postBatches(t, c.OTLPHTTPEndpoint, singles[:10], false)
	c.Kill()

	c = startAITraces(t, sink, backend, stateDir)
	postBatches(t, c.OTLPHTTPEndpoint, singles[10:], false)
	spans := waitForTurns(t, backend, len(want), expectedSpanCount(want), 60*time.Second)
	aitracetest.Check(t, spans, "claude-code", "3f9c2a71-5b8e-4d0a-9c6f-2e7b14d8a5c3", want)
	time.Sleep(3 * time.Second)
	if n := rootCount(synthesized(backend.Traces())); n != len(want) {
		t.Errorf("%d roots at the remote, want exactly %d", n, len(want))
	}
}

// The RED metrics docs/ai-sessions.md and docs/grafana/ai-sessions-dashboard.json
// query exist in a real Prometheus 3 OTLP receiver (what Mimir's /otlp runs)
// once Claude Code's session has gone through the binary: the span metrics
// of the synthesized turns, model calls and tool runs, counted exactly.
func TestAISessionREDMetricsQueries(t *testing.T) {
	ctx := withTimeout(t, 3*time.Minute)
	prom := harness.StartPrometheus3(t)
	traces := harness.NewCountingSink(t)
	args := []string{"--config", "embedded:default.yaml", "--config", "embedded:remote.yaml", "--config", "embedded:ai-traces.yaml",
		"--config", directLayer(t, prom.OTLPMetricsURL, traces.URL)}
	env := aiEnv(t, "")
	env["OTEL_AI_COLLECTOR_AI_TRACES_IDLE"] = "2s"
	c := harness.Start(t, binary, harness.Options{Args: args, Env: env})
	postBatches(t, c.OTLPHTTPEndpoint, cliBatches(loadFixture(t, "claude-code"), 5*time.Second, false), true)

	// From testdata/claude-code/expected.json: 4 turns; 10 model calls
	// (one failed); Bash 4 runs (a failure and a rejection), Read 1, Edit 1.
	calls := `sum by (gen_ai_operation_name, gen_ai_request_model, gen_ai_tool_name, status_code) (traces_span_metrics_calls_total{service_name="claude-code"})`
	for query, want := range map[string]float64{
		`sum(traces_span_metrics_calls_total{gen_ai_operation_name="invoke_agent", service_name="claude-code"})`:                                       4,
		`sum(traces_span_metrics_calls_total{gen_ai_operation_name="chat", gen_ai_request_model="claude-sonnet-5", status_code!="STATUS_CODE_ERROR"})`: 8,
		`sum(traces_span_metrics_calls_total{gen_ai_operation_name="chat", gen_ai_request_model="claude-sonnet-5", status_code="STATUS_CODE_ERROR"})`:  1,
		`sum(traces_span_metrics_calls_total{gen_ai_operation_name="chat", gen_ai_request_model="claude-haiku-4-5-20251001"})`:                         1,
		`sum(traces_span_metrics_calls_total{gen_ai_operation_name="execute_tool", gen_ai_tool_name="Bash"})`:                                          4,
		`sum(traces_span_metrics_calls_total{gen_ai_operation_name="execute_tool", gen_ai_tool_name="Bash", status_code="STATUS_CODE_ERROR"})`:         2,
		`sum(traces_span_metrics_calls_total{gen_ai_operation_name="execute_tool", gen_ai_tool_name="Edit"})`:                                          1,
	} {
		waitValue(ctx, t, prom, query, want)
	}
	if series, err := prom.Query(calls); err == nil {
		t.Logf("span metrics of the session: %v", series)
	}

	// Every PromQL of the doc and the dashboard answers with data.
	for _, q := range aiSessionQueries(t) {
		series, err := prom.Query(q)
		if err != nil || len(series) == 0 {
			names, _ := prom.MetricNames()
			t.Errorf("%s: no data (%v); Prometheus has %v", q, err, names)
		}
	}
}

// aiSessionQueries are the PromQL of docs/ai-sessions.md's RED table and of
// the Mimir panels of its dashboard ($cli is every CLI, rate windows 1m),
// each checked to be in both places.
func aiSessionQueries(t *testing.T) []string {
	root, err := harness.RepoRoot()
	must(t, err)
	doc, err := os.ReadFile(filepath.Join(root, "docs/ai-sessions.md"))
	must(t, err)
	raw, err := os.ReadFile(filepath.Join(root, "docs/grafana/ai-sessions-dashboard.json"))
	must(t, err)
	var dashboard struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	must(t, json.Unmarshal(raw, &dashboard))
	var queries []string
	for _, p := range dashboard.Panels {
		for _, target := range p.Targets {
			if target.Expr == "" {
				continue // a Tempo panel
			}
			queries = append(queries, strings.NewReplacer(`, service_name=~"$cli"`, "", "$__rate_interval", "1m").Replace(target.Expr))
		}
	}
	if len(queries) != 5 {
		t.Fatalf("%d PromQL panels in the dashboard, want 5", len(queries))
	}
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "| ") || !strings.Contains(line, "traces_span_metrics") {
			continue // only the RED table's rows
		}
		cells := strings.Split(line, "`")
		if len(cells) < 3 {
			continue
		}
		queries = append(queries, strings.ReplaceAll(cells[1], "[5m]", "[1m]"))
	}
	if len(queries) != 10 {
		t.Fatalf("%d queries from the dashboard and docs/ai-sessions.md, want 5 each", len(queries))
	}
	return queries
}
