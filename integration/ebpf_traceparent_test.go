package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

const (
	traceBehindCookie  = "5bf92f3577b34da6a3ce929d0e0e4736"
	parentBehindCookie = "00f067aa0ba902b7"
)

// getBehindCookie makes one request whose traceparent comes after a Cookie
// header of cookieLen bytes, written in one write on its own connection.
func getBehindCookie(t *testing.T, port, cookieLen int, path string) {
	t.Helper()
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: session=%s\r\ntraceparent: 00-%s-%s-01\r\nConnection: close\r\n\r\n",
		path, strings.Repeat("c", cookieLen), traceBehindCookie, parentBehindCookie)
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// A traceparent behind a 1 KiB Cookie is joined, from Python's http.server
// (one read of the whole head) and from nginx (which reads a head 1 KiB at
// a time: the traceparent is in its second read). Behind a 6 KiB Cookie it
// is beyond what the kernel captures of a read: the span gets its own trace,
// is marked, and counted.
func TestEBPFTraceparentBehindLargeHeaders(t *testing.T) {
	requireRoot(t)
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		t.Fatalf("nginx is needed (apt-get install nginx): %v", err)
	}
	pyPort, nginxPort := harness.FreePort(t), harness.FreePort(t)
	startPython(t, "-c", keepAliveServer, fmt.Sprint(pyPort))
	startNginx(t, nginx, nginxPort)
	waitListening(t, pyPort)
	waitListening(t, nginxPort)
	sink := harness.NewSink(t)
	c := startEBPFCollectorTo(t, fmt.Sprintf("{ports: [%d, %d], refresh_interval: 500ms}", pyPort, nginxPort), sink.URL)
	time.Sleep(time.Second)

	getBehindCookie(t, pyPort, 1024, "/python-1k")
	getBehindCookie(t, nginxPort, 1024, "/nginx-1k")
	getBehindCookie(t, pyPort, 6<<10, "/python-6k")

	waitTCPSpans(t, sink, 3, time.Second)
	spans := map[string]tcpSpan{}
	for _, s := range tcpSpans(sink) {
		spans[attr(s.span.Attributes(), "url.path")] = s
	}
	if len(tcpSpans(sink)) != 3 || len(spans) != 3 {
		t.Fatalf("got spans %v, want /python-1k, /nginx-1k, /python-6k", keys(spans))
	}
	for _, path := range []string{"/python-1k", "/nginx-1k"} {
		s := spans[path].span
		expect(t, path+" trace joined", s.TraceID().String(), traceBehindCookie)
		expect(t, path+" parent", s.ParentSpanID().String(), parentBehindCookie)
		if _, marked := s.Attributes().Get("ebpf.http.request.head_truncated"); marked {
			t.Errorf("%s marked truncated", path)
		}
	}
	big := spans["/python-6k"].span
	expect(t, "6 KiB: own trace", big.TraceID().String() != traceBehindCookie, true)
	if v, ok := big.Attributes().Get("ebpf.http.request.head_truncated"); !ok || !v.Bool() {
		t.Errorf("6 KiB head not marked: %v", big.Attributes().AsRaw())
	}
	waitMetric(t, c, 1, "otelcol_receiver_ebpf_network_http_request_heads_truncated")
}
