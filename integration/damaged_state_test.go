package integration

import (
	"crypto/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// nobody is the user the unreadable-file case runs the collector as: root,
// which the tests run as, reads any file whatever its mode.
const nobody = 65534

// stateDamage is one way a state file is found after a power loss, a bad
// copy or a wrong chown; apply damages path (the collector is stopped).
type stateDamage struct {
	name string
	file string // the state file damaged, by name prefix
	// asUser runs the collector as nobody (the unreadable case).
	asUser bool
	apply  func(t *testing.T, path string)
}

var stateDamages = []stateDamage{
	// A torn write over bbolt's two meta pages: "invalid database".
	{name: "random pages", file: "exporter_otlp_http_remote_logs", apply: func(t *testing.T, path string) {
		junk := make([]byte, 8192)
		_, _ = rand.Read(junk)
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt(junk, 0); err != nil {
			t.Fatal(err)
		}
	}},
	// Cut inside its third page.
	{name: "truncated", file: "exporter_otlp_http_remote_traces", apply: func(t *testing.T, path string) {
		if err := os.Truncate(path, 2*4096+1000); err != nil {
			t.Fatal(err)
		}
	}},
	{name: "zero length", file: "connector_ai_session_traces", apply: func(t *testing.T, path string) {
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
	}},
	// Owned by root, mode 0600, the collector runs as another user.
	{name: "unreadable", file: "exporter_otlp_http_remote_metrics", asUser: true, apply: func(t *testing.T, path string) {
		if err := os.Chown(path, 0, 0); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			t.Fatal(err)
		}
	}},
	{name: "directory", file: "receiver_journald", apply: func(t *testing.T, path string) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(path, "sub"), 0o700); err != nil {
			t.Fatal(err)
		}
	}},
	{name: "random pages profiles queue", file: "exporter_profile_forwarding", apply: func(t *testing.T, path string) {
		junk := make([]byte, 8192)
		_, _ = rand.Read(junk)
		if err := os.WriteFile(path, junk, 0o600); err != nil {
			t.Fatal(err)
		}
	}},
}

// A damaged state file never stops the collector: for each kind of damage,
// to each kind of state file (every signal's queue, the AI traces' state,
// the journal cursor, the profiles queue), the collector is listening within
// 2 s, the monitor path works, every signal flows to the remote, the damaged
// file is kept aside, one error names it, a metric counts it and doctor
// shows it.
func TestDamagedStateFileNeverStopsTheCollector(t *testing.T) {
	for _, d := range stateDamages {
		t.Run(d.name, func(t *testing.T) { testDamagedState(t, d) })
	}
}

