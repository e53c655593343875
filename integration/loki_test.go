package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// lokiDirectLayer is a direct-mode layer as config/examples/remote-direct.yaml
// writes its Loki exporter, with the Loki stand-in as the endpoint; traces
// and metrics go nowhere.
const lokiDirectLayer = `
extensions:
  loki_partial_success: {}
exporters:
  otlp_http/loki:
    logs_endpoint: %s/otlp/v1/logs
    headers: { X-Scope-OrgID: workstations }
    middlewares: [{ id: loki_partial_success }]
    sending_queue:
      enabled: true
      storage: resilient_file_storage/queue
      sizer: bytes
      queue_size: 104857600
      num_consumers: 2
      block_on_overflow: false
      batch: { flush_timeout: 2s, sizer: items, min_size: 2048, max_size: 8192 }
    retry_on_failure: { enabled: true, initial_interval: 5s, max_interval: 60s, max_elapsed_time: 24h }
  nop: {}
service:
  extensions: [health_check, zpages, resilient_file_storage/queue, loki_partial_success]
  pipelines:
    traces/export: { receivers: [forward/remote_traces], exporters: [nop] }
    metrics/export: { receivers: [forward/remote_metrics], exporters: [nop] }
    logs/export: { receivers: [forward/remote_logs], exporters: [otlp_http/loki] }
`

const truncationMarker = " [truncated by otel-ai-collector]"

// lokiDocQueries are the LogQL examples of docs/host-telemetry.md, each with
// the journal lines it returns from the test's journal.
var lokiDocQueries = map[string][]string{
	`{service_name="otel-ai-monitor.service"}`:                                                             {"widget update failed"},
	`{service_name="otel-ai-monitor.service"} | detected_level="error"`:                                    {"widget update failed"},
	`{service_name="otel-ai-collector.service", service_instance_id="ws-journal"} | detected_level="warn"`: {"queue 80% full"},
	`{service_name="otel-ai-collector.service"} | host_name="ws-journal" | severity_text="info"`:           {"collector started", "big line"},
	`{service_name="otel-ai-collector.service"} |= "[truncated by otel-ai-collector]"`:                     {"big line"},
}

