package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// The eBPF receiver loads and attaches for real: these tests need root (CI
// runs as root; there a missing privilege fails the test instead of skipping).
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("eBPF tests must run as root in CI")
	}
	t.Skip("eBPF tests need root (they load BPF programs)")
}

// pythonServer starts Python's http.server on a loopback port.
func pythonServer(t *testing.T, port int) *exec.Cmd {
	t.Helper()
	cmd := startPython(t, "-m", "http.server", fmt.Sprint(port), "--bind", "127.0.0.1")
	waitListening(t, port)
	return cmd
}

// startPython runs the interpreter itself (not a pyenv shim), so the pid is
// the Python process's; it is killed when the test ends.
func startPython(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Fatalf("python3 is needed: %v", err)
	}
	cmd := exec.Command(strings.TrimSpace(string(out)), args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { harness.Terminate(cmd, 5*time.Second) })
	return cmd
}

// startEBPFCollector runs the collector with one ebpf_network receiver,
// configured by receiver (a YAML flow mapping), and returns the sink its
// spans are exported to.
func startEBPFCollector(t *testing.T, receiver string) *harness.Sink {
	t.Helper()
	sink := harness.NewSink(t)
	health := harness.FreeAddr(t)
	harness.Start(t, binary, harness.Options{HealthEndpoint: health, Config: fmt.Sprintf(`
extensions:
  health_check: {endpoint: %s}
receivers:
  ebpf_network: %s
exporters:
  otlp_http: {endpoint: %s, encoding: json, compression: none, sending_queue: {enabled: false}}
service:
  extensions: [health_check]
  telemetry: {metrics: {level: none}}
  pipelines:
    traces: {receivers: [ebpf_network], exporters: [otlp_http]}
`, health, receiver, sink.URL)})
	return sink
}

type tcpSpan struct {
	span     ptrace.Span
	resource pcommon.Map
}

func tcpSpans(sink *harness.Sink) []tcpSpan {
	var out []tcpSpan
	for _, r := range sink.Requests() {
		if r.Path != "/v1/traces" {
			continue
		}
		for _, rs := range r.Traces.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, span := range ss.Spans().All() {
					out = append(out, tcpSpan{span, rs.Resource().Attributes()})
				}
			}
		}
	}
	return out
}

// waitTCPSpans waits up to 30 s until the sink has at least want spans,
// then settle longer for spans that should not come, and returns them all.
func waitTCPSpans(t *testing.T, sink *harness.Sink, want int, settle time.Duration) []tcpSpan {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := sink.WaitFor(ctx, func([]harness.Request) bool { return len(tcpSpans(sink)) >= want }); err != nil {
		t.Fatalf("%v: got %d spans, want %d", err, len(tcpSpans(sink)), want)
	}
	time.Sleep(settle)
	return tcpSpans(sink)
}

func intAttr(m pcommon.Map, key string) int64 {
	v, _ := m.Get(key)
	return v.Int()
}

