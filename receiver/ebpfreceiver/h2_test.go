package ebpfreceiver

import (
	"bytes"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Conversation is a gRPC exchange written with x/net's HTTP/2 framer and
// HPACK encoder (one per direction, so later header blocks use the dynamic
// table): stream 1 unary OK with a traceparent and a 40 KiB response
// message; stream 3 (Find) trailers-only NOT_FOUND; stream 5 reset by the client.
func h2Conversation(t testing.TB) (requests, responses []byte) {
	var req, resp bytes.Buffer
	req.Write(h2Preface)
	rf, sf := http2.NewFramer(&req, nil), http2.NewFramer(&resp, nil)
	var reqBlock, respBlock bytes.Buffer
	reqEnc, respEnc := hpack.NewEncoder(&reqBlock), hpack.NewEncoder(&respBlock)
	block := func(enc *hpack.Encoder, buf *bytes.Buffer, fields ...string) []byte {
		buf.Reset()
		for i := 0; i < len(fields); i += 2 {
			if err := enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]}); err != nil {
				t.Fatal(err)
			}
		}
		return append([]byte(nil), buf.Bytes()...)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rf.WriteSettings())
	must(sf.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 16384}))
	request := func(stream uint32, method string, extra ...string) {
		fields := append([]string{":method", "POST", ":scheme", "http", ":path", "/pkg.Echo/" + method,
			":authority", "127.0.0.1", "content-type", "application/grpc", "te", "trailers"}, extra...)
		b := block(reqEnc, &reqBlock, fields...)
		// A header block split into HEADERS and CONTINUATION.
		must(rf.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: b[:len(b)/2]}))
		must(rf.WriteContinuation(stream, true, b[len(b)/2:]))
		must(rf.WriteData(stream, true, []byte("\x00\x00\x00\x00\x03abc")))
	}
	request(1, "Say", "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	request(3, "Find")
	request(5, "Stream")
	must(sf.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true,
		BlockFragment: block(respEnc, &respBlock, ":status", "200", "content-type", "application/grpc")}))
	must(sf.WriteData(1, false, make([]byte, 16384)))
	must(sf.WriteData(1, false, make([]byte, 16384)))
	must(sf.WriteData(1, false, make([]byte, 8192)))
	must(sf.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true,
		BlockFragment: block(respEnc, &respBlock, "grpc-status", "0")}))
	must(sf.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, EndHeaders: true, EndStream: true,
		BlockFragment: block(respEnc, &respBlock, ":status", "200", "content-type", "application/grpc", "grpc-status", "5", "grpc-message", "no such thing")}))
	must(rf.WriteRSTStream(5, http2.ErrCodeCancel))
	return req.Bytes(), resp.Bytes()
}

// feed gives the server side's conversation to an h2Conn in reads of at
// most chunk bytes, each captured up to capture bytes.
func feed(t testing.TB, requests, responses []byte, chunk, capture int) ([]*grpcCall, bool) {
	c := newH2Conn(true)
	var calls []*grpcCall
	ts := uint64(0)
	for _, dir := range []struct {
		b       []byte
		ingress bool
	}{{requests, true}, {responses, false}} {
		for b := dir.b; len(b) > 0; {
			n := min(chunk, len(b))
			ts++
			done, ok := c.add(dataEvent{tsNs: ts, ingress: dir.ingress, length: int64(n), data: b[:min(n, capture)]})
			if !ok {
				return calls, false
			}
			calls = append(calls, done...)
			b = b[n:]
		}
	}
	return calls, true
}

func TestH2FollowsGRPCCalls(t *testing.T) {
	requests, responses := h2Conversation(t)
	for _, chunk := range []int{1, 7, 9, 100, 1 << 20} {
		calls, ok := feed(t, requests, responses, chunk, 1<<20)
		if !ok || len(calls) != 3 {
			t.Fatalf("chunk %d: ok %v, %d calls", chunk, ok, len(calls))
		}
		byPath := map[string]*grpcCall{}
		for _, x := range calls {
			byPath[x.path] = x
			if !x.grpc || !x.server || x.endNs < x.startNs {
				t.Errorf("chunk %d: %+v", chunk, x)
			}
		}
		if x := byPath["/pkg.Echo/Say"]; x == nil || x.status != 0 || x.respBytes != 40960 ||
			x.traceparent != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" {
			t.Errorf("chunk %d: Say %+v", chunk, x)
		}
		if x := byPath["/pkg.Echo/Stream"]; x == nil || x.status != 1 {
			t.Errorf("chunk %d: reset stream %+v", chunk, x)
		}
	}
	// Stream 3 reuses stream 1's header fields from the dynamic table:
	// decoded only because every block was seen.
	calls, _ := feed(t, requests, responses, 1<<20, 1<<20)
	for _, x := range calls {
		if x.path == "/pkg.Echo/Find" && (x.status != 5 || x.message != "no such thing" || !x.grpc) {
			t.Errorf("Find: %+v", x)
		}
	}
}

