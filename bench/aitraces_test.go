package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// The load of BenchmarkAISessionTraces: 100 Claude Code sessions of 10
// events a second each, 1,000 events/s in all. Each session posts its own
// batch every BENCH_AI_TRACES_POST_INTERVAL: 1s by default (10-event
// batches, 100 requests/s). Claude Code's logs exporter sends every 5 s per
// process (50-event batches, 20 requests/s); posting every second is the
// harder case for the collector, as its cost is largely per request (the
// persistent queues and the connector's state store write once per
// request).
const (
	aiSessions       = 100
	aiEventSpacing   = 100 * time.Millisecond // within a session
	aiToolCallsPerTn = 5                      // tool calls per turn; a turn is 3*5+3 = 18 events
)

// One turn of a Claude Code session, in the order and shape Claude Code
// 2.1.x sends its events (testdata/claude-code/session.json of the
// connector): the prompt, then for each tool call the model call that asked
// for it, the permission decision and the tool's result, then the final model
// call and its assistant_response (not a span: the connector counts it as
// ignored). Children per turn: 6 chat + 5 execute_tool; plus the root
// (invoke_agent) when the next prompt ends the turn.
const (
	stepPrompt = iota
	stepToolCallModel
	stepToolDecision
	stepToolResult
	stepFinalModel
	stepResponse
)

func turnStep(i int) int {
	switch {
	case i == 0:
		return stepPrompt
	case i <= 3*aiToolCallsPerTn:
		return stepToolCallModel + (i-1)%3
	case i == 3*aiToolCallsPerTn+1:
		return stepFinalModel
	default:
		return stepResponse
	}
}

const aiTurnLen = 3*aiToolCallsPerTn + 3

var aiTools = []string{"Read", "Bash", "Edit", "Grep", "Bash", "Glob"}

// claudeSession generates one Claude Code session's events and counts what
// the connector must make of those the collector acknowledged.
type claudeSession struct {
	id, userID, accountUUID string
	rng                     *rand.Rand
	client                  *http.Client

	seq       int64 // event.sequence, per session as Claude Code numbers it
	step      int   // index within the turn
	turns     int   // prompts generated so far
	promptID  string
	toolUseID string
	tool      string
	cacheRead int64 // grows over a session, as Claude Code's context does
}

func newClaudeSession(run, i int) *claudeSession {
	rng := rand.New(rand.NewPCG(uint64(run), uint64(i)))
	return &claudeSession{
		id: uuid(rng), userID: fmt.Sprintf("%016x%016x%016x%016x", rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64()),
		accountUUID: uuid(rng), rng: rng,
		// One keep-alive connection per session, as each CLI process
		// holds its own.
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}},
	}
}

func uuid(rng *rand.Rand) string {
	a, b := rng.Uint64(), rng.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, a>>16&0xffff, a&0xfff, b>>48&0x3fff|0x8000, b&0xffffffffffff)
}

// batchCounts is what one export request must give at the remote.
type batchCounts struct {
	events, children, roots int64
}

// batch builds the session's next export request: n events spaced
// aiEventSpacing apart, the last one at `end` (event time = when it
// happened, just before the export, as with the CLI's batching exporter).
func (s *claudeSession) batch(end time.Time, n int) (plog.Logs, batchCounts) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	res := rl.Resource().Attributes()
	res.PutStr("host.arch", "amd64")
	res.PutStr("os.type", "linux")
	res.PutStr("os.version", "6.12.48")
	res.PutStr("service.name", "claude-code")
	res.PutStr("service.version", "2.1.295")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("com.anthropic.claude_code.events")
	sl.Scope().SetVersion("2.1.295")
	var counts batchCounts
	for i := range n {
		at := end.Add(-time.Duration(n-1-i) * aiEventSpacing)
		s.event(sl.LogRecords().AppendEmpty(), at, &counts)
	}
	return ld, counts
}

