package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// BenchmarkChaosSoak runs the embedded default with remote export and
// journald on for BENCH_CHAOS_DURATION (10m) under a steady load of every
// accountable signal (AI CLI logs, other OTLP logs, spans, metric points,
// journal entries written by the test), while a fault schedule drawn from
// BENCH_CHAOS_SEED (1) kills the collector with -9 and restarts it, takes
// the remote down for a while, flaps it, fills and frees the state
// directory's disk (a tmpfs), and once damages the logs queue file (random
// bytes over its first two pages, with the collector stopped). Senders act
// like SDKs: an item is acknowledged by a 2xx; a refusal or a refused
// connection is retried. Afterwards a checker accounts for every
// acknowledged item at the remote: delivered once, more than once
// (counted), or lost, and a loss must be a log item acknowledged before the
// damage that the collector reported (its "Damaged state file moved aside"
// error).
func BenchmarkChaosSoak(b *testing.B) {
	duration := envDuration(b, "BENCH_CHAOS_DURATION", 10*time.Minute)
	seed := uint64(envInt(b, "BENCH_CHAOS_SEED", 1))
	rng := mrand.New(mrand.NewPCG(seed, seed))

	stateDir := b.TempDir()
	tmpfs := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", stateDir).Run() == nil
	if tmpfs {
		b.Cleanup(func() { _ = exec.Command("umount", "-l", stateDir).Run() })
	} else {
		b.Logf("no tmpfs (needs root): the disk-full fault is left out")
	}
	journal := b.TempDir()
	harness.WriteJournal(b, journal, "system", []harness.JournalEntry{
		harness.SystemUnitEntry(time.Now(), "ws", "otel-ai-collector.service", "otel-ai-collector", 17, 6, "chaos start"),
	})
	monitor := harness.NewCountingSink(b)
	backend := harness.StartBackend(b, binary)
	opts := harness.Options{StateDir: stateDir, StopTimeout: time.Minute, Env: map[string]string{
		"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT":  monitor.URL,
		"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT":   backend.URL,
		"OTEL_AI_COLLECTOR_JOURNALD":          "on",
		"OTEL_AI_COLLECTOR_JOURNAL_DIR":       journal,
		"OTEL_AI_COLLECTOR_JOURNALD_START_AT": "beginning",
	}}

	var mu sync.Mutex // guards endpoint and collectors
	c := harness.Start(b, binary, opts)
	endpoint := c.OTLPHTTPEndpoint
	collectors := []*harness.Collector{c}
	current := func() string { mu.Lock(); defer mu.Unlock(); return endpoint }
	restart := func() {
		nc := harness.Start(b, binary, opts)
		mu.Lock()
		c, endpoint = nc, nc.OTLPHTTPEndpoint
		collectors = append(collectors, nc)
		mu.Unlock()
	}

	ctx, stop := context.WithCancel(context.Background())
	acks := map[string]*ackLog{}
	var wg sync.WaitGroup
	for _, s := range []struct {
		name     string
		interval time.Duration
		send     func(endpoint string, n int) (string, int, error)
	}{
		{"ai-logs", 200 * time.Millisecond, func(ep string, n int) (string, int, error) {
			id := fmt.Sprintf("claude_code.user_prompt chaos-%06d", n)
			status, _, err := harness.PostLogs(ep, harness.NewLogs("claude-code", id))
			return id, status, err
		}},
		{"logs", 50 * time.Millisecond, func(ep string, n int) (string, int, error) {
			id := fmt.Sprintf("log chaos-%06d", n)
			status, _, err := harness.PostLogs(ep, harness.NewLogs("my-daemon", id))
			return id, status, err
		}},
		{"spans", 50 * time.Millisecond, func(ep string, n int) (string, int, error) {
			id := fmt.Sprintf("span chaos-%06d", n)
			return id, postChaos(ep+"/v1/traces", chaosSpan(id, n)), nil
		}},
		{"metrics", 200 * time.Millisecond, func(ep string, n int) (string, int, error) {
			id := fmt.Sprintf("point chaos-%06d", n)
			return id, postChaos(ep+"/v1/metrics", chaosPoint(id)), nil
		}},
	} {
		a := &ackLog{}
		acks[s.name] = a
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				for ctx.Err() == nil {
					id, status, err := s.send(current(), n)
					if err == nil && status/100 == 2 {
						a.add(id)
						break
					}
					time.Sleep(100 * time.Millisecond) // an SDK retries
				}
				time.Sleep(s.interval)
			}
		})
	}
	// journald: what is written is what the collector must deliver.
	journalAcks := &ackLog{}
	acks["journal"] = journalAcks
	wg.Go(func() {
		for n := 0; ctx.Err() == nil; n += 10 {
			var batch []harness.JournalEntry
			var ids []string
			for j := n; j < n+10; j++ {
				id := fmt.Sprintf("journal chaos-%06d", j)
				ids = append(ids, id)
				batch = append(batch, harness.SystemUnitEntry(time.Now(), "ws", "otel-ai-collector.service", "otel-ai-collector", 17, 6, id))
			}
			if err := harness.AppendJournal(journal, "system", batch); err != nil {
				b.Error(err)
				return
			}
			for _, id := range ids {
				journalAcks.add(id)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})

	// The fault schedule.
	start := time.Now()
	damageAt := start.Add(duration * 6 / 10)
	var damagedAt time.Time
	var faults []string
	for time.Since(start) < duration {
		time.Sleep(time.Duration(10+rng.IntN(10)) * time.Second)
		if time.Since(start) >= duration {
			break
		}
		at := time.Since(start).Round(time.Second)
		if damagedAt.IsZero() && time.Now().After(damageAt) {
			mu.Lock()
			cur := c
			mu.Unlock()
			cur.Kill()
			damageFile(b, filepath.Join(stateDir, "exporter_otlp_http_remote_logs"))
			damagedAt = time.Now()
			restart()
			faults = append(faults, fmt.Sprintf("%v damage logs queue", at))
			continue
		}
		switch k := rng.IntN(4); {
		case k == 0:
			mu.Lock()
			cur := c
			mu.Unlock()
			cur.Kill()
			restart()
			faults = append(faults, fmt.Sprintf("%v kill -9", at))
		case k == 1:
			down := time.Duration(5+rng.IntN(15)) * time.Second
			backend.Stop()
			time.Sleep(down)
			backend.Start()
			faults = append(faults, fmt.Sprintf("%v remote down %v", at, down))
		case k == 2:
			for range 3 {
				backend.Stop()
				time.Sleep(time.Second)
				backend.Start()
				time.Sleep(time.Second)
			}
			faults = append(faults, fmt.Sprintf("%v remote flapped 3x", at))
		case k == 3 && tmpfs:
			filler := filepath.Join(stateDir, "filler")
			fillDisk(b, filler)
			time.Sleep(5 * time.Second)
			os.Remove(filler)
			faults = append(faults, fmt.Sprintf("%v disk full 5s", at))
		}
	}
	stop()
	wg.Wait()
	b.Logf("faults (seed %d): %s", seed, strings.Join(faults, "; "))

	reported := false
	mu.Lock()
	for _, col := range collectors {
		if strings.Contains(col.Logs(), "Damaged state file moved aside") {
			reported = true
		}
	}
	mu.Unlock()
	if !damagedAt.IsZero() && !reported {
		b.Errorf("the logs queue was damaged and no collector reported it")
	}

	// Account: wait for delivery (retries back off to 60 s).
	deadline := time.Now().Add(3 * time.Minute)
	for {
		got := chaosDelivered(backend)
		lostTotal, unexplained := 0, 0
		var summary []string
		names := make([]string, 0, len(acks))
		for name := range acks {
			names = append(names, name)
		}
		sort.Strings(names)
		totalAcked, totalDup := 0, 0
		for _, name := range names {
			ids, times := acks[name].snapshot()
			once, dup, lost, inDamaged := 0, 0, 0, 0
			for i, id := range ids {
				switch n := got[id]; {
				case n == 1:
					once++
				case n > 1:
					once++
					dup += n - 1
				default:
					lost++
					// Logs of every kind share the damaged queue file.
					if name != "spans" && name != "metrics" && !damagedAt.IsZero() && times[i].Before(damagedAt) {
						inDamaged++
					}
				}
			}
			totalAcked += len(ids)
			totalDup += dup
			lostTotal += lost
			unexplained += lost - inDamaged
			summary = append(summary, fmt.Sprintf("%s: %d acknowledged, %d delivered (%d duplicate deliveries), %d lost (%d in the damaged file)",
				name, len(ids), once, dup, lost, inDamaged))
		}
		if unexplained == 0 || time.Now().After(deadline) {
			for _, s := range summary {
				b.Log(s)
			}
			b.ReportMetric(float64(totalAcked), "acknowledged")
			b.ReportMetric(float64(totalDup), "duplicates")
			b.ReportMetric(100*float64(totalDup)/float64(max(totalAcked, 1)), "duplicates-%")
			b.ReportMetric(float64(lostTotal), "lost")
			b.ReportMetric(float64(unexplained), "lost-unexplained")
			if unexplained > 0 {
				b.Errorf("%d acknowledged items lost without a damaged file to account for them", unexplained)
			}
			return
		}
		time.Sleep(5 * time.Second)
	}
}

// ackLog is what one sender had acknowledged, in order, with the time.
type ackLog struct {
	mu    sync.Mutex
	ids   []string
	times []time.Time
}

func (a *ackLog) add(id string) {
	a.mu.Lock()
	a.ids = append(a.ids, id)
	a.times = append(a.times, time.Now())
	a.mu.Unlock()
}

func (a *ackLog) snapshot() ([]string, []time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.ids...), append([]time.Time(nil), a.times...)
}

