package integration

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

func TestHostMetricsReachPrometheusByRemoteWrite(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	prom := harness.StartPrometheus(t)
	backend := harness.StartBackend(t, binary)
	started := time.Now()
	c := harness.Start(t, binary, harness.Options{
		Args: []string{
			"--config", "embedded:default.yaml", "--config", "embedded:remote.yaml",
			"--config", "embedded:host-metrics.yaml", "--config", "embedded:remote-gateway.yaml",
			"--config", filepath.Join(root, "config/examples/remote-write-metrics.yaml"),
		},
		Env: map[string]string{
			"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT": harness.NewCountingSink(t).URL,
			"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT":  backend.URL,
			"OTEL_AI_COLLECTOR_REMOTE_WRITE_URL": prom.URL + "/api/v1/write",
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
		t.Logf("collector RSS with host metrics and remote write on: %.1f MiB", float64(rss)/(1<<20))
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
