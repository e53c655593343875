package integration

// The real Codex CLI (codex-cli 0.169.0 from npm, .tools/ai-clis/codex)
// driven through whole `codex exec` / `codex exec resume` sessions against a
// fake OpenAI Responses API (integration/fakeopenai), exporting its OTLP
// telemetry to the collector binary, which forwards to a remote backend (a
// second collector process) and to a stand-in for otel-ai-monitor. The fake
// server's request log is the oracle for the traces the collector builds.
//
// With AICLI_RECORD=1 each scenario also writes what the CLI really sent
// (captured by a pass-through tee between the CLI and the collector) to
// connector/aisessiontracesconnector/testdata/codex/real/<scenario>.*.json.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/otel-ai-collector/otel-ai-collector/connector/aisessiontracesconnector/aitracetest"
	"github.com/otel-ai-collector/otel-ai-collector/integration/fakeopenai"
	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// codexModel is one of the models codex-cli 0.169 ships metadata for, so
// that it runs with its real tool set and no fallback warning.
const codexModel = "gpt-5.5"

// codexRun is one invocation of the CLI: one user prompt.
type codexRun struct {
	resume   string // "": codex exec (a new session); "id": codex exec resume <id>; "last": codex exec resume --last
	prompt   string
	main     []fakeopenai.Answer // the fake's answers to the turn's own calls
	reviewer []fakeopenai.Answer // to the approvals reviewer's sub-session ("guardian")
	args     []string            // more `codex exec` options
	wantFail bool                // the CLI exits non-zero
}

// codexWantTool is a tool call the scenario makes, in order.
type codexWantTool struct {
	decision string // ai_session.tool.decision: accept or reject
	failed   bool   // error status (failed or rejected)
}

type codexScenario struct {
	name   string
	grpc   bool   // OTLP/gRPC instead of OTLP/HTTP protobuf
	traces bool   // Codex's own trace exporter ([otel].trace_exporter) on
	rules  string // an execpolicy rules file ($CODEX_HOME/rules/default.rules)
	runs   []codexRun
	tools  []codexWantTool
	// failedCalls is how many model calls end failed (a retry sequence
	// that Codex gave up on).
	failedCalls int
}

func codexUsage(in, cached, out, reasoning int64) fakeopenai.Usage {
	return fakeopenai.Usage{InputTokens: in, CachedTokens: cached, OutputTokens: out, ReasoningTokens: reasoning}
}

