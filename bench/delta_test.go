package bench

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// BenchmarkDeltaStreams measures what the delta_to_cumulative processor's
// state costs: the collector's memory after it took several export intervals
// of N Claude-Code-shaped token counter streams, delta (state held per
// stream) side by side with the same streams cumulative (passed through, no
// state), and with no metrics at all, in one run. The embedded default with
// a remote (gateway mode, to a counting sink) runs each case in a fresh
// process.
func BenchmarkDeltaStreams(b *testing.B) {
	const rounds = 5
	for _, tc := range []struct {
		name        string
		streams     int
		temporality pmetric.AggregationTemporality
	}{
		{"none", 0, pmetric.AggregationTemporalityDelta},
		{"cumulative-1k", 1000, pmetric.AggregationTemporalityCumulative},
		{"delta-1k", 1000, pmetric.AggregationTemporalityDelta},
		{"cumulative-10k", 10000, pmetric.AggregationTemporalityCumulative},
		{"delta-10k", 10000, pmetric.AggregationTemporalityDelta},
		// Above max_streams (10000 by default): the state stops growing,
		// the excess streams' points are dropped and counted.
		{"delta-12k", 12000, pmetric.AggregationTemporalityDelta},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				sink := harness.NewCountingSink(b)
				c := harness.Start(b, binary, harness.Options{Env: map[string]string{
					"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT": harness.NewCountingSink(b).URL,
					"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT":  sink.URL,
				}})
				start := time.Now()
				for round := range rounds {
					if tc.streams == 0 {
						break
					}
					at := start.Add(time.Duration(round+1) * time.Second)
					prev := start.Add(time.Duration(round) * time.Second)
					if tc.temporality == pmetric.AggregationTemporalityCumulative {
						prev = start
					}
					post(b, c.OTLPHTTPEndpoint+"/v1/metrics", tokenStreams(tc.streams, tc.temporality, prev, at, round))
				}
				// Let the queue send and the runtime settle.
				time.Sleep(5 * time.Second)
				rss, err := c.RSS()
				if err != nil {
					b.Fatal(err)
				}
				heap, err := c.Metric("otelcol_process_runtime_heap_alloc_bytes")
				if err != nil {
					b.Fatal(err)
				}
				tracked, err := c.Metric("otelcol_deltatocumulative_streams_tracked")
				if err != nil {
					b.Fatal(err)
				}
				dropped, err := c.Metric("otelcol_deltatocumulative_datapoints_total", `error="limit"`)
				if err != nil {
					b.Fatal(err)
				}
				_, points, _ := sink.Counts()
				b.ReportMetric(float64(rss)/(1<<20), "RSS-MiB")
				b.ReportMetric(heap/(1<<20), "heap-MiB")
				b.ReportMetric(tracked, "streams-tracked")
				b.ReportMetric(float64(points), "points-delivered")
				b.ReportMetric(dropped, "points-dropped-limit")
				c.Stop()
			}
		})
	}
}

// tokenStreams is one export of n claude_code.token.usage streams (one per
// session.id, as many sessions' counters would be), each point covering
// (start, at].
func tokenStreams(n int, temporality pmetric.AggregationTemporality, start, at time.Time, round int) []byte {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "claude-code")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("claude_code.token.usage")
	m.SetUnit("tokens")
	sum := m.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(temporality)
	for i := range n {
		dp := sum.DataPoints().AppendEmpty()
		dp.Attributes().PutStr("session.id", fmt.Sprintf("session-%05d", i))
		dp.Attributes().PutStr("model", "claude-sonnet-4-5")
		dp.Attributes().PutStr("type", "input")
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(at))
		if temporality == pmetric.AggregationTemporalityCumulative {
			dp.SetDoubleValue(float64(100 * (round + 1)))
		} else {
			dp.SetDoubleValue(100)
		}
	}
	payload, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	if err != nil {
		panic(err)
	}
	return payload
}

func post(b *testing.B, url string, payload []byte) {
	resp, err := http.Post(url, "application/x-protobuf", bytes.NewReader(payload))
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("POST %s: %s", url, resp.Status)
	}
}
