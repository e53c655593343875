package integration

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// A gzip of 200 MB of zeros, pushed as the profile of an /ingest multipart
// form, as an /ingest body and as a push API sample, is refused with 413
// within a second, and the collector's peak RSS grows by less than 20 MiB:
// the decompression stops at max_profile_size.
//
// Both ways the receiver hands pushes on: passed through (the embedded
// layer; the size comes from the gzip trailer, nothing is decompressed) and
// converted (decompression stops at the limit).
func TestPyroscopeDecompressionBombRefusedFast(t *testing.T) {
	for _, passThrough := range []bool{true, false} {
		t.Run(fmt.Sprintf("pass_through_pprof=%v", passThrough), func(t *testing.T) {
			decompressionBombRefusedFast(t, passThrough)
		})
	}
}

func decompressionBombRefusedFast(t *testing.T, passThrough bool) {
	pyroscope := harness.StartPyroscope(t)
	overlay := filepath.Join(t.TempDir(), "overlay.yaml")
	if err := os.WriteFile(overlay, []byte(fmt.Sprintf("receivers:\n  pyroscope:\n    pass_through_pprof: %v\n", passThrough)), 0o644); err != nil {
		t.Fatal(err)
	}
	ingest := harness.FreeAddr(t)
	c := harness.Start(t, binary, harness.Options{
		Args: []string{"--config=embedded:default.yaml", "--config=embedded:profiling.yaml", "--config=file:" + overlay},
		Env: map[string]string{
			"OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT":        pyroscope.URL,
			"OTEL_AI_COLLECTOR_PYROSCOPE_INGEST_ENDPOINT": ingest,
		},
	})
	ingest = "http://" + ingest

	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 200 {
		_, _ = zw.Write(zeros)
	}
	_ = zw.Close()

	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	part, _ := mw.CreateFormFile("profile", "profile.pprof")
	_, _ = part.Write(bomb.Bytes())
	_ = mw.Close()
	pushAPI := harness.EncodePushRequest(harness.PushSeries{
		Labels:  map[string]string{"service_name": "bomb", "__name__": "process_cpu"},
		Samples: [][]byte{bomb.Bytes()},
	})

	for _, tc := range []struct {
		name, path, contentType string
		body                    []byte
	}{
		{"ingest multipart", "/ingest?name=bomb", mw.FormDataContentType(), form.Bytes()},
		{"ingest raw", "/ingest?name=bomb", "application/octet-stream", bomb.Bytes()},
		{"push API", "/push.v1.PusherService/Push", "application/proto", pushAPI},
	} {
		before, err := harness.ProcessRSS(c.Pid())
		if err != nil {
			t.Fatal(err)
		}
		if err := harness.ResetPeakRSS(c.Pid()); err != nil {
			t.Fatal(err)
		}
		started := time.Now()
		resp, err := http.Post(ingest+tc.path, tc.contentType, bytes.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(started)
		peak, err := harness.ProcessPeakRSS(c.Pid())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s (%d bytes): %d in %s, peak RSS %.1f MiB over %.1f MiB before", tc.name, len(tc.body), resp.StatusCode, took, float64(peak-before)/(1<<20), float64(before)/(1<<20))
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(answer), "max_profile_size") {
			t.Errorf("%s: %d %s, want 413 naming max_profile_size", tc.name, resp.StatusCode, answer)
		}
		if took > time.Second {
			t.Errorf("%s: refused after %s, want under 1 s", tc.name, took)
		}
		if peak-before > 20<<20 {
			t.Errorf("%s: peak RSS grew by %.1f MiB, want under 20", tc.name, float64(peak-before)/(1<<20))
		}
	}
	if n := len(pyroscope.Pushes()); n != 0 {
		t.Errorf("%d bombs reached Pyroscope", n)
	}
}

// While Pyroscope shuts down it answers 422 "code = Unavailable"; the pushes
// it refuses so are retried and all stored once it is back, exactly once.
func TestPyroscopeShutdownAnswersAreRetried(t *testing.T) {
	pyroscope := harness.StartPyroscope(t)
	_, ingest := startProfilingCollector(t, pyroscope, nil)
	pyroscope.SetUnavailable(true)
	until := time.Now().Truncate(time.Second)
	const pushes = 5
	for i := range pushes {
		query := url.Values{
			"name":  {"app{n=" + strconv.Itoa(i) + "}"},
			"from":  {strconv.FormatInt(until.Add(-10*time.Second).UnixNano(), 10)},
			"until": {strconv.FormatInt(until.UnixNano(), 10)},
		}
		goSDKPush(t, ingest, query, harness.CPUProfile(t, until.Add(-10*time.Second)), `{}`)
	}
	// The queue's consumers each hold one push, refused and waiting for
	// its retry, the others wait in the queue.
	deadline := time.Now().Add(10 * time.Second)
	for len(pyroscope.Answers()) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if len(pyroscope.Answers()) < 2 {
		t.Fatalf("%d answers while shutting down, want at least 2", len(pyroscope.Answers()))
	}
	for _, a := range pyroscope.Answers() {
		if a.Status != http.StatusUnprocessableEntity || !strings.Contains(a.Message, "code = Unavailable") {
			t.Errorf("answer %d %s, want 422 code = Unavailable", a.Status, a.Message)
		}
	}
	pyroscope.SetUnavailable(false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := pyroscope.WaitForPushes(ctx, pushes); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	seen := map[string]int{}
	for _, p := range pyroscope.Pushes() {
		seen[p.Labels["n"]]++
	}
	for i := range pushes {
		if n := seen[strconv.Itoa(i)]; n != 1 {
			t.Errorf("push n=%d stored %d times, want once", i, n)
		}
	}
}

// A profile Pyroscope refuses for good (older than its ingestion window,
// as after an outage of more than an hour) is not retried, and it does not
// vanish silently: the collector counts it by reason and logs the
// Pyroscope setting that would accept it.
func TestPyroscopeRefusedProfilesAreCountedAndLogged(t *testing.T) {
	pyroscope := harness.StartPyroscope(t)
	c, ingest := startProfilingCollector(t, pyroscope, nil)
	old := time.Now().Add(-2 * time.Hour)
	query := url.Values{
		"name":  {"app"},
		"from":  {strconv.FormatInt(old.UnixNano(), 10)},
		"until": {strconv.FormatInt(old.Add(10*time.Second).UnixNano(), 10)},
	}
	goSDKPush(t, ingest, query, harness.CPUProfile(t, old), `{}`)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.WaitForLog(ctx, "reject-older-than"); err != nil {
		t.Fatalf("no log line naming validation.reject-older-than: %v", err)
	}
	dropped, err := c.Metric("otelcol_processor_profile_forwarding_dropped_pushes_total", `reason="outside_ingestion_window"`)
	if err != nil || dropped != 1 {
		t.Errorf("otelcol_processor_profile_forwarding_dropped_pushes_total{reason=outside_ingestion_window} = %v (%v), want 1", dropped, err)
	}
	time.Sleep(time.Second)
	if answers := pyroscope.Answers(); len(answers) != 1 || !strings.Contains(answers[0].Message, "ingestion window") {
		t.Errorf("Pyroscope answered %v, want one ingestion window refusal (no retries)", answers)
	}
}