var codexScenarios = []codexScenario{
	{
		// A shell command that succeeds, then a second turn in the same
		// session by id.
		name: "shell_ok",
		runs: []codexRun{
			{prompt: "print hello", main: []fakeopenai.Answer{
				{Shell: "echo hello", Usage: codexUsage(1200, 1000, 40, 16)},
				{Text: "It printed hello.", Usage: codexUsage(1300, 1200, 12, 0)},
			}},
			{resume: "id", prompt: "and now say bye", main: []fakeopenai.Answer{
				{Text: "Bye.", Usage: codexUsage(1400, 1280, 5, 3)},
			}},
		},
		tools: []codexWantTool{{decision: "accept"}},
	},
	{
		// A shell command that exits non-zero, over OTLP/gRPC, then a
		// second turn with resume --last.
		name: "shell_fail",
		grpc: true,
		runs: []codexRun{
			{prompt: "run the failing check", main: []fakeopenai.Answer{
				{Shell: "echo broken >&2; exit 3", Usage: codexUsage(1500, 0, 30, 8)},
				{Text: "The check failed with exit code 3.", Usage: codexUsage(1600, 1500, 20, 4)},
			}},
			{resume: "last", prompt: "ok, thanks", main: []fakeopenai.Answer{
				{Text: "You're welcome.", Usage: codexUsage(1700, 1600, 6, 0)},
			}},
		},
		tools: []codexWantTool{{decision: "accept", failed: true}},
	},
	{
		// A command the user's execpolicy rules forbid: Codex rejects it
		// without running it and without asking.
		name:  "rejected_by_rules",
		rules: `prefix_rule(pattern=["rm"], decision="forbidden")` + "\n",
		runs: []codexRun{
			{prompt: "clean up the build directory", main: []fakeopenai.Answer{
				{Shell: "rm -rf build", Usage: codexUsage(900, 0, 25, 10)},
				{Text: "The rm command is forbidden here.", Usage: codexUsage(1000, 900, 15, 0)},
			}},
		},
		tools: []codexWantTool{{decision: "reject", failed: true}},
	},
	{
		// A command asking to run outside the sandbox, with
		// --approve-for-me: the approvals reviewer (a sub-session of its
		// own, model calls of its own) denies it.
		name: "rejected_by_reviewer",
		runs: []codexRun{
			{prompt: "create the marker file in /tmp", args: []string{"--approve-for-me"},
				main: []fakeopenai.Answer{
					{Shell: "touch /tmp/codex-reviewer-marker", ShellArgs: map[string]any{"sandbox_permissions": "require_escalated", "justification": "needs to write outside the workspace"}, Usage: codexUsage(1100, 0, 35, 12)},
					{Text: "The reviewer denied writing outside the workspace.", Usage: codexUsage(1250, 1100, 18, 0)},
				},
				reviewer: []fakeopenai.Answer{
					{Text: `{"risk_level":"high","user_authorization":"unknown","outcome":"deny","rationale":"writes outside the workspace"}`, Usage: codexUsage(2100, 0, 60, 30)},
				}},
		},
		tools: []codexWantTool{{decision: "reject", failed: true}},
	},
	{
		// A good turn, then a turn whose model call keeps failing with
		// HTTP 500 under Codex's default retry policy (resume --last), then
		// the user tries again.
		name: "model_error_500",
		runs: []codexRun{
			{prompt: "hello", main: []fakeopenai.Answer{
				{Text: "Hello!", Usage: codexUsage(800, 0, 4, 0)},
			}},
			{resume: "last", prompt: "summarize the repository", wantFail: true, main: []fakeopenai.Answer{
				{Status: http.StatusInternalServerError, Sticky: true},
			}},
			// The user tries again: the failed turn ends at this prompt
			// (Codex sends no end-of-turn event, and a turn that owes a
			// model call may wait long for the CLI's retries).
			{resume: "last", prompt: "try again", main: []fakeopenai.Answer{
				{Text: "The repository holds a Go collector.", Usage: codexUsage(900, 800, 9, 2)},
			}},
		},
		failedCalls: 1,
	},
	{
		// A model call that fails twice with HTTP 500 and then succeeds
		// (Codex's request retries): one model call, three attempts.
		name: "model_retry_recovered",
		runs: []codexRun{
			{prompt: "hello again", main: []fakeopenai.Answer{
				{Status: http.StatusInternalServerError},
				{Status: http.StatusInternalServerError},
				{Text: "Hi again.", Usage: codexUsage(700, 0, 3, 0)},
			}},
		},
	},
	{
		// A model call that keeps failing with HTTP 429 (rate limited).
		// Codex does not retry a 429 (retry_429 is false) and exits 1
		// without flushing its logs; the fake answers after 1.5 s so
		// that Codex's 1 s batch export sends the turn's first records
		// before the failure.
		name: "model_error_429",
		runs: []codexRun{
			{prompt: "summarize the repository", wantFail: true, main: []fakeopenai.Answer{
				{Status: http.StatusTooManyRequests, Sticky: true, Delay: 1500 * time.Millisecond},
			}},
			{resume: "last", prompt: "try again", main: []fakeopenai.Answer{
				{Text: "The repository holds a Go collector.", Usage: codexUsage(600, 0, 9, 2)},
			}},
		},
		failedCalls: 1,
	},
	{
		// Codex's own trace exporter on: its log records (but not its
		// sse_event ones) carry the trace context of its spans, which pass
		// through; the collector still makes the turn's tree, linked to
		// them.
		name:   "native_traces",
		traces: true,
		runs: []codexRun{
			{prompt: "print hello", main: []fakeopenai.Answer{
				{Shell: "echo hello", Usage: codexUsage(1200, 1000, 40, 16)},
				{Text: "It printed hello.", Usage: codexUsage(1300, 1200, 12, 0)},
			}},
		},
		tools: []codexWantTool{{decision: "accept"}},
	},
}

func TestCodexRealCLI(t *testing.T) {
	cli := harness.AICLIPath(t, "codex", "codex")
	for _, sc := range codexScenarios {
		t.Run(sc.name, func(t *testing.T) { codexRunScenario(t, cli, sc) })
	}
}

// codexRunOutput is one invocation as the modellog records it.
type codexRunOutput struct {
	Args     []string          `json:"args"`
	ExitCode int               `json:"exit_code"`
	ThreadID string            `json:"thread_id"`
	Events   []json.RawMessage `json:"events"` // the --json event lines of stdout
}