func TestEBPFTCPConnectionSpans(t *testing.T) {
	requireRoot(t)
	selectedPort, otherPort, closedPort := harness.FreePort(t), harness.FreePort(t), harness.FreePort(t)
	server := pythonServer(t, selectedPort)
	pythonServer(t, otherPort) // not selected: no spans

	sink := startEBPFCollector(t, fmt.Sprintf("{ports: [%d], executable_regex: ^curl$, tcp_connections: true, http: {enabled: false}, refresh_interval: 1s}", selectedPort))

	// A Go client (not selected) against the selected server: one server
	// span, attributed to the Python process by its listening port.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", selectedPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Unselected server, unselected client: nothing.
	if resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", otherPort)); err == nil {
		resp.Body.Close()
	}
	// curl is selected by executable: client spans, also for a refused
	// connection.
	if out, err := exec.Command("curl", "-s", "-o", "/dev/null", fmt.Sprintf("http://127.0.0.1:%d/", otherPort)).CombinedOutput(); err != nil {
		t.Fatalf("curl: %v %s", err, out)
	}
	_ = exec.Command("curl", "-s", "-o", "/dev/null", fmt.Sprintf("http://127.0.0.1:%d/", closedPort)).Run()

	spans := waitTCPSpans(t, sink, 3, 2*time.Second) // room for unexpected spans
	if len(spans) != 3 {
		for _, s := range spans {
			t.Logf("span %s %v %v", s.span.Kind(), s.span.Attributes().AsRaw(), s.resource.AsRaw())
		}
		t.Fatalf("got %d spans, want 3: server on the selected port, and curl's two connections", len(spans))
	}
	var sawServer, sawCurl, sawRefused bool
	for _, s := range spans {
		attrs := s.span.Attributes()
		if got := attr(s.resource, "telemetry.sdk.name"); got != "otel-ai-collector-ebpf" {
			t.Errorf("telemetry.sdk.name %q", got)
		}
		if s.span.Name() != "tcp.connection" {
			t.Errorf("span name %q", s.span.Name())
		}
		duration := s.span.EndTimestamp().AsTime().Sub(s.span.StartTimestamp().AsTime())
		if duration < 0 || duration > 10*time.Second || time.Since(s.span.EndTimestamp().AsTime()) > time.Minute {
			t.Errorf("implausible times: start %v, duration %v", s.span.StartTimestamp().AsTime(), duration)
		}
		switch {
		case s.span.Kind() == ptrace.SpanKindServer:
			sawServer = true
			expect(t, "server pid", intAttr(s.resource, "process.pid"), int64(server.Process.Pid))
			expect(t, "server service.name", attr(s.resource, "service.name"), attr(s.resource, "process.executable.name"))
			expect(t, "server local port", intAttr(attrs, "network.local.port"), int64(selectedPort))
			expect(t, "server local address", attr(attrs, "network.local.address"), "127.0.0.1")
			expect(t, "server peer address", attr(attrs, "network.peer.address"), "127.0.0.1")
			if got := intAttr(attrs, "tcp.bytes_sent"); got < int64(len(body)) {
				t.Errorf("server sent %d bytes, want at least the %d-byte response body", got, len(body))
			}
			if got := intAttr(attrs, "tcp.bytes_received"); got < int64(len("GET / HTTP/1.1\r\n")) {
				t.Errorf("server received %d bytes, less than a request line", got)
			}
			expect(t, "server status", s.span.Status().Code(), ptrace.StatusCodeUnset)
		case intAttr(attrs, "network.peer.port") == int64(otherPort):
			sawCurl = true
			expect(t, "client kind", s.span.Kind(), ptrace.SpanKindClient)
			expect(t, "curl service.name", attr(s.resource, "service.name"), "curl")
			if intAttr(attrs, "tcp.bytes_received") == 0 || intAttr(attrs, "tcp.bytes_sent") == 0 {
				t.Errorf("curl's connection moved no bytes: %v", attrs.AsRaw())
			}
		case intAttr(attrs, "network.peer.port") == int64(closedPort):
			sawRefused = true
			expect(t, "refused status", s.span.Status().Code(), ptrace.StatusCodeError)
			expect(t, "refused close state", attr(attrs, "tcp.close_state"), "SYN_SENT")
		}
	}
	if !sawServer || !sawCurl || !sawRefused {
		t.Errorf("server span %v, curl span %v, refused span %v; want all", sawServer, sawCurl, sawRefused)
	}
}

