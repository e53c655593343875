package integration

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
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
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-ai-collector/otel-ai-collector/connector/aisessiontracesconnector/aitracetest"
	"github.com/otel-ai-collector/otel-ai-collector/integration/fakeanthropic"
	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// The real Claude Code CLI (the npm package scripts/install-test-deps.sh
// installs), run against a fake Anthropic API (integration/fakeanthropic),
// exporting its logs, metrics and beta spans to the built collector. The
// fake's request log is the oracle; what the CLI sent is recorded on the
// way (an OTLP/HTTP tee in front of the collector) and, with
// AICLI_RECORD=1, written to
// connector/aisessiontracesconnector/testdata/claude-code/real/.

// otlpTee is an OTLP/HTTP endpoint that keeps a copy of every request the
// CLI makes and forwards it unchanged to the collector.
type otlpTee struct {
	URL    string
	target string

	mu      sync.Mutex
	logs    []plog.Logs
	traces  []ptrace.Traces
	metrics []pmetric.Metrics
	raw     []teeRequest
}

type teeRequest struct {
	path, contentType, encoding string
	body                        []byte
}

func startOTLPTee(t *testing.T, target string) *otlpTee {
	t.Helper()
	l := harness.Listen(t)
	addr := l.Addr().String()
	tee := &otlpTee{URL: "http://" + addr, target: target}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tee.keep(t, r, body)
		req, _ := http.NewRequest(r.Method, tee.target+r.URL.Path, bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return tee
}

func (tee *otlpTee) keep(t *testing.T, r *http.Request, body []byte) {
	plain := body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err == nil {
			plain, _ = io.ReadAll(zr)
		}
	}
	isJSON := strings.Contains(r.Header.Get("Content-Type"), "json")
	tee.mu.Lock()
	defer tee.mu.Unlock()
	tee.raw = append(tee.raw, teeRequest{r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"), plain})
	var err error
	switch r.URL.Path {
	case "/v1/logs":
		var ld plog.Logs
		if isJSON {
			ld, err = (&plog.JSONUnmarshaler{}).UnmarshalLogs(plain)
		} else {
			ld, err = (&plog.ProtoUnmarshaler{}).UnmarshalLogs(plain)
		}
		tee.logs = append(tee.logs, ld)
	case "/v1/traces":
		var td ptrace.Traces
		if isJSON {
			td, err = (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(plain)
		} else {
			td, err = (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(plain)
		}
		tee.traces = append(tee.traces, td)
	case "/v1/metrics":
		var md pmetric.Metrics
		if isJSON {
			md, err = (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(plain)
		} else {
			md, err = (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(plain)
		}
		tee.metrics = append(tee.metrics, md)
	}
	if err != nil {
		t.Errorf("tee: undecodable %s (%s): %v", r.URL.Path, r.Header.Get("Content-Type"), err)
	}
}

func (tee *otlpTee) Logs() []plog.Logs {
	tee.mu.Lock()
	defer tee.mu.Unlock()
	return append([]plog.Logs(nil), tee.logs...)
}

func (tee *otlpTee) Traces() []ptrace.Traces {
	tee.mu.Lock()
	defer tee.mu.Unlock()
	return append([]ptrace.Traces(nil), tee.traces...)
}

// ccRun is one invocation of the CLI in a scenario.
type ccRun struct {
	args []string
	// prompt is typed into an interactive session (args are then the
	// CLI's arguments without -p), followed by /exit.
	prompt      string
	interactive bool
	// waitFor, in an interactive run, is the answer text to see on the
	// screen before typing /exit.
	waitFor string
}

type ccScenario struct {
	name     string
	protocol string // OTEL_EXPORTER_OTLP_PROTOCOL
	beta     bool   // CLAUDE_CODE_ENHANCED_TELEMETRY_BETA and OTEL_TRACES_EXPORTER
	// sideCalls leaves the CLI's non-essential traffic on (no
	// CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC): its side calls to the
	// model, e.g. the session title, happen.
	sideCalls bool
	answers   []fakeanthropic.Answer
	runs      []ccRun
	timeout   time.Duration
	// tools are the outcomes of the tool calls the fake asks for, in
	// order: "ok", "error" (ran and failed) or "reject" (denied by config).
	tools []string
}

// ccEnv is the CLI's environment: isolated home, the fake API, telemetry
// to the endpoint with short export intervals, no updater or other
// traffic.
func ccEnv(t *testing.T, home, api, otlp string, sc ccScenario) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"CLAUDE_CONFIG_DIR=" + filepath.Join(home, ".claude"),
		"TERM=xterm-256color",
		"LANG=C.UTF-8",
		"ANTHROPIC_BASE_URL=" + api,
		"ANTHROPIC_API_KEY=sk-ant-api03-fake-key-for-tests-0000000000000000",
		"DISABLE_AUTOUPDATER=1",
		"DISABLE_ERROR_REPORTING=1",
		"CLAUDE_CODE_ENABLE_TELEMETRY=1",
		"OTEL_LOGS_EXPORTER=otlp",
		"OTEL_METRICS_EXPORTER=otlp",
		"OTEL_EXPORTER_OTLP_PROTOCOL=" + sc.protocol,
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + otlp,
		"OTEL_LOGS_EXPORT_INTERVAL=1000",
		"OTEL_METRIC_EXPORT_INTERVAL=2000",
		"OTEL_TRACES_EXPORT_INTERVAL=1000",
	}
	if !sc.sideCalls {
		env = append(env, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1")
	}
	if sc.beta {
		env = append(env, "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA=1", "OTEL_TRACES_EXPORTER=otlp")
	}
	return env
}

// ccHome makes an isolated home whose configuration has onboarding, the
// folder's trust and the API key already accepted, as after a first run.
func ccHome(t *testing.T, work, key string) string {
	home := t.TempDir()
	dir := filepath.Join(home, ".claude")
	must(t, os.MkdirAll(dir, 0o700))
	cfg := map[string]any{
		"hasCompletedOnboarding": true,
		"theme":                  "dark",
		"numStartups":            1,
		"customApiKeyResponses":  map[string]any{"approved": []string{key[len(key)-20:]}, "rejected": []string{}},
		"projects": map[string]any{work: map[string]any{
			"hasTrustDialogAccepted":        true,
			"hasCompletedProjectOnboarding": true,
			"allowedTools":                  []string{},
		}},
	}
	raw, _ := json.MarshalIndent(cfg, "", "  ")
	must(t, os.WriteFile(filepath.Join(dir, ".claude.json"), raw, 0o600))
	must(t, os.WriteFile(filepath.Join(home, ".claude.json"), raw, 0o600))
	return home
}

// ccResult is what a -p --output-format json run printed.
type ccResult struct {
	SessionID string `json:"session_id"`
	IsError   bool   `json:"is_error"`
	Result    string `json:"result"`
	NumTurns  int    `json:"num_turns"`
}

func runClaude(ctx context.Context, t *testing.T, cli, work string, env []string, run ccRun) ccResult {
	t.Helper()
	if run.interactive {
		runClaudeInteractive(ctx, t, cli, work, env, run)
		return ccResult{}
	}
	cmd := exec.CommandContext(ctx, cli, run.args...)
	cmd.Dir = work
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("claude %s: %v in %s\nstdout: %s\nstderr: %s", strings.Join(run.args, " "), err, time.Since(start).Round(time.Millisecond), stdout.String(), stderr.String())
	var res ccResult
	if jerr := json.Unmarshal(stdout.Bytes(), &res); jerr != nil {
		t.Errorf("claude printed no JSON result: %v", jerr)
	}
	return res
}

// ptyDriver runs a command in a pseudo-terminal (python3's pty module: no
// Go pty module in go.sum), waits for the screen to show the input box,
// types the prompt, waits for the answer, types /exit and waits for the
// process to end. argv[1] is the prompt, argv[2] the answer to wait for,
// the rest the command.
const ptyDriver = `
import os, pty, re, sys, time, select, signal, fcntl, termios, struct
prompt, answer, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(cmd[0], cmd)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
screen = b""
def plain():
    # The screen without escape sequences and blanks: the CLI moves the
    # cursor instead of writing spaces.
    s = re.sub(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-_]", b"", screen)
    return re.sub(rb"\s+", b"", s)
def read_until(pred, timeout):
    global screen
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return pred()
            if not data:
                return pred()
            screen += data
            if pred():
                return True
    return pred()
def typed(text):
    for ch in text:
        os.write(fd, ch.encode())
        time.sleep(0.03)
ok = read_until(lambda: "\u276f".encode() in plain(), 60)
sys.stderr.write("input box: %s\n" % ok)
time.sleep(1)
typed(prompt)
time.sleep(0.5)
os.write(fd, b"\r")
want = re.sub(r"\s+", "", answer).encode()
ok = read_until(lambda: want in plain(), 60)
sys.stderr.write("answer seen: %s\n" % ok)
time.sleep(1)
typed("/exit")
time.sleep(1)
os.write(fd, b"\r")
status = None
end = time.time() + 30
while time.time() < end:
    wpid, st = os.waitpid(pid, os.WNOHANG)
    if wpid:
        status = st
        break
    read_until(lambda: False, 0.5)
if status is None:
    sys.stderr.write("still running 30 s after /exit: SIGTERM\n")
    os.kill(pid, signal.SIGTERM)
    _, status = os.waitpid(pid, 0)
sys.stderr.write("exited after /exit: status %d\n" % status)
sys.stdout.buffer.write(plain()[-2000:])
`

func runClaudeInteractive(ctx context.Context, t *testing.T, cli, work string, env []string, run ccRun) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("the interactive scenario drives the CLI in a pty with python3, which is missing: %v", err)
	}
	driver := filepath.Join(t.TempDir(), "drive_pty.py")
	must(t, os.WriteFile(driver, []byte(ptyDriver), 0o600))
	args := append([]string{driver, run.prompt, run.waitFor, cli}, run.args...)
	cmd := exec.CommandContext(ctx, "python3", args...)
	cmd.Dir = work
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("interactive claude %s: %v in %s\nscreen (end): %s\ndriver: %s", strings.Join(run.args, " "), err, time.Since(start).Round(time.Millisecond), stdout.String(), stderr.String())
	if !strings.Contains(stderr.String(), "answer seen: True") {
		t.Errorf("the interactive session did not show the answer %q", run.waitFor)
	}
}

// ccScenarios are the sessions driven. Token counts differ per call so
// that every sum is checkable.
func ccScenarios() []ccScenario {
	u := func(in, out, read, create int64) fakeanthropic.Usage {
		return fakeanthropic.Usage{Input: in, Output: out, CacheRead: read, CacheCreation: create}
	}
	p := func(prompt string, extra ...string) ccRun {
		return ccRun{args: append([]string{"-p", prompt, "--output-format", "json"}, extra...)}
	}
	return []ccScenario{
		{
			// 500s: the CLI's default retry policy (10 retries with
			// backoff, about 4 minutes).
			name: "retry_500", protocol: "http/protobuf", timeout: 6 * time.Minute,
			answers: []fakeanthropic.Answer{fakeanthropic.Failing(500)},
			runs:    []ccRun{p("Say hello.")},
		},
		{
			// 529s: the CLI gives up on overload sooner.
			name: "retry_529", protocol: "http/json",
			answers: []fakeanthropic.Answer{fakeanthropic.Failing(529)},
			runs:    []ccRun{p("Say hello.")},
		},
		{
			name: "tool_ok", protocol: "http/protobuf",
			answers: []fakeanthropic.Answer{
				fakeanthropic.ToolUse("Bash", map[string]any{"command": "echo hi", "description": "Print hi"}, u(120, 31, 2000, 500)),
				fakeanthropic.Text("It printed hi.", u(150, 7, 2500, 40)),
			},
			runs:  []ccRun{p("Run echo hi.", "--allowedTools", "Bash(echo hi)")},
			tools: []string{"ok"},
		},
		{
			// The same over OTLP/gRPC.
			name: "tool_ok_grpc", protocol: "grpc",
			answers: []fakeanthropic.Answer{
				fakeanthropic.ToolUse("Bash", map[string]any{"command": "echo grpc", "description": "Print grpc"}, u(130, 32, 2100, 510)),
				fakeanthropic.Text("It printed grpc.", u(160, 8, 2600, 45)),
			},
			runs:  []ccRun{p("Run echo grpc.", "--allowedTools", "Bash(echo grpc)")},
			tools: []string{"ok"},
		},
		{
			name: "tool_fail", protocol: "http/json",
			answers: []fakeanthropic.Answer{
				fakeanthropic.ToolUse("Bash", map[string]any{"command": "false", "description": "Fail"}, u(101, 21, 1000, 300)),
				fakeanthropic.ToolUse("Read", map[string]any{"file_path": "/nonexistent/missing.txt"}, u(102, 22, 1100, 30)),
				fakeanthropic.Text("Both failed.", u(103, 5, 1200, 20)),
			},
			runs:  []ccRun{p("Run false, then read the missing file.", "--allowedTools", "Bash(false)", "Read")},
			tools: []string{"error", "error"},
		},
		{
			name: "tool_denied", protocol: "http/protobuf",
			answers: []fakeanthropic.Answer{
				fakeanthropic.ToolUse("Bash", map[string]any{"command": "rm -rf ./data", "description": "Remove data"}, u(111, 23, 900, 100)),
				fakeanthropic.Text("I may not remove it.", u(112, 6, 1000, 10)),
			},
			runs:  []ccRun{p("Remove the data directory.", "--disallowedTools", "Bash(rm:*)")},
			tools: []string{"reject"},
		},
		{
			name: "multi_turn", protocol: "http/json",
			answers: []fakeanthropic.Answer{
				fakeanthropic.Text("First answer.", u(201, 11, 0, 3000)),
				fakeanthropic.ToolUse("Bash", map[string]any{"command": "echo second", "description": "Print"}, u(202, 12, 3000, 60)),
				fakeanthropic.Text("Second answer.", u(203, 13, 3100, 50)),
				fakeanthropic.Text("Third answer.", u(204, 14, 3200, 70)),
			},
			runs: []ccRun{
				p("First question."),
				p("Second question.", "--resume", "{session}", "--allowedTools", "Bash(echo second)"),
				p("Third question.", "--continue"),
			},
			tools: []string{"ok"},
		},
		{
			// The beta span exporter on: the CLI traces the session itself
			// and stamps its records with the trace context.
			name: "beta_tracing", protocol: "http/json", beta: true,
			answers: []fakeanthropic.Answer{
				fakeanthropic.ToolUse("Bash", map[string]any{"command": "echo traced", "description": "Print"}, u(401, 41, 4000, 400)),
				fakeanthropic.Text("Traced.", u(402, 42, 4100, 41)),
			},
			runs:  []ccRun{p("Run echo traced.", "--allowedTools", "Bash(echo traced)")},
			tools: []string{"ok"},
		},
		{
			// The beta spans of a model call that fails (529, the CLI's
			// overload policy: 3 attempts).
			name: "beta_retry_529", protocol: "http/protobuf", beta: true,
			answers: []fakeanthropic.Answer{fakeanthropic.Failing(529)},
			runs:    []ccRun{p("Say hello.")},
		},
		{
			name: "interactive", protocol: "http/json", sideCalls: true,
			answers: []fakeanthropic.Answer{
				fakeanthropic.Text("Interactive answer here.", u(301, 17, 500, 250)),
			},
			runs: []ccRun{{interactive: true, prompt: "Hello from the terminal.", waitFor: "Interactive answer here."}},
		},
	}
}

func TestClaudeCode(t *testing.T) {
	cli := harness.AICLIPath(t, "claude-code", "claude")
	for _, sc := range ccScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			runCCScenario(t, cli, sc)
		})
	}
}

