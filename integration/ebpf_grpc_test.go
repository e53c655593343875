package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// copyProgram copies a built program under a name of its own (at most 15
// characters, the kernel's comm), so the test selects only its process.
func copyProgram(t *testing.T, built, name string) string {
	t.Helper()
	data, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/" + name
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// gRPC over h2c between a grpc-go server and client (grpc-go's health
// service): one server span and one client span per call, on one
// connection: unary OK with a traceparent, unary NOT_FOUND, a
// server-streaming Watch cancelled by the client, and 8 concurrent unary
// calls. The server is selected by its port, the client by its executable
// name (selected in the kernel from its first syscall).
func TestEBPFGRPCSpans(t *testing.T) {
	requireRoot(t)
	built := harness.BuildProgram(t, "./integration/grpcpeer")
	port := harness.FreePort(t)
	serverBin := copyProgram(t, built, fmt.Sprintf("grpcs%d", port))
	clientName := fmt.Sprintf("grpcc%d", port)
	clientBin := copyProgram(t, built, clientName)

	sink := startEBPFCollector(t, fmt.Sprintf("{ports: [%d], executable_regex: ^%s$, refresh_interval: 1h}", port, clientName))
	server := exec.Command(serverBin, "-serve", fmt.Sprintf("127.0.0.1:%d", port))
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Process.Kill(); _ = server.Wait() })
	waitListening(t, port)

	const trace, parent = "6bf92f3577b34da6a3ce929d0e0e4736", "10f067aa0ba902b7"
	out, err := exec.Command(clientBin, "-call", fmt.Sprintf("127.0.0.1:%d", port),
		"-traceparent", "00-"+trace+"-"+parent+"-01").CombinedOutput()
	if err != nil {
		t.Fatalf("grpc client: %v\n%s", err, out)
	}
	for _, want := range []string{"Check missing NotFound", "Watch Canceled", "concurrent Check OK 8"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("client output lacks %q:\n%s", want, out)
		}
	}

	const calls = 11
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := sink.WaitFor(ctx, func([]harness.Request) bool { return len(tcpSpans(sink)) >= 2*calls }); err != nil {
		t.Fatalf("%v: got %d spans, want %d", err, len(tcpSpans(sink)), 2*calls)
	}
	time.Sleep(time.Second)
	spans := tcpSpans(sink)
	if len(spans) != 2*calls {
		for _, s := range spans {
			t.Logf("%s %s %v", s.span.Kind(), s.span.Name(), s.span.Attributes().AsRaw())
		}
		t.Fatalf("got %d spans, want %d", len(spans), 2*calls)
	}
	// kind/method/status -> count
	got := map[string]int{}
	var joined int
	for _, s := range spans {
		attrs := s.span.Attributes()
		expect(t, "rpc.system", attr(attrs, "rpc.system"), "grpc")
		expect(t, "rpc.service", attr(attrs, "rpc.service"), "grpc.health.v1.Health")
		expect(t, "server.port", intAttr(attrs, "server.port"), int64(port))
		expect(t, "network.protocol.version", attr(attrs, "network.protocol.version"), "2")
		expect(t, "name", s.span.Name(), "grpc.health.v1.Health/"+attr(attrs, "rpc.method"))
		d := s.span.EndTimestamp().AsTime().Sub(s.span.StartTimestamp().AsTime())
		if d < 0 || d > 10*time.Second {
			t.Errorf("%s: duration %v", s.span.Name(), d)
		}
		wantPid := int64(server.Process.Pid)
		if s.span.Kind() == ptrace.SpanKindClient {
			expect(t, "client executable", attr(s.resource, "process.executable.name"), clientName)
		} else {
			expect(t, "server pid", intAttr(s.resource, "process.pid"), wantPid)
		}
		if s.span.TraceID().String() == trace {
			joined++
			expect(t, "joined span kind", s.span.Kind(), ptrace.SpanKindServer)
			expect(t, "joined parent", s.span.ParentSpanID().String(), parent)
		}
		got[fmt.Sprintf("%s %s %d", s.span.Kind(), attr(attrs, "rpc.method"), intAttr(attrs, "rpc.grpc.status_code"))]++
	}
	expect(t, "server spans joining the traceparent", joined, 1)
	expect(t, "calls", got, map[string]int{
		"Server Check 0": 9, "Server Check 5": 1, "Server Watch 1": 1,
		"Client Check 0": 9, "Client Check 5": 1, "Client Watch 1": 1,
	})
}
