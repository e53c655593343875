package harness

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Backend is a second collector process standing in for the remote gateway:
// it receives OTLP/HTTP and writes what it got to one JSON-lines file per
// signal with the stock file exporter.
type Backend struct {
	URL string // OTLP/HTTP base URL

	t       testing.TB
	binary  string
	dir     string
	config  string
	health  string
	process *Collector
}

// StartBackend starts a backend on a free loopback port.
func StartBackend(t testing.TB, binary string) *Backend {
	t.Helper()
	b := &Backend{t: t, binary: binary, dir: t.TempDir(), health: FreeAddr(t)}
	addr := FreeAddr(t)
	b.URL = "http://" + addr
	b.config = fmt.Sprintf(`
extensions:
  health_check:
    endpoint: %[1]s
receivers:
  otlp:
    protocols:
      http:
        endpoint: %[2]s
exporters:
  file/traces: {path: %[3]s/traces.jsonl, append: true, flush_interval: 100ms}
  file/metrics: {path: %[3]s/metrics.jsonl, append: true, flush_interval: 100ms}
  file/logs: {path: %[3]s/logs.jsonl, append: true, flush_interval: 100ms}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      level: none
  pipelines:
    traces: {receivers: [otlp], exporters: [file/traces]}
    metrics: {receivers: [otlp], exporters: [file/metrics]}
    logs: {receivers: [otlp], exporters: [file/logs]}
`, b.health, addr, b.dir)
	b.Start()
	return b
}

// Start (re)starts the backend process on the same port and files.
func (b *Backend) Start() {
	b.t.Helper()
	b.process = Start(b.t, b.binary, Options{Config: b.config, HealthEndpoint: b.health})
}

// Stop shuts the backend down; its port refuses connections until Start.
func (b *Backend) Stop() { b.process.Stop() }

// Traces returns every trace batch the backend has written so far.
func (b *Backend) Traces() []ptrace.Traces {
	return readBatches(b, "traces.jsonl", (&ptrace.JSONUnmarshaler{}).UnmarshalTraces)
}

// Metrics returns every metrics batch the backend has written so far.
func (b *Backend) Metrics() []pmetric.Metrics {
	return readBatches(b, "metrics.jsonl", (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics)
}

// Logs returns every log batch the backend has written so far.
func (b *Backend) Logs() []plog.Logs {
	return readBatches(b, "logs.jsonl", (&plog.JSONUnmarshaler{}).UnmarshalLogs)
}

func readBatches[T any](b *Backend, name string, unmarshal func([]byte) (T, error)) []T {
	var out []T
	b.readLines(name, func(line []byte) error {
		batch, err := unmarshal(line)
		out = append(out, batch)
		return err
	})
	return out
}

// readLines decodes complete lines only: the file exporter may be mid-write.
func (b *Backend) readLines(name string, decode func([]byte) error) {
	f, err := os.Open(filepath.Join(b.dir, name))
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		b.t.Fatal(err)
	}
	defer f.Close()
	reader := bufio.NewReader(f)
	for {
		line, err := reader.ReadBytes('\n')
		if err != nil {
			return // EOF, or a partial last line still being written
		}
		if err := decode(line); err != nil {
			b.t.Fatalf("backend %s: undecodable line: %v", name, err)
		}
	}
}
