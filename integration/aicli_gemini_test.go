package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-ai-collector/otel-ai-collector/connector/aisessiontracesconnector/aitracetest"
	"github.com/otel-ai-collector/otel-ai-collector/integration/fakegemini"
	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// geminiTurn is one invocation of the CLI in -p mode.
type geminiTurn struct {
	prompt string
	args   []string // extra flags, e.g. --approval-mode yolo
	resume bool     // --resume latest: continue the previous invocation's session
}

type geminiScenario struct {
	name     string
	protocol string // "http" or "grpc"
	traces   bool   // telemetry.traces
	turns    []geminiTurn
	script   []fakegemini.Answer
	fallback *fakegemini.Answer
	// policy, when set, is written as ~/.gemini/policies/test.toml.
	policy string
	// files are written into the workspace first.
	files map[string]string
	// tools are the tool calls' expected outcomes, in order: "ok",
	// "error" (it ran and failed) or "reject" (denied, never ran).
	tools []geminiWantTool
	// failing: the CLI is expected to exit non-zero (it gave up).
	failing bool
	// background: started before the other scenarios and run alongside.
	background bool
}

type geminiWantTool struct{ name, outcome string }

// geminiRun is what one scenario produced: the fake's log as the oracle,
// and what the monitor and the remote received.
type geminiRun struct {
	fake          *fakegemini.Server
	sink          *harness.Sink
	backend       *harness.Backend
	c             *harness.Collector
	cli           string
	home, workdir string
	turns         []geminiTurnResult
	done          chan struct{}
}

type geminiTurnResult struct {
	output string // the CLI's stdout and stderr
	err    error
	took   time.Duration
}

func geminiEnv(home, workdir, baseURL string) []string {
	env := []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"TMPDIR=" + filepath.Join(home, "tmp"),
		"GEMINI_API_KEY=dummy-key-for-the-fake",
		"GOOGLE_GEMINI_BASE_URL=" + baseURL,
		"GEMINI_CLI_TRUST_WORKSPACE=true",
		"NO_COLOR=1",
		"TERM=dumb",
		"CI=1",
	}
	return env
}