func (s *claudeSession) event(rec plog.LogRecord, at time.Time, n *batchCounts) {
	step := turnStep(s.step)
	call := s.step / 3 // tool call number within the turn, for variety
	s.step = (s.step + 1) % aiTurnLen
	n.events++

	ts := pcommon.NewTimestampFromTime(at)
	rec.SetTimestamp(ts)
	rec.SetObservedTimestamp(ts)
	a := rec.Attributes()
	// Every Claude Code event carries the user's and session's identity.
	a.PutStr("user.id", s.userID)
	a.PutStr("session.id", s.id)
	a.PutStr("organization.id", "9a1c7e52-3d4b-4f86-a0e9-6b2d8c4f1e37")
	a.PutStr("user.email", "dana.keller@example.com")
	a.PutStr("user.account_uuid", s.accountUUID)
	a.PutStr("terminal.type", "vscode")
	name := ""
	switch step {
	case stepPrompt:
		name = "user_prompt"
		if s.turns > 0 {
			n.roots++ // ends the previous turn
		}
		s.turns++
		s.promptID = uuid(s.rng)
	case stepToolCallModel, stepFinalModel:
		name = "api_request"
		n.children++
	case stepToolDecision:
		name = "tool_decision"
		s.tool = aiTools[(s.turns+call)%len(aiTools)]
		s.toolUseID = fmt.Sprintf("toolu_01%022x", s.rng.Uint64())
	case stepToolResult:
		name = "tool_result"
		n.children++
	case stepResponse:
		name = "assistant_response"
	}
	rec.Body().SetStr("claude_code." + name)
	a.PutStr("event.name", name)
	a.PutStr("event.timestamp", at.UTC().Format("2006-01-02T15:04:05.000Z"))
	a.PutInt("event.sequence", s.seq)
	s.seq++
	a.PutStr("prompt.id", s.promptID)
	// Durations fit between two events (aiEventSpacing apart), so the
	// turn's spans do not overlap; Claude Code sends counts as strings.
	switch step {
	case stepPrompt:
		a.PutStr("prompt_length", strconv.Itoa(20+s.rng.IntN(400)))
		a.PutStr("prompt", "<REDACTED>")
		a.PutStr("message.uuid", uuid(s.rng))
	case stepToolCallModel, stepFinalModel:
		in, out, created := 3+s.rng.IntN(20), 80+s.rng.IntN(600), 300+s.rng.IntN(3000)
		s.cacheRead += int64(created)
		a.PutStr("model", "claude-sonnet-5")
		a.PutStr("input_tokens", strconv.Itoa(in))
		a.PutStr("output_tokens", strconv.Itoa(out))
		a.PutStr("cache_read_tokens", strconv.FormatInt(s.cacheRead, 10))
		a.PutStr("cache_creation_tokens", strconv.Itoa(created))
		cost := (float64(in)*3 + float64(out)*15 + float64(s.cacheRead)*0.3 + float64(created)*3.75) / 1e6
		a.PutDouble("cost_usd", cost)
		a.PutStr("cost_usd_micros", strconv.Itoa(int(cost*1e6)))
		a.PutStr("duration_ms", strconv.Itoa(50+s.rng.IntN(45)))
		a.PutStr("ttft_ms", strconv.Itoa(20+s.rng.IntN(25)))
		a.PutStr("request_id", fmt.Sprintf("req_011%021x", s.rng.Uint64()))
		a.PutStr("client_request_id", uuid(s.rng))
		a.PutStr("speed", "normal")
		a.PutStr("query_source", "repl_main_thread")
		a.PutStr("effort", "medium")
	case stepToolDecision:
		a.PutStr("decision", "accept")
		a.PutStr("source", []string{"config", "user_temporary", "user_permanent"}[call%3])
		a.PutStr("tool_name", s.tool)
		a.PutStr("tool_use_id", s.toolUseID)
		a.PutStr("tool_source", "builtin")
	case stepToolResult:
		ok := s.tool != "Bash" || s.rng.IntN(4) > 0 // some shell commands fail
		a.PutStr("tool_name", s.tool)
		a.PutStr("tool_use_id", s.toolUseID)
		a.PutStr("success", strconv.FormatBool(ok))
		if !ok {
			a.PutStr("error_type", "ShellError")
		}
		a.PutStr("duration_ms", strconv.Itoa(5+s.rng.IntN(40)))
		a.PutStr("tool_input_size_bytes", strconv.Itoa(40+s.rng.IntN(400)))
		a.PutStr("tool_result_size_bytes", strconv.Itoa(s.rng.IntN(8000)))
		a.PutStr("decision_source", []string{"config", "user_temporary", "user_permanent"}[call%3])
		a.PutStr("decision_type", "accept")
	case stepResponse:
		a.PutStr("response_length", strconv.Itoa(40+s.rng.IntN(600)))
		a.PutStr("response", "<REDACTED>")
		a.PutStr("model", "claude-sonnet-5")
		a.PutStr("message.uuid", uuid(s.rng))
		a.PutStr("query_source", "repl_main_thread")
	}
}