// Journal entries as journald writes them, through the binary in direct
// mode to a stand-in for Loki's /otlp endpoint: what Loki stores, the
// queries the docs give, a line over Loki's limit, and a batch Loki accepts
// only in part.
func TestJournaldToLokiDirect(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	journal := t.TempDir()
	at := time.Now().Add(-time.Minute)
	sec := func(n int) time.Time { return at.Add(time.Duration(n) * time.Second) }
	big := "big line " + strings.Repeat("0123456789abcdef", 300<<10/16) // 300 KiB
	// journald splits stdout lines at LineMax (48K by default); longer
	// entries come by the native protocol (sd_journal_send).
	bigEntry := harness.SystemUnitEntry(sec(3), "ws-journal", "otel-ai-collector.service", "otel-ai-collector", 17, 6, big)
	bigEntry.Fields["_TRANSPORT"] = "journal"
	delete(bigEntry.Fields, "_STREAM_ID")
	harness.WriteJournal(t, journal, "system", []harness.JournalEntry{
		// Older than Loki's reject_old_samples_max_age (7 days): Loki
		// refuses it and stores the rest of its batch.
		harness.SystemUnitEntry(at.Add(-8*24*time.Hour), "ws-journal", "otel-ai-collector.service", "otel-ai-collector", 17, 3, "stale entry"),
		harness.UserUnitEntry(sec(0), "ws-journal", 1000, "otel-ai-monitor.service", "otel-ai-monitor", 4242, 3, "widget update failed"),
		harness.SystemUnitEntry(sec(1), "ws-journal", "otel-ai-collector.service", "otel-ai-collector", 17, 6, "collector started"),
		harness.SystemUnitEntry(sec(2), "ws-journal", "otel-ai-collector.service", "otel-ai-collector", 17, 4, "queue 80% full"),
		bigEntry,
	})

	loki := harness.StartLoki(t)
	layer := writeLayer(t, fmt.Sprintf(lokiDirectLayer, loki.URL))
	c := harness.Start(t, binary, harness.Options{Env: map[string]string{
		"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT":  harness.NewCountingSink(t).URL,
		"OTEL_AI_COLLECTOR_REMOTE_CONFIG":     layer,
		"OTEL_AI_COLLECTOR_HOSTNAME":          "ws-collector",
		"OTEL_AI_COLLECTOR_JOURNALD":          "on",
		"OTEL_AI_COLLECTOR_JOURNAL_DIR":       journal,
		"OTEL_AI_COLLECTOR_JOURNALD_START_AT": "beginning",
	}})

	lines := func() map[string]harness.LokiEntry {
		out := map[string]harness.LokiEntry{}
		for _, e := range loki.Entries() {
			key := e.Line
			if strings.HasPrefix(key, "big line ") {
				key = "big line"
			}
			out[key] = e
		}
		return out
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := lines()
		if len(got) >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Loki stored %v after 30s; answers %v", keys(got), loki.Answers())
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)
	got := lines()
	if _, ok := got["stale entry"]; ok || len(got) != 4 {
		t.Errorf("Loki stored %v; want the 4 recent entries", keys(got))
	}

	// Streams: service_name is the unit, service_instance_id the journal's
	// host; host_name and the level are structured metadata.
	e := got["widget update failed"]
	if fmt.Sprint(e.Stream) != fmt.Sprint(map[string]string{"service_instance_id": "ws-journal", "service_name": "otel-ai-monitor.service"}) {
		t.Errorf("user unit's stream %v", e.Stream)
	}
	if e.Metadata["host_name"] != "ws-journal" || e.Metadata["severity_text"] != "error" || e.Metadata["detected_level"] != "error" ||
		e.Metadata["systemd_user_unit"] != "otel-ai-monitor.service" || e.Metadata["systemd_unit"] != "user@1000.service" {
		t.Errorf("user unit's structured metadata %v", e.Metadata)
	}

	// The line over Loki's limit arrives cut to the limit, with the marker.
	if b, ok := got["big line"]; ok {
		if len(b.Line) != 256<<10 || !strings.HasSuffix(b.Line, truncationMarker) || !strings.HasPrefix(big, strings.TrimSuffix(b.Line, truncationMarker)) {
			t.Errorf("long line stored with %d bytes, ending %q; want %d bytes, the start of the line and the marker",
				len(b.Line), b.Line[max(0, len(b.Line)-40):], 256<<10)
		}
	}

	// The stale entry's batch: Loki stored the others and answered 400
	// naming the refused entry. loki_partial_success makes that the
	// partial success it is: the exporter logs one record dropped with
	// Loki's message, and counts none of that request as failed.
	refusal := `entry for stream '{service_instance_id=\"ws-journal\", service_name=\"otel-ai-collector.service\"}' has timestamp too old`
	var partial *harness.LokiAnswer
	for _, a := range loki.Answers() {
		if a.Status == 400 && strings.Contains(a.Message, strings.ReplaceAll(refusal, `\"`, `"`)) {
			partial = &a
		}
	}
	if partial == nil {
		t.Fatalf("no 400 from Loki naming the stale entry; answers %v", loki.Answers())
	}
	t.Logf("Loki answered 400 and stored %d entries of the batch: %s", partial.Stored, partial.Message)
	if partial.Stored != 4 {
		t.Errorf("Loki stored %d entries of the request it answered 400; want 4 (the test's batch of 5, one stale)", partial.Stored)
	}
	var line string
	for end := time.Now().Add(10 * time.Second); line == "" && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		for _, l := range strings.Split(c.Logs(), "\n") {
			if strings.Contains(l, "Partial success response") && strings.Contains(l, "otlp_http/loki") {
				line = l
			}
		}
	}
	t.Logf("exporter: %s", line)
	if !strings.Contains(line, `"dropped_log_records": 1`) || !strings.Contains(line, refusal) {
		t.Errorf("the exporter's log has no partial success line with 1 dropped and Loki's message naming the refused entry (%s); log:\n%s", refusal, c.Logs())
	}
	for _, l := range strings.Split(c.Logs(), "\n") {
		if strings.Contains(l, "Dropping data") && strings.Contains(l, "otlp_http/loki") {
			t.Errorf("the Loki exporter reports a request as dropped: %s", l)
		}
	}
	ext := ""
	for _, l := range strings.Split(c.Logs(), "\n") {
		if strings.Contains(l, "as an OTLP partial success") {
			ext = l
		}
	}
	t.Logf("extension: %s", ext)
	if !strings.Contains(ext, `"refused_log_records": 1`) || !strings.Contains(ext, `"log_records": 5`) || !strings.Contains(ext, refusal) {
		t.Errorf("loki_partial_success logged %q; want its warning with 1 of 5 refused and Loki's message", ext)
	}
	// The exporter's counters follow the export's return; poll for them.
	var refused, failed, sent float64
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		refused, err = c.Metric("otelcol_extension_loki_partial_success_refused_log_records_total")
		if err == nil {
			failed, err = c.Metric("otelcol_exporter_send_failed_log_records_total", `exporter="otlp_http/loki"`)
		}
		if err == nil {
			sent, err = c.Metric("otelcol_exporter_sent_log_records_total", `exporter="otlp_http/loki"`)
		}
		if err == nil && refused == 1 && sent == 5 {
			break
		}
	}
	t.Logf("otelcol_extension_loki_partial_success_refused_log_records_total %.0f, otelcol_exporter_send_failed_log_records_total %.0f, otelcol_exporter_sent_log_records_total %.0f (err %v)",
		refused, failed, sent, err)
	if refused != 1 || failed != 0 || sent != 5 {
		t.Errorf("refused %.0f, send_failed %.0f, sent %.0f; want 1 refused, none failed, the 5 of the request sent", refused, failed, sent)
	}

	// An application's log over OTLP takes the same limit, cut at a
	// character boundary; its stream gets the collector's hostname as
	// service_instance_id, which Loki indexes.
	app := strings.Repeat("é", 150<<10) // 300 KiB of two-byte characters
	if code, body, err := harness.PostLogs(c.OTLPHTTPEndpoint, harness.NewLogs("demo-app", app)); err != nil || code != 200 {
		t.Fatalf("POST logs: %d %s %v", code, body, err)
	}
	var appEntry *harness.LokiEntry
	for end := time.Now().Add(15 * time.Second); appEntry == nil && time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		for _, e := range loki.Entries() {
			if e.Stream["service_name"] == "demo-app" {
				appEntry = &e
			}
		}
	}
	switch {
	case appEntry == nil:
		t.Errorf("the application's long log never reached Loki; answers %v", loki.Answers())
	case len(appEntry.Line) > 256<<10 || len(appEntry.Line) < 256<<10-1 || !utf8.ValidString(appEntry.Line) ||
		!strings.HasSuffix(appEntry.Line, truncationMarker):
		t.Errorf("application log stored with %d bytes (valid UTF-8: %v); want at most %d, whole characters, the marker",
			len(appEntry.Line), utf8.ValidString(appEntry.Line), 256<<10)
	case fmt.Sprint(appEntry.Stream) != fmt.Sprint(map[string]string{"service_instance_id": "ws-collector", "service_name": "demo-app"}) ||
		appEntry.Metadata["host_name"] != "ws-collector":
		t.Errorf("application log's stream %v, host_name %q", appEntry.Stream, appEntry.Metadata["host_name"])
	}

	// The LogQL of docs/host-telemetry.md, exactly, each returning its lines.
	doc, err := os.ReadFile(filepath.Join(root, "docs/host-telemetry.md"))
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, block := range regexp.MustCompile("(?s)```logql\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		for _, line := range strings.Split(block[1], "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				documented = append(documented, line)
			}
		}
	}
	want := keys(lokiDocQueries)
	sort.Strings(want)
	sort.Strings(documented)
	if !slices.Equal(documented, want) {
		t.Errorf("docs/host-telemetry.md's LogQL %q, the test runs %q", documented, want)
	}
	for q, bodies := range lokiDocQueries {
		res, err := loki.Query(q)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		var lines []string
		for _, e := range res {
			if strings.HasPrefix(e.Line, "big line ") {
				lines = append(lines, "big line")
			} else {
				lines = append(lines, e.Line)
			}
		}
		sort.Strings(lines)
		sort.Strings(bodies)
		if !slices.Equal(lines, bodies) {
			t.Errorf("%s returned %q, want %q", q, lines, bodies)
		}
	}
}

