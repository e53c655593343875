package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// BenchmarkFsync measures what fsync on the persistent queues costs: the
// embedded default's layers with resilient_file_storage/queue's fsync
// false (shipped) and true, side by side in one run, alternated in rounds.
// Per configuration: the AI path under 10k spans/s of other traffic with
// the remote blackholed, so every request is a bbolt transaction that piles
// up (aiPathUnderLoad: AI record to monitor p50/p99, CPU per 1k spans), and
// the most spans/s the collector accepts with the remote answering (4
// senders, unthrottled). The state directory is the test's temporary
// directory: it must be on a real disk (fsync on tmpfs costs nothing).
//
// BENCH_AI_LOAD_ROUNDS (2), BENCH_AI_LOAD_RECORDS (300) and
// BENCH_AI_LOAD_THROUGHPUT (15s) tune it as for BenchmarkAIPathUnderLoad.
func BenchmarkFsync(b *testing.B) {
	layers := []string{}
	for _, layer := range []string{"default.yaml", "remote.yaml", "ai-traces.yaml", "remote-gateway.yaml"} {
		layers = append(layers, "--config=embedded:"+layer)
	}
	var configs []distribution
	for _, fsync := range []bool{false, true} {
		args := append(append([]string{}, layers...),
			fmt.Sprintf("--config=yaml:extensions::resilient_file_storage/queue::fsync: %v", fsync))
		configs = append(configs, distribution{name: fmt.Sprintf("fsync=%v", fsync), binary: binary, args: args})
	}
	rounds := envInt(b, "BENCH_AI_LOAD_ROUNDS", 2)
	records := envInt(b, "BENCH_AI_LOAD_RECORDS", 300)
	throughputFor := envDuration(b, "BENCH_AI_LOAD_THROUGHPUT", 15*time.Second)
	payload := otherTrafficPayload(b)
	for round := 1; round <= rounds; round++ {
		for _, d := range configs {
			b.Run(fmt.Sprintf("round=%d/ai-under-load/%s", round, d.name), func(b *testing.B) {
				aiPathUnderLoad(b, d, payload, records)
			})
		}
		for _, d := range configs {
			b.Run(fmt.Sprintf("round=%d/throughput/%s", round, d.name), func(b *testing.B) {
				remote := harness.NewCountingSink(b)
				c := d.start(b, harness.NewCountingSink(b).URL, remote.URL)
				start := time.Now()
				cpuBefore, _ := harness.ProcessCPU(c.Pid())
				accepted := send(b, c.OTLPHTTPEndpoint, payload, 0, 4, throughputFor)
				cpuAfter, _ := harness.ProcessCPU(c.Pid())
				b.ReportMetric(float64(accepted)/time.Since(start).Seconds(), "max-accepted-spans/s")
				if accepted > 0 {
					b.ReportMetric((cpuAfter-cpuBefore).Seconds()*1000/(float64(accepted)/1000), "cpu-ms-per-1k-spans")
				}
			})
		}
	}
}