// ccSession is what one scenario produced.
type ccSession struct {
	fake    *fakeanthropic.Server
	tee     *otlpTee
	sink    *harness.Sink
	backend *harness.Backend
	c       *harness.Collector
	grpc    bool // the CLI exported over gRPC, past the tee
}

// sentLogs are the log requests the CLI made: the tee's, or with gRPC
// those the monitor received.
func (s *ccSession) sentLogs() []plog.Logs {
	if !s.grpc {
		return s.tee.Logs()
	}
	var out []plog.Logs
	for _, r := range s.sink.Requests() {
		if r.Path == "/v1/logs" {
			out = append(out, r.Logs)
		}
	}
	return out
}

func runCCScenario(t *testing.T, cli string, sc ccScenario) {
	if sc.timeout == 0 {
		sc.timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), sc.timeout)
	defer cancel()
	s := &ccSession{fake: fakeanthropic.Start(t), sink: harness.NewSink(t), backend: harness.StartBackend(t, binary)}
	s.c = startWithRemote(t, s.sink, s.backend.URL, harness.Options{Env: map[string]string{"OTEL_AI_COLLECTOR_AI_TRACES_IDLE": "2s"}})
	s.tee = startOTLPTee(t, s.c.OTLPHTTPEndpoint)
	s.fake.Push(sc.answers...)

	work := t.TempDir()
	key := "sk-ant-api03-fake-key-for-tests-0000000000000000"
	home := ccHome(t, work, key)
	endpoint := s.tee.URL
	if sc.protocol == "grpc" {
		// No tee for gRPC: what the monitor received stands for what the
		// CLI sent.
		endpoint = "http://" + s.c.OTLPGRPCEndpoint
		s.grpc = true
	}
	env := ccEnv(t, home, s.fake.URL, endpoint, sc)
	session := ""
	for _, run := range sc.runs {
		for i, a := range run.args {
			run.args[i] = strings.ReplaceAll(a, "{session}", session)
		}
		res := runClaude(ctx, t, cli, work, env, run)
		if session == "" {
			session = res.SessionID
		}
	}
	// Every record sent reaches the remote.
	if s.grpc {
		time.Sleep(3 * time.Second) // the monitor's batch
	}
	sent := 0
	for _, ld := range s.sentLogs() {
		sent += ld.LogRecordCount()
	}
	deadline := time.Now().Add(30 * time.Second)
	for remoteLogRecords(s.backend) < sent && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
	}
	time.Sleep(5 * time.Second) // the idle timeout (2 s) and a queue flush
	calls := s.fake.Log.Calls()
	t.Logf("fake API log: %d calls", len(calls))
	for _, c := range calls {
		t.Logf("  %s %s status=%d purpose=%s usage=%d/%d/%d/%d tools=%v text=%q", c.Time.Format("15:04:05.000"), c.Model, c.Status, c.Purpose, c.InputTokens, c.OutputTokens, c.CacheReadTokens, c.CacheCreationTokens, c.ToolCalls, c.UserText)
	}
	if os.Getenv("AICLI_RECORD") != "" && !s.grpc {
		recordCCFixtures(t, sc.name, s)
	}
	checkCCScenario(t, sc, s)
}