// aiLoad is the running load: what the collector acknowledged so far.
type aiLoad struct {
	events, children, roots atomic.Int64
	refused                 atomic.Int64
}

// run posts the session's batches every interval, starting after phase, on
// a fixed schedule (a slow answer does not shift the next post), until ctx
// ends.
func (s *claudeSession) run(ctx context.Context, endpoint string, interval, phase time.Duration, load *aiLoad) {
	defer s.client.CloseIdleConnections()
	start := time.Now().Add(phase)
	for k := 0; ; k++ {
		next := start.Add(time.Duration(k) * interval)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		ld, counts := s.batch(time.Now(), int(interval/aiEventSpacing))
		payload, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
		if err != nil {
			panic(err) // pdata marshalling its own data cannot fail
		}
		req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, endpoint+"/v1/logs", bytes.NewReader(payload))
		if err != nil {
			panic(err)
		}
		req.Header.Set("Content-Type", "application/x-protobuf")
		resp, err := s.client.Do(req)
		if err != nil {
			load.refused.Add(1)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			load.refused.Add(1)
			continue
		}
		load.events.Add(counts.events)
		load.children.Add(counts.children)
		load.roots.Add(counts.roots)
	}
}

// aiTracesMode is the configuration of one run.
type aiTracesMode string

const (
	// aiTracesOn is the embedded default: the connector, its spans to
	// forward/remote_traces (the remote exporter's persistent traces queue)
	// and span_metrics.
	aiTracesOn aiTracesMode = "on"
	// aiTracesOff is OTEL_AI_COLLECTOR_AI_TRACES=off: no connector.
	aiTracesOff aiTracesMode = "off"
	// aiTracesConnector is the connector, with its durable session state,
	// but its spans go to the nop exporter: on minus connector is what the
	// durable export of the spans costs.
	aiTracesConnector aiTracesMode = "connector"
)

// aiTracesModes in the order of the first round; each round starts one
// further, so a trend in the machine's load weighs on all alike.
var aiTracesModes = []aiTracesMode{aiTracesOn, aiTracesOff, aiTracesConnector}

// args are the collector's command-line arguments for the mode. --set adds
// its layers over the embedded default's own choice of layers, which a
// --config would replace; so the connector mode differs from on only in the
// exporters of the connector's pipeline.
func (m aiTracesMode) args() []string {
	if m != aiTracesConnector {
		return nil
	}
	return []string{
		"--set=exporters.nop={}",
		"--set=service.pipelines.traces/ai_session_traces.exporters=[nop]",
	}
}

// env is the mode's OTEL_AI_COLLECTOR_AI_TRACES: the connector runs in every
// mode but off.
func (m aiTracesMode) env() string {
	if m == aiTracesOff {
		return "off"
	}
	return "on"
}

