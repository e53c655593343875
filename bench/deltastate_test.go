package bench

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/deltatocumulativeprocessor"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"
)

// BenchmarkDeltaState isolates the delta_to_cumulative processor's state
// from the traffic around it (BenchmarkDeltaStreams measures the whole
// process): the stock processor, configured as config/remote.yaml does,
// takes five export intervals of n token counter streams; the live heap
// after a GC, minus the live heap before, divided by n, is its memory per
// stream. Above max_streams the state stops growing.
func BenchmarkDeltaState(b *testing.B) {
	ctx := context.Background()
	factory := deltatocumulativeprocessor.NewFactory()
	for _, n := range []int{1000, 10000, 12000} {
		b.Run(fmt.Sprintf("streams-%d", n), func(b *testing.B) {
			cfg := factory.CreateDefaultConfig().(*deltatocumulativeprocessor.Config)
			cfg.MaxStreams, cfg.MaxStale = 10000, time.Hour
			// Decoded before measuring, so only the state is counted.
			start := time.Now()
			var exports []pmetric.Metrics
			for round := range 5 {
				payload := tokenStreams(n, pmetric.AggregationTemporalityDelta,
					start.Add(time.Duration(round)*time.Second), start.Add(time.Duration(round+1)*time.Second), round)
				md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(payload)
				if err != nil {
					b.Fatal(err)
				}
				exports = append(exports, md)
			}
			for range b.N {
				b.StopTimer()
				batches := make([]pmetric.Metrics, len(exports))
				for i, md := range exports {
					batches[i] = pmetric.NewMetrics()
					md.CopyTo(batches[i])
				}
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				b.StartTimer()
				p, err := factory.CreateMetrics(ctx, processortest.NewNopSettings(factory.Type()), cfg, consumertest.NewNop())
				if err != nil {
					b.Fatal(err)
				}
				for _, md := range batches {
					if err := p.ConsumeMetrics(ctx, md); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&after)
				// The batches were live in both measurements (the
				// processor rewrites their points in place).
				runtime.KeepAlive(batches)
				runtime.KeepAlive(p)
				state := float64(int64(after.HeapAlloc) - int64(before.HeapAlloc))
				b.ReportMetric(state/(1<<20), "state-MiB")
				b.ReportMetric(state/float64(min(n, cfg.MaxStreams)), "B/stream")
				b.StartTimer()
			}
		})
	}
}