func ccFixturePath(name, kind string) string {
	return fixturePath("claude-code", filepath.Join("real", name+"."+kind+".json"))
}

// recordCCFixtures writes what the CLI sent, as one pdata JSON document per
// signal (the requests' resources in the order sent), and the fake's log.
func recordCCFixtures(t *testing.T, name string, s *ccSession) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(ccFixturePath(name, "logs")), 0o755))
	logs := plog.NewLogs()
	for _, ld := range s.tee.Logs() {
		for _, rl := range ld.ResourceLogs().All() {
			rl.CopyTo(logs.ResourceLogs().AppendEmpty())
		}
	}
	raw, err := (&plog.JSONMarshaler{}).MarshalLogs(logs)
	must(t, err)
	must(t, os.WriteFile(ccFixturePath(name, "logs"), indentJSON(raw), 0o644))
	traces := ptrace.NewTraces()
	for _, td := range s.tee.Traces() {
		for _, rs := range td.ResourceSpans().All() {
			rs.CopyTo(traces.ResourceSpans().AppendEmpty())
		}
	}
	raw, err = (&ptrace.JSONMarshaler{}).MarshalTraces(traces)
	must(t, err)
	must(t, os.WriteFile(ccFixturePath(name, "traces"), indentJSON(raw), 0o644))
	raw, err = json.MarshalIndent(s.fake.Log.Calls(), "", "  ")
	must(t, err)
	must(t, os.WriteFile(ccFixturePath(name, "modellog"), append(raw, '\n'), 0o644))
	t.Logf("recorded %s: %d log records, %d spans, %d model calls", name, logs.LogRecordCount(), traces.SpanCount(), len(s.fake.Log.Calls()))
}

