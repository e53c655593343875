package integration

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// The journald receiver saves its journal cursor when it has read an entry;
// with stanza's batching emitter the entries it held in memory at a kill -9
// were skipped for good (issue 27). With stanza.synchronousLogEmitter (on by
// default in this binary) the cursor only passes entries the persistent
// queue holds: a steady journal stream, the collector killed -9 several
// times mid-stream and restarted on the same state directory, and every
// entry reaches the remote (duplicates counted, not failed: at least once).
//
// OTEL_AI_COLLECTOR_TEST_JOURNALD_ARGS adds collector arguments, e.g.
// --feature-gates=-stanza.synchronousLogEmitter to see the loss without the
// gate; OTEL_AI_COLLECTOR_TEST_JOURNALD_KILLS (default 3) and
// _ENTRIES (default 3000) size the run.
func TestJournaldKill9MidStreamLosesNothing(t *testing.T) {
	kills, entries := 3, 3000
	if v := os.Getenv("OTEL_AI_COLLECTOR_TEST_JOURNALD_KILLS"); v != "" {
		kills, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("OTEL_AI_COLLECTOR_TEST_JOURNALD_ENTRIES"); v != "" {
		entries, _ = strconv.Atoi(v)
	}
	var extraArgs []string
	if v := os.Getenv("OTEL_AI_COLLECTOR_TEST_JOURNALD_ARGS"); v != "" {
		extraArgs = strings.Fields(v)
	}

	journal := t.TempDir()
	// The journal exists before the collector starts, as on a workstation.
	harness.WriteJournal(t, journal, "system", []harness.JournalEntry{
		harness.SystemUnitEntry(time.Now(), "ws-journal", "otel-ai-collector.service", "otel-ai-collector", 17, 6, "stream start"),
	})
	backend := harness.StartBackend(t, binary)
	opts := harness.Options{StateDir: t.TempDir(), Args: extraArgs, Env: map[string]string{
		"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT":  harness.NewCountingSink(t).URL,
		"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT":   backend.URL,
		"OTEL_AI_COLLECTOR_HOSTNAME":          "ws-collector",
		"OTEL_AI_COLLECTOR_JOURNALD":          "on",
		"OTEL_AI_COLLECTOR_JOURNAL_DIR":       journal,
		"OTEL_AI_COLLECTOR_JOURNALD_START_AT": "beginning",
	}}
	c := harness.Start(t, binary, opts)

	// The writer: a steady stream of chunks (one systemd-journal-remote run
	// each), in its own goroutine so that it goes on while the collector is
	// down and restarting, as journald does.
	const chunk = 10
	const pause = 20 * time.Millisecond
	var (
		mu      sync.Mutex
		written int
		werr    error
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < entries; i += chunk {
			var batch []harness.JournalEntry
			for j := i; j < i+chunk && j < entries; j++ {
				batch = append(batch, harness.SystemUnitEntry(time.Now(), "ws-journal", "otel-ai-collector.service",
					"otel-ai-collector", 17, 6, fmt.Sprintf("entry %05d", j)))
			}
			if err := harness.AppendJournal(journal, "system", batch); err != nil {
				mu.Lock()
				werr = err
				mu.Unlock()
				return
			}
			mu.Lock()
			written = i + len(batch)
			mu.Unlock()
			time.Sleep(pause)
		}
	}()
	progress := func() int {
		mu.Lock()
		defer mu.Unlock()
		return written
	}

	// Kill at evenly spaced points of the stream, while the collector is
	// reading (the writer is ahead of it), and restart on the same state.
	for k := 1; k <= kills; k++ {
		at := entries * k / (kills + 1)
		for progress() < at {
			select {
			case <-done:
			case <-time.After(10 * time.Millisecond):
				continue
			}
			break
		}
		c.Kill()
		t.Logf("kill -9 #%d with %d entries written", k, progress())
		c = harness.Start(t, binary, opts)
	}
	<-done
	mu.Lock()
	if werr != nil {
		t.Fatal(werr)
	}
	mu.Unlock()

	// Delivery: every entry at least once; duplicates counted.
	deadline := time.Now().Add(90 * time.Second)
	var missing, twice []int
	duplicates := 0
	for {
		got := remoteLogCounts(backend.Logs())
		missing, twice, duplicates = missing[:0], twice[:0], 0
		for i := range entries {
			switch n := got[fmt.Sprintf("entry %05d", i)]; {
			case n == 0:
				missing = append(missing, i)
			case n > 1:
				duplicates += n - 1
				twice = append(twice, i)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	t.Logf("%d journal entries over %d kills -9: %d lost, %d duplicate deliveries (%.2f%%)",
		entries, kills, len(missing), duplicates, 100*float64(duplicates)/float64(entries))
	if len(twice) > 0 {
		t.Logf("delivered more than once: %s", ranges(twice))
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d journal entries never reached the remote: %s", len(missing), entries, ranges(missing))
	}
}

// ranges writes sorted numbers as runs: "410-439, 1200".
func ranges(ns []int) string {
	var parts []string
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.Itoa(ns[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", ns[i], ns[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}
