package pyroscopereceiver

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
	"github.com/otel-ai-collector/otel-ai-collector/internal/pyroscopeattr"
)

// gzipBomb is a gzip of n zero bytes: small, but huge once decompressed.
func gzipBomb(t testing.TB, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for n > 0 {
		chunk := min(n, len(zeros))
		_, _ = zw.Write(zeros[:chunk])
		n -= chunk
	}
	_ = zw.Close()
	return buf.Bytes()
}

// paddedPprof is a valid gzipped pprof of about size bytes uncompressed: a
// CPU profile plus an unknown field of zeros, which pprof decoders skip.
func paddedPprof(t testing.TB, size int) []byte {
	t.Helper()
	parsed, err := profile.ParseData(harness.CPUProfile(t, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	_ = parsed.WriteUncompressed(&raw)
	pad := size - raw.Len() - 8
	raw.Write(protowire.AppendBytes(protowire.AppendTag(nil, 100, protowire.BytesType), make([]byte, pad)))
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(raw.Bytes())
	_ = zw.Close()
	return buf.Bytes()
}

// A pprof that decompresses past max_profile_size is refused with 413 on
// every path, and nothing reaches the pipeline.
func TestDecompressionBombRefused(t *testing.T) {
	sink := new(consumertest.ProfilesSink)
	base := startReceiver(t, sink)
	bomb := gzipBomb(t, 64<<20)
	query := url.Values{"name": {"app"}, "from": {strconv.FormatInt(time.Now().Unix(), 10)}}

	contentType, body := multipartBody(t, bomb, "")
	if status, answer := push(t, base, query, contentType, body); status != http.StatusRequestEntityTooLarge || !strings.Contains(answer, "max_profile_size") {
		t.Errorf("multipart bomb: %d %s, want 413 naming max_profile_size", status, answer)
	}
	if status, answer := push(t, base, query, "", bomb); status != http.StatusRequestEntityTooLarge {
		t.Errorf("raw bomb: %d %s, want 413", status, answer)
	}
	req := encodePushRequest(pushSeries{labels: map[string]string{"service_name": "app"}, samples: [][]byte{bomb}})
	status, answer := postPush(t, base, "application/proto", req, false)
	if status != http.StatusRequestEntityTooLarge || answer["code"] != "resource_exhausted" {
		t.Errorf("push API bomb: %d %v, want 413 resource_exhausted", status, answer)
	}
	// Within the limit per profile, over it for a request's profiles together.
	several := pushSeries{labels: map[string]string{"service_name": "app"}}
	for range 5 {
		several.samples = append(several.samples, paddedPprof(t, 4<<20-100))
	}
	if status, answer := postPush(t, base, "application/proto", encodePushRequest(several), false); status != http.StatusRequestEntityTooLarge {
		t.Errorf("5 x 4 MiB in one request: %d %v, want 413", status, answer)
	}
	// One such profile alone is accepted.
	one := pushSeries{labels: map[string]string{"service_name": "app"}, samples: several.samples[:1]}
	if status, answer := postPush(t, base, "application/proto", encodePushRequest(one), false); status != http.StatusOK {
		t.Errorf("one profile of 4 MiB: %d %v, want 200", status, answer)
	}
	if n := len(sink.AllProfiles()); n != 1 {
		t.Errorf("%d batches reached the pipeline, want 1 (the one within the limits)", n)
	}
}

// A push API body with a broken Content-Encoding gets a Connect error, as
// every other refusal of the push API.
func TestPushAPIBadGzipIsConnectError(t *testing.T) {
	base := startReceiver(t, new(consumertest.ProfilesSink))
	req, _ := http.NewRequest(http.MethodPost, base+pushAPIPath, strings.NewReader("not gzip at all"))
	req.Header.Set("Content-Type", "application/proto")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var answer map[string]string
	if resp.StatusCode != http.StatusBadRequest || json.Unmarshal(raw, &answer) != nil || answer["code"] != "invalid_argument" {
		t.Errorf("bad gzip: %d %q, want 400 with a Connect JSON error", resp.StatusCode, raw)
	}
}

// With pass_through_pprof a push reaches the pipeline undecoded: the SDK's
// bytes in pyroscope.pprof, the push described on the resource and scope,
// no profiles. Malformed and oversized pprofs are still refused.
func TestPassThroughPprof(t *testing.T) {
	sink := new(consumertest.ProfilesSink)
	base := startReceiverWith(t, sink, func(cfg *Config) { cfg.PassThroughPprof = true })
	pprof := harness.CPUProfile(t, time.Now())
	from := time.Now().Add(-10 * time.Second)
	query := url.Values{"name": {"app{env=prod}"}, "spyName": {"gospy"}, "from": {strconv.FormatInt(from.UnixNano(), 10)}}
	contentType, body := multipartBody(t, pprof, `{"cpu":{}}`)
	if status, answer := push(t, base, query, contentType, body); status != http.StatusOK {
		t.Fatalf("%d %s", status, answer)
	}
	if status, answer := push(t, base, query, "", []byte("not a profile")); status != http.StatusBadRequest {
		t.Errorf("malformed: %d %s, want 400", status, answer)
	}
	if status, answer := push(t, base, query, "", gzipBomb(t, 64<<20)); status != http.StatusRequestEntityTooLarge {
		t.Errorf("bomb: %d %s, want 413", status, answer)
	}
	if len(sink.AllProfiles()) != 1 {
		t.Fatalf("%d batches, want 1", len(sink.AllProfiles()))
	}
	rp := sink.AllProfiles()[0].ResourceProfiles().At(0)
	if v, _ := rp.Resource().Attributes().Get("service.name"); v.Str() != "app" {
		t.Errorf("service.name %q", v.Str())
	}
	scope := rp.ScopeProfiles().At(0)
	attrs := scope.Scope().Attributes()
	raw, _ := attrs.Get(pyroscopeattr.Pprof)
	if !bytes.Equal(raw.Bytes().AsRaw(), pprof) {
		t.Error("pyroscope.pprof is not the pprof as sent")
	}
	if v, _ := attrs.Get(pyroscopeattr.SpyName); v.Str() != "gospy" {
		t.Errorf("spy %q", v.Str())
	}
	if v, _ := attrs.Get(pyroscopeattr.From); v.Int() != from.UnixNano() {
		t.Errorf("from %d", v.Int())
	}
	if scope.Profiles().Len() != 0 {
		t.Errorf("%d profiles, want none", scope.Profiles().Len())
	}
}

// checkPprofRaw accepts a real Go CPU profile, gzipped or not, and refuses
// what is not pprof: uncompressed by its first 4 KiB, gzipped by its header;
// and a gzipped one over max_profile_size by its trailer.
func TestCheckPprofRaw(t *testing.T) {
	gz, err := os.ReadFile("../../bench/testdata/go-cpu-10s.pprof")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := profile.ParseData(gz)
	if err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	_ = parsed.WriteUncompressed(&plain)
	if plain.Len() <= shapePrefix {
		t.Fatalf("test profile of %d bytes does not exercise the truncated prefix", plain.Len())
	}
	for name, raw := range map[string][]byte{"gzipped": gz, "uncompressed": plain.Bytes()} {
		if err := checkPprofRaw(raw, testLimit()); err != nil {
			t.Errorf("%s Go CPU profile refused: %v", name, err)
		}
	}
	for name, raw := range map[string][]byte{"text": []byte("not a profile"), "long text": []byte(strings.Repeat("not a profile at all ", 1000)), "truncated gzip": gz[:10]} {
		if err := checkPprofRaw(raw, testLimit()); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	limit := testLimit()
	limit.perProfile = int64(binary.LittleEndian.Uint32(gz[len(gz)-4:])) - 1
	if err := checkPprofRaw(gz, limit); err == nil || !strings.Contains(err.Error(), "max_profile_size") {
		t.Errorf("profile over max_profile_size by its gzip trailer: %v", err)
	}
}
