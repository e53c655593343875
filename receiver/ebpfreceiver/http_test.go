package ebpfreceiver

import (
	"strings"
	"testing"
	"time"
)

func TestParseRequestHead(t *testing.T) {
	head := "POST /v1/logs?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n" +
		"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n"
	h, ok := parseRequestHead([]byte(head + "body"))
	if !ok || h.method != "POST" || h.target != "/v1/logs?x=1" || h.version != "1.1" || h.contentLength != 12 ||
		h.traceparent != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" || h.headLength != len(head) {
		t.Errorf("got %+v %v", h, ok)
	}
	// The head goes on past the captured bytes.
	if h, ok := parseRequestHead([]byte("GET / HTTP/1.0\r\nHost: a\r\nUser-Ag")); !ok || h.headLength != -1 {
		t.Errorf("truncated head: %+v %v", h, ok)
	}
	for _, notRequest := range []string{
		"", "GET", "GET / HTTP/1.1", // no complete line
		"HELLO THERE\r\n", "get / HTTP/1.1\r\n", "GET  HTTP/1.1\r\n", "GET / HTTP/2.0\r\n",
		"GET relative HTTP/1.1\r\n", "HTTP/1.1 200 OK\r\n", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n",
	} {
		if _, ok := parseRequestHead([]byte(notRequest)); ok {
			t.Errorf("%q parsed as a request", notRequest)
		}
	}
}

func TestParseResponseHead(t *testing.T) {
	head := "HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\n"
	h, ok := parseResponseHead([]byte(head + "nope!"))
	if !ok || h.status != 404 || h.contentLength != 5 || h.headLength != len(head) {
		t.Errorf("got %+v %v", h, ok)
	}
	for _, notResponse := range []string{"HTTP/1.1 20 OK\r\n", "HTTP/1.1 600 X\r\n", "HTTP/3 200 OK\r\n", "GET / HTTP/1.1\r\n", "HTTP/1.1 2000\r\n"} {
		if _, ok := parseResponseHead([]byte(notResponse)); ok {
			t.Errorf("%q parsed as a response", notResponse)
		}
	}
}