// aiResult is one configuration's run.
type aiResult struct {
	mode             aiTracesMode
	events           int64 // acknowledged within the measured window
	window           time.Duration
	cpu              time.Duration // collector CPU (user+system) over the window
	rssEnd, rssPeak  int64
	anonEnd          int64 // the anonymous part of rssEnd (heap, stacks); the rest is file-backed (binary, mmapped bbolt files)
	spans, wantSpans int64 // at the remote, after the load
	connectorSpans   int64 // events the connector made a span of (its own count)
}

func (r aiResult) cpuPerEvent() float64 { // µs
	return float64(r.cpu.Microseconds()) / float64(max(r.events, 1))
}

// BenchmarkAISessionTraces measures what the ai_session_traces connector
// adds to the collector on the remote path, and how much of it is the
// durable export of its spans: the same binary on its embedded default with
// remote export to a counting OTLP/HTTP sink on loopback, in three modes
// (aiTracesMode): OTEL_AI_COLLECTOR_AI_TRACES=on, off, and "connector" (on,
// but the spans go to the nop exporter), rotated within one run (on, off,
// connector; off, connector, on; connector, on, off; ...). Each run: a
// fresh collector, 100 Claude Code sessions at 1,000 events/s in all, each
// posting its batch every BENCH_AI_TRACES_POST_INTERVAL (1s),
// BENCH_AI_TRACES_WARMUP (10s) of warm-up, then BENCH_AI_TRACES_DURATION
// (30s) measured: collector CPU, CPU per event, events/s, RSS at the end
// and peak. After the load it checks the remote got every log record; in
// mode on, every span the acknowledged events must give (children at once,
// a root per turn ended by the next prompt); none in the others; and in
// both modes with the connector, its own count of the events it made spans
// of. BENCH_AI_TRACES_ROUNDS (3) rounds;
// the "median" sub-benchmark reports each mode's medians and what on and
// connector add over off. Run with -benchtime=1x.
func BenchmarkAISessionTraces(b *testing.B) {
	interval := envDuration(b, "BENCH_AI_TRACES_POST_INTERVAL", time.Second)
	if interval < aiEventSpacing || interval > 10*time.Second || interval%aiEventSpacing != 0 {
		b.Fatalf("BENCH_AI_TRACES_POST_INTERVAL=%v: want a multiple of %v up to 10s", interval, aiEventSpacing)
	}
	warmup := envDuration(b, "BENCH_AI_TRACES_WARMUP", 10*time.Second)
	window := envDuration(b, "BENCH_AI_TRACES_DURATION", 30*time.Second)
	rounds := envInt(b, "BENCH_AI_TRACES_ROUNDS", 3)
	if rounds < 1 || rounds > 10 {
		b.Fatalf("BENCH_AI_TRACES_ROUNDS=%d: want 1 to 10", rounds)
	}

	var results []aiResult
	run := 0
	for round := 1; round <= rounds; round++ {
		for i := range aiTracesModes {
			mode := aiTracesModes[(round-1+i)%len(aiTracesModes)]
			run++
			b.Run(fmt.Sprintf("round=%d/ai_traces=%s", round, mode), func(b *testing.B) {
				r := runAITraces(b, run, mode, interval, warmup, window)
				if b.Failed() {
					return // not a measurement: the checks after the load failed
				}
				results = append(results, r)
				b.ReportMetric(float64(r.events)/r.window.Seconds(), "events/s")
				b.ReportMetric(r.cpu.Seconds(), "cpu-s")
				b.ReportMetric(r.cpu.Seconds()/r.window.Seconds(), "cores")
				b.ReportMetric(r.cpuPerEvent(), "cpu-µs/event")
				b.ReportMetric(float64(r.rssEnd)/(1<<20), "rss-end-MiB")
				b.ReportMetric(float64(r.rssPeak)/(1<<20), "rss-peak-MiB")
				b.ReportMetric(float64(r.anonEnd)/(1<<20), "rss-anon-end-MiB")
				b.ReportMetric(float64(r.spans), "remote-spans")
			})
		}
	}

	b.Run("median", func(b *testing.B) {
		byMode := map[aiTracesMode][]aiResult{}
		for _, r := range results {
			byMode[r.mode] = append(byMode[r.mode], r)
		}
		for _, mode := range aiTracesModes {
			if len(byMode[mode]) == 0 {
				b.Skipf("no complete run with ai_traces=%s", mode)
			}
		}
		med := func(mode aiTracesMode, f func(aiResult) float64) float64 {
			var v []float64
			for _, r := range byMode[mode] {
				v = append(v, f(r))
			}
			return median(v)
		}
		cpuUs := func(r aiResult) float64 { return r.cpuPerEvent() }
		rssEnd := func(r aiResult) float64 { return float64(r.rssEnd) / (1 << 20) }
		rssPeak := func(r aiResult) float64 { return float64(r.rssPeak) / (1 << 20) }
		anonEnd := func(r aiResult) float64 { return float64(r.anonEnd) / (1 << 20) }
		for _, mode := range aiTracesModes {
			b.ReportMetric(med(mode, cpuUs), string(mode)+"-cpu-µs/event")
			b.ReportMetric(med(mode, rssEnd), string(mode)+"-rss-end-MiB")
			b.ReportMetric(med(mode, anonEnd), string(mode)+"-rss-anon-end-MiB")
			b.ReportMetric(med(mode, rssPeak), string(mode)+"-rss-peak-MiB")
		}
		// What on and connector add over off; "export" is on minus
		// connector: the spans' way through forward/remote_traces, the
		// persistent traces queue and the OTLP export, and span_metrics.
		offCPU := med(aiTracesOff, cpuUs)
		onCPU, connectorCPU := med(aiTracesOn, cpuUs), med(aiTracesConnector, cpuUs)
		b.ReportMetric((onCPU-offCPU)/offCPU*100, "on-added-cpu-%")
		b.ReportMetric((connectorCPU-offCPU)/offCPU*100, "connector-added-cpu-%")
		b.ReportMetric((onCPU-connectorCPU)/offCPU*100, "export-added-cpu-%")
		for _, m := range []struct {
			name string
			f    func(aiResult) float64
		}{{"rss-end", rssEnd}, {"rss-anon-end", anonEnd}, {"rss-peak", rssPeak}} {
			off, on, connector := med(aiTracesOff, m.f), med(aiTracesOn, m.f), med(aiTracesConnector, m.f)
			b.ReportMetric(on-off, "on-added-"+m.name+"-MiB")
			b.ReportMetric(connector-off, "connector-added-"+m.name+"-MiB")
			b.ReportMetric(on-connector, "export-added-"+m.name+"-MiB")
		}
	})
}