func codexRunScenario(t *testing.T, cli string, sc codexScenario) {
	sink := harness.NewSink(t)
	backend := harness.StartBackend(t, binary)
	c := startWithRemote(t, sink, backend.URL, harness.Options{
		// Longer than Codex's longest pause between retries (about 3 s
		// between reconnects), so that a failing turn's root covers all of
		// its attempts.
		Env: map[string]string{"OTEL_AI_COLLECTOR_AI_TRACES_IDLE": "5s"},
	})
	fake := fakeopenai.Start(t)
	tee := codexStartTee(t, c, sc.grpc)

	home, work := t.TempDir(), t.TempDir()
	codexWriteConfig(t, home, fake.URL, tee, sc)

	var outputs []codexRunOutput
	threadID := ""
	for i, run := range sc.runs {
		fake.Push(run.main...)
		if len(run.reviewer) > 0 {
			fake.PushFor("guardian", run.reviewer...)
		}
		out := codexExec(t, cli, home, work, run, threadID)
		outputs = append(outputs, out)
		t.Logf("run %d: %v exit %d thread %s", i+1, out.Args, out.ExitCode, out.ThreadID)
		if (out.ExitCode != 0) != run.wantFail {
			t.Errorf("run %d exited %d, want failure=%v; events:\n%s", i+1, out.ExitCode, run.wantFail, codexEventsText(out))
		}
		if i == 0 {
			threadID = out.ThreadID
		} else if out.ThreadID != threadID {
			t.Errorf("run %d (resume) is thread %q, want the session's %q", i+1, out.ThreadID, threadID)
		}
		fake.Clear() // a sticky error answer ends with its run
	}
	if threadID == "" {
		t.Fatalf("no thread.started event in the CLI's output")
	}
	sent := tee.Logs()
	calls := fake.Log.Calls()
	t.Logf("the CLI sent %d log records in %d export requests, %d spans; the fake answered %d model calls",
		codexRecordCount(sent), len(sent), codexSpanCount(tee.Traces()), len(calls))

	if os.Getenv("AICLI_RECORD") != "" {
		codexRecord(t, sc.name, sent, tee.Traces(), fake, outputs)
	}

	// Every record the CLI sent reaches the remote and otel-ai-monitor.
	codexCheckRecordsArrive(t, "the remote", sent, 20*time.Second, func() []plog.Logs { return backend.Logs() })
	codexCheckRecordsArrive(t, "otel-ai-monitor", sent, 3*time.Second, func() []plog.Logs { return codexSinkLogs(sink) })

	if sc.traces {
		codexCheckNative(t, backend, tee, sent)
	}

	// The synthesized traces, against the fake's log.
	mainCalls := codexCallsFor(calls, "main")
	// Known upstream: `codex exec` exits 1 on failure without flushing its
	// log exporter, so the last records of a failed run may never arrive.
	// The expectations follow what the CLI sent.
	wantRoots := codexSentEvents(sent, threadID, "codex.user_prompt")
	if wantRoots != len(sc.runs) {
		t.Logf("the CLI sent %d user_prompt records for %d runs: a run that fails exits without flushing its logs", wantRoots, len(sc.runs))
	}
	spans := codexWaitSpans(t, backend, threadID, wantRoots, 40*time.Second)
	t.Logf("synthesized spans at the remote:\n%s", aitracetest.Dump(spans))
	codexCheckSpans(t, sc, threadID, wantRoots, spans, calls, mainCalls, sent)
	if sc.traces {
		codexCheckLinks(t, spans, threadID, tee)
	}

	// A re-send of every export request (a sender's retry) adds no span.
	before := spanIDs(aitracetest.Spans(synthesized(backend.Traces())))
	for i, ld := range sent {
		if code, body, err := harness.PostLogs(c.OTLPHTTPEndpoint, ld); err != nil || code/100 != 2 {
			t.Fatalf("re-send %d: %d %s %v", i, code, body, err)
		}
	}
	time.Sleep(7 * time.Second) // past the idle timeout (5 s) and a queue flush
	after := aitracetest.Spans(synthesized(backend.Traces()))
	for _, s := range after {
		if !before[s.Span.SpanID()] {
			t.Errorf("the re-send created span %s %s", s.Span.Name(), s.Span.SpanID())
		}
	}
	for _, r := range sink.Requests() {
		if r.Path == "/v1/traces" && codexHasScope(r.Traces, aiTracesScope) {
			t.Errorf("otel-ai-monitor received synthesized spans; they must stay on the remote path")
		}
	}
}