func TestParseTraceparent(t *testing.T) {
	trace, parent, ok := parseTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	if !ok || trace[0] != 0x0a || parent[7] != 0x31 {
		t.Errorf("got %x %x %v", trace, parent, ok)
	}
	for _, bad := range []string{"", "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"00-00000000000000000000000000000000-b7ad6b7169203331-01", "00-0af7651916cd43dd8448eb211c80319z-b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", // no parent
		"00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", // separators
		"00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331--1",    // flags
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-00", // longer
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01"} {   // shorter
		if _, _, ok := parseTraceparent(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

type assemblerRun struct {
	a     *httpAssembler
	spans []*exchange
	clock time.Time
}

func newRun() *assemblerRun {
	r := &assemblerRun{clock: time.Unix(1000, 0)}
	r.a = newHTTPAssembler(&Config{HTTP: HTTPConfig{IdleTimeout: time.Second}, MaxTrackedConnections: 16384},
		func(x *exchange) { r.spans = append(r.spans, x) })
	r.a.now = func() time.Time { return r.clock }
	return r
}

func (r *assemblerRun) io(ts uint64, ingress bool, data string) {
	r.a.add(dataEvent{tsNs: ts, conn: connKey{1, 1}, pid: 7, length: int64(len(data)), data: []byte(data), ingress: ingress})
}

func TestAssemblerKeepAliveAndSplitMessages(t *testing.T) {
	r := newRun()
	// Server side: request split over two reads, response head and body in
	// two writes with Content-Length: done when the body is complete.
	r.io(100, true, "GET /one HTTP/1.1\r\nHost: x\r\n")
	r.io(110, true, "\r\n")
	r.io(200, false, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n")
	if len(r.spans) != 0 {
		t.Fatal("emitted before the body was written")
	}
	r.io(250, false, "body")
	if len(r.spans) != 1 || r.spans[0].endNs != 250 || r.spans[0].status != 200 || !r.spans[0].server || r.spans[0].startNs != 100 {
		t.Fatalf("first exchange: %+v", r.spans)
	}
	// Keep-alive: a second request, response without a length, ended by
	// the next request.
	r.io(300, true, "GET /two HTTP/1.1\r\n\r\n")
	r.io(400, false, "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n")
	r.io(410, false, "5\r\nhello\r\n0\r\n\r\n")
	r.io(500, true, "GET /three HTTP/1.1\r\n\r\n")
	if len(r.spans) != 2 || r.spans[1].target != "/two" || r.spans[1].endNs != 410 || r.spans[1].status != 500 {
		t.Fatalf("second exchange: %+v", r.spans[len(r.spans)-1])
	}
	// The third response has no length: the connection's close ends it,
	// after the grace for late data.
	r.io(600, false, "HTTP/1.0 204 No Content\r\n\r\n")
	if len(r.spans) != 3 || r.spans[2].status != 204 {
		t.Fatalf("204 has no body and ends with its head: %+v", r.spans)
	}
}

func TestAssemblerPipeliningCloseAndIdle(t *testing.T) {
	r := newRun()
	// Client side: two pipelined requests, responses in order.
	r.io(100, false, "GET /a HTTP/1.1\r\n\r\n")
	r.io(101, false, "GET /b HTTP/1.1\r\n\r\n")
	r.io(200, true, "HTTP/1.1 200 OK\r\n\r\npartial")
	r.io(300, true, "HTTP/1.1 404 Not Found\r\n\r\n")
	if len(r.spans) != 1 || r.spans[0].target != "/a" || r.spans[0].server {
		t.Fatalf("pipelined first: %+v", r.spans)
	}
	// Idle: the second response ends after the idle timeout.
	r.clock = r.clock.Add(2 * time.Second)
	r.a.expire(r.clock)
	if len(r.spans) != 2 || r.spans[1].target != "/b" || r.spans[1].status != 404 {
		t.Fatalf("idle end: %+v", r.spans)
	}
	// Close with a response in progress: emitted after the grace period.
	r.io(400, false, "GET /c HTTP/1.1\r\n\r\n")
	r.io(500, true, "HTTP/1.1 200 OK\r\n\r\n")
	r.a.connectionClosed(connKey{1, 1})
	r.a.expire(r.clock.Add(closeGrace / 2))
	if len(r.spans) != 2 {
		t.Fatal("emitted within the close grace period")
	}
	r.io(510, true, "late body bytes")
	r.a.expire(r.clock.Add(closeGrace))
	if len(r.spans) != 3 || r.spans[2].respBytes != int64(len("HTTP/1.1 200 OK\r\n\r\n")+len("late body bytes")) {
		t.Fatalf("close: %+v", r.spans)
	}
	if len(r.a.conns) != 0 {
		t.Error("closed connection not forgotten")
	}
}

func TestAssemblerIgnoresNonHTTP(t *testing.T) {
	r := newRun()
	r.io(100, true, "HELLO THERE\r\n\r\n")
	r.io(200, false, "HTTP/1.1 400 Bad Request\r\n\r\n")
	r.io(300, true, "\x16\x03\x01 TLS client hello")
	if len(r.spans) != 0 || len(r.a.conns) != 0 {
		t.Errorf("non-HTTP traffic produced %v spans, tracked %d connections", r.spans, len(r.a.conns))
	}
}

func FuzzParseHeads(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
		"POST /x?y HTTP/1.0\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n",
		"HELLO\r\n", "\x00\xff\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, ok := parseRequestHead(b); ok {
			if !httpMethods[h.method] || h.target == "" || h.headLength > len(b) {
				t.Fatalf("bad request head %+v from %q", h, b)
			}
			_, _, _ = parseTraceparent(h.traceparent)
		}
		if h, ok := parseResponseHead(b); ok && (h.status < 100 || h.status > 599 || h.headLength > len(b)) {
			t.Fatalf("bad response head %+v from %q", h, b)
		}
		// Whatever the bytes, the assembler neither panics nor grows
		// without bound.
		r := newRun()
		for i := range 40 {
			r.io(uint64(i), i%3 != 0, string(b))
		}
		for _, c := range r.a.conns {
			if len(c.pending) > maxPendingRequests {
				t.Fatalf("%d pending requests", len(c.pending))
			}
		}
	})
}

func TestAssemblerBoundsConnections(t *testing.T) {
	r := newRun()
	r.a.maxConns = 3
	for sock := uint64(1); sock <= 5; sock++ {
		r.clock = r.clock.Add(time.Second)
		r.a.add(dataEvent{tsNs: sock, conn: connKey{sock, 1}, length: 20, data: []byte("GET / HTTP/1.1\r\n\r\n"), ingress: true})
	}
	if len(r.a.conns) != 3 || r.a.evicted.Load() != 2 {
		t.Fatalf("%d connections followed, %d evicted; want 3 and 2", len(r.a.conns), r.a.evicted.Load())
	}
	if _, ok := r.a.conns[connKey{1, 1}]; ok {
		t.Error("the least recently active connection was kept")
	}
}

func TestAssemblerTellsReusedSockAddressesApart(t *testing.T) {
	r := newRun()
	old, reused := connKey{sock: 0xffff0001, start: 100}, connKey{sock: 0xffff0001, start: 900}
	r.a.add(dataEvent{tsNs: 100, conn: old, length: 20, data: []byte("GET /old HTTP/1.1\r\n\r\n"), ingress: true})
	// A new client connection on a freed and reused sock address.
	r.a.add(dataEvent{tsNs: 900, conn: reused, length: 20, data: []byte("GET /new HTTP/1.1\r\n\r\n"), ingress: false})
	r.a.add(dataEvent{tsNs: 950, conn: reused, length: 40, data: []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), ingress: true})
	if len(r.spans) != 1 || r.spans[0].target != "/new" || r.spans[0].server {
		t.Fatalf("got %+v; want one client span for /new", r.spans)
	}
}