func indentJSON(raw []byte) []byte {
	var out bytes.Buffer
	if json.Indent(&out, raw, "", "  ") != nil {
		return raw
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// ccQuerySource is the query_source Claude Code reports for the side calls
// the fake tells apart (fakeanthropic's Purpose).
var ccQuerySource = map[string]string{"title": "generate_session_title"}

// ccTurn is one user prompt's model calls in the fake's log.
type ccTurn struct {
	text   string
	ok     []harness.ModelCall // main calls answered 2xx
	failed []harness.ModelCall // main calls answered with an error (one failed sequence)
	side   []harness.ModelCall
}

// ccTurns groups the fake's log by the user text the requests end with:
// a turn's calls all carry its prompt; side calls go to the turn they
// happened in (the last main turn seen, else the next).
func ccTurns(calls []harness.ModelCall) []*ccTurn {
	var turns []*ccTurn
	var pending []harness.ModelCall
	for _, c := range calls {
		if c.Purpose != "main" {
			if len(turns) == 0 {
				pending = append(pending, c)
			} else {
				turns[len(turns)-1].side = append(turns[len(turns)-1].side, c)
			}
			continue
		}
		if len(turns) == 0 || turns[len(turns)-1].text != c.UserText {
			turns = append(turns, &ccTurn{text: c.UserText, side: pending})
			pending = nil
		}
		turn := turns[len(turns)-1]
		if c.Status/100 == 2 {
			turn.ok = append(turn.ok, c)
		} else {
			turn.failed = append(turn.failed, c)
		}
	}
	return turns
}

func checkCCScenario(t *testing.T, sc ccScenario, s *ccSession) {
	t.Helper()
	checkCCRecordsArrived(t, s, s.sentLogs())
	if sc.beta {
		checkCCNative(t, s)
	}
	turns := ccTurns(s.fake.Log.Calls())
	spans := aitracetest.Spans(synthesized(s.backend.Traces()))
	t.Logf("synthesized spans at the remote:\n%s", aitracetest.Dump(spans))
	ccSummary(t, s, turns, spans)

	var roots []aitracetest.Span
	children := map[pcommon.TraceID][]aitracetest.Span{}
	for _, sp := range spans {
		if sp.Span.ParentSpanID().IsEmpty() {
			roots = append(roots, sp)
		} else {
			children[sp.Span.TraceID()] = append(children[sp.Span.TraceID()], sp)
		}
	}
	// One root per user prompt (/exit is none), in order.
	if len(roots) != len(turns) {
		t.Errorf("%d roots (invoke_agent) at the remote, want %d: one per user prompt the fake saw %q", len(roots), len(turns), ccTurnTexts(turns))
	}
	var toolSpans []aitracetest.Span
	for i, turn := range turns {
		if i >= len(roots) {
			break
		}
		root := roots[i].Span
		label := fmt.Sprintf("turn %d (%q)", i+1, turn.text)
		if root.Name() != "invoke_agent claude-code" {
			t.Errorf("%s: root %q, want invoke_agent claude-code", label, root.Name())
		}
		var chats, sides []aitracetest.Span
		for _, c := range children[root.TraceID()] {
			switch {
			case strings.HasPrefix(c.Span.Name(), "chat "):
				if _, ok := c.Span.Attributes().Get("ai_session.call.purpose"); ok && spanAttr(c.Span, "ai_session.call.purpose") != "main" {
					sides = append(sides, c)
				} else {
					chats = append(chats, c)
				}
			case strings.HasPrefix(c.Span.Name(), "execute_tool "):
				toolSpans = append(toolSpans, c)
			}
		}
		// The answered main calls, each with its exact tokens, then the
		// failed sequence as one error span.
		var okChats, errChats []aitracetest.Span
		for _, c := range chats {
			if c.Span.Status().Code() == ptrace.StatusCodeError {
				errChats = append(errChats, c)
			} else {
				okChats = append(okChats, c)
			}
		}
		if len(okChats) != len(turn.ok) {
			t.Errorf("%s: %d answered chat spans, want %d (the fake answered %d main calls)", label, len(okChats), len(turn.ok), len(turn.ok))
		}
		var wantIn, wantOut int64
		for j, call := range turn.ok {
			in := call.InputTokens + call.CacheReadTokens + call.CacheCreationTokens
			wantIn += in
			wantOut += call.OutputTokens
			if j >= len(okChats) {
				continue
			}
			c := okChats[j].Span
			if c.Name() != "chat "+call.Model {
				t.Errorf("%s: chat span %d is %q, want chat %s", label, j+1, c.Name(), call.Model)
			}
			checkIntAttr(t, label+" "+c.Name(), c, "gen_ai.usage.input_tokens", in)
			checkIntAttr(t, label+" "+c.Name(), c, "gen_ai.usage.output_tokens", call.OutputTokens)
			checkIntAttr(t, label+" "+c.Name(), c, "gen_ai.usage.cache_read.input_tokens", call.CacheReadTokens)
			checkIntAttr(t, label+" "+c.Name(), c, "gen_ai.usage.cache_creation.input_tokens", call.CacheCreationTokens)
		}
		wantFailed := 0
		if len(turn.failed) > 0 {
			wantFailed = 1
		}
		if len(errChats) != wantFailed {
			t.Errorf("%s: %d failed chat spans, want %d (the fake failed %d requests in a row)", label, len(errChats), wantFailed, len(turn.failed))
		}
		if wantFailed == 1 && len(errChats) == 1 {
			c := errChats[0].Span
			first, last := turn.failed[0], turn.failed[len(turn.failed)-1]
			checkIntAttr(t, label+" failed "+c.Name(), c, "ai_session.model_call.attempts", int64(len(turn.failed)))
			start, end := c.StartTimestamp().AsTime(), c.EndTimestamp().AsTime()
			if start.After(first.Time) || start.Before(first.Time.Add(-5*time.Second)) {
				t.Errorf("%s: the failed chat span starts at %s, want at the first attempt (the fake got it at %s; its last at %s)", label, start.Format(time.StampMilli), first.Time.Format(time.StampMilli), last.Time.Format(time.StampMilli))
			}
			if end.Before(last.Time) {
				t.Errorf("%s: the failed chat span ends at %s, before the last attempt (%s)", label, end.Format(time.StampMilli), last.Time.Format(time.StampMilli))
			}
			if root.StartTimestamp() > c.StartTimestamp() || root.EndTimestamp() < c.EndTimestamp() {
				t.Errorf("%s: the root (%s to %s) does not cover the failed chat span (%s to %s)", label,
					root.StartTimestamp().AsTime().Format(time.StampMilli), root.EndTimestamp().AsTime().Format(time.StampMilli),
					start.Format(time.StampMilli), end.Format(time.StampMilli))
			}
			checkIntAttr(t, label+" root", root, "ai_session.errors", 1)
		}
		// Side calls: chat spans marked with their query_source, not
		// counted in the turn's model calls and tokens.
		if len(sides) != len(turn.side) {
			t.Errorf("%s: %d side-call chat spans (ai_session.call.purpose set), want %d (the fake answered %d side calls: %s)", label, len(sides), len(turn.side), len(turn.side), ccPurposes(turn.side))
		}
		for j, call := range turn.side {
			if j >= len(sides) {
				continue
			}
			c := sides[j].Span
			if got, want := spanAttr(c, "ai_session.call.purpose"), ccQuerySource[call.Purpose]; got != want {
				t.Errorf("%s: side call %s has ai_session.call.purpose %q, want %q", label, c.Name(), got, want)
			}
			checkIntAttr(t, label+" side "+c.Name(), c, "gen_ai.usage.input_tokens", call.InputTokens+call.CacheReadTokens+call.CacheCreationTokens)
		}
		checkIntAttr(t, label+" root", root, "ai_session.model_calls", int64(len(turn.ok)+wantFailed))
		checkIntAttr(t, label+" root", root, "gen_ai.usage.input_tokens", wantIn)
		checkIntAttr(t, label+" root", root, "gen_ai.usage.output_tokens", wantOut)
	}
	checkCCTools(t, sc, s.fake.Log.Calls(), toolSpans)
	checkCCResend(t, s, spans)
}

func ccTurnTexts(turns []*ccTurn) []string {
	var out []string
	for _, turn := range turns {
		out = append(out, turn.text)
	}
	return out
}

func ccPurposes(calls []harness.ModelCall) string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Model+"/"+c.Purpose)
	}
	return strings.Join(out, ", ")
}

