package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// badValues are values of each OTEL_AI_COLLECTOR_* variable that the
// configuration they land in would refuse late, or misread; the collector
// must refuse each at once, naming the variable. OTEL_AI_COLLECTOR_HOSTNAME
// takes any text.
var badValues = []struct{ name, value string }{
	{"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT", "127.0.0.1:4320"},
	{"OTEL_AI_COLLECTOR_AI_SERVICES", " , "},
	{"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT", "not-a-url"},
	{"OTEL_AI_COLLECTOR_REMOTE_QUEUE_BYTES", "100MiB"},
	{"OTEL_AI_COLLECTOR_REMOTE_MAX_RETRY_TIME", "1 day"},
	{"OTEL_AI_COLLECTOR_MEMORY_LIMIT_MIB", "-5"},
	{"OTEL_AI_COLLECTOR_DELTA_MAX_STREAMS", "lots"},
	{"OTEL_AI_COLLECTOR_LOG_LINE_MAX_BYTES", "33"},
	{"OTEL_AI_COLLECTOR_REMOTE_CONFIG", "/nonexistent/remote.yaml"},
	{"OTEL_AI_COLLECTOR_AI_TRACES", "maybe"},
	{"OTEL_AI_COLLECTOR_AI_TRACES_IDLE", "500ms"},
	{"OTEL_AI_COLLECTOR_HOST_METRICS", "enabled"},
	{"OTEL_AI_COLLECTOR_HOST_METRICS_INTERVAL", "15"},
	{"OTEL_AI_COLLECTOR_JOURNALD", "enabled"},
	{"OTEL_AI_COLLECTOR_JOURNALD_UNITS", " , "},
	{"OTEL_AI_COLLECTOR_JOURNALD_PRIORITY", "verbose"},
	{"OTEL_AI_COLLECTOR_JOURNALD_START_AT", "now"},
	{"OTEL_AI_COLLECTOR_JOURNAL_DIR", "/nonexistent/journal"},
	{"OTEL_AI_COLLECTOR_EBPF_PORTS", "http"},
	{"OTEL_AI_COLLECTOR_EBPF_EXECUTABLE_REGEX", "(curl"},
	{"OTEL_AI_COLLECTOR_EBPF_UNITS", ","},
	{"OTEL_AI_COLLECTOR_EBPF_TCP_CONNECTIONS", "yes"},
	{"OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT", "pyroscope:4040"},
	{"OTEL_AI_COLLECTOR_PYROSCOPE_INGEST_ENDPOINT", "4040"},
	{"OTEL_AI_COLLECTOR_PYROSCOPE_QUEUE_BYTES", "0"},
	{"OTEL_AI_COLLECTOR_PYROSCOPE_MAX_RETRY_TIME", "forever"},
	{"OTEL_AI_COLLECTOR_OTLP_GRPC_ENDPOINT", "localhost"},
	{"OTEL_AI_COLLECTOR_OTLP_HTTP_ENDPOINT", "127.0.0.1:99999"},
	{"OTEL_AI_COLLECTOR_HEALTH_ENDPOINT", "13133"},
	{"OTEL_AI_COLLECTOR_METRICS_PORT", "eighty"},
	{"OTEL_AI_COLLECTOR_ZPAGES_ENDPOINT", "zpages"},
}

// collectorEnv is an environment in which the collector, if it did start,
// would listen only on free loopback ports and keep its state in a
// temporary directory.
func collectorEnv(t *testing.T, extra ...string) []string {
	env := append(os.Environ(),
		"OTEL_AI_COLLECTOR_OTLP_GRPC_ENDPOINT="+harness.FreeAddr(t),
		"OTEL_AI_COLLECTOR_OTLP_HTTP_ENDPOINT="+harness.FreeAddr(t),
		"OTEL_AI_COLLECTOR_HEALTH_ENDPOINT="+harness.FreeAddr(t),
		"OTEL_AI_COLLECTOR_METRICS_PORT="+strconv.Itoa(harness.FreePort(t)),
		"OTEL_AI_COLLECTOR_ZPAGES_ENDPOINT="+harness.FreeAddr(t),
		"OTEL_AI_COLLECTOR_PYROSCOPE_INGEST_ENDPOINT="+harness.FreeAddr(t),
		"OTEL_AI_COLLECTOR_STATE_DIR="+t.TempDir(),
		"OTEL_AI_COLLECTOR_HOST_METRICS=off",
		"OTEL_AI_COLLECTOR_JOURNALD=off",
	)
	return append(env, extra...)
}