func median(v []float64) float64 {
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// runAITraces starts a collector in the mode, runs the load and measures
// it.
func runAITraces(b *testing.B, run int, mode aiTracesMode, interval, warmup, window time.Duration) aiResult {
	monitor := harness.NewCountingSink(b)
	remote := harness.NewCountingSink(b)
	c := harness.Start(b, binary, harness.Options{Args: mode.args(), Env: map[string]string{
		"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT": monitor.URL,
		"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT":  remote.URL,
		"OTEL_AI_COLLECTOR_AI_TRACES":        mode.env(),
		// The harness turns host metrics and journald off already;
		// stated here because the comparison depends on it.
		"OTEL_AI_COLLECTOR_HOST_METRICS": "off",
		"OTEL_AI_COLLECTOR_JOURNALD":     "off",
	}})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var load aiLoad
	var wg sync.WaitGroup
	for i := range aiSessions {
		s := newClaudeSession(run, i)
		// Sessions are spread over the interval, as independent
		// processes are.
		phase := time.Duration(i) * interval / aiSessions
		wg.Go(func() { s.run(ctx, c.OTLPHTTPEndpoint, interval, phase, &load) })
	}

	time.Sleep(warmup)
	r := aiResult{mode: mode}
	peak := sample(c.Pid())
	cpuBefore, err := harness.ProcessCPU(c.Pid())
	if err != nil {
		b.Fatal(err)
	}
	eventsBefore := load.events.Load()
	start := time.Now()
	time.Sleep(window)
	cpuAfter, err := harness.ProcessCPU(c.Pid())
	if err != nil {
		b.Fatal(err)
	}
	r.window = time.Since(start)
	r.events = load.events.Load() - eventsBefore
	if r.rssEnd, err = c.RSS(); err != nil {
		b.Fatal(err)
	}
	if r.anonEnd, err = harness.ProcessRSSAnon(c.Pid()); err != nil {
		b.Fatal(err)
	}
	r.rssPeak = peak.Stop()
	r.cpu = cpuAfter - cpuBefore
	cancel()
	wg.Wait()

	// The measurement counts only if the collector did its work: every
	// event acknowledged, every log record at the remote, with the
	// connector every event it makes a span of counted, and on the remote
	// exactly the spans those events make in mode on, none otherwise.
	if n := load.refused.Load(); n > 0 {
		b.Errorf("%d export requests refused or failed", n)
	}
	if want := float64(aiSessions) / aiEventSpacing.Seconds(); float64(r.events)/r.window.Seconds() < 0.95*want {
		b.Errorf("achieved %.0f events/s, want about %.0f", float64(r.events)/r.window.Seconds(), want)
	}
	sent := load.events.Load()
	if got := waitFor(func() int64 { _, _, logs := remote.Counts(); return logs }, sent, time.Minute); got != sent {
		b.Errorf("remote received %d log records of %d acknowledged", got, sent)
	}
	if mode == aiTracesOn {
		r.wantSpans = load.children.Load() + load.roots.Load()
	}
	if mode != aiTracesOff {
		spans, err := c.Metric("otelcol_connector_ai_session_traces_events_total", `outcome="span"`)
		if err != nil {
			b.Fatal(err)
		}
		if r.connectorSpans = int64(spans); r.connectorSpans != load.children.Load() {
			b.Errorf("connector counted %d events as spans, want %d", r.connectorSpans, load.children.Load())
		}
	}
	r.spans = waitFor(func() int64 { s, _, _ := remote.Counts(); return s }, r.wantSpans, time.Minute)
	time.Sleep(3 * time.Second) // anything beyond the expected would be duplicates
	if r.spans, _, _ = remote.Counts(); r.spans != r.wantSpans {
		b.Errorf("remote received %d spans, want %d (children of the acknowledged events plus a root per ended turn)", r.spans, r.wantSpans)
	}
	b.Logf("ai_traces=%s: %d events in %v (%.0f/s), collector %.2f CPU s (%.1f µs/event, %.3f cores), RSS %.1f MiB at the end (%.1f MiB anonymous), %.1f MiB peak; connector: %d events made spans; remote: %d spans (want %d)",
		mode, r.events, r.window.Round(time.Millisecond), float64(r.events)/r.window.Seconds(), r.cpu.Seconds(), r.cpuPerEvent(),
		r.cpu.Seconds()/r.window.Seconds(), float64(r.rssEnd)/(1<<20), float64(r.anonEnd)/(1<<20), float64(r.rssPeak)/(1<<20), r.connectorSpans, r.spans, r.wantSpans)
	c.Stop()
	return r
}

// waitFor polls count until it reaches want or timeout passes, and returns
// the last count.
func waitFor(count func() int64, want int64, timeout time.Duration) int64 {
	deadline := time.Now().Add(timeout)
	for {
		n := count()
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(200 * time.Millisecond)
	}
}