func codexWriteConfig(t *testing.T, home, modelURL string, tee *codexTee, sc codexScenario) {
	t.Helper()
	exporter := fmt.Sprintf(`{ otlp-http = { endpoint = "%s/v1/logs", protocol = "binary" } }`, tee.URL)
	if sc.grpc {
		exporter = fmt.Sprintf(`{ otlp-grpc = { endpoint = "%s" } }`, tee.URL)
	}
	traceExporter := `"none"`
	if sc.traces {
		traceExporter = fmt.Sprintf(`{ otlp-http = { endpoint = "%s/v1/traces", protocol = "binary" } }`, tee.URL)
	}
	cfg := fmt.Sprintf(`model = %q
model_provider = "fake"
approval_policy = "never"
sandbox_mode = "danger-full-access"

[model_providers.fake]
name = "fake"
base_url = %q
env_key = "CODEX_FAKE_OPENAI_KEY"
wire_api = "responses"

[otel]
environment = "test"
log_user_prompt = true
exporter = %s
trace_exporter = %s
metrics_exporter = "none"
`, codexModel, modelURL, exporter, traceExporter)
	must(t, os.WriteFile(filepath.Join(home, "config.toml"), []byte(cfg), 0o600))
	if sc.rules != "" {
		must(t, os.MkdirAll(filepath.Join(home, "rules"), 0o755))
		must(t, os.WriteFile(filepath.Join(home, "rules", "default.rules"), []byte(sc.rules), 0o600))
	}
}

// codexExec runs one `codex exec` (or resume) to its end.
func codexExec(t *testing.T, cli, home, work string, run codexRun, threadID string) codexRunOutput {
	t.Helper()
	args := []string{"exec", "--skip-git-repo-check", "--json", "-C", work}
	args = append(args, run.args...)
	switch run.resume {
	case "id":
		args = append(args, "resume", threadID)
	case "last":
		args = append(args, "resume", "--last")
	}
	args = append(args, run.prompt)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, args...)
	cmd.Dir = work
	cmd.Env = []string{"CODEX_HOME=" + home, "HOME=" + home, "CODEX_FAKE_OPENAI_KEY=sk-fake-test-key", "PATH=" + os.Getenv("PATH"), "TERM=dumb"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := codexRunOutput{Args: args}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		out.ExitCode = exitErr.ExitCode()
	default:
		t.Fatalf("codex %v: %v\n%s", args, err, stderr.String())
	}
	if ctx.Err() != nil {
		t.Fatalf("codex %v did not end within 2 minutes\n%s\n%s", args, stdout.String(), stderr.String())
	}
	stdoutText := stdout.String()
	scanner := bufio.NewScanner(strings.NewReader(stdoutText))
	scanner.Buffer(make([]byte, 1<<20), 16<<20)
	for scanner.Scan() {
		line := bytes.TrimSpace(scanner.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		out.Events = append(out.Events, json.RawMessage(append([]byte(nil), line...)))
		var ev struct {
			Type     string `json:"type"`
			ThreadID string `json:"thread_id"`
		}
		if json.Unmarshal(line, &ev) == nil && ev.Type == "thread.started" {
			out.ThreadID = ev.ThreadID
		}
	}
	if out.ExitCode != 0 || out.ThreadID == "" {
		t.Logf("codex %v stderr:\n%s\nstdout:\n%s", args, stderr.String(), stdoutText)
	}
	return out
}

func codexEventsText(out codexRunOutput) string {
	var b strings.Builder
	for _, e := range out.Events {
		b.Write(e)
		b.WriteByte('\n')
	}
	return b.String()
}

// codexTee sits between the CLI and the collector and keeps a copy of every
// export request as the CLI sent it (OTLP/HTTP or OTLP/gRPC), forwarding it
// unchanged and answering with the collector's answer.
type codexTee struct {
	URL string // what the CLI is pointed at

	mu     sync.Mutex
	logs   []plog.Logs
	traces []ptrace.Traces
}

func (tee *codexTee) Logs() []plog.Logs {
	tee.mu.Lock()
	defer tee.mu.Unlock()
	return append([]plog.Logs(nil), tee.logs...)
}

func (tee *codexTee) Traces() []ptrace.Traces {
	tee.mu.Lock()
	defer tee.mu.Unlock()
	return append([]ptrace.Traces(nil), tee.traces...)
}

