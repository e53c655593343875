package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// BenchmarkAIPathUnderLoad measures the AI path while other OTLP traffic
// flows: 10k spans/s from a non-AI service (3 senders, 500 spans a request,
// as an SDK's batch span processor sends them) with the remote blackholed
// (accepts TCP, never answers, so everything piles up in the persistent
// queue), and AI log records sent one at a time with the OpenTelemetry Go
// SDK (one synchronous export each, 20 ms apart). Reported per run: AI record
// to otel-ai-monitor stand-in p50/p99/max, the collector's CPU per 1k spans
// of the other traffic, RSS idle and loaded.
//
// Two configurations of the same binary, alternated in rounds so both see
// the same machine: the embedded default, and bench/stock-components (the
// same two jobs with stock components only). Each runs on a quiet machine
// and with one core kept busy by an unrelated CPU burner (a shell loop).
// Each round starts a fresh collector per run.
//
// BENCH_AI_LOAD_ROUNDS (2), BENCH_AI_LOAD_RECORDS (300) and
// BENCH_AI_LOAD_THROUGHPUT (15s; 0 skips it) tune it. BENCH_AI_LOAD_PROFILE
// names a directory: the collector then runs with the pprof extension, and
// a CPU profile of the first 10 s of the loaded phase (while the AI records
// are sent) or of the throughput run, and a goroutine profile, are written
// there per run. The throughput part
// posts the same traffic unthrottled from 4 senders to a collector whose
// remote answers, and reports the spans/s it accepted.
func BenchmarkAIPathUnderLoad(b *testing.B) {
	stock, err := os.ReadFile("stock-components/config.yaml")
	if err != nil {
		b.Fatal(err)
	}
	configs := []distribution{
		{name: "default", binary: binary},
		{name: "stock", binary: binary, config: string(stock)},
	}
	rounds := envInt(b, "BENCH_AI_LOAD_ROUNDS", 2)
	records := envInt(b, "BENCH_AI_LOAD_RECORDS", 300)
	throughputFor := envDuration(b, "BENCH_AI_LOAD_THROUGHPUT", 15*time.Second)
	payload := otherTrafficPayload(b)

	for round := 1; round <= rounds; round++ {
		for _, burner := range []bool{false, true} {
			machine := "quiet"
			if burner {
				machine = "burner"
			}
			for _, d := range configs {
				b.Run(fmt.Sprintf("round=%d/machine=%s/config=%s", round, machine, d.name), func(b *testing.B) {
					if burner {
						stopBurner := startCPUBurner(b)
						defer stopBurner()
					}
					aiPathUnderLoad(b, d, payload, records)
				})
			}
		}
		if throughputFor > 0 {
			for _, d := range configs {
				b.Run(fmt.Sprintf("round=%d/throughput/config=%s", round, d.name), func(b *testing.B) {
					remote := harness.NewCountingSink(b)
					var c *harness.Collector
					profileDone := func() {}
					if dir := os.Getenv("BENCH_AI_LOAD_PROFILE"); dir != "" {
						var pprofAddr string
						c, pprofAddr = startWithPprof(b, d, harness.NewCountingSink(b).URL, remote.URL)
						profileDone = profile(b, pprofAddr, dir, b.Name())
					} else {
						c = d.start(b, harness.NewCountingSink(b).URL, remote.URL)
					}
					start := time.Now()
					accepted := send(b, c.OTLPHTTPEndpoint, payload, 0, 4, throughputFor)
					profileDone()
					b.ReportMetric(float64(accepted)/time.Since(start).Seconds(), "max-accepted-spans/s")
				})
			}
		}
	}
}

func aiPathUnderLoad(b *testing.B, d distribution, payload []byte, records int) {
	const rate = 10000 // spans per second of other traffic
	monitor := harness.NewSink(b)
	profileDir := os.Getenv("BENCH_AI_LOAD_PROFILE")
	var c *harness.Collector
	var pprofAddr string
	if profileDir != "" {
		c, pprofAddr = startWithPprof(b, d, monitor.URL, harness.Blackhole(b))
	} else {
		c = d.start(b, monitor.URL, harness.Blackhole(b))
	}
	time.Sleep(5 * time.Second)
	reportRSS(b, c.Pid(), "idle")

	ctx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var accepted int64
	cpuBefore, _ := harness.ProcessCPU(c.Pid())
	loadStart := time.Now()
	wg.Go(func() { accepted = sendUntil(ctx, b, c.OTLPHTTPEndpoint, payload, rate/spansPerRequest, 3) })
	time.Sleep(3 * time.Second) // the load reaches its steady state

	profileDone := func() {}
	if pprofAddr != "" {
		profileDone = profile(b, pprofAddr, profileDir, b.Name())
	}
	sdk := harness.NewSDK(b, harness.HTTP, c.OTLPHTTPEndpoint,
		attribute.String("service.name", "claude-code"), attribute.String("session.id", "bench-under-load"))
	latencies := make([]time.Duration, 0, records)
	for i := range records {
		body := fmt.Sprintf("claude_code.api_request %d", i)
		start := time.Now()
		sdk.EmitLog(context.Background(), body,
			log.String("event.name", "claude_code.api_request"),
			log.String("session.id", "bench-under-load"),
			log.String("model", "claude-sonnet-4-5"),
			log.String("duration_ms", "1200"),
			log.String("input_tokens", "1500"),
			log.String("output_tokens", "300"),
			log.String("cost_usd", "0.009"))
		arrived, err := waitArrival(context.Background(), monitor, body)
		if err != nil {
			b.Fatal(err)
		}
		latencies = append(latencies, arrived.Sub(start))
		time.Sleep(20 * time.Millisecond)
	}
	reportRSS(b, c.Pid(), "loaded")
	profileDone() // under load until the CPU profile's 10 s are over
	stopLoad()
	wg.Wait()
	cpuAfter, _ := harness.ProcessCPU(c.Pid())
	elapsed := time.Since(loadStart)

	reportPercentiles(b, "ai", latencies)
	b.ReportMetric(float64(maxDuration(latencies).Microseconds())/1000, "ai-max-ms")
	b.ReportMetric(float64(accepted)/elapsed.Seconds(), "other-spans/s")
	if accepted > 0 {
		b.ReportMetric((cpuAfter-cpuBefore).Seconds()*1000/(float64(accepted)/1000), "cpu-ms-per-1k-spans")
	}
}

