package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// uploadServer is Python's http.server speaking HTTP/1.1, so it answers
// "Expect: 100-continue" with an interim 100 before reading the body
// (BaseHTTPRequestHandler.handle_expect_100); it reads the whole body, then
// answers 200 for /upload and 404 otherwise.
const uploadServer = `
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        while n > 0:
            n -= len(self.rfile.read(min(n, 65536)))
        body = b"stored\n" if self.path == "/upload" else b"nope\n"
        self.send_response(200 if self.path == "/upload" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
`

// curl sends "Expect: 100-continue" for a 2 MiB body and waits for the
// interim 100: each span has the final status and ends with the final
// response, one span per request.
func TestEBPFHTTPExpectContinue(t *testing.T) {
	requireRoot(t)
	port := harness.FreePort(t)
	server := startPython(t, "-c", uploadServer, fmt.Sprint(port))
	waitListening(t, port)
	body := t.TempDir() + "/body"
	if err := os.WriteFile(body, []byte(strings.Repeat("0123456789abcdef", 2<<20/16)), 0o644); err != nil {
		t.Fatal(err)
	}
	sink := startEBPFCollector(t, fmt.Sprintf("{ports: [%d], refresh_interval: 500ms}", port))
	time.Sleep(time.Second)

	for path, want := range map[string]string{"/upload": "200", "/elsewhere": "404"} {
		out, err := exec.Command("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Expect: 100-continue",
			"--data-binary", "@"+body, fmt.Sprintf("http://127.0.0.1:%d%s", port, path)).CombinedOutput()
		if err != nil || string(out) != want {
			t.Fatalf("curl %s: %v %s", path, err, out)
		}
	}
	waitTCPSpans(t, sink, 2, 2*time.Second) // room for a stray span (the 100 as one)
	spans := map[string]tcpSpan{}
	for _, s := range tcpSpans(sink) {
		spans[attr(s.span.Attributes(), "url.path")] = s
	}
	if n := len(tcpSpans(sink)); n != 2 || len(spans) != 2 {
		t.Fatalf("got %d spans %v, want one for /upload and one for /elsewhere", n, keys(spans))
	}
	for path, status := range map[string]int64{"/upload": 200, "/elsewhere": 404} {
		s := spans[path]
		attrs := s.span.Attributes()
		expect(t, path+" status", intAttr(attrs, "http.response.status_code"), status)
		expect(t, path+" method", attr(attrs, "http.request.method"), "POST")
		expect(t, path+" pid", intAttr(s.resource, "process.pid"), int64(server.Process.Pid))
		expect(t, path+" version", attr(attrs, "network.protocol.version"), "1.1")
		if got := intAttr(attrs, "http.request.size"); got < 2<<20 {
			t.Errorf("%s: request size %d, want at least the 2 MiB body", path, got)
		}
	}
}

// Python's http.server by default speaks HTTP/1.0: asked in HTTP/1.1 by a
// Go client, it answers in 1.0, and the span says 1.0.
func TestEBPFHTTPVersionFromResponse(t *testing.T) {
	requireRoot(t)
	port := harness.FreePort(t)
	pythonServer(t, port) // protocol_version HTTP/1.0
	sink := startEBPFCollector(t, fmt.Sprintf("{ports: [%d], refresh_interval: 500ms}", port))
	time.Sleep(time.Second)

	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/1.0" {
		t.Fatalf("the server answered in %s, want HTTP/1.0", resp.Proto)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := sink.WaitFor(ctx, func([]harness.Request) bool { return len(tcpSpans(sink)) >= 1 }); err != nil {
		t.Fatal(err)
	}
	s := tcpSpans(sink)[0]
	expect(t, "status", intAttr(s.span.Attributes(), "http.response.status_code"), int64(200))
	expect(t, "network.protocol.version", attr(s.span.Attributes(), "network.protocol.version"), "1.0")
}
