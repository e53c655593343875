package bench

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// BenchmarkProfileIngest pushes a real 10 s Go CPU profile (30 KB gzipped)
// to the built collector's pyroscope receiver from 4 concurrent clients for
// BENCH_PROFILE_DURATION (10s), the collector running the embedded profiling
// layer (persistent queue) and forwarding to a Pyroscope stand-in that only
// counts. Reports profiles/s accepted and delivered, the collector's CPU and
// peak RSS. -benchtime=1x. BENCH_PROFILE_INTERVAL (default 0) paces each
// client: with it the collector is not overloaded, so that its CPU per
// profile is not inflated by pushes it refuses when its queue is full.
func BenchmarkProfileIngest(b *testing.B) {
	raw, err := os.ReadFile("testdata/go-cpu-10s.pprof")
	if err != nil {
		b.Fatal(err)
	}
	var delivered atomic.Int64
	pyroscope := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		delivered.Add(1)
	}))
	b.Cleanup(pyroscope.Close)
	duration := envDuration(b, "BENCH_PROFILE_DURATION", 10*time.Second)
	interval := envDuration(b, "BENCH_PROFILE_INTERVAL", 0)

	for b.Loop() {
		ingest := harness.FreeAddr(b)
		c := harness.Start(b, binary, harness.Options{Env: map[string]string{
			"OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT":        pyroscope.URL,
			"OTEL_AI_COLLECTOR_PYROSCOPE_INGEST_ENDPOINT": ingest,
		}})
		cpuBefore, err := harness.ProcessCPU(c.Pid())
		if err != nil {
			b.Fatal(err)
		}
		rss := sample(c.Pid())
		delivered.Store(0)
		var accepted, refused atomic.Int64
		start := time.Now()
		deadline := start.Add(duration)
		var wg sync.WaitGroup
		for worker := range 4 {
			wg.Go(func() {
				client := &http.Client{}
				next := time.Now()
				for i := 0; time.Now().Before(deadline); i++ {
					if interval > 0 {
						time.Sleep(time.Until(next))
						next = next.Add(interval)
					}
					now := time.Now()
					url := "http://" + ingest + "/ingest?format=pprof&spyName=gospy&name=svc" + strconv.Itoa(worker) +
						"&from=" + strconv.FormatInt(now.UnixNano(), 10) + "&until=" + strconv.FormatInt(now.Add(10*time.Second).UnixNano(), 10)
					resp, err := client.Post(url, "application/octet-stream", bytes.NewReader(raw))
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						accepted.Add(1)
					} else {
						refused.Add(1)
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		// Let the queue drain before reading CPU, so that forwarding counts.
		drainDeadline := time.Now().Add(time.Minute)
		for delivered.Load() < accepted.Load() && time.Now().Before(drainDeadline) {
			time.Sleep(50 * time.Millisecond)
		}
		drained := time.Since(start)
		cpuAfter, err := harness.ProcessCPU(c.Pid())
		if err != nil {
			b.Fatal(err)
		}
		peak := rss.Stop()
		b.ReportMetric(float64(accepted.Load())/elapsed.Seconds(), "accepted_profiles/s")
		b.ReportMetric(float64(delivered.Load())/drained.Seconds(), "delivered_profiles/s")
		b.ReportMetric(float64(refused.Load()), "refused")
		b.ReportMetric(float64(delivered.Load())/float64(max(accepted.Load(), 1))*100, "delivered_%")
		b.ReportMetric((cpuAfter-cpuBefore).Seconds()/drained.Seconds(), "collector_cores")
		b.ReportMetric((cpuAfter-cpuBefore).Seconds()*1000/float64(max(delivered.Load(), 1)), "collector_cpu_ms/profile")
		b.ReportMetric((cpuAfter-cpuBefore).Seconds()*1000/float64(max(accepted.Load()+refused.Load(), 1)), "collector_cpu_ms/push")
		b.ReportMetric(float64(peak)/(1<<20), "peak_rss_MiB")
		c.Stop()
	}
}