func spanAttr(s ptrace.Span, key string) string { return attr(s.Attributes(), key) }

func checkIntAttr(t *testing.T, label string, s ptrace.Span, key string, want int64) {
	t.Helper()
	v, ok := s.Attributes().Get(key)
	switch {
	case !ok && want == 0 && strings.HasPrefix(key, "gen_ai.usage."):
		// A zero count may be left out.
	case !ok:
		t.Errorf("%s: no %s, want %d", label, key, want)
	case v.Type() != pcommon.ValueTypeInt:
		t.Errorf("%s: %s is %s %q, want the int %d", label, key, v.Type(), v.AsString(), want)
	case v.Int() != want:
		t.Errorf("%s: %s = %d, want %d", label, key, v.Int(), want)
	}
}

// checkCCTools: one execute_tool span per tool call the fake asked for,
// with the decision and status of its outcome.
func checkCCTools(t *testing.T, sc ccScenario, calls []harness.ModelCall, spans []aitracetest.Span) {
	t.Helper()
	var asked []string
	for _, c := range calls {
		asked = append(asked, c.ToolCalls...)
	}
	if len(asked) != len(sc.tools) {
		t.Fatalf("the fake asked for %d tool calls (%v), the scenario expects %d", len(asked), asked, len(sc.tools))
	}
	if len(spans) != len(asked) {
		t.Errorf("%d execute_tool spans at the remote, want %d (the fake asked for %v)", len(spans), len(asked), asked)
	}
	for i, tool := range asked {
		if i >= len(spans) {
			break
		}
		s := spans[i].Span
		label := fmt.Sprintf("tool call %d (%s, %s)", i+1, tool, sc.tools[i])
		if s.Name() != "execute_tool "+tool {
			t.Errorf("%s: span %q", label, s.Name())
		}
		wantDecision, wantErr := "accept", sc.tools[i] != "ok"
		if sc.tools[i] == "reject" {
			wantDecision = "reject"
		}
		if got := spanAttr(s, "ai_session.tool.decision"); got != wantDecision {
			t.Errorf("%s: ai_session.tool.decision %q, want %q", label, got, wantDecision)
		}
		if got := s.Status().Code() == ptrace.StatusCodeError; got != wantErr {
			t.Errorf("%s: error status %v, want %v (status %s %q)", label, got, wantErr, s.Status().Code(), s.Status().Message())
		}
	}
}