// chaosDelivered counts every item the backend received, by its id (log
// body, span name, the point's "id" attribute).
func chaosDelivered(backend *harness.Backend) map[string]int {
	got := map[string]int{}
	for _, ld := range backend.Logs() {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					got[lr.Body().AsString()]++
				}
			}
		}
	}
	for _, td := range backend.Traces() {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, span := range ss.Spans().All() {
					got[span.Name()]++
				}
			}
		}
	}
	for _, md := range backend.Metrics() {
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					if m.Type() != pmetric.MetricTypeGauge {
						continue
					}
					for _, dp := range m.Gauge().DataPoints().All() {
						if id, ok := dp.Attributes().Get("id"); ok {
							got[id.Str()]++
						}
					}
				}
			}
		}
	}
	return got
}

func chaosSpan(name string, n int) []byte {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "my-daemon")
	span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName(name)
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	_, _ = rand.Read(tid[:])
	_, _ = rand.Read(sid[:])
	span.SetTraceID(tid)
	span.SetSpanID(sid)
	now := time.Now()
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Millisecond)))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	payload, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	return payload
}

func chaosPoint(id string) []byte {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "my-daemon")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("chaos.gauge")
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	dp.SetIntValue(1)
	dp.Attributes().PutStr("id", id)
	payload, _ := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	return payload
}

// postChaos returns the HTTP status, 0 when the request failed.
func postChaos(url string, payload []byte) int {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Post(url, "application/x-protobuf", strings.NewReader(string(payload)))
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func damageFile(b *testing.B, path string) {
	junk := make([]byte, 8192)
	_, _ = rand.Read(junk)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(junk, 0); err != nil {
		b.Fatal(err)
	}
}

func fillDisk(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				b.Fatal(err)
			}
			return
		}
	}
}