// otherTrafficPayload is one OTLP/HTTP protobuf trace export of
// spansPerRequest server spans of a web service that is not an AI CLI.
func otherTrafficPayload(b *testing.B) []byte {
	return otherTrafficRequest(b, 0)
}

// otherTrafficRequest is otherTrafficPayload's n-th request: other ids,
// times and paths, as consecutive requests of a service have.
func otherTrafficRequest(b *testing.B, n int) []byte {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "my-web-app")
	rs.Resource().Attributes().PutStr("telemetry.sdk.language", "go")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	start := time.Now().Add(time.Duration(n) * 50 * time.Millisecond)
	for i := range spansPerRequest {
		span := spans.AppendEmpty()
		span.SetName("GET /api/items/{id}")
		span.SetKind(ptrace.SpanKindServer)
		span.SetTraceID(pcommon.TraceID{byte(i), byte(i >> 8), byte(n), byte(i * 7), 4, 5, 6, 7, 8, 9, byte(i * 13), 11, 12, 13, 14, 15})
		span.SetSpanID(pcommon.SpanID{byte(i), byte(i >> 8), byte(n), 3, 4, 5, 6, 7})
		at := start.Add(time.Duration(i) * 97 * time.Microsecond)
		span.SetStartTimestamp(pcommon.NewTimestampFromTime(at))
		span.SetEndTimestamp(pcommon.NewTimestampFromTime(at.Add(time.Duration(1+i%5) * time.Millisecond)))
		span.Attributes().PutStr("http.request.method", "GET")
		span.Attributes().PutStr("http.route", "/api/items/{id}")
		span.Attributes().PutInt("http.response.status_code", 200)
		span.Attributes().PutStr("url.path", fmt.Sprintf("/api/items/%d", n*spansPerRequest+i))
	}
	raw, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// startCPUBurner keeps one core busy with a process unrelated to the
// collector, as a build or a test run beside it would.
func startCPUBurner(b *testing.B) (stop func()) {
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	return func() { harness.Terminate(cmd, time.Second) }
}

// reportRSS reports a process's VmRSS and its anonymous part (RssAnon).
func reportRSS(b *testing.B, pid int, when string) {
	rss, err := harness.ProcessRSS(pid)
	if err != nil {
		b.Fatal(err)
	}
	anon, err := harness.ProcessRSSAnon(pid)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(rss)/(1<<20), "rss-"+when+"-MiB")
	b.ReportMetric(float64(anon)/(1<<20), "anon-"+when+"-MiB")
}

func maxDuration(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return n
}

// startWithPprof runs d with the pprof extension on a free port. The
// embedded default runs as its layers, as the harness's environment selects
// them (remote export and AI traces on, host metrics and journald off).
func startWithPprof(b *testing.B, d distribution, monitorURL, remoteURL string) (*harness.Collector, string) {
	addr := harness.FreeAddr(b)
	args := []string{}
	extensions := "[health_check, resilient_file_storage/queue, pprof]"
	if d.config == "" {
		for _, layer := range []string{"default.yaml", "remote.yaml", "ai-traces.yaml", "remote-gateway.yaml"} {
			args = append(args, "--config=embedded:"+layer)
		}
		extensions = "[health_check, zpages, resilient_file_storage/queue, pprof]"
	}
	args = append(args,
		"--config=yaml:extensions::pprof::endpoint: "+addr,
		"--config=yaml:service::extensions: "+extensions)
	c := harness.Start(b, d.binary, harness.Options{Config: d.config, Args: args, StopTimeout: time.Minute, Env: map[string]string{
		"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT": monitorURL,
		"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT":  remoteURL,
	}})
	return c, addr
}

// profile fetches a CPU profile of the next 10 s and, when done is called,
// a goroutine profile, into dir.
func profile(b *testing.B, addr, dir, name string) (done func()) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	base := filepath.Join(dir, strings.NewReplacer("/", "_", "=", "-").Replace(name))
	fetch := func(url, path string) {
		resp, err := http.Get(url)
		if err != nil {
			b.Errorf("pprof: %v", err)
			return
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			b.Error(err)
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { fetch("http://"+addr+"/debug/pprof/profile?seconds=10", base+".cpu.pprof") })
	return func() {
		fetch("http://"+addr+"/debug/pprof/goroutine", base+".goroutine.pprof")
		wg.Wait()
	}
}