func codexStartTee(t *testing.T, c *harness.Collector, useGRPC bool) *codexTee {
	t.Helper()
	l := harness.Listen(t)
	addr := l.Addr().String()
	tee := &codexTee{URL: "http://" + addr}
	if useGRPC {
		conn, err := grpc.NewClient(c.OTLPGRPCEndpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
		must(t, err)
		server := grpc.NewServer()
		plogotlp.RegisterGRPCServer(server, &codexGRPCTee{tee: tee, next: plogotlp.NewGRPCClient(conn)})
		go func() { _ = server.Serve(l) }()
		t.Cleanup(func() { server.Stop(); conn.Close() })
		return tee
	}
	server := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		tee.keep(t, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"), raw)
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, c.OTLPHTTPEndpoint+r.URL.Path, bytes.NewReader(raw))
		for _, h := range []string{"Content-Type", "Content-Encoding"} {
			if v := r.Header.Get(h); v != "" {
				req.Header.Set(h, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, h := range []string{"Content-Type", "Retry-After"} {
			if v := resp.Header.Get(h); v != "" {
				w.Header().Set(h, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = server.Serve(l) }()
	t.Cleanup(func() { server.Close() })
	return tee
}

func (tee *codexTee) keep(t *testing.T, path, contentType, encoding string, raw []byte) {
	if encoding == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Errorf("tee: %v", err)
			return
		}
		if raw, err = io.ReadAll(zr); err != nil {
			t.Errorf("tee: %v", err)
			return
		}
	}
	asJSON := strings.Contains(contentType, "json")
	switch path {
	case "/v1/logs":
		req := plogotlp.NewExportRequest()
		err := req.UnmarshalProto(raw)
		if asJSON {
			err = req.UnmarshalJSON(raw)
		}
		if err != nil {
			t.Errorf("tee: logs: %v", err)
			return
		}
		tee.mu.Lock()
		tee.logs = append(tee.logs, req.Logs())
		tee.mu.Unlock()
	case "/v1/traces":
		req := ptraceotlp.NewExportRequest()
		err := req.UnmarshalProto(raw)
		if asJSON {
			err = req.UnmarshalJSON(raw)
		}
		if err != nil {
			t.Errorf("tee: traces: %v", err)
			return
		}
		tee.mu.Lock()
		tee.traces = append(tee.traces, req.Traces())
		tee.mu.Unlock()
	}
}

type codexGRPCTee struct {
	plogotlp.UnimplementedGRPCServer
	tee  *codexTee
	next plogotlp.GRPCClient
}

func (g *codexGRPCTee) Export(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	kept := plog.NewLogs()
	req.Logs().CopyTo(kept)
	g.tee.mu.Lock()
	g.tee.logs = append(g.tee.logs, kept)
	g.tee.mu.Unlock()
	return g.next.Export(ctx, req)
}

func codexRecordCount(batches []plog.Logs) int {
	n := 0
	for _, ld := range batches {
		n += ld.LogRecordCount()
	}
	return n
}

func codexSpanCount(batches []ptrace.Traces) int {
	n := 0
	for _, td := range batches {
		n += td.SpanCount()
	}
	return n
}

func codexSinkLogs(sink *harness.Sink) []plog.Logs {
	var out []plog.Logs
	for _, r := range sink.Requests() {
		if r.Path == "/v1/logs" {
			out = append(out, r.Logs)
		}
	}
	return out
}

func codexHasScope(td ptrace.Traces, scope string) bool {
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			if ss.Scope().Name() == scope && ss.Spans().Len() > 0 {
				return true
			}
		}
	}
	return false
}

// codexRecordKey identifies a record across hops: its time, event name,
// conversation and attribute count.
func codexRecordKey(r plog.LogRecord) string {
	return fmt.Sprintf("%d|%d|%s|%s|%d", r.Timestamp(), r.ObservedTimestamp(), attr(r.Attributes(), "event.name"),
		attr(r.Attributes(), "conversation.id"), r.Attributes().Len())
}

func codexRecordKeys(batches []plog.Logs) map[string]int {
	keys := map[string]int{}
	for _, ld := range batches {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, r := range sl.LogRecords().All() {
					keys[codexRecordKey(r)]++
				}
			}
		}
	}
	return keys
}

// codexCheckRecordsArrive waits until every record the CLI sent arrived
// where got reads from, at least once.
func codexCheckRecordsArrive(t *testing.T, where string, sent []plog.Logs, timeout time.Duration, got func() []plog.Logs) {
	t.Helper()
	want := codexRecordKeys(sent)
	deadline := time.Now().Add(timeout)
	for {
		have := codexRecordKeys(got())
		var missing []string
		for k, n := range want {
			if have[k] < n {
				missing = append(missing, k)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			sort.Strings(missing)
			t.Errorf("%s received %d of the %d log records the CLI sent; missing e.g. %v", where, codexRecordCount(got()), codexRecordCount(sent), missing[:min(len(missing), 5)])
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func codexCallsFor(calls []harness.ModelCall, purpose string) []harness.ModelCall {
	var out []harness.ModelCall
	for _, c := range calls {
		if c.Purpose == purpose {
			out = append(out, c)
		}
	}
	return out
}

func codexSession(s aitracetest.Span) string {
	if v := attr(s.Span.Attributes(), "session.id"); v != "<unset>" {
		return v
	}
	return attr(s.Span.Attributes(), "gen_ai.conversation.id")
}

func codexOp(s aitracetest.Span) string { return attr(s.Span.Attributes(), "gen_ai.operation.name") }

// codexWaitSpans waits until the remote holds the session's roots (and
// nothing new arrived for a while), without failing: the checks report.
func codexWaitSpans(t *testing.T, backend *harness.Backend, session string, roots int, timeout time.Duration) []aitracetest.Span {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last, stableSince := -1, time.Now()
	for {
		spans := aitracetest.Spans(synthesized(backend.Traces()))
		r := 0
		for _, s := range spans {
			if s.Span.ParentSpanID().IsEmpty() && codexSession(s) == session {
				r++
			}
		}
		if len(spans) != last {
			last, stableSince = len(spans), time.Now()
		}
		if (r >= roots && time.Since(stableSince) > 3*time.Second) || time.Now().After(deadline) {
			return spans
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func codexInt(m pcommon.Map, key string) (int64, bool) {
	v, ok := m.Get(key)
	if !ok {
		return 0, false
	}
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return v.Int(), true
	case pcommon.ValueTypeDouble:
		return int64(v.Double()), true
	}
	return 0, false
}

// codexSentAPIRequests lists the codex.api_request records the CLI sent for
// a conversation, in time order: their status codes.
func codexSentAPIRequests(sent []plog.Logs, conversation string) []string {
	type req struct {
		at     pcommon.Timestamp
		status string
	}
	var reqs []req
	for _, ld := range sent {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, r := range sl.LogRecords().All() {
					a := r.Attributes()
					if attr(a, "event.name") != "codex.api_request" || attr(a, "conversation.id") != conversation {
						continue
					}
					reqs = append(reqs, req{recordTime(r), attr(a, "http.response.status_code")})
				}
			}
		}
	}
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].at < reqs[j].at })
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.status
	}
	return out
}

