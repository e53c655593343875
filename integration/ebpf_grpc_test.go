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
	spans := waitTCPSpans(t, sink, 2*calls, time.Second)
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

// grpcioServer is a gRPC server in Python's grpcio (gRPC C-core: its own
// HTTP/2 and HPACK), with a generic handler: Say (unary; NOT_FOUND for
// "missing") and List (server-streaming, three messages, OK).
const grpcioServer = `
import sys
from concurrent import futures
import grpc

def say(request, context):
    if request == b"missing":
        context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
    return b"pong:" + request

def items(request, context):
    for i in range(3):
        yield b"item%d" % i

handler = grpc.method_handlers_generic_handler("test.Echo", {
    "Say": grpc.unary_unary_rpc_method_handler(say),
    "List": grpc.unary_stream_rpc_method_handler(items),
})
server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
server.add_generic_rpc_handlers((handler,))
server.add_insecure_port("127.0.0.1:" + sys.argv[1])
server.start()
server.wait_for_termination()
`

// grpcioClient waits until selected, then on one channel: Say with a
// traceparent, Say("missing"), List, and four Says at once.
const grpcioClient = `
import sys, time
import grpc

time.sleep(float(sys.argv[3]))
with grpc.insecure_channel("127.0.0.1:" + sys.argv[1]) as channel:
    say = channel.unary_unary("/test.Echo/Say")
    items = channel.unary_stream("/test.Echo/List")
    print("Say", say(b"hi", metadata=(("traceparent", sys.argv[2]),)))
    try:
        say(b"missing")
    except grpc.RpcError as e:
        print("Say missing", e.code())
    print("List", list(items(b"")))
    calls = [say.future(b"x%d" % i) for i in range(4)]
    print("concurrent", [c.result() for c in calls])
    time.sleep(0.2)
print("done", flush=True)
time.sleep(30)
`

// The same with Python's grpcio (Debian's python3-grpcio, for the system
// python3) as server and client: another HTTP/2 and HPACK implementation.
func TestEBPFGRPCSpansPythonGrpcio(t *testing.T) {
	requireRoot(t)
	const python = "/usr/bin/python3" // Debian's, which python3-grpcio is for
	if out, err := exec.Command(python, "-c", "import grpc").CombinedOutput(); err != nil {
		t.Fatalf("python3-grpcio is needed (apt-get install python3-grpcio): %v %s", err, out)
	}
	start := func(args ...string) *exec.Cmd {
		cmd := exec.Command(python, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	port := harness.FreePort(t)
	server := start("-c", grpcioServer, fmt.Sprint(port))
	waitListening(t, port)
	const trace, parent = "7bf92f3577b34da6a3ce929d0e0e4736", "20f067aa0ba902b7"
	var clientOut strings.Builder
	client := exec.Command(python, "-c", grpcioClient, fmt.Sprint(port), "00-"+trace+"-"+parent+"-01", "2")
	client.Stdout, client.Stderr = &clientOut, &clientOut
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Process.Kill(); _ = client.Wait() })

	sink := startEBPFCollector(t, fmt.Sprintf("{ports: [%d], pids: [%d], refresh_interval: 500ms}", port, client.Process.Pid))

	const calls = 7
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := sink.WaitFor(ctx, func([]harness.Request) bool { return len(tcpSpans(sink)) >= 2*calls }); err != nil {
		t.Fatalf("%v: got %d spans, want %d; client said:\n%s", err, len(tcpSpans(sink)), 2*calls, clientOut.String())
	}
	time.Sleep(time.Second)
	spans := tcpSpans(sink)
	got := map[string]int{}
	var joined int
	for _, s := range spans {
		attrs := s.span.Attributes()
		expect(t, "rpc.system", attr(attrs, "rpc.system"), "grpc")
		expect(t, "rpc.service", attr(attrs, "rpc.service"), "test.Echo")
		expect(t, "server.port", intAttr(attrs, "server.port"), int64(port))
		want := int64(server.Process.Pid)
		if s.span.Kind() == ptrace.SpanKindClient {
			want = int64(client.Process.Pid)
		}
		expect(t, s.span.Kind().String()+" pid", intAttr(s.resource, "process.pid"), want)
		if s.span.TraceID().String() == trace {
			joined++
			expect(t, "joined parent", s.span.ParentSpanID().String(), parent)
		}
		got[fmt.Sprintf("%s %s %d", s.span.Kind(), attr(attrs, "rpc.method"), intAttr(attrs, "rpc.grpc.status_code"))]++
	}
	if !strings.Contains(clientOut.String(), "done") {
		t.Errorf("the client did not finish:\n%s", clientOut.String())
	}
	expect(t, "server spans joining the traceparent", joined, 1)
	expect(t, "calls", got, map[string]int{
		"Server Say 0": 5, "Server Say 5": 1, "Server List 0": 1,
		"Client Say 0": 5, "Client Say 5": 1, "Client List 0": 1,
	})
}

