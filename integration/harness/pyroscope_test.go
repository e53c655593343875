package harness

import (
	"bytes"
	"compress/gzip"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// postIngest sends one push to the stand-in as the given body and query.
func postIngest(t *testing.T, p *Pyroscope, query url.Values, contentType string, body []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(p.URL+"/ingest?"+query.Encode(), contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer)
}

func ingestQuery(format string) url.Values {
	now := time.Now()
	q := url.Values{"name": {"app{team=infra}"}, "from": {strconv.FormatInt(now.Add(-10*time.Second).UnixNano(), 10)}, "until": {strconv.FormatInt(now.UnixNano(), 10)}}
	if format != "" {
		q.Set("format", format)
	}
	return q
}

func multipartPprof(t *testing.T, pprof []byte) (string, []byte) {
	t.Helper()
	var body bytes.Buffer
	form := multipart.NewWriter(&body)
	part, err := form.CreateFormFile("profile", "profile.pprof")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = part.Write(pprof)
	_ = form.Close()
	return form.FormDataContentType(), body.Bytes()
}

// The stand-in decides as Pyroscope's ingest handler does: format=pprof wins
// over a multipart Content-Type and parses the envelope as pprof (422); the
// same form without format, and the pprof as the body with format=pprof, are
// stored.
func TestPyroscopeStandInDecisionOrder(t *testing.T) {
	p := StartPyroscope(t)
	pprof := CPUProfile(t, time.Now().Add(-10*time.Second))
	contentType, form := multipartPprof(t, pprof)

	if status, answer := postIngest(t, p, ingestQuery("pprof"), contentType, form); status != http.StatusUnprocessableEntity {
		t.Errorf("multipart with format=pprof: %d %s, want 422 as Pyroscope answers", status, answer)
	}
	if status, answer := postIngest(t, p, ingestQuery(""), contentType, form); status != http.StatusOK {
		t.Errorf("multipart without format: %d %s, want 200", status, answer)
	}
	if status, answer := postIngest(t, p, ingestQuery("pprof"), "application/octet-stream", pprof); status != http.StatusOK {
		t.Errorf("raw body with format=pprof: %d %s, want 200", status, answer)
	}
	if got := len(p.Pushes()); got != 2 {
		t.Errorf("%d pushes stored, want 2", got)
	}

	// A form whose profile is a plain field (no file name) stores nothing,
	// and Pyroscope still answers 200.
	var body bytes.Buffer
	plain := multipart.NewWriter(&body)
	_ = plain.WriteField("profile", string(pprof))
	_ = plain.Close()
	if status, _ := postIngest(t, p, ingestQuery(""), plain.FormDataContentType(), body.Bytes()); status != http.StatusOK || p.EmptyPushes() != 1 {
		t.Errorf("plain profile field: %d, %d empty pushes; want 200 and 1", status, p.EmptyPushes())
	}
}

// Pyroscope's limits: decompressed size, ingestion window, shutdown.
func TestPyroscopeStandInLimits(t *testing.T) {
	p := StartPyroscope(t)

	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	_, _ = zw.Write(make([]byte, PyroscopeMaxProfileSize+1))
	_ = zw.Close()
	status, answer := postIngest(t, p, ingestQuery("pprof"), "", bomb.Bytes())
	if status != http.StatusUnprocessableEntity || !strings.Contains(answer, "decompressed size exceeds") {
		t.Errorf("gzip over max_profile_size: %d %s, want 422 decompressed size exceeds", status, answer)
	}

	old := CPUProfile(t, time.Now().Add(-61*time.Minute))
	status, answer = postIngest(t, p, ingestQuery("pprof"), "", old)
	if status != http.StatusUnprocessableEntity || !strings.Contains(answer, "outside of ingestion window") {
		t.Errorf("profile 61 min old: %d %s, want 422 outside of ingestion window", status, answer)
	}

	p.SetUnavailable(true)
	status, answer = postIngest(t, p, ingestQuery("pprof"), "", CPUProfile(t, time.Now()))
	if status != http.StatusUnprocessableEntity || !strings.Contains(answer, "code = Unavailable") {
		t.Errorf("shutting down: %d %s, want 422 code = Unavailable", status, answer)
	}
	p.SetUnavailable(false)

	// One profile larger than the burst is refused by the rate limit.
	parsed, err := profile.ParseData(CPUProfile(t, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	var padded bytes.Buffer
	_ = parsed.WriteUncompressed(&padded)
	for padded.Len() < PyroscopeIngestionBurst+1 {
		// Unknown field 100, bytes: skipped by pprof decoders.
		chunk := make([]byte, 64<<10)
		padded.Write([]byte{0xa2, 0x06, 0x80, 0x80, 0x04}) // tag 100/bytes, length 65536
		padded.Write(chunk)
	}
	status, answer = postIngest(t, p, ingestQuery("pprof"), "", padded.Bytes())
	if status != http.StatusUnprocessableEntity || !strings.Contains(answer, "push rate limit") {
		t.Errorf("profile over the burst: %d %s, want 422 push rate limit", status, answer)
	}
	if got := len(p.Pushes()); got != 0 {
		t.Errorf("%d pushes stored, want 0", got)
	}
}

// The push API stores series as sent: service_name (unknown_service when
// missing), __name__, the other labels, no pyroscope_spy label; a profile
// out of the ingestion window is a 400 invalid_argument Connect error.
func TestPyroscopeStandInPushAPI(t *testing.T) {
	p := StartPyroscope(t)
	post := func(body []byte) (int, string) {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		_, _ = zw.Write(body)
		_ = zw.Close()
		req, _ := http.NewRequest(http.MethodPost, p.URL+PyroscopePushAPIPath, &gz)
		req.Header.Set("Content-Type", "application/proto")
		req.Header.Set("Content-Encoding", "gzip")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(answer)
	}
	body := EncodePushRequest(
		PushSeries{Labels: map[string]string{"__name__": "process_cpu", "service_name": "py", "env": "prod"}, Samples: [][]byte{CPUProfile(t, time.Now())}},
		PushSeries{Labels: map[string]string{"__name__": "process_cpu"}, Samples: [][]byte{CPUProfile(t, time.Now())}},
	)
	if status, answer := post(body); status != http.StatusOK {
		t.Fatalf("%d %s, want 200", status, answer)
	}
	pushes := p.Pushes()
	if len(pushes) != 2 || pushes[0].Service != "py" || pushes[0].Labels["env"] != "prod" || pushes[0].ProfileName != "process_cpu" || pushes[0].SpyLabel != "" || pushes[1].Service != "unknown_service" {
		t.Errorf("stored %+v", pushes)
	}
	old := EncodePushRequest(PushSeries{Labels: map[string]string{"__name__": "process_cpu", "service_name": "py"}, Samples: [][]byte{CPUProfile(t, time.Now().Add(-2*time.Hour))}})
	if status, answer := post(old); status != http.StatusBadRequest || !strings.Contains(answer, `"invalid_argument"`) || !strings.Contains(answer, "ingestion window") {
		t.Errorf("2 h old: %d %s, want 400 invalid_argument ingestion window", status, answer)
	}
}