// checkCCRecordsArrived: every log record the CLI sent reached
// otel-ai-monitor and the remote, unchanged.
func checkCCRecordsArrived(t *testing.T, s *ccSession, sent []plog.Logs) {
	t.Helper()
	key := func(r plog.LogRecord) string {
		return fmt.Sprintf("%d|%s|%d|%s", recordTime(r), r.Body().AsString(), r.Attributes().Len(), attr(r.Attributes(), "event.sequence"))
	}
	keys := func(batches []plog.Logs) []string {
		var out []string
		for _, ld := range batches {
			for _, rl := range ld.ResourceLogs().All() {
				for _, sl := range rl.ScopeLogs().All() {
					for _, r := range sl.LogRecords().All() {
						out = append(out, key(r))
					}
				}
			}
		}
		sort.Strings(out)
		return out
	}
	want := keys(sent)
	if len(want) == 0 {
		t.Fatalf("the CLI sent no log records")
	}
	var monitor []plog.Logs
	for _, r := range s.sink.Requests() {
		if r.Path == "/v1/logs" {
			monitor = append(monitor, r.Logs)
		}
	}
	if got := keys(monitor); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("otel-ai-monitor received %d log records, want the %d the CLI sent, unchanged", len(got), len(want))
	}
	if got := keys(s.backend.Logs()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the remote received %d log records, want the %d the CLI sent, unchanged", len(got), len(want))
	}
}

