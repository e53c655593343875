package bench

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

const spansPerRequest = 500 // half from an AI CLI, half from another service

// loadPayload is one OTLP/HTTP protobuf trace export of spansPerRequest spans,
// shaped like a batch from the SDK's batch span processor.
func loadPayload(b *testing.B) []byte {
	td := ptrace.NewTraces()
	for _, service := range []string{"claude-code", "my-web-app"} {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", service)
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		now := time.Now()
		for i := range spansPerRequest / 2 {
			span := spans.AppendEmpty()
			span.SetName("claude_code.tool")
			span.SetTraceID(pcommon.TraceID{byte(i), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
			span.SetSpanID(pcommon.SpanID{byte(i), 1, 2, 3, 4, 5, 6, 7})
			span.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
			span.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
			span.Attributes().PutStr("tool.name", "Bash")
			span.Attributes().PutStr("gen_ai.request.model", "claude-sonnet-4-5")
			span.Attributes().PutStr("session.id", "bench-session")
		}
	}
	payload, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		b.Fatal(err)
	}
	return payload
}

func envDuration(b *testing.B, name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		return d
	}
	return def
}

// sampler records a process's peak RSS while it runs.
type sampler struct {
	pid  int
	stop chan struct{}
	done chan struct{}
	peak atomic.Int64
}

func sample(pid int) *sampler {
	s := &sampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			if rss, err := harness.ProcessRSS(pid); err == nil && rss > s.peak.Load() {
				s.peak.Store(rss)
			}
			select {
			case <-s.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *sampler) Stop() int64 { close(s.stop); <-s.done; return s.peak.Load() }

// BenchmarkSustainedLoad runs each distribution at a fixed span rate with
// both the monitor and the remote path active, then unthrottled, and reports
// throughput, delivery, CPU and memory. Run once per distribution
// (-benchtime=1x); BENCH_SPAN_RATE_DURATION sets the fixed-rate phase (30s).
func BenchmarkSustainedLoad(b *testing.B) {
	const rate = 10000 // spans per second
	duration := envDuration(b, "BENCH_LOAD_DURATION", 30*time.Second)
	payload := loadPayload(b)
	for _, d := range distributions(b) {
		b.Run("dist="+d.name, func(b *testing.B) {
			monitor := harness.NewCountingSink(b)
			remote := harness.NewCountingSink(b)
			c := d.start(b, monitor.URL, remote.URL)

			time.Sleep(10 * time.Second)
			idle, err := c.RSS()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(idle)/(1<<20), "idle-rss-MiB")

			// Fixed rate: 10k spans/s.
			peak := sample(c.Pid())
			cpuBefore, _ := harness.ProcessCPU(c.Pid())
			sent := send(b, c.OTLPHTTPEndpoint, payload, rate/spansPerRequest, 2, duration)
			cpuAfter, _ := harness.ProcessCPU(c.Pid())
			b.ReportMetric(float64(peak.Stop())/(1<<20), "rss-at-10k-MiB")
			b.ReportMetric((cpuAfter-cpuBefore).Seconds()/duration.Seconds(), "cpu-cores-at-10k")
			delivered := waitCount(remote, sent, 60*time.Second)
			b.ReportMetric(float64(delivered)/float64(sent), "remote-delivered-ratio")

			// Unthrottled: as fast as 4 senders get 2xx answers.
			before, _, _ := remote.Counts()
			start := time.Now()
			peak = sample(c.Pid())
			maxSent := send(b, c.OTLPHTTPEndpoint, payload, 0, 4, 15*time.Second)
			elapsed := time.Since(start)
			b.ReportMetric(float64(peak.Stop())/(1<<20), "rss-max-load-MiB")
			b.ReportMetric(float64(maxSent)/elapsed.Seconds(), "max-accepted-spans/s")
			delivered = waitCount(remote, before+maxSent, 120*time.Second) - before
			b.ReportMetric(float64(delivered)/float64(maxSent), "max-remote-delivered-ratio")
		})
	}
}

// send posts payload from workers goroutines for duration, at perSecond
// requests per second in total (0: as fast as answered), and returns the
// number of spans acknowledged with a 2xx.
func send(b *testing.B, endpoint string, payload []byte, perSecond, workers int, duration time.Duration) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	return sendUntil(ctx, b, endpoint, payload, perSecond, workers)
}

// sendUntil is send until ctx ends.
func sendUntil(ctx context.Context, b *testing.B, endpoint string, payload []byte, perSecond, workers int) int64 {
	var ticks <-chan time.Time
	if perSecond > 0 {
		ticker := time.NewTicker(time.Second / time.Duration(perSecond))
		defer ticker.Stop()
		ticks = ticker.C
	}
	client := &http.Client{Timeout: 10 * time.Second}
	var acked, refused atomic.Int64
	var mu sync.Mutex
	why := map[string]int{} // refusals by status, or "error"
	count := func(reason string) {
		refused.Add(1)
		mu.Lock()
		why[reason]++
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				if ticks != nil {
					select {
					case <-ticks:
					case <-ctx.Done():
						return
					}
				} else if ctx.Err() != nil {
					return
				}
				resp, err := client.Post(endpoint+"/v1/traces", "application/x-protobuf", bytes.NewReader(payload))
				if err != nil {
					count("error")
					continue
				}
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					acked.Add(spansPerRequest)
				} else {
					count(strconv.Itoa(resp.StatusCode))
				}
			}
		})
	}
	wg.Wait()
	if n := refused.Load(); n > 0 {
		b.Logf("%d requests refused or failed (by status: %v)", n, why)
	}
	return acked.Load()
}

// waitCount waits until the sink has received want spans (or timeout) and
// returns how many it has.
func waitCount(sink *harness.Sink, want int64, timeout time.Duration) int64 {
	deadline := time.Now().Add(timeout)
	for {
		spans, _, _ := sink.Counts()
		if spans >= want || time.Now().After(deadline) {
			return spans
		}
		time.Sleep(200 * time.Millisecond)
	}
}