// codexSentEvents counts the records of that event the CLI sent for a
// conversation.
func codexSentEvents(sent []plog.Logs, conversation, event string) int {
	n := 0
	for _, ld := range sent {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, r := range sl.LogRecords().All() {
					if attr(r.Attributes(), "event.name") == event && attr(r.Attributes(), "conversation.id") == conversation {
						n++
					}
				}
			}
		}
	}
	return n
}

func codexCheckSpans(t *testing.T, sc codexScenario, session string, wantRoots int, spans []aitracetest.Span, calls, mainCalls []harness.ModelCall, sent []plog.Logs) {
	t.Helper()
	byID := map[pcommon.SpanID]aitracetest.Span{}
	for _, s := range spans {
		byID[s.Span.SpanID()] = s
	}
	var roots, chats, failedChats, tools []aitracetest.Span
	other := map[string]int{} // spans of other sessions (the reviewer's), by operation
	for _, s := range spans {
		if codexSession(s) != session {
			other[codexOp(s)]++
			if codexOp(s) == "chat" && s.Span.Status().Code() != ptrace.StatusCodeError {
				chats = append(chats, s) // the reviewer's calls are model calls too
			}
			continue
		}
		switch {
		case s.Span.ParentSpanID().IsEmpty():
			roots = append(roots, s)
			if s.Span.Name() != "invoke_agent codex" {
				t.Errorf("root %q, want \"invoke_agent codex\"", s.Span.Name())
			}
		case codexOp(s) == "chat" && s.Span.Status().Code() == ptrace.StatusCodeError:
			failedChats = append(failedChats, s)
		case codexOp(s) == "chat":
			chats = append(chats, s)
		case codexOp(s) == "execute_tool":
			tools = append(tools, s)
		}
	}
	if len(other) > 0 {
		t.Logf("spans of other conversations (the approvals reviewer's sub-session): %v", other)
	}
	// The approvals reviewer's sub-session (a conversation of its own, no
	// attribute naming its parent on the records) is joined to the session
	// it reviewed.
	if purposes := codexCallsFor(calls, "guardian"); len(purposes) > 0 {
		reviewerRoots := 0
		for _, s := range spans {
			if s.Span.ParentSpanID().IsEmpty() && codexSession(s) != session {
				reviewerRoots++
				if got := attr(s.Span.Attributes(), "ai_session.turn.reviewer_of"); got != session {
					t.Errorf("the reviewer's root (conversation %s): ai_session.turn.reviewer_of %q, want the reviewed session %q", codexSession(s), got, session)
				}
			}
		}
		if reviewerRoots == 0 {
			t.Errorf("no root for the approvals reviewer's sub-session (%d calls in the fake's log)", len(purposes))
		}
	}

	// One root per user prompt of the session (one per exec/resume, as
	// far as the CLI sent them).
	if len(roots) != wantRoots {
		t.Errorf("%d roots for conversation %s, want %d (one per user prompt sent; %d runs)", len(roots), session, wantRoots, len(sc.runs))
	}

	// One chat span per answered model call, with its exact tokens.
	type usage struct{ in, out, cached, reasoning int64 }
	var want []usage
	for _, c := range calls {
		if c.Status == http.StatusOK {
			want = append(want, usage{c.InputTokens, c.OutputTokens, c.CacheReadTokens, c.ReasoningTokens})
		}
	}
	var got []usage
	for _, s := range chats {
		a := s.Span.Attributes()
		in, _ := codexInt(a, "gen_ai.usage.input_tokens")
		out, _ := codexInt(a, "gen_ai.usage.output_tokens")
		cached, _ := codexInt(a, "gen_ai.usage.cache_read.input_tokens")
		reasoning, _ := codexInt(a, "gen_ai.usage.reasoning.output_tokens")
		got = append(got, usage{in, out, cached, reasoning})
		if want := "chat " + codexModel; s.Span.Name() != want {
			t.Errorf("chat span %q, want %q", s.Span.Name(), want)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("chat spans' tokens {input output cache_read reasoning} %v, want the fake's answered calls %v", got, want)
	}
	// A call answered after failed attempts is still one call: its span
	// says how many requests it took.
	var wantAttempts []int64
	failedBefore := map[string]int64{}
	lastText := map[string]string{}
	for _, c := range calls {
		if c.UserText != lastText[c.Purpose] {
			failedBefore[c.Purpose] = 0 // a new turn: the failures before it were another call's
			lastText[c.Purpose] = c.UserText
		}
		if c.Status != http.StatusOK {
			failedBefore[c.Purpose]++
			continue
		}
		wantAttempts = append(wantAttempts, failedBefore[c.Purpose]+1)
		failedBefore[c.Purpose] = 0
	}
	for i := range min(len(chats), len(wantAttempts)) {
		if wantAttempts[i] == 1 {
			continue
		}
		if n, ok := codexInt(chats[i].Span.Attributes(), "ai_session.model_call.attempts"); n != wantAttempts[i] {
			t.Errorf("chat span %d (answered after %d failed requests): ai_session.model_call.attempts %d (set %v), want %d", i, wantAttempts[i]-1, n, ok, wantAttempts[i])
		}
	}

	// One tool span per tool call asked for, with its decision and status.
	var asked []string
	for _, c := range mainCalls {
		asked = append(asked, c.ToolCalls...)
	}
	if len(asked) != len(sc.tools) {
		t.Errorf("the fake asked for %d tool calls %v, the scenario expects %d", len(asked), asked, len(sc.tools))
	}
	if len(tools) != len(asked) {
		t.Errorf("%d tool spans, want %d (the tool calls in the fake's log: %v)", len(tools), len(asked), asked)
	}
	for i := range min(len(tools), len(asked), len(sc.tools)) {
		s, w := tools[i], sc.tools[i]
		a := s.Span.Attributes()
		if want := "execute_tool " + asked[i]; s.Span.Name() != want {
			t.Errorf("tool span %q, want %q", s.Span.Name(), want)
		}
		if got := attr(a, "ai_session.tool.decision"); got != w.decision {
			t.Errorf("tool span %d: ai_session.tool.decision %q, want %q (source %q)", i, got, w.decision, attr(a, "ai_session.tool.decision.source"))
		}
		if failed := s.Span.Status().Code() == ptrace.StatusCodeError; failed != w.failed {
			t.Errorf("tool span %d: error status %v, want %v (error.type %q)", i, failed, w.failed, attr(a, "error.type"))
		}
	}

	// A failed model call's retries are one error span, with the number of
	// attempts Codex reported, under the turn's root.
	var fakeFailed int
	for _, c := range mainCalls {
		if c.Status != http.StatusOK {
			fakeFailed++
		}
	}
	var sentFailed int
	for _, status := range codexSentAPIRequests(sent, session) {
		if !strings.HasPrefix(status, "2") {
			sentFailed++
		}
	}
	if sc.failedCalls > 0 {
		t.Logf("failed requests: %d answered by the fake, %d codex.api_request records sent (the rest was not flushed at exit)", fakeFailed, sentFailed)
	}
	wantFailed := sc.failedCalls
	if sentFailed == 0 {
		wantFailed = 0 // none of the failed attempts' records was sent
	}
	if len(failedChats) != wantFailed {
		t.Errorf("%d failed chat spans, want %d (one per retry sequence; the fake answered %d failed requests, the CLI reported %d)", len(failedChats), wantFailed, fakeFailed, sentFailed)
	}
	for i, s := range failedChats {
		if i > 0 || wantFailed == 0 {
			break // one report is enough: they share the cause
		}
		attempts, ok := codexInt(s.Span.Attributes(), "ai_session.model_call.attempts")
		if !ok || attempts != int64(sentFailed) {
			t.Errorf("failed chat span: ai_session.model_call.attempts %v (set %v), want %d (the attempts the CLI reported; the fake got %d)", attempts, ok, sentFailed, fakeFailed)
		}
		var root *aitracetest.Span
		for _, r := range roots {
			if r.Span.TraceID() == s.Span.TraceID() {
				root = &r
			}
		}
		if root == nil {
			t.Errorf("failed chat span %s has no root in its trace", s.Span.SpanID())
			continue
		}
		for _, f := range failedChats {
			if root.Span.StartTimestamp() > f.Span.StartTimestamp() || root.Span.EndTimestamp() < f.Span.EndTimestamp() {
				t.Errorf("the root (%s..%s) does not cover the failed call (%s..%s)", root.Span.StartTimestamp(), root.Span.EndTimestamp(), f.Span.StartTimestamp(), f.Span.EndTimestamp())
				break
			}
		}
		if root.Span.Status().Code() != ptrace.StatusCodeError {
			t.Errorf("the root of a turn whose last model call failed has status %v, want error", root.Span.Status().Code())
		}
	}
}

// codexCheckNative: with Codex's trace exporter on, every span it sent
// reaches the remote.
func codexCheckNative(t *testing.T, backend *harness.Backend, tee *codexTee, sent []plog.Logs) {
	t.Helper()
	withContext := 0
	for _, ld := range sent {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, r := range sl.LogRecords().All() {
					if !r.TraceID().IsEmpty() {
						withContext++
					}
				}
			}
		}
	}
	t.Logf("%d of %d log records carry trace context", withContext, codexRecordCount(sent))
	want := map[pcommon.SpanID]bool{}
	for _, td := range tee.Traces() {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					want[s.SpanID()] = true
				}
			}
		}
	}
	if len(want) == 0 {
		t.Errorf("the CLI sent no spans with its trace exporter on")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		have := map[pcommon.SpanID]bool{}
		for _, s := range aitracetest.Spans(backend.Traces()) {
			have[s.Span.SpanID()] = true
		}
		missing := 0
		for id := range want {
			if !have[id] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the remote lacks %d of the %d spans the CLI sent", missing, len(want))
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// codexCheckLinks: with Codex's own spans, the turn's tree is still made
// (the CLI's spans are no turn tree: no GenAI names, the sse_event records
// carry no trace context), and its root links to the CLI's spans.
func codexCheckLinks(t *testing.T, spans []aitracetest.Span, session string, tee *codexTee) {
	t.Helper()
	cli := map[pcommon.SpanID]bool{}
	for _, td := range tee.Traces() {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					cli[s.SpanID()] = true
				}
			}
		}
	}
	for _, s := range spans {
		if !s.Span.ParentSpanID().IsEmpty() || codexSession(s) != session {
			continue
		}
		linked := 0
		for _, l := range s.Span.Links().All() {
			if cli[l.SpanID()] {
				linked++
			}
		}
		if linked == 0 {
			t.Errorf("root %s has %d links, none to a span Codex sent; want links to the CLI's own spans", s.Span.SpanID(), s.Span.Links().Len())
		}
	}
}