// Captures that end inside a DATA payload lose nothing that matters; bytes
// lost where a frame header or header block was make the connection
// unfollowable (and say so).
func TestH2CaptureLoss(t *testing.T) {
	requests, responses := h2Conversation(t)
	// Responses in reads of 16 KiB + 9 captured to 4 KiB: the lost bytes are
	// DATA payload, except where a read's end holds the next frame's header.
	if _, ok := feed(t, requests, responses, 1<<20, 4096); ok {
		t.Error("a capture that lost frame headers was followed")
	}
	// Each response DATA frame read on its own, captured to its header.
	c := newH2Conn(true)
	var calls []*grpcCall
	for _, b := range append([][]byte{h2Preface}, h2Frames(requests[len(h2Preface):])...) {
		done, _ := c.add(dataEvent{ingress: true, length: int64(len(b)), data: b})
		calls = append(calls, done...)
	}
	_, _ = c.add(dataEvent{}) // nothing
	for _, b := range h2Frames(responses) {
		captured := b
		if b[3] == h2FrameData {
			captured = b[:9]
		}
		done, ok := c.add(dataEvent{ingress: false, length: int64(len(b)), data: captured})
		if !ok {
			t.Fatal("DATA payload loss broke the connection")
		}
		calls = append(calls, done...)
	}
	if len(calls) != 3 {
		t.Fatalf("%d calls, want 3", len(calls))
	}
}

// h2Frames splits a frame sequence into frames.
func h2Frames(b []byte) [][]byte {
	var out [][]byte
	for len(b) >= 9 {
		n := 9 + (int(b[0])<<16 | int(b[1])<<8 | int(b[2]))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func FuzzH2(f *testing.F) {
	requests, responses := h2Conversation(f)
	f.Add(requests[len(h2Preface):], responses, uint16(100))
	f.Add([]byte{0, 0, 4, 1, 5, 0, 0, 0, 1, 0x82, 0x86, 0x84, 0x41}, []byte{0, 0, 1, 1, 5, 0, 0, 0, 1, 0x88}, uint16(3))
	f.Fuzz(func(t *testing.T, req, resp []byte, chunk uint16) {
		c := newH2Conn(true)
		step := int(chunk%512) + 1
		ok := true
		for i, b := range [][]byte{append(append([]byte(nil), h2Preface...), req...), resp} {
			for len(b) > 0 && ok {
				n := min(step, len(b))
				_, ok = c.add(dataEvent{ingress: i == 0, length: int64(n) + int64(chunk%3), data: b[:n]})
				b = b[n:]
			}
		}
		if len(c.streams) > h2MaxStreams {
			t.Fatalf("%d streams", len(c.streams))
		}
		for _, d := range c.dirs {
			if len(d.pending) > h2MaxPending || len(d.block) > h2MaxBlock {
				t.Fatal("unbounded buffers")
			}
		}
	})
}

// A preface on a connection already followed starts a new one (a Unix
// socket's address reused: no close event was seen), and the calls of the
// new connection decode with a fresh HPACK state.
func TestAssemblerNewPrefaceStartsNewConnection(t *testing.T) {
	requests, responses := h2Conversation(t)
	r := newRun()
	var calls []*grpcCall
	r.a.emitGRPC = func(x *grpcCall) { calls = append(calls, x) }
	for range 2 {
		r.a.add(dataEvent{conn: connKey{9, 0}, ingress: true, length: int64(len(requests)), data: requests, tuple: endpoints{unix: true}})
		r.a.add(dataEvent{conn: connKey{9, 0}, ingress: false, length: int64(len(responses)), data: responses, tuple: endpoints{unix: true}})
	}
	if len(calls) != 6 || r.a.h2Lost.Load() != 0 {
		t.Fatalf("%d calls, %d connections lost; want 6 and 0", len(calls), r.a.h2Lost.Load())
	}
}