func geminiSettings(t *testing.T, home string, sc geminiScenario, endpoint string) {
	t.Helper()
	dir := filepath.Join(home, ".gemini")
	if err := os.MkdirAll(filepath.Join(dir, "policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(home, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	settings := map[string]any{
		"telemetry": map[string]any{
			"enabled":      true,
			"target":       "local",
			"otlpEndpoint": endpoint,
			"otlpProtocol": sc.protocol,
			"logPrompts":   true,
			"traces":       sc.traces,
		},
		"security": map[string]any{
			"auth": map[string]any{"selectedType": "gemini-api-key"},
		},
		"general": map[string]any{"disableAutoUpdate": true, "disableUpdateNag": true},
		"privacy": map[string]any{"usageStatisticsEnabled": false},
	}
	b, _ := json.MarshalIndent(settings, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "settings.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if sc.policy != "" {
		if err := os.WriteFile(filepath.Join(dir, "policies", "test.toml"), []byte(sc.policy), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// geminiStart sets a scenario up: the monitor sink, the remote backend,
// the collector, the fake API, HOME and the workspace.
func geminiStart(t *testing.T, sc geminiScenario) *geminiRun {
	t.Helper()
	run := &geminiRun{cli: harness.AICLIPath(t, "gemini-cli", "gemini"), done: make(chan struct{})}
	run.sink = harness.NewSink(t)
	run.backend = harness.StartBackend(t, binary)
	run.c = startWithRemote(t, run.sink, run.backend.URL, harness.Options{
		Env: map[string]string{"OTEL_AI_COLLECTOR_AI_TRACES_IDLE": "2s"},
	})
	run.fake = fakegemini.Start(t)
	run.fake.Script(sc.script...)
	if sc.fallback != nil {
		run.fake.Fallback(*sc.fallback)
	}
	run.home = t.TempDir()
	run.workdir = t.TempDir()
	endpoint := run.c.OTLPHTTPEndpoint
	if sc.protocol == "grpc" {
		endpoint = "http://" + run.c.OTLPGRPCEndpoint
	}
	geminiSettings(t, run.home, sc, endpoint)
	for name, content := range sc.files {
		if err := os.WriteFile(filepath.Join(run.workdir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return run
}

// exec runs the scenario's invocations one after the other; it may run on
// a goroutine of its own (it calls nothing of testing.T).
func (run *geminiRun) exec(sc geminiScenario) {
	defer close(run.done)
	for _, turn := range sc.turns {
		args := []string{"-p", turn.prompt, "--output-format", "text"}
		if turn.resume {
			args = append(args, "--resume", "latest")
		}
		args = append(args, turn.args...)
		ctx, cancel := context.WithTimeout(context.Background(), 330*time.Second)
		cmd := exec.CommandContext(ctx, run.cli, args...)
		// The gemini launcher re-executes node with a larger heap: a
		// process group of its own, ended as a whole on timeout.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 5 * time.Second
		cmd.Dir = run.workdir
		cmd.Env = geminiEnv(run.home, run.workdir, run.fake.URL)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		cancel()
		run.turns = append(run.turns, geminiTurnResult{output: out.String(), err: err, took: time.Since(start)})
	}
}

// geminiFinish waits for the invocations and reports them.
func geminiFinish(t *testing.T, sc geminiScenario, run *geminiRun) {
	t.Helper()
	<-run.done
	for i, r := range run.turns {
		t.Logf("turn %d (%s): exit %v after %s\n%s", i+1, sc.turns[i].prompt, r.err, r.took.Round(time.Millisecond), geminiTail(r.output, 1500))
		if (r.err != nil) != sc.failing {
			t.Errorf("turn %d: the CLI exited with %v (expected to fail: %v)", i+1, r.err, sc.failing)
		}
	}
}

func geminiTail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// geminiSinkLogs and geminiSinkTraces are what the monitor sink received:
// the collector's monitor path has no processor, so these are the records
// and spans exactly as the CLI sent them.
func geminiSinkLogs(s *harness.Sink) []plog.Logs {
	var out []plog.Logs
	for _, r := range s.Requests() {
		if r.Path == "/v1/logs" {
			out = append(out, r.Logs)
		}
	}
	return out
}

func geminiSinkTraces(s *harness.Sink) []ptrace.Traces {
	var out []ptrace.Traces
	for _, r := range s.Requests() {
		if r.Path == "/v1/traces" {
			out = append(out, r.Traces)
		}
	}
	return out
}

func geminiMergeLogs(batches []plog.Logs) plog.Logs {
	all := plog.NewLogs()
	for _, b := range batches {
		for _, rl := range b.ResourceLogs().All() {
			rl.CopyTo(all.ResourceLogs().AppendEmpty())
		}
	}
	return all
}

func geminiMergeTraces(batches []ptrace.Traces) ptrace.Traces {
	all := ptrace.NewTraces()
	for _, b := range batches {
		for _, rs := range b.ResourceSpans().All() {
			rs.CopyTo(all.ResourceSpans().AppendEmpty())
		}
	}
	return all
}

// geminiWaitQuiet waits until the sink got no request for quiet.
func geminiWaitQuiet(s *harness.Sink, quiet, max time.Duration) {
	deadline := time.Now().Add(max)
	last := -1
	lastChange := time.Now()
	for time.Now().Before(deadline) {
		n := len(s.Requests())
		if n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) >= quiet {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func geminiRecordDir() string {
	return fixturePath("gemini-cli", "real")
}

// geminiRecord writes what the CLI sent (as the monitor received it) and the
// fake's log, when AICLI_RECORD=1.
func geminiRecord(t *testing.T, name string, run *geminiRun) {
	t.Helper()
	if os.Getenv("AICLI_RECORD") != "1" {
		return
	}
	dir := geminiRecordDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logs, err := (&plog.JSONMarshaler{}).MarshalLogs(geminiMergeLogs(geminiSinkLogs(run.sink)))
	if err != nil {
		t.Fatal(err)
	}
	traces, err := (&ptrace.JSONMarshaler{}).MarshalTraces(geminiMergeTraces(geminiSinkTraces(run.sink)))
	if err != nil {
		t.Fatal(err)
	}
	model, err := json.MarshalIndent(run.fake.Log.Calls(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for ext, b := range map[string][]byte{"logs": geminiIndent(logs), "traces": geminiIndent(traces), "modellog": model} {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s.%s.json", name, ext)), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("recorded %s into %s", name, dir)
}

func geminiIndent(b []byte) []byte {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", " "); err != nil {
		return b
	}
	return out.Bytes()
}

func geminiShell(cmd string) *fakegemini.FunctionCall {
	return &fakegemini.FunctionCall{Name: "run_shell_command", Args: map[string]any{"command": cmd, "description": "run " + cmd}}
}

func geminiRead(path string) *fakegemini.FunctionCall {
	return &fakegemini.FunctionCall{Name: "read_file", Args: map[string]any{"file_path": path}}
}

var geminiYolo = []string{"--approval-mode", "yolo"}

// geminiScenarios are the sessions the tests drive. Each answer's usage is
// distinct so that tokens can be told apart at the remote.
var geminiScenarios = []geminiScenario{
	{
		// A tool that succeeds; the model reports cached and thinking
		// tokens; Gemini's own spans on.
		name: "tool_success", protocol: "http", traces: true,
		turns: []geminiTurn{{prompt: "Run echo hello", args: geminiYolo}},
		script: []fakegemini.Answer{
			{Call: geminiShell("echo hello"), Usage: fakegemini.Usage{Prompt: 1200, Candidates: 30, Cached: 200, Thoughts: 12}},
			{Text: "The command printed hello.", Usage: fakegemini.Usage{Prompt: 1300, Candidates: 8, Cached: 1000}},
		},
		tools: []geminiWantTool{{"run_shell_command", "ok"}},
	},
	{
		// Tools that fail: a shell command exiting non-zero and a read of
		// a missing file; Gemini's own spans off.
		name: "tool_failure", protocol: "http", traces: false,
		turns: []geminiTurn{{prompt: "Run exit 3 and read missing.txt", args: geminiYolo}},
		script: []fakegemini.Answer{
			{Call: geminiShell("exit 3"), Usage: fakegemini.Usage{Prompt: 1100, Candidates: 20}},
			{Call: geminiRead("missing.txt"), Usage: fakegemini.Usage{Prompt: 1150, Candidates: 21}},
			{Text: "Both failed.", Usage: fakegemini.Usage{Prompt: 1210, Candidates: 5}},
		},
		// The CLI reports the shell command as success=true with
		// metadata {"exitCode": 3, "isError": true}: a failure all the same.
		tools: []geminiWantTool{{"run_shell_command", "error"}, {"read_file", "error"}},
	},
	{
		// A user policy denies `rm`, even in YOLO mode (user-tier rules
		// outrank the mode's allow-all). (In the default approval mode, -p
		// mode does not register run_shell_command at all: the call would
		// fail as tool_not_registered, not as a denial.) OTLP over gRPC.
		name: "policy_denied", protocol: "grpc", traces: true,
		turns:  []geminiTurn{{prompt: "Run rm -rf build", args: geminiYolo}},
		policy: "[[rule]]\ntoolName = \"run_shell_command\"\ncommandPrefix = \"rm\"\ndecision = \"deny\"\npriority = 500\n",
		script: []fakegemini.Answer{
			{Call: geminiShell("rm -rf build"), Usage: fakegemini.Usage{Prompt: 1000, Candidates: 15}},
			{Text: "I was not allowed to run it.", Usage: fakegemini.Usage{Prompt: 1040, Candidates: 9}},
		},
		tools: []geminiWantTool{{"run_shell_command", "reject"}},
	},
	{
		// Three prompts in one session: the second and third resume it.
		name: "resume", protocol: "http", traces: true,
		turns: []geminiTurn{
			{prompt: "First question", args: geminiYolo},
			{prompt: "Second question: read notes.txt", args: geminiYolo, resume: true},
			{prompt: "Third question", args: geminiYolo, resume: true},
		},
		script: []fakegemini.Answer{
			{Text: "First answer.", Usage: fakegemini.Usage{Prompt: 900, Candidates: 11}},
			{Call: geminiRead("notes.txt"), Usage: fakegemini.Usage{Prompt: 950, Candidates: 12}},
			{Text: "Second answer.", Usage: fakegemini.Usage{Prompt: 990, Candidates: 13}},
			{Text: "Third answer.", Usage: fakegemini.Usage{Prompt: 1020, Candidates: 14, Thoughts: 40}},
		},
		files: map[string]string{"notes.txt": "remember the milk\n"},
		tools: []geminiWantTool{{"read_file", "ok"}},
	},
	{
		// Two failed attempts (500, then 429), then an answer: one model
		// call of three attempts.
		name: "retry_recovered", protocol: "http", traces: true,
		turns: []geminiTurn{{prompt: "Say hello", args: geminiYolo}},
		script: []fakegemini.Answer{
			{Status: 500},
			{Status: 429},
			{Text: "Hello.", Usage: fakegemini.Usage{Prompt: 800, Candidates: 3}},
		},
	},
	{
		// The model API keeps failing: the CLI retries with its default
		// policy (10 attempts, backoff from 5 s to 30 s: about 220 s), then
		// gives up. Started first, in the background, while the others run.
		name: "retry_exhausted", protocol: "http", traces: true, background: true,
		turns:    []geminiTurn{{prompt: "Say hi", args: geminiYolo}},
		fallback: &fakegemini.Answer{Status: 503},
		failing:  true,
	},
}

// TestGeminiCLI drives the real Gemini CLI through each scenario: it
// talks to the fake Gemini API and exports its telemetry to the collector,
// whose monitor path (the sink) and remote (a second collector) are
// checked against the fake's log.
// geminiSelected tells whether -run selects the subtest TestGeminiCLI/name,
// so that a background scenario is started only when its subtest runs.
func geminiSelected(name string) bool {
	f := flag.Lookup("test.run")
	if f == nil {
		return true
	}
	parts := strings.SplitN(f.Value.String(), "/", 2)
	if len(parts) < 2 {
		return true
	}
	re, err := regexp.Compile(parts[1])
	return err != nil || re.MatchString(name)
}

func TestGeminiCLI(t *testing.T) {
	// The slow scenario (retry_exhausted: some 220 s in the CLI's backoff)
	// runs in the background from the start, the others one after the
	// other meanwhile: the whole test takes about four minutes.
	background := map[string]*geminiRun{}
	for _, sc := range geminiScenarios {
		if sc.background && geminiSelected(sc.name) {
			run := geminiStart(t, sc)
			background[sc.name] = run
			go run.exec(sc)
			// Before the collectors and directories go (cleanups run last
			// registered first).
			t.Cleanup(func() { <-run.done })
		}
	}
	for _, sc := range geminiScenarios {
		t.Run(sc.name, func(t *testing.T) {
			run := background[sc.name]
			if run == nil {
				run = geminiStart(t, sc)
				run.exec(sc)
			}
			geminiFinish(t, sc, run)
			geminiWaitQuiet(run.sink, 3*time.Second, 30*time.Second)
			for _, c := range run.fake.Log.Calls() {
				t.Logf("model log: %s %s %d %s in=%d out=%d cache=%d think=%d tools=%v user=%q", c.Time.Format("15:04:05.000"), c.Purpose, c.Status, c.Model, c.InputTokens, c.OutputTokens, c.CacheReadTokens, c.ReasoningTokens, c.ToolCalls, geminiTail(c.UserText, 60))
			}
			geminiRecord(t, sc.name, run)
			geminiCheck(t, sc, run)
		})
	}
}

// geminiLogRec is a log record of a run as the monitor received them,
// each with its resource (one resource per CLI process, i.e. per -p
// invocation).
type geminiLogRec struct {
	resource pcommon.Map
	rec      plog.LogRecord
}

func geminiRecordsOf(batches []plog.Logs) []geminiLogRec {
	var out []geminiLogRec
	for _, ld := range batches {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, r := range sl.LogRecords().All() {
					out = append(out, geminiLogRec{resource: rl.Resource().Attributes(), rec: r})
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return recordTime(out[i].rec) < recordTime(out[j].rec) })
	return out
}

func (r geminiLogRec) event() string { return attr(r.rec.Attributes(), "event.name") }
func (r geminiLogRec) attr(k string) string {
	v, ok := r.rec.Attributes().Get(k)
	if !ok {
		return ""
	}
	return v.AsString()
}
func (r geminiLogRec) pid() string { return attr(r.resource, "process.pid") }

// geminiWantChat is a synthesized model call the fake's log calls for: an
// answered main call, or a run of failed attempts (the CLI's retries) that
// must be one span.
type geminiWantChat struct {
	call     harness.ModelCall
	attempts int
	failed   bool
}

func geminiWantChats(calls []harness.ModelCall) []geminiWantChat {
	var out []geminiWantChat
	for _, c := range calls {
		if c.Purpose != "main" {
			continue
		}
		failed := c.Status/100 != 2
		if len(out) > 0 && out[len(out)-1].failed && out[len(out)-1].call.Model == c.Model {
			// A retry of the failed call: the same model call, one more
			// attempt (the answer, if it came, is the call's outcome).
			last := &out[len(out)-1]
			last.attempts++
			if !failed {
				last.call, last.failed = c, false
			}
			continue
		}
		out = append(out, geminiWantChat{call: c, attempts: 1, failed: failed})
	}
	return out
}

func geminiSpanInt(s ptrace.Span, key string) (int64, bool) {
	v, ok := s.Attributes().Get(key)
	if !ok || v.Type() != pcommon.ValueTypeInt {
		return 0, false
	}
	return v.Int(), true
}

// geminiCheck checks what reached the monitor and the remote against the
// fake's log and the scenario.
func geminiCheck(t *testing.T, sc geminiScenario, run *geminiRun) {
	// The fake serves every call the CLI made (else the oracle is short).
	for _, r := range run.fake.Raw() {
		if !strings.HasSuffix(r.Path, ":streamGenerateContent") && !strings.HasSuffix(r.Path, ":generateContent") && !strings.HasSuffix(r.Path, ":countTokens") {
			t.Errorf("the fake API got %s %s, which it does not serve", r.Method, r.Path)
		}
	}
	calls := run.fake.Log.Calls()
	wantChats := geminiWantChats(calls)
	var fakeTools []string
	for _, c := range calls {
		if c.Purpose == "main" {
			fakeTools = append(fakeTools, c.ToolCalls...)
		}
	}
	var wantToolNames []string
	for _, w := range sc.tools {
		wantToolNames = append(wantToolNames, w.name)
	}
	if fmt.Sprint(fakeTools) != fmt.Sprint(wantToolNames) {
		t.Fatalf("the fake asked for tools %v, the scenario expects %v", fakeTools, wantToolNames)
	}

	// The monitor got the CLI's events: a prompt per invocation, a model
	// call event per main call the fake answered, a tool_call per tool.
	sinkLogs := geminiSinkLogs(run.sink)
	records := geminiRecordsOf(sinkLogs)
	count := map[string]int{}
	var sessionID string
	for _, r := range records {
		ev := r.event()
		if ev == "gemini_cli.api_response" || ev == "gemini_cli.api_error" {
			ev += "/" + r.attr("role")
		}
		count[ev]++
		if sessionID == "" {
			sessionID = r.attr("session.id")
		}
	}
	mainOK, mainFailed := 0, 0
	for _, c := range calls {
		if c.Purpose == "main" {
			if c.Status/100 == 2 {
				mainOK++
			} else {
				mainFailed++
			}
		}
	}
	if count["gemini_cli.user_prompt"] != len(sc.turns) {
		t.Errorf("monitor: %d user_prompt records, want %d (one per invocation)", count["gemini_cli.user_prompt"], len(sc.turns))
	}
	if count["gemini_cli.api_response/main"] != mainOK {
		t.Errorf("monitor: %d api_response records of role main, the fake answered %d main calls", count["gemini_cli.api_response/main"], mainOK)
	}
	if mainFailed > 0 && count["gemini_cli.api_error/main"] == 0 {
		t.Errorf("monitor: no api_error record of role main for %d failed main calls", mainFailed)
	}
	if count["gemini_cli.tool_call"] != len(sc.tools) {
		t.Errorf("monitor: %d tool_call records, want %d", count["gemini_cli.tool_call"], len(sc.tools))
	}
	t.Logf("monitor: %d records: %v", len(records), count)

	// Every record reached the remote too, unchanged.
	key := func(r plog.LogRecord) string {
		return fmt.Sprintf("%d|%s|%s|%d", recordTime(r), r.Body().AsString(), attr(r.Attributes(), "event.name"), r.Attributes().Len())
	}
	var sent, remote []string
	for _, r := range records {
		sent = append(sent, key(r.rec))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		remote = remote[:0]
		for _, r := range geminiRecordsOf(run.backend.Logs()) {
			remote = append(remote, key(r.rec))
		}
		if len(remote) >= len(sent) || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	sort.Strings(sent)
	sort.Strings(remote)
	if fmt.Sprint(sent) != fmt.Sprint(remote) {
		t.Errorf("the remote holds %d log records, the monitor %d: not the same records", len(remote), len(sent))
	}

	// The CLI's own spans reach the remote unchanged, and nothing of the
	// connector's reaches the monitor.
	cliSpans := aitracetest.Spans(geminiSinkTraces(run.sink))
	for _, td := range geminiSinkTraces(run.sink) {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				if ss.Scope().Name() == aiTracesScope {
					t.Errorf("the monitor received %d synthesized spans", ss.Spans().Len())
				}
			}
		}
	}

	// The synthesized trees at the remote.
	wantSpans := len(sc.turns) + len(wantChats) + len(sc.tools)
	var synth []aitracetest.Span
	wait := 15 * time.Second
	if calls := run.fake.Log.Calls(); len(calls) > 0 && calls[len(calls)-1].Status/100 != 2 {
		// The CLI gave up after its last failed attempt and said nothing
		// more: the turn ends when its backoff could no longer bring
		// another attempt (2 minutes after the last failure).
		wait = 150 * time.Second
	}
	deadline = time.Now().Add(wait)
	for {
		synth = aitracetest.Spans(synthesized(run.backend.Traces()))
		roots := 0
		for _, s := range synth {
			if s.Span.ParentSpanID().IsEmpty() {
				roots++
			}
		}
		if (roots >= len(sc.turns) && len(synth) >= wantSpans) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // past the idle timeout: anything extra arrives too
	synth = aitracetest.Spans(synthesized(run.backend.Traces()))
	t.Logf("remote: %d synthesized spans:\n%s", len(synth), aitracetest.Dump(synth))

	remoteAll := aitracetest.Spans(run.backend.Traces())
	remoteByID := map[pcommon.SpanID]aitracetest.Span{}
	for _, s := range remoteAll {
		remoteByID[s.Span.SpanID()] = s
	}
	for _, s := range cliSpans {
		got, ok := remoteByID[s.Span.SpanID()]
		if !ok {
			t.Errorf("the CLI's span %s %s did not reach the remote", s.Span.Name(), s.Span.SpanID())
			continue
		}
		if got.Span.Name() != s.Span.Name() || got.Span.TraceID() != s.Span.TraceID() || got.Span.ParentSpanID() != s.Span.ParentSpanID() {
			t.Errorf("the CLI's span %s %s changed on the way to the remote", s.Span.Name(), s.Span.SpanID())
		}
	}

	var roots, chats, sideChats, tools []aitracetest.Span
	for _, s := range synth {
		if _, ok := s.Resource.Get("process.command_args"); ok {
			t.Errorf("synthesized span %s carries resource process.command_args", s.Span.Name())
		}
		if _, ok := s.Span.Attributes().Get("process.command_args"); ok {
			t.Errorf("synthesized span %s carries attribute process.command_args", s.Span.Name())
		}
		switch {
		case s.Span.ParentSpanID().IsEmpty():
			roots = append(roots, s)
		case strings.HasPrefix(s.Span.Name(), "chat ") && attr(s.Span.Attributes(), "ai_session.call.purpose") != "<unset>":
			// A call the CLI makes for itself (its model router).
			sideChats = append(sideChats, s)
		case strings.HasPrefix(s.Span.Name(), "chat "):
			chats = append(chats, s)
		case strings.HasPrefix(s.Span.Name(), "execute_tool "):
			tools = append(tools, s)
		default:
			t.Errorf("unexpected synthesized span %s", s.Span.Name())
		}
	}
	// Side calls: marked, one per call the fake answered for another
	// purpose than the turn's own, and not counted in the roots' totals.
	sideCalls := 0
	for _, c := range run.fake.Log.Calls() {
		if c.Purpose != "main" {
			sideCalls++
		}
	}
	if len(sideChats) != sideCalls {
		t.Errorf("%d side-call chat spans (ai_session.call.purpose), want %d (the fake's calls for other purposes)", len(sideChats), sideCalls)
	}

	// One root per invocation (user prompt), in order, parentless.
	if len(roots) != len(sc.turns) {
		t.Errorf("%d synthesized roots, want %d (one per user prompt)", len(roots), len(sc.turns))
	}
	rootByTrace := map[pcommon.TraceID]int{}
	for i, r := range roots {
		rootByTrace[r.Span.TraceID()] = i
		if r.Span.Name() != "invoke_agent gemini-cli" {
			t.Errorf("root %d is %q, want invoke_agent gemini-cli", i, r.Span.Name())
		}
		if got := attr(r.Span.Attributes(), "session.id"); got != sessionID {
			t.Errorf("root %d session.id %q, want %q", i, got, sessionID)
		}
	}

	// chat spans: the main calls answered, with their exact tokens; a
	// failed call's retries are one error span with the attempts.
	if len(chats) != len(wantChats) {
		t.Errorf("%d chat spans, want %d (main calls in the fake's log: %d answered, %d failed attempts)", len(chats), len(wantChats), mainOK, mainFailed)
	}
	for i := 0; i < len(chats) && i < len(wantChats); i++ {
		s, w := chats[i].Span, wantChats[i]
		label := fmt.Sprintf("chat span %d (%s)", i, s.Name())
		if s.Name() != "chat "+w.call.Model {
			t.Errorf("%s: want chat %s", label, w.call.Model)
		}
		if _, ok := rootByTrace[s.TraceID()]; !ok {
			t.Errorf("%s: not in a turn's trace", label)
		}
		if w.failed {
			if s.Status().Code() != ptrace.StatusCodeError {
				t.Errorf("%s: status %v, want error (the fake failed it %d times)", label, s.Status().Code(), w.attempts)
			}
			if n, ok := geminiSpanInt(s, "ai_session.model_call.attempts"); !ok || n != int64(w.attempts) {
				t.Errorf("%s: ai_session.model_call.attempts %v (int: %v), want %d", label, n, ok, w.attempts)
			}
			continue
		}
		if s.Status().Code() == ptrace.StatusCodeError {
			t.Errorf("%s: error status for a call the fake answered", label)
		}
		if w.attempts > 1 {
			if n, ok := geminiSpanInt(s, "ai_session.model_call.attempts"); !ok || n != int64(w.attempts) {
				t.Errorf("%s: ai_session.model_call.attempts %v (int: %v), want %d (answered after %d failures)", label, n, ok, w.attempts, w.attempts-1)
			}
		}
		for k, want := range map[string]int64{
			"gen_ai.usage.input_tokens":            w.call.InputTokens,
			"gen_ai.usage.output_tokens":           w.call.OutputTokens,
			"gen_ai.usage.cache_read.input_tokens": w.call.CacheReadTokens,
			"gen_ai.usage.reasoning.output_tokens": w.call.ReasoningTokens,
		} {
			got, ok := geminiSpanInt(s, k)
			if want == 0 && !ok {
				continue
			}
			if !ok || got != want {
				t.Errorf("%s: %s = %d (int: %v), want %d", label, k, got, ok, want)
			}
		}
	}

	// Tool spans: one per tool call, with the decision and outcome.
	if len(tools) != len(sc.tools) {
		t.Errorf("%d execute_tool spans, want %d", len(tools), len(sc.tools))
	}
	for i := 0; i < len(tools) && i < len(sc.tools); i++ {
		s, w := tools[i].Span, sc.tools[i]
		label := fmt.Sprintf("tool span %d (%s)", i, s.Name())
		if s.Name() != "execute_tool "+w.name {
			t.Errorf("%s: want execute_tool %s", label, w.name)
		}
		if _, ok := rootByTrace[s.TraceID()]; !ok {
			t.Errorf("%s: not in a turn's trace", label)
		}
		decision := attr(s.Attributes(), "ai_session.tool.decision")
		switch w.outcome {
		case "ok":
			if s.Status().Code() == ptrace.StatusCodeError || decision != "accept" {
				t.Errorf("%s: status %v decision %q, want ok and accept", label, s.Status().Code(), decision)
			}
		case "error":
			if s.Status().Code() != ptrace.StatusCodeError || decision != "accept" {
				t.Errorf("%s: status %v decision %q, want error and accept (it ran and failed)", label, s.Status().Code(), decision)
			}
		case "reject":
			if s.Status().Code() != ptrace.StatusCodeError || decision != "reject" || attr(s.Attributes(), "error.type") != "rejected" {
				t.Errorf("%s: status %v decision %q error.type %q, want error, reject, rejected (denied by policy)", label, s.Status().Code(), decision, attr(s.Attributes(), "error.type"))
			}
		}
	}

	// No second tree: the turn's root links to the CLI's own spans of its
	// invocation (to a span of each of the CLI's traces: the one its
	// records name).
	invocationOf := map[string]int{} // process.pid -> invocation, by prompt order
	for _, r := range records {
		if r.event() == "gemini_cli.user_prompt" {
			if _, ok := invocationOf[r.pid()]; !ok {
				invocationOf[r.pid()] = len(invocationOf)
			}
		}
	}
	for _, s := range cliSpans {
		if !s.Span.ParentSpanID().IsEmpty() {
			continue
		}
		inv, ok := invocationOf[attr(s.Resource, "process.pid")]
		if !ok || inv >= len(roots) {
			continue
		}
		linked := false
		for _, l := range roots[inv].Span.Links().All() {
			if l.TraceID() == s.Span.TraceID() {
				linked = true
			}
		}
		if !linked {
			t.Errorf("root %d does not link to the CLI's own span %s (trace %s)", inv, s.Span.Name(), s.Span.TraceID())
		}
	}

	// A re-send of every record (a sender's retry) adds no span.
	before := spanIDs(synth)
	for i, ld := range sinkLogs {
		code, body, err := harness.PostLogsJSON(run.c.OTLPHTTPEndpoint, ld)
		if err != nil || code/100 != 2 {
			t.Fatalf("re-send %d: %d %s %v", i, code, body, err)
		}
	}
	time.Sleep(5 * time.Second) // idle timeout, queue flush
	again := aitracetest.Spans(synthesized(run.backend.Traces()))
	for id := range spanIDs(again) {
		if !before[id] {
			t.Errorf("the re-send created span %s", id)
		}
	}
}