// checkCCNative: with its beta tracing on, the CLI's records carry its
// trace context; its own spans reach the remote unchanged, and the turn
// trees (checked as for every scenario) link to them from their roots.
func checkCCNative(t *testing.T, s *ccSession) {
	t.Helper()
	sentSpans := map[pcommon.SpanID]string{}
	for _, td := range s.tee.Traces() {
		for _, sp := range aitracetest.Spans([]ptrace.Traces{td}) {
			sentSpans[sp.Span.SpanID()] = sp.Span.Name()
		}
	}
	if len(sentSpans) == 0 {
		t.Errorf("the CLI sent no spans with CLAUDE_CODE_ENHANCED_TELEMETRY_BETA=1")
	}
	got := map[pcommon.SpanID]bool{}
	for _, sp := range aitracetest.Spans(s.backend.Traces()) {
		got[sp.Span.SpanID()] = true
	}
	for id, name := range sentSpans {
		if !got[id] {
			t.Errorf("the CLI's span %s (%s) did not reach the remote", name, id)
		}
	}
	synth := aitracetest.Spans(synthesized(s.backend.Traces()))
	n := len(synth)
	for _, sp := range synth {
		if !sp.Span.ParentSpanID().IsEmpty() {
			continue
		}
		links := 0
		for _, l := range sp.Span.Links().All() {
			if _, sent := sentSpans[l.SpanID()]; sent {
				links++
			}
		}
		if links == 0 {
			t.Errorf("the root %s links to none of the CLI's own spans", sp.Span.Name())
		}
	}
	t.Logf("the CLI sent %d spans of its own, the remote holds %d spans, %d synthesized; %d model requests in the fake's log", len(sentSpans), len(got), n, len(s.fake.Log.Calls()))
}