// A refusal that stands for a whole stream (more label names than Loki's
// max_label_names_per_series) does not say how many entries were lost:
// loki_partial_success passes Loki's 400 on, the exporter reports the whole
// request as dropped, and the extension's warning says Loki may have stored
// part of it (here the other stream's 3 entries).
func TestLokiStreamRefusalIsNotCounted(t *testing.T) {
	loki := harness.StartLoki(t)
	layer := writeLayer(t, fmt.Sprintf(lokiDirectLayer, loki.URL))
	c := harness.Start(t, binary, harness.Options{Env: map[string]string{
		"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT": harness.NewCountingSink(t).URL,
		"OTEL_AI_COLLECTOR_REMOTE_CONFIG":    layer,
		"OTEL_AI_COLLECTOR_HOSTNAME":         "ws-collector",
	}})

	logs := harness.NewLogs("wide-app", "w1", "w2")
	attrs := logs.ResourceLogs().At(0).Resource().Attributes()
	for _, k := range []string{"service.namespace", "service.instance.id", "deployment.environment", "deployment.environment.name",
		"cloud.region", "cloud.availability_zone", "k8s.cluster.name", "k8s.namespace.name", "k8s.pod.name", "k8s.container.name",
		"container.name", "k8s.replicaset.name", "k8s.deployment.name", "k8s.statefulset.name", "k8s.daemonset.name", "k8s.cronjob.name"} {
		attrs.PutStr(k, "x") // 16 index labels besides service.name; Loki's limit is 15
	}
	harness.NewLogs("narrow-app", "n1", "n2", "n3").ResourceLogs().At(0).CopyTo(logs.ResourceLogs().AppendEmpty())
	if code, body, err := harness.PostLogs(c.OTLPHTTPEndpoint, logs); err != nil || code != 200 {
		t.Fatalf("POST logs: %d %s %v", code, body, err)
	}

	var answer *harness.LokiAnswer
	for end := time.Now().Add(15 * time.Second); answer == nil && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		for _, a := range loki.Answers() {
			if a.Status == 400 {
				answer = &a
			}
		}
	}
	if answer == nil || answer.Stored != 3 || !strings.Contains(answer.Message, "has 16 label names; limit 15") {
		t.Fatalf("Loki's answers %v; want a 400 refusing the wide stream, 3 entries stored", loki.Answers())
	}
	t.Logf("Loki answered 400 and stored %d entries of the batch: %s", answer.Stored, answer.Message)

	var warn, drop string
	for end := time.Now().Add(10 * time.Second); (warn == "" || drop == "") && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		for _, l := range strings.Split(c.Logs(), "\n") {
			switch {
			case strings.Contains(l, "may have stored part of it"):
				warn = l
			case strings.Contains(l, "Dropping data") && strings.Contains(l, "otlp_http/loki"):
				drop = l
			}
		}
	}
	t.Logf("extension: %s", warn)
	t.Logf("exporter: %s", drop)
	if !strings.Contains(warn, "has 16 label names; limit 15") || !strings.Contains(warn, "loki_partial_success") {
		t.Errorf("no warning from loki_partial_success with Loki's message; log:\n%s", c.Logs())
	}
	if !strings.Contains(drop, `"dropped_items": 5`) || strings.Contains(c.Logs(), "Partial success response") {
		t.Errorf("the exporter did not report the whole request of 5 as dropped, or reported a partial success; log:\n%s", c.Logs())
	}
	var failed float64
	var err error
	for end := time.Now().Add(5 * time.Second); failed == 0 && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		failed, err = c.Metric("otelcol_exporter_send_failed_log_records_total", `exporter="otlp_http/loki"`)
	}
	refused, err2 := c.Metric("otelcol_extension_loki_partial_success_refused_log_records_total")
	if err != nil || err2 != nil || failed != 5 || refused != 0 {
		t.Errorf("send_failed %.0f (%v), refused %.0f (%v); want 5 failed, none counted as refused", failed, err, refused, err2)
	}
}