// runRefused runs the binary and wants it to exit non-zero within 15 s.
func runRefused(t *testing.T, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%v still running after 15 s: the bad value was not refused\n%s", args, out)
	}
	if err == nil {
		t.Fatalf("%v exited 0 with a bad value\n%s", args, out)
	}
	return string(out)
}

func TestBadEnvironmentRefused(t *testing.T) {
	for _, bad := range badValues {
		t.Run(bad.name, func(t *testing.T) {
			// The bad value is appended last, so it wins over collectorEnv's.
			for _, args := range [][]string{{"validate"}, {}} {
				env := append(collectorEnv(t), bad.name+"="+bad.value)
				out := runRefused(t, env, args...)
				if !strings.Contains(out, bad.name+"=") || !strings.Contains(out, "set it like "+bad.name+"=") {
					t.Errorf("%v: the message does not name %s with an example:\n%s", args, bad.name, out)
				}
				if strings.Contains(out, "Starting otel-ai-collector") {
					t.Errorf("%v: the collector started before refusing:\n%s", args, out)
				}
			}
		})
	}
	t.Run("unwritable state dir", func(t *testing.T) {
		for _, args := range [][]string{{"validate"}, {}} {
			env := append(collectorEnv(t), "OTEL_AI_COLLECTOR_REMOTE_ENDPOINT=http://127.0.0.1:9",
				"OTEL_AI_COLLECTOR_STATE_DIR=/proc/otel-ai-collector")
			if out := runRefused(t, env, args...); !strings.Contains(out, "OTEL_AI_COLLECTOR_STATE_DIR") {
				t.Errorf("%v: the message does not name OTEL_AI_COLLECTOR_STATE_DIR:\n%s", args, out)
			}
		}
	})
}

func TestValidateSummary(t *testing.T) {
	run := func(t *testing.T, env ...string) string {
		cmd := exec.Command(binary, "validate")
		cmd.Env = collectorEnv(t, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("validate: %v\n%s", err, out)
		}
		return string(out)
	}
	t.Run("local only", func(t *testing.T) {
		out := run(t)
		want := "validate: embedded default, layers default.yaml; pipelines: 3 traces, 3 metrics, 3 logs; remote export off (OTEL_AI_COLLECTOR_REMOTE_ENDPOINT unset), " +
			"AI traces off (no remote export)"
		if !strings.Contains(out, want) || strings.Count(out, "\n") != 1 {
			t.Errorf("want one line starting %q, got:\n%s", want, out)
		}
	})
	t.Run("remote with features", func(t *testing.T) {
		// collectorEnv switches host metrics off; the summary says so.
		out := run(t, "OTEL_AI_COLLECTOR_REMOTE_ENDPOINT=https://gateway.example:4318",
			"OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT=http://127.0.0.1:4040")
		for _, want := range []string{
			"layers default.yaml + remote.yaml + ai-traces.yaml + profiling.yaml + remote-gateway.yaml;",
			" 1 profiles;",
			"remote export on", "AI traces on", "host metrics off (OTEL_AI_COLLECTOR_HOST_METRICS=off)",
			"journald off (OTEL_AI_COLLECTOR_JOURNALD=off)", "eBPF off (no eBPF selector set)", "profiling on",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("summary lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("eBPF asked for without remote export", func(t *testing.T) {
		out := run(t, "OTEL_AI_COLLECTOR_EBPF_PORTS=8080")
		want := "warning: eBPF spans are off: OTEL_AI_COLLECTOR_EBPF_PORTS is set, but eBPF spans go only to remote export; set OTEL_AI_COLLECTOR_REMOTE_ENDPOINT"
		if strings.Count(out, want) != 1 {
			t.Errorf("want the warning %q once, got:\n%s", want, out)
		}
		if !strings.Contains(out, "eBPF off (no remote export)") {
			t.Errorf("the summary does not say why eBPF is off:\n%s", out)
		}
	})
}

// While otel-ai-monitor is down (often: it is a separate user service), the
// collector's log stays readable: 1,000 AI records over 60 s give at most 3
// lines, none with a Go stack trace, and the line that is there names the
// monitor's endpoint. Before the logging settings of config/default.yaml the
// same run printed 230 lines (70 "Exporting failed" lines, 160 lines of Go
// stack traces); after, 2 (one "Will retry", one "Dropping data").
func TestMonitorDownLogsQuietly(t *testing.T) {
	if testing.Short() {
		t.Skip("60 s outage")
	}
	monitor := "http://" + harness.FreeAddr(t) // nothing listens there
	c := harness.Start(t, binary, harness.Options{Env: map[string]string{
		"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT": monitor,
	}})
	time.Sleep(time.Second) // start-up lines done
	before := c.Logs()

	const requests, perRequest = 20, 50
	start := time.Now()
	for i := range requests {
		bodies := make([]string, perRequest)
		for j := range bodies {
			bodies[j] = "claude_code.user_prompt " + strconv.Itoa(i*perRequest+j)
		}
		status, body, err := harness.PostLogs(c.OTLPHTTPEndpoint, harness.NewLogs("claude-code", bodies...))
		if err != nil || status != 200 {
			t.Fatalf("request %d: status %d %q, %v (the monitor path must never refuse the sender)", i, status, body, err)
		}
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * 60 * time.Second / requests)))
	}
	logged := strings.TrimPrefix(c.Logs(), before)
	lines := strings.Split(strings.TrimSpace(logged), "\n")
	if strings.TrimSpace(logged) == "" {
		lines = nil
	}
	t.Logf("%d log lines while the monitor was down for %v:\n%s", len(lines), time.Since(start).Round(time.Second), logged)
	if len(lines) > 3 {
		t.Errorf("%d log lines during a 60 s monitor outage, want at most 3", len(lines))
	}
	for _, line := range lines {
		if strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "go.opentelemetry.io/") || strings.HasPrefix(line, "goroutine ") {
			t.Errorf("a stack trace in the log: %q", line)
		}
	}
	if !strings.Contains(logged, strings.TrimPrefix(monitor, "http://")) {
		t.Errorf("no line names the monitor's endpoint %s: the operator is not told the monitor is down", monitor)
	}
}