// checkCCResend posts every request the CLI made again, as it made it (a
// sender's retry): no new span id, no second root.
func checkCCResend(t *testing.T, s *ccSession, before []aitracetest.Span) {
	t.Helper()
	s.tee.mu.Lock()
	raw := append([]teeRequest(nil), s.tee.raw...)
	s.tee.mu.Unlock()
	if s.grpc {
		for _, ld := range s.sentLogs() {
			if code, body, err := harness.PostLogs(s.c.OTLPHTTPEndpoint, ld); err != nil || code/100 != 2 {
				t.Errorf("re-send: %d %s %v", code, body, err)
			}
		}
	}
	for _, r := range raw {
		if r.path != "/v1/logs" {
			continue
		}
		resp, err := http.Post(s.c.OTLPHTTPEndpoint+r.path, r.contentType, bytes.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Errorf("re-send: %d", resp.StatusCode)
		}
	}
	time.Sleep(5 * time.Second) // the idle timeout, a queue flush
	ids := spanIDs(before)
	after := aitracetest.Spans(synthesized(s.backend.Traces()))
	for _, sp := range after {
		if !ids[sp.Span.SpanID()] {
			t.Errorf("the re-send created span %s %s", sp.Span.Name(), sp.Span.SpanID())
		}
	}
	if a, b := rootCount(synthesized(s.backend.Traces())), len(before); a > 0 && len(after) != b {
		t.Errorf("after the re-send the remote holds %d distinct spans, want %d", len(after), b)
	}
}

// ccSummary logs the fake's log against what the remote and the monitor
// got, in one line each.
func ccSummary(t *testing.T, s *ccSession, turns []*ccTurn, spans []aitracetest.Span) {
	t.Helper()
	var calls, failed, side, tools int
	var in, out int64
	for _, turn := range turns {
		calls += len(turn.ok)
		failed += len(turn.failed)
		side += len(turn.side)
		for _, c := range turn.ok {
			in += c.InputTokens + c.CacheReadTokens + c.CacheCreationTokens
			out += c.OutputTokens
			tools += len(c.ToolCalls)
		}
	}
	var roots, chats, errChats, toolSpans int
	var rin, rout int64
	for _, sp := range spans {
		switch name := sp.Span.Name(); {
		case sp.Span.ParentSpanID().IsEmpty():
			roots++
			if v, ok := sp.Span.Attributes().Get("gen_ai.usage.input_tokens"); ok {
				rin += v.Int()
			}
			if v, ok := sp.Span.Attributes().Get("gen_ai.usage.output_tokens"); ok {
				rout += v.Int()
			}
		case strings.HasPrefix(name, "chat "):
			chats++
			if sp.Span.Status().Code() == ptrace.StatusCodeError {
				errChats++
			}
		case strings.HasPrefix(name, "execute_tool "):
			toolSpans++
		}
	}
	sent, monitor := 0, 0
	for _, ld := range s.sentLogs() {
		sent += ld.LogRecordCount()
	}
	for _, r := range s.sink.Requests() {
		if r.Path == "/v1/logs" {
			monitor += r.Logs.LogRecordCount()
		}
	}
	t.Logf("fake API: %d turns, %d answered main calls (%d in / %d out tokens), %d failed requests, %d side calls, %d tool calls", len(turns), calls, in, out, failed, side, tools)
	t.Logf("remote:   %d roots (%d in / %d out tokens summed over roots), %d chat spans (%d error), %d tool spans, %d log records", roots, rin, rout, chats, errChats, toolSpans, remoteLogRecords(s.backend))
	t.Logf("monitor:  %d log records; the CLI sent %d", monitor, sent)
}
