package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// A remote path that holds the receiver: an exporter with no sending queue
// to a remote that never answers, so every request waits out the timeout.
const stuckRemoteLayer = `
exporters:
  otlp_http/stuck:
    endpoint: %s
    timeout: 5s
    sending_queue: { enabled: false }
    retry_on_failure: { enabled: false }
service:
  pipelines:
    traces/export: { receivers: [forward/remote_traces], exporters: [otlp_http/stuck] }
    metrics/export: { receivers: [forward/remote_metrics], exporters: [otlp_http/stuck] }
    logs/export: { receivers: [forward/remote_logs], exporters: [otlp_http/stuck] }
`

// The AI path never waits behind the remote path: with the remote path
// stuck for 5 s per request, an AI record reaches otel-ai-monitor at once,
// while the request that carried it is still unanswered. The collector's
// own fan-out from a receiver calls pipelines in no defined order (it
// differs between starts), so the collector is started three times.
func TestAIPathDoesNotWaitForRemote(t *testing.T) {
	layer := writeLayer(t, fmt.Sprintf(stuckRemoteLayer, harness.Blackhole(t)))
	for start := range 3 {
		monitor := harness.NewSink(t)
		c := harness.Start(t, binary, harness.Options{Env: map[string]string{
			"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT": monitor.URL,
			"OTEL_AI_COLLECTOR_REMOTE_CONFIG":    layer,
		}})
		body := fmt.Sprintf("claude_code.user_prompt start %d", start)
		sent := time.Now()
		answered := make(chan time.Time, 1)
		go func() {
			_, _, _ = harness.PostLogs(c.OTLPHTTPEndpoint, harness.NewLogs("claude-code", body))
			answered <- time.Now()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var arrived time.Time
		_, err := monitor.WaitFor(ctx, func(reqs []harness.Request) bool {
			for _, r := range reqs {
				if r.Path == "/v1/logs" && r.Logs.LogRecordCount() > 0 &&
					r.Logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().AsString() == body {
					arrived = r.Received
					return true
				}
			}
			return false
		})
		cancel()
		if err != nil {
			t.Fatalf("start %d: the AI record never reached the monitor: %v", start, err)
		}
		answer := <-answered
		t.Logf("start %d: monitor had the record after %v; the request was answered after %v",
			start, arrived.Sub(sent).Round(time.Millisecond), answer.Sub(sent).Round(time.Millisecond))
		if arrived.Sub(sent) > time.Second || !arrived.Before(answer) {
			t.Errorf("start %d: the AI record reached the monitor %v after it was sent (answer after %v): "+
				"it waited behind the remote path", start, arrived.Sub(sent), answer.Sub(sent))
		}
		c.Stop()
	}
}

// writeLayer writes a configuration layer (e.g. for
// OTEL_AI_COLLECTOR_REMOTE_CONFIG) to a temporary file and returns its path.
func writeLayer(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "layer.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
