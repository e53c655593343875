package bench

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// BenchmarkEBPFProfilingCost runs the embedded default with profiling on
// and 10 busy processes (uniquely named copies of bench/cpuburner, each 10 %
// of a core), side by side in one run: "sdk-only" (the profiling layer
// alone) and "ebpf" (OTEL_AI_COLLECTOR_PROFILING=ebpf: the eBPF profiler at
// 20 Hz into the same pipeline). After BENCH_EBPF_PROFILING_WARMUP (20s) it
// measures for BENCH_EBPF_PROFILING_DURATION (60s) the collector's CPU and
// RSS and the pushes Pyroscope (the stand-in) stored: all, and per burner
// service per 15 s report interval, and the machine's new processes per
// second (the profiler analyses every new executable). Needs root; tracefs is mounted in a
// private mount namespace where it is not. -benchtime=1x.
func BenchmarkEBPFProfilingCost(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("the eBPF profiler needs root")
	}
	warmup := envDuration(b, "BENCH_EBPF_PROFILING_WARMUP", 20*time.Second)
	duration := envDuration(b, "BENCH_EBPF_PROFILING_DURATION", 60*time.Second)
	burner := harness.BuildProgram(b, "./bench/cpuburner")
	data, err := os.ReadFile(burner)
	if err != nil {
		b.Fatal(err)
	}

	prefix := "exec"
	if _, err := os.Stat("/sys/kernel/tracing/events"); err != nil {
		prefix = `exec unshare -m sh -c 'mount -t tracefs nodev /sys/kernel/tracing && exec "$0" "$@"'`
	}
	wrapper := filepath.Join(b.TempDir(), "collector.sh")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\n"+prefix+" "+binary+` "$@"`+"\n"), 0o755); err != nil {
		b.Fatal(err)
	}

	for _, mode := range []string{"sdk-only", "ebpf"} {
		b.Run("mode="+mode, func(b *testing.B) {
			for b.Loop() {
				var id [3]byte
				_, _ = rand.Read(id[:])
				names := map[string]bool{}
				dir := b.TempDir()
				for i := range 10 {
					name := "benchburn_" + hex.EncodeToString(id[:]) + "_" + string(rune('a'+i))
					path := filepath.Join(dir, name)
					if err := os.WriteFile(path, data, 0o755); err != nil {
						b.Fatal(err)
					}
					cmd := exec.Command(path, "-period", "20ms", "-busy", "2ms")
					if err := cmd.Start(); err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
					names[name] = true
				}

				pyroscope := harness.StartPyroscope(b)
				env := map[string]string{
					"OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT":        pyroscope.URL,
					"OTEL_AI_COLLECTOR_PYROSCOPE_INGEST_ENDPOINT": harness.FreeAddr(b),
				}
				if mode == "ebpf" {
					env["OTEL_AI_COLLECTOR_PROFILING"] = "ebpf"
				}
				c := harness.Start(b, wrapper, harness.Options{Env: env})
				time.Sleep(warmup)
				if mode == "ebpf" && !strings.Contains(c.Logs(), "Attached tracer program") {
					b.Fatalf("the profiler did not attach:\n%s", c.Logs())
				}
				before := len(pyroscope.Pushes())
				cpuBefore, err := harness.ProcessCPU(c.Pid())
				if err != nil {
					b.Fatal(err)
				}
				rss := sample(c.Pid())
				forksBefore := forks(b)
				time.Sleep(duration)
				forksAfter := forks(b)
				cpuAfter, err := harness.ProcessCPU(c.Pid())
				if err != nil {
					b.Fatal(err)
				}
				peak := rss.Stop()
				current, _ := harness.ProcessRSS(c.Pid())
				pushes := pyroscope.Pushes()[before:]
				perBurner := 0
				for _, p := range pushes {
					if names[p.Service] {
						perBurner++
					}
				}
				intervals := duration.Seconds() / 15
				b.ReportMetric((cpuAfter-cpuBefore).Seconds()/duration.Seconds()*100, "collector_%_of_a_core")
				b.ReportMetric(float64(current)/(1<<20), "rss_MiB")
				b.ReportMetric(float64(peak)/(1<<20), "peak_rss_MiB")
				b.ReportMetric(float64(len(pushes))/duration.Minutes(), "pushes/min")
				b.ReportMetric(float64(perBurner)/float64(len(names))/intervals, "pushes/service/15s")
				// New processes on the machine: the profiler reads each new
				// executable's unwind information, so its cost follows them.
				b.ReportMetric(float64(forksAfter-forksBefore)/duration.Seconds(), "host_forks/s")
				c.Stop()
			}
		})
	}
}

// forks is the machine's count of processes created since boot
// (/proc/stat "processes").
func forks(b *testing.B) int64 {
	b.Helper()
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(stat), "\n") {
		if v, ok := strings.CutPrefix(line, "processes "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("no processes line in /proc/stat")
	return 0
}