// codexRecord writes what the CLI sent and the fake's log to
// testdata/codex/real.
func codexRecord(t *testing.T, scenario string, sent []plog.Logs, traces []ptrace.Traces, fake *fakeopenai.Server, runs []codexRunOutput) {
	t.Helper()
	dir := filepath.Join(filepath.Dir(fixturePath("codex", "x")), "real")
	must(t, os.MkdirAll(dir, 0o755))
	// One resource entry per export request, in the order they came.
	logs := plog.NewLogs()
	for _, ld := range sent {
		for _, rl := range ld.ResourceLogs().All() {
			rl.CopyTo(logs.ResourceLogs().AppendEmpty())
		}
	}
	raw, err := (&plog.JSONMarshaler{}).MarshalLogs(logs)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, scenario+".logs.json"), codexIndent(t, raw), 0o644))
	if len(traces) > 0 {
		td := ptrace.NewTraces()
		for _, b := range traces {
			for _, rs := range b.ResourceSpans().All() {
				rs.CopyTo(td.ResourceSpans().AppendEmpty())
			}
		}
		raw, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, scenario+".traces.json"), codexIndent(t, raw), 0o644))
	}
	calls, err := fake.LogJSON()
	must(t, err)
	var model map[string]any
	must(t, json.Unmarshal(calls, &model))
	model["cli_version"] = "codex-cli 0.169.0"
	model["runs"] = runs
	raw, err = json.MarshalIndent(model, "", "  ")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, scenario+".modellog.json"), append(raw, '\n'), 0o644))
	t.Logf("recorded %s in %s", scenario, dir)
}

func codexIndent(t *testing.T, raw []byte) []byte {
	var b bytes.Buffer
	must(t, json.Indent(&b, raw, "", " "))
	b.WriteByte('\n')
	return b.Bytes()
}
