package bench

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// BenchmarkLocalPathLatency measures, per AI log record sent with the
// OpenTelemetry Go SDK (one synchronous OTLP/HTTP export per record), the
// time until the otel-ai-monitor stand-in has received it: from the start of
// the export call (end to end) and from its return. The remote is healthy or
// blackholed (accepts TCP, never answers).
func BenchmarkLocalPathLatency(b *testing.B) {
	for _, d := range distributions(b) {
		for _, remote := range []string{"healthy", "blackholed"} {
			b.Run(fmt.Sprintf("dist=%s/remote=%s", d.name, remote), func(b *testing.B) {
				remoteURL := harness.NewCountingSink(b).URL
				if remote == "blackholed" {
					remoteURL = harness.Blackhole(b)
				}
				monitor := harness.NewSink(b)
				c := d.start(b, monitor.URL, remoteURL)
				sdk := harness.NewSDK(b, harness.HTTP, c.OTLPHTTPEndpoint,
					attribute.String("service.name", "claude-code"), attribute.String("session.id", "bench"))
				ctx := context.Background()

				endToEnd := make([]time.Duration, 0, b.N)
				fromReturn := make([]time.Duration, 0, b.N)
				b.ResetTimer()
				for i := range b.N {
					body := fmt.Sprintf("claude_code.api_request %d", i)
					start := time.Now()
					sdk.EmitLog(ctx, body, log.String("event.name", "api_request"))
					returned := time.Now()
					arrived, err := waitArrival(ctx, monitor, body)
					if err != nil {
						b.Fatal(err)
					}
					endToEnd = append(endToEnd, arrived.Sub(start))
					fromReturn = append(fromReturn, arrived.Sub(returned))
				}
				b.StopTimer()
				reportPercentiles(b, "e2e", endToEnd)
				reportPercentiles(b, "after-return", fromReturn)
			})
		}
	}
}

// waitArrival waits for the record with body at the sink and returns when
// the sink received it.
func waitArrival(ctx context.Context, sink *harness.Sink, body string) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var arrived time.Time
	_, err := sink.WaitFor(ctx, func(reqs []harness.Request) bool {
		for i := len(reqs) - 1; i >= 0; i-- {
			r := reqs[i]
			if r.Path != "/v1/logs" {
				continue
			}
			for _, rl := range r.Logs.ResourceLogs().All() {
				for _, sl := range rl.ScopeLogs().All() {
					for _, lr := range sl.LogRecords().All() {
						if lr.Body().AsString() == body {
							arrived = r.Received
							return true
						}
					}
				}
			}
		}
		return false
	})
	return arrived, err
}

func reportPercentiles(b *testing.B, name string, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	at := func(q float64) float64 {
		return float64(samples[int(q*float64(len(samples)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), name+"-p50-ms")
	b.ReportMetric(at(0.99), name+"-p99-ms")
}
