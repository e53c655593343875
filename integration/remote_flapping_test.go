package integration

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// The remote flaps through every way it can fail while records arrive
// steadily: 429 with Retry-After, 503, no answer until the exporter's 10 s
// timeout, a reset connection, and a 400 (a permanent refusal). Every record
// the collector acknowledged reaches the remote, except those the remote
// refused with 400, which the exporter drops at once: those, and only
// those, are counted (otelcol_exporter_send_failed_log_records) and said
// in the log. AI records reach the monitor all along.
func TestRemoteFlappingLosesOnlyWhatItRefused(t *testing.T) {
	monitor := harness.NewSink(t)
	remote := harness.NewSink(t)
	c := startWithRemote(t, monitor, remote.URL, harness.Options{})

	type phase struct {
		name       string
		status     int
		retryAfter time.Duration
		fault      harness.Fault
	}
	phases := []phase{
		{"200", http.StatusOK, 0, harness.NoFault},
		{"429 Retry-After 1s", http.StatusTooManyRequests, time.Second, harness.NoFault},
		{"503", http.StatusServiceUnavailable, 0, harness.NoFault},
		{"no answer", http.StatusOK, 0, harness.Hang},
		{"reset", http.StatusOK, 0, harness.Reset},
		{"400", http.StatusBadRequest, 0, harness.NoFault},
		{"200 again", http.StatusOK, 0, harness.NoFault},
	}
	var mu sync.Mutex
	var acked, ai []string
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			service, body := "my-daemon", fmt.Sprintf("flap-%04d", i)
			if i%10 == 0 {
				service, body = "claude-code", "ai-"+body
			}
			status, msg, err := harness.PostLogs(c.OTLPHTTPEndpoint, harness.NewLogs(service, body))
			if err != nil || status != http.StatusOK {
				t.Errorf("record %s: %d %q %v: the collector refused while its queue had room", body, status, msg, err)
				continue
			}
			mu.Lock()
			acked = append(acked, body)
			if service == "claude-code" {
				ai = append(ai, body)
			}
			mu.Unlock()
		}
	}()
	for _, p := range phases {
		before := len(remote.Requests())
		remote.SetStatus(p.status, p.retryAfter)
		remote.SetFault(p.fault)
		// Each answer meets at least one send of the queue (its retries
		// back off up to 60 s), and then records go on arriving for 2 s.
		met := time.Now().Add(90 * time.Second)
		for len(remote.Requests()) == before && time.Now().Before(met) {
			time.Sleep(100 * time.Millisecond)
		}
		if len(remote.Requests()) == before {
			t.Fatalf("phase %s: the remote got no request in 90 s", p.name)
		}
		time.Sleep(2 * time.Second)
	}
	close(stop)
	<-sent

	// Which records the remote refused with 400, and which it took.
	refused, delivered := map[string]bool{}, map[string]int{}
	bodies := func(r harness.Request) []string {
		var out []string
		for _, rl := range r.Logs.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					out = append(out, lr.Body().AsString())
				}
			}
		}
		return out
	}
	deadline := time.Now().Add(3 * time.Minute) // retries back off up to 60 s
	var missing []string
	for {
		for k := range delivered {
			delete(delivered, k)
		}
		for _, r := range remote.Requests() {
			if r.Path != "/v1/logs" {
				continue
			}
			for _, b := range bodies(r) {
				switch r.Status {
				case http.StatusOK:
					delivered[b]++
				case http.StatusBadRequest:
					refused[b] = true
				}
			}
		}
		missing = missing[:0]
		for _, b := range acked {
			if delivered[b] == 0 && !refused[b] {
				missing = append(missing, b)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d acknowledged records never reached the remote and were not refused by it, e.g. %s", len(missing), len(acked), missing[0])
	}
	duplicates := 0
	for _, n := range delivered {
		duplicates += max(n-1, 0)
	}
	if len(refused) == 0 {
		t.Fatal("the remote refused nothing with 400: the phase never met a batch")
	}
	for b := range refused {
		if delivered[b] > 0 {
			t.Errorf("record %s was refused with 400 and still delivered: a 400 is permanent, it must not be retried", b)
		}
	}
	dropped, err := c.Metric("otelcol_exporter_send_failed_log_records_total", `exporter="otlp_http/remote"`)
	if err != nil || int(dropped) < len(refused) {
		t.Errorf("send_failed counted %v (%v), want at least the %d records the remote refused", dropped, err, len(refused))
	}
	if !strings.Contains(c.Logs(), "Dropping data") && !strings.Contains(c.Logs(), "Exporting failed") {
		t.Error("the collector did not log the refused data")
	}

	// The monitor path never waited on the remote.
	got := map[string]bool{}
	for _, r := range logRecords(monitor.Requests()) {
		got[r.body] = true
	}
	for _, b := range ai {
		if !got[b] {
			t.Errorf("AI record %s did not reach the monitor", b)
		}
	}
	t.Logf("%d acknowledged (%d AI), %d delivered, %d refused with 400 (dropped, counted %v), %d duplicate deliveries, %d requests to the remote",
		len(acked), len(ai), len(delivered), len(refused), dropped, duplicates, len(remote.Requests()))
}

// Records whose timestamps jump far back or far ahead (a clock reset, a
// bad RTC after a power loss) are accepted and reach the remote and, for
// AI CLIs, the monitor with their timestamps unchanged; an AI session's
// events among them still make well-formed turn spans.
func TestTimestampsFarBackAndAhead(t *testing.T) {
	monitor := harness.NewSink(t)
	backend := harness.StartBackend(t, binary)
	c := startWithRemote(t, monitor, backend.URL, harness.Options{Env: map[string]string{
		// Prompts alone owe a model call: their turns end after these.
		"OTEL_AI_COLLECTOR_AI_TRACES_IDLE": "1s", "OTEL_AI_COLLECTOR_AI_TRACES_MODEL_CALL_TIMEOUT": "2s",
	}})

	times := map[string]time.Time{
		"epoch":  time.Unix(1, 0),
		"1990":   time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC),
		"2200":   time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC),
		"now":    time.Now(),
		"future": time.Now().Add(365 * 24 * time.Hour),
	}
	for name, at := range times {
		for _, service := range []string{"my-daemon", "claude-code"} {
			ld := harness.NewLogs(service, name+"-"+service)
			rec := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
			rec.SetTimestamp(pcommon.NewTimestampFromTime(at))
			if service == "claude-code" {
				// A Claude Code prompt of one session at each time.
				rec.Attributes().PutStr("event.name", "user_prompt")
				rec.Attributes().PutStr("session.id", "clock-jumps")
				rec.Attributes().PutStr("prompt.id", name)
				ld.ResourceLogs().At(0).ScopeLogs().At(0).Scope().SetName("com.anthropic.claude_code.events")
			}
			status, msg, err := harness.PostLogs(c.OTLPHTTPEndpoint, ld)
			if err != nil || status != http.StatusOK {
				t.Fatalf("%s %s: %d %q %v", name, service, status, msg, err)
			}
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		remote := map[string]time.Time{}
		for _, ld := range backend.Logs() {
			for _, rl := range ld.ResourceLogs().All() {
				for _, sl := range rl.ScopeLogs().All() {
					for _, lr := range sl.LogRecords().All() {
						remote[lr.Body().AsString()] = lr.Timestamp().AsTime()
					}
				}
			}
		}
		roots := rootCount(synthesized(backend.Traces()))
		if len(remote) == 2*len(times) && roots == len(times) {
			for name, at := range times {
				for _, service := range []string{"my-daemon", "claude-code"} {
					if got := remote[name+"-"+service]; !got.Equal(at) {
						t.Errorf("%s-%s reached the remote stamped %s, want %s", name, service, got, at)
					}
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the remote holds %d of %d records and %d of %d turn roots", len(remote), 2*len(times), roots, len(times))
		}
		time.Sleep(500 * time.Millisecond)
	}
	got := map[string]bool{}
	for _, r := range logRecords(monitor.Requests()) {
		got[r.body] = true
	}
	for name := range times {
		if !got[name+"-claude-code"] {
			t.Errorf("the AI record stamped %s did not reach the monitor", name)
		}
	}
}
