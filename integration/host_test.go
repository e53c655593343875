package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// Host metrics reach a real Prometheus 3 over its OTLP endpoint (the
// translation Mimir's /otlp runs) in direct mode, with the names and labels
// docs/host-telemetry.md and the host dashboard query.
func TestHostMetricsReachPrometheusOverOTLP(t *testing.T) {
	prom := harness.StartPrometheus3(t)
	backend := harness.StartBackend(t, binary)
	started := time.Now()
	c := harness.Start(t, binary, harness.Options{
		Args: []string{
			"--config", "embedded:default.yaml", "--config", "embedded:remote.yaml",
			"--config", "embedded:host-metrics.yaml",
			"--config", directLayer(t, prom.OTLPMetricsURL, backend.URL),
		},
		Env: map[string]string{
			"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT": harness.NewCountingSink(t).URL,
			"OTEL_AI_COLLECTOR_HOSTNAME":         "ws-host-test",
		},
	})

	deadline := time.Now().Add(60 * time.Second)
	for {
		series, err := prom.Query(`system_cpu_time_seconds_total{host_name="ws-host-test"}`)
		if err != nil {
			t.Fatal(err)
		}
		if len(series) > 0 {
			t.Logf("first host metric queryable in Prometheus %v after the collector started (default 15 s interval)",
				time.Since(started).Round(100*time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			names, _ := prom.MetricNames()
			t.Fatalf("no system_cpu_time_seconds_total for host_name=ws-host-test after 60s; metric names: %v", names)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The metrics docs/host-telemetry.md tells users to query, each with the
	// host's labels: host_name (resource attribute), instance (from
	// service.instance.id) and job (from service.name).
	for _, name := range []string{
		"system_cpu_time_seconds_total", "system_cpu_load_average_1m", "system_memory_usage_bytes",
		"system_disk_io_bytes_total", "system_filesystem_usage_bytes", "system_network_io_bytes_total",
		"system_paging_faults_total", "system_processes_count", "system_uptime_seconds",
	} {
		series, err := prom.Query(name + `{host_name="ws-host-test", instance="ws-host-test", job="host"}`)
		if err != nil {
			t.Fatal(err)
		}
		if len(series) == 0 {
			names, _ := prom.MetricNames()
			t.Errorf("%s: no series with the host's labels; Prometheus has %v", name, names)
		}
	}
	// The PromQL of docs/host-telemetry.md and the Grafana dashboard
	// answers with this host's series.
	for name, query := range hostDashboardQueries {
		series, err := prom.Query(strings.ReplaceAll(query, "$host", "ws-host-test"))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if len(series) == 0 {
			t.Errorf("%s: %q returned nothing", name, query)
		}
	}
	// Virtual and image filesystems are not reported.
	mounts, err := prom.Query(`count by (mountpoint, type) (system_filesystem_usage_bytes)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		switch m.Labels["type"] {
		case "proc", "sysfs", "tmpfs", "devtmpfs", "cgroup2", "squashfs", "overlay":
			t.Errorf("filesystem %s (%s) reported; virtual filesystems should be skipped", m.Labels["mountpoint"], m.Labels["type"])
		}
	}

	if rss, err := c.RSS(); err == nil {
		t.Logf("collector RSS with host metrics on: %.1f MiB", float64(rss)/(1<<20))
	}
}

// The embedded default with a remote turns host metrics on and sends them
// over OTLP with their resource attributes intact.
func TestEmbeddedDefaultSendsHostMetricsOverOTLP(t *testing.T) {
	backend := harness.StartBackend(t, binary)
	c := harness.Start(t, binary, harness.Options{Env: map[string]string{
		"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT": harness.NewCountingSink(t).URL,
		"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT":  backend.URL,
		"OTEL_AI_COLLECTOR_HOSTNAME":         "ws-host-test",
		"OTEL_AI_COLLECTOR_HOST_METRICS":     "on",
	}})
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, res, ok := metricNamed(backend.Metrics(), "system.cpu.time")
		if ok {
			if attr(res, "host.name") != "ws-host-test" || attr(res, "service.instance.id") != "ws-host-test" || attr(res, "service.name") != "host" {
				t.Errorf("OTLP host metrics resource %v", res.AsRaw())
			}
			if m.Sum().DataPoints().Len() == 0 {
				t.Error("system.cpu.time has no data points")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no system.cpu.time at the OTLP gateway")
		}
		time.Sleep(500 * time.Millisecond)
	}
	if rss, err := c.RSS(); err == nil {
		t.Logf("collector RSS with host metrics on: %.1f MiB", float64(rss)/(1<<20))
	}
}

// journalRecord is a log record the backend received from journald.
type journalRecord struct {
	body, severity, severityText, service, host, instance string
	attributes                                            map[string]any
}

func journalRecords(backend *harness.Backend) map[string][]journalRecord {
	out := map[string][]journalRecord{}
	for _, ld := range backend.Logs() {
		for _, rl := range ld.ResourceLogs().All() {
			res := rl.Resource().Attributes()
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					r := journalRecord{lr.Body().AsString(), lr.SeverityNumber().String(), lr.SeverityText(),
						attr(res, "service.name"), attr(res, "host.name"), attr(res, "service.instance.id"), lr.Attributes().AsRaw()}
					out[r.body] = append(out[r.body], r)
				}
			}
		}
	}
	return out
}

func waitJournal(t *testing.T, backend *harness.Backend, bodies ...string) map[string][]journalRecord {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := journalRecords(backend)
		missing := 0
		for _, b := range bodies {
			if len(got[b]) == 0 {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("journal entries %q not all delivered; backend has %v", bodies, keys(got))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The journal entries are shaped as journald writes them (see
// harness.UserUnitEntry): a user service's lines carry both _SYSTEMD_UNIT
// (user@1000.service) and _SYSTEMD_USER_UNIT.
func TestJournaldUnitsToRemote(t *testing.T) {
	journal := t.TempDir()
	at := time.Now().Add(-time.Minute)
	sec := func(n int) time.Time { return at.Add(time.Duration(n) * time.Second) }
	harness.WriteJournal(t, journal, "first", []harness.JournalEntry{
		harness.UserUnitEntry(sec(0), "ws-journal", 1000, "otel-ai-monitor.service", "otel-ai-monitor", 4242, 3, "widget update failed"),
		harness.SystemUnitEntry(sec(1), "ws-journal", "otel-ai-collector.service", "otel-ai-collector", 17, 6, "collector started"),
		harness.SystemUnitEntry(sec(2), "ws-journal", "sshd.service", "sshd", 801, 6, "accepted key for alice"),
		harness.UserUnitEntry(sec(3), "ws-journal", 1000, "otel-ai-monitor.service", "otel-ai-monitor", 4242, 7, "debug detail"),
		harness.SystemUnitEntry(sec(4), "ws-journal", "otel-ai-collector.service", "otel-ai-collector", 17, 4, "queue 80% full"),
		// Another user service under the same manager: same _SYSTEMD_UNIT,
		// not selected.
		harness.UserUnitEntry(sec(5), "ws-journal", 1000, "pipewire.service", "pipewire", 977, 3, "pipewire underrun"),
	})

	backend := harness.StartBackend(t, binary)
	stateDir := t.TempDir()
	opts := harness.Options{StateDir: stateDir, Env: map[string]string{
		"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT":  harness.NewCountingSink(t).URL,
		"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT":   backend.URL,
		"OTEL_AI_COLLECTOR_HOSTNAME":          "ws-collector",
		"OTEL_AI_COLLECTOR_JOURNALD":          "on",
		"OTEL_AI_COLLECTOR_JOURNAL_DIR":       journal,
		"OTEL_AI_COLLECTOR_JOURNALD_START_AT": "beginning",
	}}
	c := harness.Start(t, binary, opts)

	got := waitJournal(t, backend, "widget update failed", "collector started", "queue 80% full")
	time.Sleep(2 * time.Second) // room for wrongly selected entries to arrive
	got = journalRecords(backend)
	if len(got) != 3 {
		t.Errorf("backend got %v; want only the 3 entries of the selected units at info or above", keys(got))
	}
	for body, want := range map[string]journalRecord{
		"widget update failed": {severity: "Error", severityText: "error", service: "otel-ai-monitor.service",
			attributes: map[string]any{"systemd.user_unit": "otel-ai-monitor.service", "systemd.unit": "user@1000.service",
				"syslog.identifier": "otel-ai-monitor", "process.pid": "4242"}},
		"collector started": {severity: "Info", severityText: "info", service: "otel-ai-collector.service",
			attributes: map[string]any{"systemd.unit": "otel-ai-collector.service", "process.pid": "17"}},
		"queue 80% full": {severity: "Warn", severityText: "warn", service: "otel-ai-collector.service",
			attributes: map[string]any{"systemd.unit": "otel-ai-collector.service"}},
	} {
		if len(got[body]) != 1 {
			t.Errorf("%q delivered %d times, want once", body, len(got[body]))
			continue
		}
		r := got[body][0]
		// host.name and service.instance.id are both the journal's
		// _HOSTNAME, not the collector's hostname (ws-collector).
		if r.severity != want.severity || r.severityText != want.severityText || r.service != want.service ||
			r.host != "ws-journal" || r.instance != "ws-journal" {
			t.Errorf("%q: severity %s %q service.name %q host.name %q service.instance.id %q; want %s %q %q, both hosts ws-journal",
				body, r.severity, r.severityText, r.service, r.host, r.instance, want.severity, want.severityText, want.service)
		}
		for k, v := range want.attributes {
			if r.attributes[k] != v {
				t.Errorf("%q: attribute %s = %v, want %v (all: %v)", body, k, r.attributes[k], v, r.attributes)
			}
		}
	}

	// An entry written while the collector runs: end-to-end latency.
	written := time.Now()
	harness.WriteJournal(t, journal, "first", []harness.JournalEntry{
		harness.SystemUnitEntry(written, "ws-journal", "otel-ai-collector.service", "otel-ai-collector", 17, 6, "live entry"),
	})
	waitJournal(t, backend, "live entry")
	t.Logf("journal entry written to arrival at the remote: %v", time.Since(written).Round(10*time.Millisecond))

	// Restart on the same state directory: resumes after the last entry,
	// nothing re-sent, nothing skipped.
	c.Stop()
	harness.WriteJournal(t, journal, "first", []harness.JournalEntry{
		harness.SystemUnitEntry(time.Now(), "ws-journal", "otel-ai-collector.service", "otel-ai-collector", 17, 6, "after restart"),
	})
	harness.Start(t, binary, opts)
	waitJournal(t, backend, "after restart")
	time.Sleep(2 * time.Second)
	for body, records := range journalRecords(backend) {
		if len(records) != 1 {
			t.Errorf("%q delivered %d times across the restart, want once", body, len(records))
		}
	}
}

// Every journal priority gets its OpenTelemetry severity number and, as
// severity text, the level name Loki turns into detected_level (a digit
// would become detected_level="3").
func TestJournaldPriorityLevels(t *testing.T) {
	journal := t.TempDir()
	at := time.Now().Add(-time.Minute)
	want := []struct{ number, text string }{
		{"Fatal4", "fatal"}, {"Fatal3", "fatal"}, {"Fatal", "critical"}, {"Error", "error"},
		{"Warn", "warn"}, {"Info2", "info"}, {"Info", "info"}, {"Debug", "debug"},
	}
	var entries []harness.JournalEntry
	var bodies []string
	for prio := range want {
		body := fmt.Sprintf("priority %d line", prio)
		bodies = append(bodies, body)
		// System and user unit alike.
		entries = append(entries,
			harness.SystemUnitEntry(at.Add(time.Duration(prio)*time.Second), "ws-journal", "otel-ai-collector.service", "otel-ai-collector", 17, prio, body),
			harness.UserUnitEntry(at.Add(time.Duration(prio)*time.Second), "ws-journal", 1000, "otel-ai-monitor.service", "otel-ai-monitor", 4242, prio, body))
	}
	harness.WriteJournal(t, journal, "levels", entries)

	backend := harness.StartBackend(t, binary)
	harness.Start(t, binary, harness.Options{Env: map[string]string{
		"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT":  harness.NewCountingSink(t).URL,
		"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT":   backend.URL,
		"OTEL_AI_COLLECTOR_JOURNALD":          "on",
		"OTEL_AI_COLLECTOR_JOURNAL_DIR":       journal,
		"OTEL_AI_COLLECTOR_JOURNALD_START_AT": "beginning",
		"OTEL_AI_COLLECTOR_JOURNALD_PRIORITY": "debug",
	}})
	got := waitJournal(t, backend, bodies...)
	for prio, w := range want {
		records := got[bodies[prio]]
		services := map[string]bool{}
		for _, r := range records {
			services[r.service] = true
			if r.severity != w.number || r.severityText != w.text {
				t.Errorf("PRIORITY=%d (%s): severity %s %q, want %s %q", prio, r.service, r.severity, r.severityText, w.number, w.text)
			}
		}
		if len(records) != 2 || !services["otel-ai-collector.service"] || !services["otel-ai-monitor.service"] {
			t.Errorf("PRIORITY=%d: records %v, want one of each unit", prio, records)
		}
	}
}

// Without a readable journal the embedded default runs without journald
// logs and says once why and what to do: an empty journal directory is not a
// permission problem, so the warning must not send the user to the
// systemd-journal group.
func TestUnreadableJournalWarnsOnce(t *testing.T) {
	dir := t.TempDir()
	c := harness.Start(t, binary, harness.Options{Env: map[string]string{
		"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT": harness.NewCountingSink(t).URL,
		"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT":  harness.NewCountingSink(t).URL,
		"OTEL_AI_COLLECTOR_JOURNALD":         "on",
		"OTEL_AI_COLLECTOR_JOURNAL_DIR":      dir,
	}})
	const warning = "journald logs are off: there are no journal files to read: OTEL_AI_COLLECTOR_JOURNAL_DIR="
	if n := strings.Count(c.Logs(), warning); n != 1 {
		t.Errorf("warning %q printed %d times, want once:\n%s", warning, n, c.Logs())
	}
	if strings.Contains(c.Logs(), "systemd-journal group") {
		t.Error("the warning for an empty journal sends the user to the systemd-journal group")
	}
}

// hostDashboardQueries are the queries of docs/host-telemetry.md and
// docs/grafana/host-dashboard.json ($host is the dashboard variable). Rates
// need two samples, so they use instant values where the test has only one.
var hostDashboardQueries = map[string]string{
	"cpu busy":        `sum by (instance) (system_cpu_time_seconds_total{instance=~"$host", state!="idle"}) / sum by (instance) (system_cpu_time_seconds_total{instance=~"$host"})`,
	"memory used":     `sum by (instance) (system_memory_usage_bytes{instance=~"$host", state="used"}) / sum by (instance) (system_memory_usage_bytes{instance=~"$host"})`,
	"load 1m":         `system_cpu_load_average_1m{instance=~"$host"}`,
	"disk bytes":      `sum by (instance, direction) (system_disk_io_bytes_total{instance=~"$host"})`,
	"filesystem used": `sum by (instance, mountpoint) (system_filesystem_usage_bytes{instance=~"$host", state="used"}) / sum by (instance, mountpoint) (system_filesystem_usage_bytes{instance=~"$host"})`,
	"network bytes":   `sum by (instance, direction) (system_network_io_bytes_total{instance=~"$host", device!="lo"})`,
	"processes":       `sum by (instance, status) (system_processes_count{instance=~"$host"})`,
	"uptime":          `system_uptime_seconds{instance=~"$host"}`,
}
