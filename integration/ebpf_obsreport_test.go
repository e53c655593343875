package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// startEBPFCollectorTo runs the collector with one ebpf_network receiver
// exporting to endpoint without queue or retries (an export error reaches
// the receiver), its own metrics on the harness's Prometheus port.
func startEBPFCollectorTo(t *testing.T, receiver, endpoint string) *harness.Collector {
	t.Helper()
	health := harness.FreeAddr(t)
	return harness.Start(t, binary, harness.Options{HealthEndpoint: health, Config: fmt.Sprintf(`
extensions:
  health_check: {endpoint: %s}
receivers:
  ebpf_network: %s
exporters:
  otlp_http: {endpoint: %s, encoding: json, compression: none, sending_queue: {enabled: false}, retry_on_failure: {enabled: false}}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      level: normal
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: ${env:OTEL_AI_COLLECTOR_METRICS_PORT}
                without_scope_info: true
  pipelines:
    traces: {receivers: [ebpf_network], exporters: [otlp_http]}
`, health, receiver, endpoint)})
}

// waitMetric polls the collector's metric until it reaches want.
func waitMetric(t *testing.T, c *harness.Collector, want float64, name string, labels ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := c.Metric(name, labels...)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			if resp, err := http.Get(c.MetricsEndpoint); err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				t.Logf("metrics:\n%s", body)
			}
			t.Fatalf("%s%v = %v (%v), want %v", name, labels, got, err, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func getN(t *testing.T, url string, n int) {
	t.Helper()
	client := &http.Client{}
	defer client.CloseIdleConnections()
	for range n {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// Spans the pipeline takes are counted in otelcol_receiver_accepted_spans,
// spans it turns away in otelcol_receiver_refused_spans, labelled with the
// receiver, as for stock receivers.
func TestEBPFAcceptedAndRefusedSpanCounters(t *testing.T) {
	requireRoot(t)
	port := harness.FreePort(t)
	startPython(t, "-c", keepAliveServer, fmt.Sprint(port))
	waitListening(t, port)
	receiver := fmt.Sprintf("{ports: [%d], refresh_interval: 500ms}", port)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	labels := []string{`receiver="ebpf_network"`, `transport="ebpf"`}

	sink := harness.NewSink(t)
	accepting := startEBPFCollectorTo(t, receiver, sink.URL)
	time.Sleep(time.Second)
	getN(t, url, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := sink.WaitFor(ctx, func([]harness.Request) bool { return len(tcpSpans(sink)) >= 5 }); err != nil {
		t.Fatalf("%v: got %d spans", err, len(tcpSpans(sink)))
	}
	waitMetric(t, accepting, 5, "otelcol_receiver_accepted_spans", labels...)
	waitMetric(t, accepting, 0, "otelcol_receiver_refused_spans", labels...)
	accepting.Stop()

	// Nothing takes the spans: every one is refused, none accepted.
	refusing := startEBPFCollectorTo(t, receiver, harness.RefusingURL(t))
	time.Sleep(time.Second)
	getN(t, url, 3)
	waitMetric(t, refusing, 3, "otelcol_receiver_refused_spans", labels...)
	waitMetric(t, refusing, 0, "otelcol_receiver_accepted_spans", labels...)
}
