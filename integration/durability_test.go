package integration

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// remoteLogCounts counts how often each log body reached the backend.
func remoteLogCounts(batches []plog.Logs) map[string]int {
	counts := map[string]int{}
	for _, ld := range batches {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					counts[lr.Body().AsString()]++
				}
			}
		}
	}
	return counts
}

// waitDelivered waits until every acknowledged body reached the backend, then
// reports how many arrived more than once.
func waitDelivered(t *testing.T, backend *harness.Backend, acked []string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		counts := remoteLogCounts(backend.Logs())
		var missing []string
		duplicates := 0
		for _, body := range acked {
			switch n := counts[body]; {
			case n == 0:
				missing = append(missing, body)
			case n > 1:
				duplicates += n - 1
			}
		}
		if len(missing) == 0 {
			t.Logf("all %d acknowledged records delivered; %d duplicate deliveries (at-least-once)", len(acked), duplicates)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged records never reached the remote, e.g. %q", len(missing), len(acked), missing[0])
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// postAcked sends one record per request and returns the bodies the collector
// acknowledged with a 2xx; it fails the test on any other answer.
func postAcked(t *testing.T, c *harness.Collector, prefix string, n int, pause time.Duration) []string {
	t.Helper()
	var acked []string
	for i := range n {
		body := fmt.Sprintf("%s-%04d", prefix, i)
		status, msg, err := harness.PostLogs(c.OTLPHTTPEndpoint, harness.NewLogs("my-daemon", body))
		if err != nil || status != http.StatusOK {
			t.Fatalf("record %s: status %d %q, err %v", body, status, msg, err)
		}
		acked = append(acked, body)
		time.Sleep(pause)
	}
	return acked
}

// Everything acknowledged while the remote was down is delivered after it
// comes back. OTEL_AI_COLLECTOR_TEST_OUTAGE sets the outage length (default
// 2m).
func TestOutageThenRecovery(t *testing.T) {
	outage := 2 * time.Minute
	if v := os.Getenv("OTEL_AI_COLLECTOR_TEST_OUTAGE"); v != "" {
		var err error
		if outage, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	sink := harness.NewSink(t)
	backend := harness.StartBackend(t, binary)
	c := startWithRemote(t, sink, backend.URL, harness.Options{})

	acked := postAcked(t, c, "before", 20, 0)
	waitDelivered(t, backend, acked, 30*time.Second)

	backend.Stop()
	start := time.Now()
	pause := outage / 200
	acked = append(acked, postAcked(t, c, "during", 200, pause)...)
	time.Sleep(time.Until(start.Add(outage)))
	backend.Start()
	recovered := time.Now()

	// Retries back off up to 60 s between attempts.
	waitDelivered(t, backend, acked, 3*time.Minute)
	t.Logf("outage %v; everything delivered %v after recovery", outage.Round(time.Second), time.Since(recovered).Round(time.Second))
}

// kill -9 right after the last acknowledged request of a burst, with the
// remote down: a restart on the same state directory delivers everything.
func TestKill9AfterAcknowledgedBurst(t *testing.T) {
	sink := harness.NewSink(t)
	backend := harness.StartBackend(t, binary)
	backend.Stop()
	stateDir := t.TempDir()

	first := startWithRemote(t, sink, backend.URL, harness.Options{StateDir: stateDir})
	acked := postAcked(t, first, "burst", 350, 0)
	first.Kill()

	backend.Start()
	startWithRemote(t, sink, backend.URL, harness.Options{StateDir: stateDir})
	waitDelivered(t, backend, acked, 2*time.Minute)
}

// A full queue refuses new data with a retryable error, counts it, logs it,
// and the process stays up with bounded memory; the local AI path still
// delivers.
func TestQueueFullRefusesAndCounts(t *testing.T) {
	sink := harness.NewSink(t)
	c := startWithRemote(t, sink, harness.RefusingURL(t), harness.Options{Env: map[string]string{
		"OTEL_AI_COLLECTOR_REMOTE_QUEUE_BYTES": "65536",
	}})

	big := strings.Repeat("x", 4096)
	refusedStatus, refusedMsg := 0, ""
	for i := 0; i < 200 && refusedStatus == 0; i++ {
		status, msg, err := harness.PostLogs(c.OTLPHTTPEndpoint, harness.NewLogs("my-daemon", fmt.Sprintf("%d %s", i, big)))
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusOK {
			refusedStatus, refusedMsg = status, msg
		}
	}
	if refusedStatus != http.StatusServiceUnavailable && refusedStatus != http.StatusTooManyRequests {
		t.Fatalf("with a full queue the collector answered %d %q; want a retryable 503 or 429", refusedStatus, refusedMsg)
	}
	t.Logf("full queue answer: %d %s", refusedStatus, refusedMsg)

	failed, err := c.Metric("otelcol_exporter_enqueue_failed_log_records_total", `exporter="otlp_http/remote"`)
	if err != nil {
		t.Fatal(err)
	}
	if failed < 1 {
		t.Errorf("otelcol_exporter_enqueue_failed_log_records_total = %v, want > 0", failed)
	}
	ctx := withTimeout(t, 10*time.Second)
	if err := c.WaitForLog(ctx, "sending queue is full"); err != nil {
		t.Error(err)
	}

	// AI telemetry still reaches the monitor even though the remote refuses.
	status, _, err := harness.PostLogs(c.OTLPHTTPEndpoint, harness.NewLogs("claude-code", "claude_code.user_prompt while full"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.WaitFor(ctx, func(reqs []harness.Request) bool { return len(logRecords(reqs)) == 1 }); err != nil {
		t.Errorf("AI record did not reach the monitor while the remote queue was full (collector answered %d): %v", status, err)
	}
	if c.Exited() {
		t.Fatal("collector exited")
	}
	if rss, err := c.RSS(); err != nil || rss > 200<<20 {
		t.Errorf("RSS %d MiB (err %v), want bounded under 200 MiB", rss>>20, err)
	}
}
