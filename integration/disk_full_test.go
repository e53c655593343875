package integration

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// A full disk refuses non-AI data with a retryable answer and nothing
// acknowledged is lost; the AI path goes on; once space is freed, data is
// taken again without a restart, and everything acknowledged is delivered.
// The state directory is a 4 MiB tmpfs (root: the tests run as root) that a
// filler file fills up.
func TestDiskFullThenFreed(t *testing.T) {
	stateDir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", stateDir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", stateDir).Run() })

	sink := harness.NewSink(t)
	backend := harness.StartBackend(t, binary)
	c := startWithRemote(t, sink, backend.URL, harness.Options{StateDir: stateDir})
	acked := postAcked(t, c, "before", 20, 0)

	// Fill the disk.
	filler := filepath.Join(stateDir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()

	// Non-AI data until the queue cannot store it: every answer a 2xx (then
	// the record counts as acknowledged) or a retryable refusal.
	big := strings.Repeat("x", 16<<10)
	refusal := ""
	for i := 0; i < 2000 && refusal == ""; i++ {
		body := fmt.Sprintf("full-%04d %s", i, big)
		status, msg, err := harness.PostLogs(c.OTLPHTTPEndpoint, harness.NewLogs("my-daemon", body))
		switch {
		case err != nil:
			t.Fatal(err)
		case status == http.StatusOK:
			acked = append(acked, body)
		case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests:
			refusal = fmt.Sprintf("%d %s", status, msg)
		default:
			t.Fatalf("with the disk full the collector answered %d %q; want 2xx or a retryable 503/429", status, msg)
		}
	}
	if refusal == "" {
		t.Fatal("2000 records of 16 KiB taken on a full 4 MiB disk; the queue writes nowhere?")
	}
	t.Logf("disk full: %d records acknowledged in all, then %s", len(acked), refusal)

	// The AI path still delivers.
	ctx := withTimeout(t, 10*time.Second)
	if status, msg, err := harness.PostLogs(c.OTLPHTTPEndpoint, harness.NewLogs("claude-code", "claude_code.user_prompt disk full")); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("AI record with the disk full: %d %s", status, msg)
	}
	if _, err := sink.WaitFor(ctx, func(reqs []harness.Request) bool {
		for _, r := range logRecords(reqs) {
			if r.body == "claude_code.user_prompt disk full" {
				return true
			}
		}
		return false
	}); err != nil {
		t.Errorf("the AI record did not reach the monitor with the disk full: %v", err)
	}

	// Free the space: taken again, no restart.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	deadline := freed.Add(30 * time.Second)
	for {
		body := fmt.Sprintf("after-%d", time.Now().UnixNano())
		status, msg, err := harness.PostLogs(c.OTLPHTTPEndpoint, harness.NewLogs("my-daemon", body))
		if err != nil {
			t.Fatal(err)
		}
		if status == http.StatusOK {
			acked = append(acked, body)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after the space was freed the collector still answers %d %q", status, msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("taken again %v after the space was freed", time.Since(freed).Round(time.Millisecond))
	if c.Exited() {
		t.Fatal("collector exited")
	}
	waitDelivered(t, backend, acked, time.Minute)
}