func testDamagedState(t *testing.T, d stateDamage) {
	sink := harness.NewSink(t)
	backend := harness.StartBackend(t, binary)
	pyroscope := harness.StartPyroscope(t)
	var stateDir string
	var cred *syscall.Credential
	env := map[string]string{
		"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT":   sink.URL,
		"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT":    backend.URL,
		"OTEL_AI_COLLECTOR_HOSTNAME":           testHostname,
		"OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT": pyroscope.URL,
	}
	if d.asUser {
		// A state directory nobody may write, in a directory it may enter.
		dir, err := os.MkdirTemp("", "damaged-state-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		stateDir = filepath.Join(dir, "state")
		if err := os.Mkdir(stateDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(stateDir, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		cred = &syscall.Credential{Uid: nobody, Gid: nobody}
		env["HOME"] = stateDir
	} else {
		stateDir = t.TempDir()
		journal := t.TempDir()
		harness.WriteJournal(t, journal, "system", []harness.JournalEntry{
			harness.SystemUnitEntry(time.Now(), "ws-journal", "otel-ai-collector.service", "otel-ai-collector", 17, 6, "journal before"),
		})
		env["OTEL_AI_COLLECTOR_JOURNALD"] = "on"
		env["OTEL_AI_COLLECTOR_JOURNAL_DIR"] = journal
		env["OTEL_AI_COLLECTOR_JOURNALD_START_AT"] = "beginning"
	}
	opts := harness.Options{StateDir: stateDir, Env: env, Credential: cred}

	// First run, the remote down: the queues hold data when it stops.
	backend.Stop()
	first := harness.Start(t, binary, opts)
	sendAllSignals(t, first, "before")
	first.Stop()
	backend.Start()

	path := stateFile(t, stateDir, d.file)
	before, _ := os.Stat(path)
	d.apply(t, path)

	started := time.Now()
	c := harness.Start(t, binary, opts)
	startup := time.Since(started)

	// Moved aside, kept, named with the time; one error names it.
	aside, _ := filepath.Glob(path + ".damaged-*")
	movedAside := len(aside) == 1
	errorLines := 0
	for _, line := range strings.Split(c.Logs(), "\n") {
		if strings.Contains(line, "Damaged state file moved aside") {
			errorLines++
			if !strings.Contains(line, path) {
				t.Errorf("the error does not name the file %s: %s", path, line)
			}
		}
	}
	t.Logf("%s of %s (%d bytes before): healthy %v after start; moved aside: %v %v; error lines: %d",
		d.name, filepath.Base(path), before.Size(), startup.Round(time.Millisecond), movedAside, aside, errorLines)
	if startup > 2*time.Second {
		t.Errorf("healthy %v after start, want within 2 s", startup)
	}
	if len(aside) > 1 || errorLines > 1 || movedAside != (errorLines == 1) {
		t.Errorf("%d files moved aside, %d error lines: want one of each, or none when the file still opened", len(aside), errorLines)
	}
	if movedAside {
		damaged, err := c.Metric("otelcol_extension_resilient_file_storage_damaged_files_total", `file="`+filepath.Base(path)+`"`)
		if err != nil || damaged != 1 {
			t.Errorf("otelcol_extension_resilient_file_storage_damaged_files_total = %v (%v), want 1", damaged, err)
		}
		doctorShows(t, opts, filepath.Base(path))
	}

	// The monitor path and every signal to the remote.
	sendAllSignals(t, c, "after")
	ctx := withTimeout(t, 30*time.Second)
	if _, err := sink.WaitFor(ctx, func(reqs []harness.Request) bool {
		for _, r := range logRecords(reqs) {
			if r.body == "claude_code.user_prompt after" {
				return true
			}
		}
		return false
	}); err != nil {
		t.Errorf("the AI record sent after the restart did not reach the monitor: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		logs := remoteLogCounts(backend.Logs())
		_, span := remoteSpans(backend.Traces())["span after"]
		metric := remoteMetricNames(backend.Metrics())["metric.after"]
		if logs["log after"] > 0 && span && metric {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart the remote got log %v, span %v, metric %v; want all three", logs["log after"] > 0, span, metric)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if d.asUser {
		return
	}
	// The journal receiver reads on (entries read before the damage may be
	// gone with a damaged logs queue, or read again with a lost cursor).
	harness.WriteJournal(t, env["OTEL_AI_COLLECTOR_JOURNAL_DIR"], "system", []harness.JournalEntry{
		harness.SystemUnitEntry(time.Now(), "ws-journal", "otel-ai-collector.service", "otel-ai-collector", 17, 6, "journal after"),
	})
	deadline = time.Now().Add(30 * time.Second)
	for remoteLogCounts(backend.Logs())["journal after"] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a journal entry written after the restart never reached the remote")
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// stateFile finds the state file whose name starts with prefix.
func stateFile(t *testing.T, dir, prefix string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		if strings.HasPrefix(e.Name(), prefix) && !strings.Contains(e.Name(), ".damaged-") {
			return filepath.Join(dir, e.Name())
		}
	}
	t.Fatalf("no state file %s* in %s: %v", prefix, dir, names)
	return ""
}

// doctorShows runs `otel-ai-collector doctor` with the collector's
// environment and wants its damaged-state line to name the file.
func doctorShows(t *testing.T, opts harness.Options, file string) {
	t.Helper()
	cmd := exec.Command(binary, "doctor")
	cmd.Env = append(os.Environ(), "OTEL_AI_COLLECTOR_STATE_DIR="+opts.StateDir)
	for k, v := range opts.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, _ := cmd.CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "damaged state") {
			if !strings.Contains(line, "warn") || !strings.Contains(line, file) {
				t.Errorf("doctor: %s; want a warning naming %s", line, file)
			}
			return
		}
	}
	t.Errorf("doctor has no damaged state line:\n%s", out)
}

// sendAllSignals sends, tagged with when: an AI CLI's log record (monitor
// and remote), another service's log record, span and metric (remote).
func sendAllSignals(t *testing.T, c *harness.Collector, when string) {
	t.Helper()
	for _, l := range []struct{ service, body string }{
		{"claude-code", "claude_code.user_prompt " + when},
		{"my-daemon", "log " + when},
	} {
		if status, msg, err := harness.PostLogs(c.OTLPHTTPEndpoint, harness.NewLogs(l.service, l.body)); err != nil || status != http.StatusOK {
			t.Fatalf("log %q: %d %q %v", l.body, status, msg, err)
		}
	}
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "my-daemon")
	span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName("span " + when)
	span.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, byte(len(when))})
	span.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, byte(len(when))})
	now := time.Now()
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Millisecond)))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	traces, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	postOTLP(t, c.OTLPHTTPEndpoint+"/v1/traces", traces)

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "my-daemon")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("metric." + when)
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(pcommon.NewTimestampFromTime(now))
	dp.SetIntValue(1)
	metrics, _ := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	postOTLP(t, c.OTLPHTTPEndpoint+"/v1/metrics", metrics)
}

func remoteMetricNames(batches []pmetric.Metrics) map[string]bool {
	out := map[string]bool{}
	for _, md := range batches {
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					out[m.Name()] = true
				}
			}
		}
	}
	return out
}