// gRPC over a Unix socket (where local daemons often listen): the same calls
// between grpc-go peers selected by their executable names, spans with
// network.transport=unix.
func TestEBPFGRPCSpansOverUnixSocket(t *testing.T) {
	requireRoot(t)
	built := harness.BuildProgram(t, "./integration/grpcpeer")
	id := harness.FreePort(t) // a number of this test's own, for unique names
	// Names without a common prefix: the regex stays a list of literals,
	// which the kernel selects from a process's first syscall.
	serverName, clientName := fmt.Sprintf("usrv%d", id), fmt.Sprintf("gcli%d", id)
	serverBin, clientBin := copyProgram(t, built, serverName), copyProgram(t, built, clientName)
	socket := t.TempDir() + "/grpc.sock"

	sink := startEBPFCollector(t, fmt.Sprintf("{executable_regex: ^(%s|%s)$, refresh_interval: 500ms}", serverName, clientName))
	server := exec.Command(serverBin, "-serve", "unix:"+socket)
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Process.Kill(); _ = server.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(socket); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server did not create its socket")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second) // the next process scan selects the server by name

	const trace, parent = "8bf92f3577b34da6a3ce929d0e0e4736", "30f067aa0ba902b7"
	out, err := exec.Command(clientBin, "-call", "unix://"+socket, "-traceparent", "00-"+trace+"-"+parent+"-01").CombinedOutput()
	if err != nil {
		t.Fatalf("grpc client: %v\n%s", err, out)
	}
	const calls = 11
	waitTCPSpans(t, sink, 2*calls, time.Second)
	got := map[string]int{}
	var joined int
	for _, s := range tcpSpans(sink) {
		attrs := s.span.Attributes()
		expect(t, "network.transport", attr(attrs, "network.transport"), "unix")
		expect(t, "rpc.service", attr(attrs, "rpc.service"), "grpc.health.v1.Health")
		if _, has := attrs.Get("server.port"); has {
			t.Errorf("a Unix socket span has server.port: %v", attrs.AsRaw())
		}
		wantExe := serverName
		if s.span.Kind() == ptrace.SpanKindClient {
			wantExe = clientName
		}
		expect(t, s.span.Kind().String()+" executable", attr(s.resource, "process.executable.name"), wantExe)
		if s.span.TraceID().String() == trace {
			joined++
		}
		got[fmt.Sprintf("%s %s %d", s.span.Kind(), attr(attrs, "rpc.method"), intAttr(attrs, "rpc.grpc.status_code"))]++
	}
	expect(t, "server spans joining the traceparent", joined, 1)
	expect(t, "calls", got, map[string]int{
		"Server Check 0": 9, "Server Check 5": 1, "Server Watch 1": 1,
		"Client Check 0": 9, "Client Check 5": 1, "Client Watch 1": 1,
	})
}