// --help lists every variable of README.md's table and no other: both are
// generated from internal/defaultconfig's Variables.
func TestHelpListsTheREADMEVariables(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(OTEL_AI_COLLECTOR_[A-Z_]+)` \\|")
	inREADME := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		inREADME[m[1]] = true
	}
	if len(inREADME) < 20 {
		t.Fatalf("found only %d variables in README.md's table", len(inREADME))
	}
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}} {
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		help := string(out)
		for name := range inREADME {
			if !strings.Contains(help, "  "+name+" (default: ") {
				t.Errorf("%v lacks README's %s", args, name)
			}
		}
		for _, m := range regexp.MustCompile(`(?m)^  (OTEL_AI_COLLECTOR_[A-Z_]+) \(default: `).FindAllStringSubmatch(help, -1) {
			if !inREADME[m[1]] {
				t.Errorf("%v lists %s, which README.md's table lacks", args, m[1])
			}
		}
		for _, want := range []string{"embedded:default.yaml", "embedded:remote-gateway.yaml", "Usage:", "validate"} {
			if !strings.Contains(help, want) {
				t.Errorf("%v lacks %q", args, want)
			}
		}
	}
}

// README.md, the Makefile and scripts/install-test-deps.sh name the same
// test dependencies: the script's packages are the list.
func TestTestDependenciesAgree(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		text, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(text)
	}
	script, readme, makefile := read("scripts/install-test-deps.sh"), read("README.md"), read("Makefile")
	var deps []string
	for _, m := range regexp.MustCompile(`need\+=\(([a-z0-9-]+)\)`).FindAllStringSubmatch(script, -1) {
		deps = append(deps, m[1])
	}
	deps = append(deps, "prometheus3")
	if len(deps) < 8 {
		t.Fatalf("found only %v in the script", deps)
	}
	makeLine := regexp.MustCompile(`(?m)^## test-deps: .*$`).FindString(makefile)
	for _, dep := range deps {
		if !strings.Contains(readme, "`"+dep+"`") {
			t.Errorf("README.md does not list the test dependency %s", dep)
		}
		if !regexp.MustCompile(`\b` + regexp.QuoteMeta(dep) + `\b`).MatchString(makeLine) {
			t.Errorf("the Makefile's test-deps line does not list %s: %q", dep, makeLine)
		}
	}
}

// A misspelt key in the user's --config is refused with the file and a
// suggestion, before the collector's own message (which names neither).
func TestMisspeltKeyNamesFileAndSuggestion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mine.yaml")
	config := "recievers:\n  otlp:\n    protocols: {http: {}}\nexporters: {debug: {}}\nservice: {pipelines: {logs: {receivers: [otlp], exporters: [debug]}}}\n"
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"validate", "--config", path}, {"--config=file:" + path}} {
		out := runRefused(t, collectorEnv(t), args...)
		if want := path + `: unknown key recievers: did you mean "receivers"?`; !strings.Contains(out, want) {
			t.Errorf("%v: want %q in:\n%s", args, want, out)
		}
	}
}