// Go's net/http server reads one byte of the next request in the
// background while the handler runs.
func TestAssemblerJoinsOneByteReadAhead(t *testing.T) {
	r := newRun()
	r.io(100, true, "GET /a HTTP/1.1\r\n\r\n")
	r.io(110, true, "G") // background read-ahead
	r.io(200, false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	r.io(300, true, "ET /b HTTP/1.1\r\n\r\n")
	r.io(400, false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	if len(r.spans) != 2 || r.spans[0].target != "/a" || r.spans[1].target != "/b" || r.spans[1].startNs != 300 {
		t.Fatalf("got %+v; want /a and /b", r.spans)
	}
	// Body bytes that happen to look like a method start are not kept
	// forever: the next message replaces them.
	r.io(500, true, "POST /c HTTP/1.1\r\nContent-Length: 1\r\n\r\n")
	r.io(510, true, "P")
	r.io(600, false, "HTTP/1.1 204 No Content\r\n\r\n")
	r.io(700, true, "GET /d HTTP/1.1\r\n\r\n") // not "PGET"
	r.io(800, false, "HTTP/1.1 204 No Content\r\n\r\n")
	if len(r.spans) != 4 || r.spans[2].target != "/c" || r.spans[3].target != "/d" {
		t.Fatalf("got %+v", r.spans)
	}
}

// Expect: 100-continue (curl sends it for bodies over 1 MiB): the interim
// 100 is not the response; the exchange ends with the final one.
func TestAssemblerSkipsInterimResponses(t *testing.T) {
	r := newRun()
	r.io(100, true, "POST /upload HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
	r.io(150, false, "HTTP/1.1 100 Continue\r\n\r\n")
	r.io(200, true, "body")
	if len(r.spans) != 0 {
		t.Fatalf("the 100 ended the exchange: %+v", r.spans[0])
	}
	r.io(300, false, "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n")
	r.io(310, false, "no")
	if len(r.spans) != 1 || r.spans[0].status != 404 || r.spans[0].endNs != 310 || r.spans[0].reqBytes != int64(len("POST /upload HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")+4) {
		t.Fatalf("got %+v; want one 404 ending at 310", r.spans)
	}
	// 103 Early Hints and the final response in one write, then the body.
	r.io(400, true, "GET /hints HTTP/1.1\r\n\r\n")
	r.io(500, false, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n")
	if len(r.spans) != 1 {
		t.Fatalf("emitted before the body: %+v", r.spans[1])
	}
	r.io(510, false, "abc")
	if len(r.spans) != 2 || r.spans[1].status != 200 || r.spans[1].endNs != 510 {
		t.Fatalf("got %+v; want a 200 ending at 510", r.spans[1:])
	}
	// 101 Switching Protocols is final.
	r.io(600, true, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n")
	r.io(700, false, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
	if len(r.spans) != 3 || r.spans[2].status != 101 {
		t.Fatalf("101: %+v", r.spans[2:])
	}
}

// network.protocol.version is the response's: an HTTP/1.0 server answering
// an HTTP/1.1 request spoke 1.0.
func TestAssemblerVersionFromResponse(t *testing.T) {
	r := newRun()
	r.io(100, true, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	r.io(200, false, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
	if len(r.spans) != 1 || r.spans[0].version != "1.0" {
		t.Fatalf("got %+v; want version 1.0", r.spans)
	}
}

const testTraceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

// A request head read in pieces (nginx reads 1 KiB first): the traceparent
// in a later read, even split across reads, is joined.
func TestAssemblerHeadOverSeveralReads(t *testing.T) {
	r := newRun()
	head := "GET /big HTTP/1.1\r\nCookie: " + strings.Repeat("c", 1000) + "\r\ntraceparent: " + testTraceparent + "\r\nHost: x\r\n\r\n"
	for _, part := range []string{head[:1024], head[1024:1040], head[1040:]} {
		r.io(100, true, part)
	}
	r.io(200, false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	if len(r.spans) != 1 || r.spans[0].traceparent != testTraceparent || r.spans[0].headTruncated || r.spans[0].reqBytes != int64(len(head)) {
		t.Fatalf("got %+v", r.spans)
	}
}

// A read captured only in part (the kernel's capture bound) whose captured
// bytes end inside the head, without a traceparent: marked and counted.
func TestAssemblerMarksTruncatedHeads(t *testing.T) {
	r := newRun()
	head := "GET /huge HTTP/1.1\r\nCookie: " + strings.Repeat("c", 5000) + "\r\ntraceparent: " + testTraceparent + "\r\n\r\n"
	r.a.add(dataEvent{tsNs: 100, conn: connKey{1, 1}, length: int64(len(head)), data: []byte(head[:4096]), ingress: true})
	r.io(200, false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	if len(r.spans) != 1 || !r.spans[0].headTruncated || r.spans[0].traceparent != "" || r.a.truncatedHeads.Load() != 1 {
		t.Fatalf("got %+v, %d counted", r.spans, r.a.truncatedHeads.Load())
	}
	// With the traceparent in the captured part, nothing is missing.
	head = "GET /huge HTTP/1.1\r\ntraceparent: " + testTraceparent + "\r\nCookie: " + strings.Repeat("c", 5000) + "\r\n\r\n"
	r.a.add(dataEvent{tsNs: 300, conn: connKey{1, 1}, length: int64(len(head)), data: []byte(head[:4096]), ingress: true})
	r.io(400, false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	if len(r.spans) != 2 || r.spans[1].headTruncated || r.spans[1].traceparent != testTraceparent || r.a.truncatedHeads.Load() != 1 {
		t.Fatalf("got %+v, %d counted", r.spans[1], r.a.truncatedHeads.Load())
	}
}
