package pyroscopereceiver

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
)

// BenchmarkIngest measures the receiver with a real 10 s Go CPU profile
// (30 KB gzipped, 729 samples), side by side in one run:
//   - parse: query, multipart and pprof decoding;
//   - parse_and_convert: plus the conversion to OTLP profiles;
//   - http: whole pushes over loopback HTTP from parallel clients into a
//     consumer that drops them; reports profiles/s.
func BenchmarkIngest(b *testing.B) {
	raw, err := os.ReadFile("../../bench/testdata/go-cpu-10s.pprof")
	if err != nil {
		b.Fatal(err)
	}
	contentType, body := multipartBody(b, raw, "")
	now := time.Now()
	query := url.Values{
		"name": {"bench{env=prod,region=eu-1}"}, "format": {"pprof"}, "spyName": {"gospy"}, "sampleRate": {"100"},
		"from": {strconv.FormatInt(now.UnixNano(), 10)}, "until": {strconv.FormatInt(now.Add(10*time.Second).UnixNano(), 10)},
	}

	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseIngest(query, contentType, body, testLimit()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parse_and_convert", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			push, err := parseIngest(query, contentType, body, testLimit())
			if err != nil {
				b.Fatal(err)
			}
			if _, err := toProfiles(push, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("http", func(b *testing.B) {
		base := startReceiver(b, consumertest.NewNop())
		target := base + "/ingest?" + query.Encode()
		b.ReportAllocs()
		b.SetParallelism(2) // 4 concurrent pushers on 2 cores
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			client := &http.Client{}
			for pb.Next() {
				resp, err := client.Post(target, contentType, bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "profiles/s")
	})
}
