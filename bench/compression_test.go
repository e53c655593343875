package bench

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"testing"
)

// BenchmarkExportCompression compresses one export request as the remote
// exporter sends it (a batch of 8,000 spans: 16 requests of
// otherTrafficRequest, as the sending queue's batcher merges them) with
// gzip's fastest level, which the shipped configurations use, and its
// default level, which the exporter uses unless told: CPU per request and
// compressed size as a share of the raw bytes. It runs in-process; the
// binary is not needed.
func BenchmarkExportCompression(b *testing.B) {
	var raw []byte // concatenated protobuf messages merge into one
	for n := range 16 {
		raw = append(raw, otherTrafficRequest(b, n)...)
	}
	for _, level := range []int{gzip.BestSpeed, gzip.DefaultCompression} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			var out bytes.Buffer
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				out.Reset()
				w, err := gzip.NewWriterLevel(&out, level)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = w.Write(raw)
				_ = w.Close()
			}
			b.ReportMetric(float64(out.Len())/float64(len(raw)), "compressed/raw")
		})
	}
}
