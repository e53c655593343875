package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// waitListeningFast polls every millisecond and returns when the port takes
// connections.
func waitListeningFast(t *testing.T, port int) time.Time {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			conn.Close()
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %d", port)
		}
		time.Sleep(time.Millisecond)
	}
}

// firstRequestSpan makes one request as soon as the server listens (well
// within 100 ms) and returns its span.
func firstRequestSpan(t *testing.T, sink *harness.Sink, port int, path string) tcpSpan {
	t.Helper()
	listening := waitListeningFast(t, port)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if d := time.Since(listening); d > 100*time.Millisecond {
		t.Fatalf("the first request took %v after the server listened; the test wants it within 100 ms", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := sink.WaitFor(ctx, func([]harness.Request) bool { return len(tcpSpans(sink)) >= 1 }); err != nil {
		t.Fatalf("no span for the first request of a server started after the collector: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	spans := tcpSpans(sink)
	if len(spans) != 1 {
		t.Fatalf("got %d spans, want 1", len(spans))
	}
	s := spans[0]
	expect(t, "kind", s.span.Kind(), ptrace.SpanKindServer)
	expect(t, "path", attr(s.span.Attributes(), "url.path"), path)
	expect(t, "server.port", intAttr(s.span.Attributes(), "server.port"), int64(port))
	return s
}

// A Go server started after the collector: the kernel selects it when its
// socket enters LISTEN on the selected port, so its very first request is a
// span, although the process scan runs only once an hour here.
func TestEBPFServerStartedLaterFirstRequest(t *testing.T) {
	requireRoot(t)
	built := harness.BuildProgram(t, "./bench/httpserver")
	port := harness.FreePort(t)
	// A copy of its own, so nothing else on the machine shares the name.
	server := fmt.Sprintf("%s/late%d", t.TempDir(), port)
	data, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(server, data, 0o755); err != nil {
		t.Fatal(err)
	}
	sink := startEBPFCollector(t, fmt.Sprintf("{ports: [%d], refresh_interval: 1h}", port))

	cmd := exec.Command(server, "-addr", fmt.Sprintf("127.0.0.1:%d", port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	s := firstRequestSpan(t, sink, port, "/sessions")
	expect(t, "status", intAttr(s.span.Attributes(), "http.response.status_code"), int64(200))
	expect(t, "pid", intAttr(s.resource, "process.pid"), int64(cmd.Process.Pid))
	expect(t, "executable", attr(s.resource, "process.executable.name"), fmt.Sprintf("late%d", port))
}

// nginx started after the collector: the master listens, then forks the
// worker that serves; the worker inherits the kernel's selection.
func TestEBPFNginxStartedLaterFirstRequest(t *testing.T) {
	requireRoot(t)
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		t.Fatalf("nginx is needed (apt-get install nginx): %v", err)
	}
	port := harness.FreePort(t)
	sink := startEBPFCollector(t, fmt.Sprintf("{ports: [%d], refresh_interval: 1h}", port))
	master := startNginx(t, nginx, port)
	s := firstRequestSpan(t, sink, port, "/index.html")
	expect(t, "status", intAttr(s.span.Attributes(), "http.response.status_code"), int64(200))
	expect(t, "service.name", attr(s.resource, "service.name"), "nginx")
	if pid := intAttr(s.resource, "process.pid"); pid == int64(master.Process.Pid) || pid == 0 {
		t.Errorf("span of pid %d, want the worker's (master %d)", pid, master.Process.Pid)
	}
}