// Without the privileges to load BPF programs, the receiver fails to start
// with one error that names what is missing.
func TestEBPFWithoutPrivilegesFailsClearly(t *testing.T) {
	requireRoot(t) // to drop to an unprivileged user
	// A directory and file the unprivileged user can read.
	dir, err := os.MkdirTemp("", "ebpf-unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	config := dir + "/config.yaml"
	if err := os.WriteFile(config, []byte(`
receivers:
  ebpf_network: {ports: [8080], tcp_connections: true}
exporters:
  debug: {}
service:
  telemetry: {metrics: {level: none}}
  pipelines:
    traces: {receivers: [ebpf_network], exporters: [debug]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
		"--inh-caps=-all", "--bounding-set=-all", binary, "--config", config)
	cmd.Env = append(os.Environ(), "HOME=/tmp")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the collector started without privileges:\n%s", out)
	}
	if !strings.Contains(string(out), "CAP_BPF and CAP_PERFMON") {
		t.Errorf("the error does not name the missing capabilities (%v):\n%s", err, out)
	}
	// cilium/ebpf's generic EPERM hint would send the user after the wrong
	// limit: the capabilities are what is missing.
	if strings.Contains(string(out), "MEMLOCK") || strings.Contains(string(out), "RemoveMemlock") {
		t.Errorf("the error points at the memlock limit:\n%s", out)
	}
}

// Through the embedded default: eBPF spans go to the remote and never to
// otel-ai-monitor, even for a process whose name is on the AI list (the
// receiver feeds only the remote pipelines; the monitor's filter also drops
// eBPF spans arriving over OTLP, TestEBPFSpansOverOTLPSkipTheMonitor).
func TestEBPFSpansInEmbeddedDefaultSkipTheMonitor(t *testing.T) {
	requireRoot(t)
	port := harness.FreePort(t)
	server := pythonServer(t, port)
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", server.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	monitor := harness.NewSink(t)
	remote := harness.NewSink(t)
	harness.Start(t, binary, harness.Options{Env: map[string]string{
		"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT": monitor.URL,
		"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT":  remote.URL,
		"OTEL_AI_COLLECTOR_EBPF_PORTS":       fmt.Sprint(port),
		// The server's service.name (its executable) is on the AI list.
		"OTEL_AI_COLLECTOR_AI_SERVICES": "claude-code," + filepathBase(exe),
	}})
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := remote.WaitFor(ctx, func([]harness.Request) bool { return len(tcpSpans(remote)) >= 1 }); err != nil {
		t.Fatalf("no eBPF span at the remote: %v", err)
	}
	s := tcpSpans(remote)[0]
	expect(t, "service.name", attr(s.resource, "service.name"), filepathBase(exe))
	expect(t, "host.name backfill", attr(s.resource, "service.instance.id") != "<unset>", true)
	time.Sleep(time.Second)
	if n := len(tcpSpans(monitor)); n != 0 {
		t.Errorf("%d eBPF spans reached otel-ai-monitor", n)
	}
}

func filepathBase(path string) string { return path[strings.LastIndex(path, "/")+1:] }

// keepAliveServer is Python's http.server speaking HTTP/1.1 (keep-alive).
const keepAliveServer = `
import http.server, sys
class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
`

// slowClient waits until the collector has seen it, then makes one request
// with a traceparent, as a long-running daemon would.
const slowClient = `
import sys, time, urllib.request
time.sleep(float(sys.argv[2]))
req = urllib.request.Request("http://127.0.0.1:%s/from-client?q=1" % sys.argv[1],
    headers={"traceparent": "00-11111111111111111111111111111111-2222222222222222-01"})
try:
    urllib.request.urlopen(req).read()
except Exception as e:
    print(e)
time.sleep(30)
`

func waitListening(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %d", port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEBPFHTTPSpans(t *testing.T) {
	requireRoot(t)
	selectedPort, otherPort := harness.FreePort(t), harness.FreePort(t)
	server := startPython(t, "-c", keepAliveServer, fmt.Sprint(selectedPort))
	startPython(t, "-c", keepAliveServer, fmt.Sprint(otherPort))
	waitListening(t, selectedPort)
	waitListening(t, otherPort)
	client := startPython(t, "-c", slowClient, fmt.Sprint(otherPort), "2")

	sink := startEBPFCollector(t, fmt.Sprintf("{ports: [%d], pids: [%d], refresh_interval: 500ms}", selectedPort, client.Process.Pid))
	time.Sleep(time.Second) // a refresh after start: pids selected in the kernel

	// Three requests on one keep-alive connection from an unselected client.
	base := fmt.Sprintf("http://127.0.0.1:%d", selectedPort)
	httpClient := &http.Client{}
	for _, r := range []struct{ method, path, traceparent, body string }{
		{"GET", "/?x=1", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", ""},
		{"POST", "/b", "", strings.Repeat("p", 1000)},
		{"GET", "/missing", "", ""},
	} {
		req, _ := http.NewRequest(r.method, base+r.path, strings.NewReader(r.body))
		if r.traceparent != "" {
			req.Header.Set("traceparent", r.traceparent)
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	httpClient.CloseIdleConnections()
	// Not HTTP: no span, and no garbage.
	if conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", selectedPort)); err == nil {
		_, _ = conn.Write([]byte("HELLO THERE\r\n\r\n"))
		_, _ = io.ReadAll(conn)
		conn.Close()
	}

	waitTCPSpans(t, sink, 4, 2*time.Second)
	spans := map[string]tcpSpan{}
	for _, s := range tcpSpans(sink) {
		key := s.span.Kind().String() + " " + attr(s.span.Attributes(), "url.path")
		if _, dup := spans[key]; dup {
			t.Errorf("two spans for %s", key)
		}
		spans[key] = s
	}
	if len(spans) != 4 {
		for _, s := range tcpSpans(sink) {
			t.Logf("span %s %v resource %v", s.span.Kind(), s.span.Attributes().AsRaw(), s.resource.AsRaw())
		}
		t.Fatalf("got spans %v, want server / /b /missing and the client's /from-client", keys(spans))
	}
	for key, want := range map[string]struct {
		method string
		status int64
		pid    int
		port   int
	}{
		"Server /":            {"GET", 200, server.Process.Pid, selectedPort},
		"Server /b":           {"POST", 501, server.Process.Pid, selectedPort},
		"Server /missing":     {"GET", 404, server.Process.Pid, selectedPort},
		"Client /from-client": {"GET", 404, client.Process.Pid, otherPort},
	} {
		s, ok := spans[key]
		if !ok {
			t.Errorf("no span %q (have %v)", key, keys(spans))
			continue
		}
		attrs := s.span.Attributes()
		expect(t, key+" name", s.span.Name(), want.method)
		expect(t, key+" method", attr(attrs, "http.request.method"), want.method)
		expect(t, key+" status", intAttr(attrs, "http.response.status_code"), want.status)
		expect(t, key+" pid", intAttr(s.resource, "process.pid"), int64(want.pid))
		expect(t, key+" server.port", intAttr(attrs, "server.port"), int64(want.port))
		duration := s.span.EndTimestamp().AsTime().Sub(s.span.StartTimestamp().AsTime())
		if duration < 0 || duration > 5*time.Second {
			t.Errorf("%s: duration %v", key, duration)
		}
	}
	a := spans["Server /"].span
	expect(t, "joined trace", a.TraceID().String(), "0af7651916cd43dd8448eb211c80319c")
	expect(t, "parent span", a.ParentSpanID().String(), "b7ad6b7169203331")
	expect(t, "query", attr(a.Attributes(), "url.query"), "x=1")
	if got := intAttr(spans["Server /b"].span.Attributes(), "http.request.size"); got < 1000 {
		t.Errorf("POST request size %d, want at least the 1000-byte body", got)
	}
	c := spans["Client /from-client"].span
	expect(t, "client span gets its own trace", c.TraceID().String() != "11111111111111111111111111111111", true)
	expect(t, "client error status", c.Status().Code(), ptrace.StatusCodeError)
	expect(t, "server /missing status unset (4xx is the client's fault)", spans["Server /missing"].span.Status().Code(), ptrace.StatusCodeUnset)
}

// nginx (Debian) writes response heads with writev and bodies with sendfile:
// spans come from the first iovec of the vectored write.
func TestEBPFHTTPSpansFromNginx(t *testing.T) {
	requireRoot(t)
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		t.Fatalf("nginx is needed (apt-get install nginx): %v", err)
	}
	port := harness.FreePort(t)
	startNginx(t, nginx, port)
	waitListening(t, port)

	sink := startEBPFCollector(t, fmt.Sprintf("{ports: [%d], refresh_interval: 500ms}", port))
	time.Sleep(time.Second)

	client := &http.Client{}
	for _, path := range []string{"/index.html", "/index.html", "/nope"} {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	client.CloseIdleConnections()

	spans := waitTCPSpans(t, sink, 3, time.Second)
	if len(spans) != 3 {
		t.Fatalf("got %d spans, want 3", len(spans))
	}
	statuses := map[int64]int{}
	for _, s := range spans {
		attrs := s.span.Attributes()
		statuses[intAttr(attrs, "http.response.status_code")]++
		expect(t, "kind", s.span.Kind(), ptrace.SpanKindServer)
		expect(t, "service.name", attr(s.resource, "service.name"), "nginx")
		expect(t, "server.port", intAttr(attrs, "server.port"), int64(port))
	}
	expect(t, "statuses", statuses, map[int64]int{200: 2, 404: 1})
}

// tlsServer is keepAliveServer behind OpenSSL (Python's ssl module).
const tlsServer = `
import http.server, ssl, sys
class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
`

// tlsClient waits until selected, then makes one HTTPS request through
// OpenSSL.
const tlsClient = `
import ssl, sys, time, urllib.request
time.sleep(float(sys.argv[2]))
context = ssl._create_unverified_context()
try:
    urllib.request.urlopen("https://127.0.0.1:%s/over-tls" % sys.argv[1], context=context).read()
except Exception as e:
    print(e)
time.sleep(30)
`

// selfSignedCert writes a certificate and key for 127.0.0.1.
func selfSignedCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = dir+"/cert.pem", dir+"/key.pem"
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// HTTPS through OpenSSL: plaintext from SSL_read/SSL_write uprobes, on the
// server (a Go client, whose own TLS is not OpenSSL, calls it) and on a
// Python client.
func TestEBPFHTTPSpansOverTLS(t *testing.T) {
	requireRoot(t)
	cert, key := selfSignedCert(t)
	port := harness.FreePort(t)
	server := startPython(t, "-c", tlsServer, fmt.Sprint(port), cert, key)
	waitListening(t, port)
	client := startPython(t, "-c", tlsClient, fmt.Sprint(port), "3")

	sink := startEBPFCollector(t, fmt.Sprintf("{ports: [%d], pids: [%d], refresh_interval: 500ms}", port, client.Process.Pid))
	time.Sleep(time.Second) // selected, and the uprobes attached

	httpsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	req, _ := http.NewRequest("GET", fmt.Sprintf("https://127.0.0.1:%d/?secure=1", port), nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, err := httpsClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	httpsClient.CloseIdleConnections()

	waitTCPSpans(t, sink, 3, time.Second)
	spans := map[string]tcpSpan{}
	for _, s := range tcpSpans(sink) {
		spans[s.span.Kind().String()+" "+attr(s.span.Attributes(), "url.path")] = s
	}
	if len(spans) != 3 {
		t.Fatalf("got spans %v, want Server /, Server /over-tls, Client /over-tls", keys(spans))
	}
	root := spans["Server /"]
	expect(t, "server pid", intAttr(root.resource, "process.pid"), int64(server.Process.Pid))
	expect(t, "status", intAttr(root.span.Attributes(), "http.response.status_code"), int64(200))
	expect(t, "query", attr(root.span.Attributes(), "url.query"), "secure=1")
	expect(t, "trace joined over TLS", root.span.TraceID().String(), "4bf92f3577b34da6a3ce929d0e0e4736")
	expect(t, "server.port from the socket under the SSL object", intAttr(root.span.Attributes(), "server.port"), int64(port))
	c := spans["Client /over-tls"]
	expect(t, "client pid", intAttr(c.resource, "process.pid"), int64(client.Process.Pid))
	expect(t, "client status", intAttr(c.span.Attributes(), "http.response.status_code"), int64(404))
	expect(t, "client server.port", intAttr(c.span.Attributes(), "server.port"), int64(port))
}

// curl lives for milliseconds, less than a process scan: selected by a
// literal executable name, the kernel captures it from its first syscall,
// over plain HTTP and over TLS (system libssl, probed at start).
func TestEBPFCurlClientSpans(t *testing.T) {
	requireRoot(t)
	cert, key := selfSignedCert(t)
	plainPort, tlsPort := harness.FreePort(t), harness.FreePort(t)
	startPython(t, "-c", keepAliveServer, fmt.Sprint(plainPort))
	startPython(t, "-c", tlsServer, fmt.Sprint(tlsPort), cert, key)
	waitListening(t, plainPort)
	waitListening(t, tlsPort)

	// A copy of curl under a name of this test's own, so another curl on
	// the machine is not selected.
	curl := uniqueCopy(t, "curl", fmt.Sprintf("curl%d", plainPort))
	sink := startEBPFCollector(t, fmt.Sprintf("{executable_regex: ^%s$}", filepath.Base(curl)))

	for _, url := range []string{
		fmt.Sprintf("http://127.0.0.1:%d/plain?via=curl", plainPort),
		fmt.Sprintf("https://127.0.0.1:%d/secure", tlsPort),
	} {
		if out, err := exec.Command(curl, "-sk", "-o", "/dev/null", url).CombinedOutput(); err != nil {
			t.Fatalf("curl %s: %v %s", url, err, out)
		}
	}
	waitTCPSpans(t, sink, 2, time.Second)
	spans := map[string]tcpSpan{}
	for _, s := range tcpSpans(sink) {
		spans[attr(s.span.Attributes(), "url.path")] = s
	}
	if len(spans) != 2 {
		t.Fatalf("got spans %v, want curl's /plain and /secure", keys(spans))
	}
	for path, port := range map[string]int{"/plain": plainPort, "/secure": tlsPort} {
		s := spans[path]
		expect(t, path+" kind", s.span.Kind(), ptrace.SpanKindClient)
		expect(t, path+" executable", attr(s.resource, "process.executable.name"), filepath.Base(curl))
		expect(t, path+" status", intAttr(s.span.Attributes(), "http.response.status_code"), int64(404))
		expect(t, path+" server.port", intAttr(s.span.Attributes(), "server.port"), int64(port))
	}
	expect(t, "query", attr(spans["/plain"].span.Attributes(), "url.query"), "via=curl")
}

// uniqueCopy copies the program on PATH into the test's directory under
// name (at most 15 characters: the kernel's comm), so that selecting it by
// executable selects only the processes this test starts.
func uniqueCopy(t *testing.T, program, name string) string {
	t.Helper()
	src, err := exec.LookPath(program)
	if err != nil {
		t.Fatalf("%s is needed: %v", program, err)
	}
	return copyProgram(t, src, name)
}

// A Go net/http server (bench/httpserver: read/write syscalls from Go's
// netpoller), named by a per-selector service name.
func TestEBPFHTTPSpansFromGoServer(t *testing.T) {
	requireRoot(t)
	server := harness.BuildProgram(t, "./bench/httpserver")
	port := harness.FreePort(t)
	cmd := exec.Command(server, "-addr", fmt.Sprintf("127.0.0.1:%d", port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitListening(t, port)

	sink := startEBPFCollector(t, fmt.Sprintf("{ports: [%d], service_names: {\"%d\": widget-api}, refresh_interval: 500ms}", port, port))
	time.Sleep(time.Second)

	client := &http.Client{}
	for _, path := range []string{"/sessions", "/tokens?window=1h"} {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	spans := waitTCPSpans(t, sink, 2, 500*time.Millisecond)
	if len(spans) != 2 {
		t.Fatalf("got %d spans, want 2", len(spans))
	}
	for i, path := range []string{"/sessions", "/tokens"} {
		s := spans[i]
		expect(t, "path", attr(s.span.Attributes(), "url.path"), path)
		expect(t, "status", intAttr(s.span.Attributes(), "http.response.status_code"), int64(200))
		expect(t, "service.name override", attr(s.resource, "service.name"), "widget-api")
		expect(t, "executable", attr(s.resource, "process.executable.name"), "httpserver") // the name BuildProgram gives it
		expect(t, "pid", intAttr(s.resource, "process.pid"), int64(cmd.Process.Pid))
	}
}

// startNginx runs nginx (master and one worker, in the foreground) serving
// index.html on a loopback port, with everything in a temporary directory.
func startNginx(t *testing.T, nginx string, port int) *exec.Cmd {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(dir+"/www", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/www/index.html", []byte("hello from nginx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`user root;
worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  server { listen 127.0.0.1:%[2]d; root %[1]s/www; }
}
`, dir, port)
	if err := os.WriteFile(dir+"/nginx.conf", []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginx, "-c", dir+"/nginx.conf", "-e", dir+"/error.log")
	if out, err := exec.Command(nginx, "-t", "-c", dir+"/nginx.conf", "-e", dir+"/error.log").CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { harness.Terminate(cmd, 5*time.Second) })
	return cmd
}
