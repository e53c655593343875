//go:build linux && amd64

package ebpfreceiver

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otel-ai-collector/otel-ai-collector/receiver/ebpfreceiver/internal/metadata"
)

// record encodes a data event as the kernel sends it: the head and the
// captured bytes only.
func record(tb testing.TB, ingress bool, data string) []byte {
	var ev networkDataEvent
	ev.TsNs, ev.Sock, ev.ConnStart, ev.Pid = 1000, 0xffff0001, 1, uint32(os.Getpid())
	ev.Len, ev.Captured = uint32(len(data)), uint32(len(data))
	if !ingress {
		ev.Direction = 1
	}
	ev.Tuple.Family, ev.Tuple.LocalPort, ev.Tuple.RemotePort = familyInet, 8080, 40000
	ev.Tuple.LocalAddr, ev.Tuple.RemoteAddr = [16]uint8{127, 0, 0, 1}, [16]uint8{127, 0, 0, 1}
	copy(ev.Data[:], data)
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.NativeEndian, &ev); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()[:dataEventHead+len(data)]
}

// benchReceiver is a receiver selecting port 8080 (the port of the
// benchmarks' records), never started: the benchmarks feed it records as
// its ring buffer reader would. Its spans go to the returned counter,
// which keeps none: a sink keeping every span would grow the heap the
// garbage collector scans with b.N, and measure that too.
func benchReceiver(b *testing.B) (*ebpfReceiver, *spanCounter) {
	cfg := createDefaultConfig().(*Config)
	cfg.Ports = []int{8080}
	spans := new(spanCounter)
	next, err := consumer.NewTraces(func(_ context.Context, td ptrace.Traces) error {
		spans.n.Add(int64(td.SpanCount()))
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	rcv, err := newReceiver(receivertest.NewNopSettings(metadata.Type), cfg, next)
	if err != nil {
		b.Fatal(err)
	}
	return rcv.(*ebpfReceiver), spans
}

type spanCounter struct{ n atomic.Int64 }

func (c *spanCounter) SpanCount() int { return int(c.n.Load()) }

// The receiver's user-space path for one HTTP request on a keep-alive
// connection, server side: two ring buffer records (request read, response
// write) decoded, assembled, parsed and turned into a span in a batch
// handed to the pipeline. ns/op is per request.
func BenchmarkHTTPRequestPath(b *testing.B) {
	r, sink := benchReceiver(b)
	req := record(b, true, "GET /api/sessions?window=1h HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: Go-http-client/1.1\r\n"+
		"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\nAccept-Encoding: gzip\r\n\r\n")
	resp := record(b, false, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Wed, 02 Dec 2026 05:00:00 GMT\r\n"+
		"Content-Length: 17\r\n\r\n{\"sessions\": 42}\n")
	var d dataDecoder
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, raw := range [][]byte{req, resp} {
			ev, err := d.decode(raw)
			if err != nil {
				b.Fatal(err)
			}
			r.handleData(ev)
		}
	}
	b.StopTimer()
	r.batch.flush()
	if sink.SpanCount() != b.N {
		b.Fatalf("%d spans for %d requests", sink.SpanCount(), b.N)
	}
	_ = r.Shutdown(context.Background())
}

// The same for one gRPC unary call over h2c (frames as grpc-go writes them:
// HEADERS+DATA, then HEADERS+DATA+trailers), the same stream id and header
// blocks each time (literals: valid whatever the dynamic table holds).
func BenchmarkGRPCCallPath(b *testing.B) {
	r, sink := benchReceiver(b)
	var d dataDecoder
	requests, responses := h2Conversation(b)
	frames, respFrames := h2Frames(requests[len(h2Preface):]), h2Frames(responses)
	for _, raw := range [][]byte{record(b, true, string(h2Preface)), record(b, true, string(frames[0])), record(b, false, string(respFrames[0]))} {
		r.handleData(mustDecode(b, &d, raw)) // preface and SETTINGS
	}
	req := record(b, true, string(withStream(frames[1:4], 7))) // HEADERS, CONTINUATION, DATA
	resp := record(b, false, string(withStream([][]byte{respFrames[1], respFrames[2][:9+16], respFrames[5]}, 7)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r.handleData(mustDecode(b, &d, req))
		r.handleData(mustDecode(b, &d, resp))
	}
	b.StopTimer()
	r.batch.flush()
	if sink.SpanCount() != b.N {
		b.Fatalf("%d spans for %d calls", sink.SpanCount(), b.N)
	}
	_ = r.Shutdown(context.Background())
}

func mustDecode(tb testing.TB, d *dataDecoder, raw []byte) dataEvent {
	ev, err := d.decode(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return ev
}

// withStream concatenates frames with their stream id replaced (and a DATA
// frame's length cut to what is kept).
func withStream(frames [][]byte, stream uint32) []byte {
	var out []byte
	for _, f := range frames {
		g := append([]byte(nil), f...)
		n := len(g) - 9
		g[0], g[1], g[2] = byte(n>>16), byte(n>>8), byte(n)
		binary.BigEndian.PutUint32(g[5:9], stream)
		out = append(out, g...)
	}
	return out
}
