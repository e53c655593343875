package integration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// The previous module's behaviour, live: the unit the real module system
// generates from the previous defaults (plus the client certificate the
// previous K8s exporter presented) runs on the default ports, in a private
// network and mount namespace (unshare -rnm) so the host's ports, /var/lib,
// /run and /etc/hosts are never touched:
//   - OTLP/HTTP on receiverPort 4318;
//   - AI telemetry forwarded to 127.0.0.1:4320 as OTLP/JSON, uncompressed;
//   - zpages on 55679;
//   - the K8s exporter at the previous default endpoint
//     https://otel-collector.cnoe.localtest.me:8443 (/etc/hosts points it at
//     loopback): traces at exactly /v1/traces, metrics and logs beside,
//     OTLP/JSON, with the client certificate (a gateway that requires one);
//   - the file exporter writing all three signals to
//     /var/lib/opentelemetry-collector/traces.json.
// The child emulates what systemd does before ExecStart: it creates the
// state directories and copies LoadCredential= sources into
// /run/credentials/otel-ai-collector.service.

const liveEnv = "OTEL_AI_COLLECTOR_NIXOS_LIVE_PLAN"

// livePlan is what the parent hands the child in the namespace.
type livePlan struct {
	Args          []string          `json:"args"`
	Environment   map[string]string `json:"environment"`
	Credentials   []string          `json:"credentials"`
	StateDirs     []string          `json:"stateDirs"`
	CA            string            `json:"ca"`
	ServerCert    string            `json:"serverCert"`
	ServerKey     string            `json:"serverKey"`
	ClientCA      string            `json:"clientCA"`
	GatewayHost   string            `json:"gatewayHost"`
	GatewayPort   int               `json:"gatewayPort"`
	FileExporter  string            `json:"fileExporter"`
	ReceiverPort  int               `json:"receiverPort"`
	ForwarderPort int               `json:"forwarderPort"`
	ZPagesPort    int               `json:"zpagesPort"`
	HealthPort    int               `json:"healthPort"`
	// The unit's ProtectProc= and ProcSubset=, applied to the namespace's
	// /proc as systemd does (hidepid=, subset= mount options).
	ProtectProc string `json:"protectProc"`
	ProcSubset  string `json:"procSubset"`
	// Only otel-ai-monitor is a peer (nothing leaves the machine).
	MonitorOnly bool `json:"monitorOnly"`
}

func TestNixModuleLivePreviousDefaults(t *testing.T) {
	if path := os.Getenv(liveEnv); path != "" {
		runLiveChild(t, path)
		return
	}
	dir := t.TempDir()
	ca, caKey := writeCA(t, dir, "ca")
	serverCert, serverKey := writeLeaf(t, dir, "server", ca, caKey, "otel-collector.cnoe.localtest.me", x509.ExtKeyUsageServerAuth)
	clientCert, clientKey := writeLeaf(t, dir, "client", ca, caKey, "workstation", x509.ExtKeyUsageClientAuth)

	host, _ := json.Marshal(map[string]any{
		"enable":         true,
		"k8sExporterTls": map[string]any{"certFile": clientCert, "keyFile": clientKey},
	})
	e := evalModule(t, "--argstr", "configJSON", string(host))
	args := e.validate(t)
	plan := livePlan{
		Args:          args,
		Environment:   e.Unit.Environment,
		Credentials:   strs(e.service("LoadCredential")),
		StateDirs:     strs(e.service("StateDirectory")),
		CA:            filepath.Join(dir, "ca.crt"),
		ServerCert:    serverCert,
		ServerKey:     serverKey,
		ClientCA:      filepath.Join(dir, "ca.crt"),
		GatewayHost:   "otel-collector.cnoe.localtest.me",
		GatewayPort:   8443,
		FileExporter:  get(e.Settings, "exporters", "file", "path").(string),
		ReceiverPort:  4318,
		ForwarderPort: 4320,
		ZPagesPort:    55679,
		HealthPort:    13133,
	}
	expect(t, "file exporter path", plan.FileExporter, "/var/lib/opentelemetry-collector/traces.json")
	expect(t, "traces URL", get(e.Settings, "exporters", "otlp_http/remote", "traces_endpoint"), "https://otel-collector.cnoe.localtest.me:8443/v1/traces")
	runLive(t, "TestNixModuleLivePreviousDefaults", dir, plan)
}

// The hardest-hardened unit (everything off: ProtectProc=invisible,
// ProcSubset=pid) still starts, serves health and forwards AI telemetry
// to otel-ai-monitor, with /proc mounted as systemd would mount it.
func TestNixModuleLiveHardened(t *testing.T) {
	if path := os.Getenv(liveEnv); path != "" {
		runLiveChild(t, path)
		return
	}
	e := evalModuleCase(t, "all-off")
	expect(t, "ProtectProc", e.service("ProtectProc"), "invisible")
	expect(t, "ProcSubset", e.service("ProcSubset"), "pid")
	plan := livePlan{
		Args:          e.validate(t),
		Environment:   e.Unit.Environment,
		StateDirs:     strs(e.service("StateDirectory")),
		ReceiverPort:  4318,
		ForwarderPort: 4320,
		HealthPort:    13133, // all-off turns zpages off
		ProtectProc:   "invisible",
		ProcSubset:    "pid",
		MonitorOnly:   true,
	}
	runLive(t, "TestNixModuleLiveHardened", t.TempDir(), plan)
}

// runLive runs test `name` again inside new user, network, mount and PID
// namespaces, where it finds the plan and plays the unit.
func runLive(t *testing.T, name, dir string, plan livePlan) {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatalf("unshare (util-linux) is needed to run the collector on its default ports in a private network namespace: %v", err)
	}
	data, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	planFile := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(planFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := filepath.Abs(binary)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "--map-root-user", "--net", "--mount", "--pid", "--fork", "--propagation", "private",
		self, "-test.run", "^"+name+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), liveEnv+"="+planFile, "OTEL_AI_COLLECTOR_BINARY="+bin)
	out, err := cmd.CombinedOutput()
	t.Logf("in the namespace:\n%s", out)
	if err != nil {
		t.Fatalf("live test in a private namespace failed: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatal("the child test did not pass")
	}
}

func runLiveChild(t *testing.T, planFile string) {
	var plan livePlan
	data, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &plan); err != nil {
		t.Fatal(err)
	}
	loopbackUp(t)
	// This PID namespace's /proc, with the unit's restrictions.
	procOpts := []string{}
	if plan.ProtectProc != "" {
		procOpts = append(procOpts, "hidepid="+plan.ProtectProc)
	}
	if plan.ProcSubset != "" {
		procOpts = append(procOpts, "subset="+plan.ProcSubset)
	}
	if err := syscall.Mount("proc", "/proc", "proc", 0, strings.Join(procOpts, ",")); err != nil {
		t.Fatalf("mount proc (%v): %v", procOpts, err)
	}
	if _, err := os.Stat("/proc/stat"); plan.ProcSubset == "pid" && err == nil {
		t.Fatal("/proc/stat is visible: subset=pid did not take effect")
	}
	// Private to this mount namespace: the host's /var/lib, /run and
	// /etc/hosts stay as they are.
	for _, dir := range []string{"/var/lib", "/run"} {
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
			t.Fatalf("mount tmpfs on %s: %v", dir, err)
		}
	}
	if plan.GatewayHost != "" {
		hosts := filepath.Join(filepath.Dir(planFile), "hosts")
		if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost "+plan.GatewayHost+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mount(hosts, "/etc/hosts", "", syscall.MS_BIND, ""); err != nil {
			t.Fatalf("bind %s on /etc/hosts: %v", hosts, err)
		}
	}
	// What systemd does before ExecStart: StateDirectory= and LoadCredential=.
	for _, d := range plan.StateDirs {
		if err := os.MkdirAll(filepath.Join("/var/lib", d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	credDir := "/run/credentials/otel-ai-collector.service"
	if err := os.MkdirAll(credDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, c := range plan.Credentials {
		id, src, _ := strings.Cut(c, ":")
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatalf("LoadCredential %s: %v", c, err)
		}
		if err := os.WriteFile(filepath.Join(credDir, id), b, 0o400); err != nil {
			t.Fatal(err)
		}
	}

	// otel-ai-monitor on forwarderPort, and the gateway requiring a client
	// certificate on the previous default endpoint's port.
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", plan.ForwarderPort))
	if err != nil {
		t.Fatal(err)
	}
	monitor := harness.NewSinkOn(t, l, "http://"+l.Addr().String())
	var gateway *harness.Sink
	if !plan.MonitorOnly {
		gateway = startK8sGateway(t, plan)
	}

	// The unit's ExecStart and environment; SSL_CERT_FILE only adds the
	// test CA to the trusted roots, as a host's own CA bundle would.
	cmd := exec.Command(plan.Args[0], plan.Args[1:]...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	if plan.CA != "" {
		cmd.Env = append(cmd.Env, "SSL_CERT_FILE="+plan.CA)
	}
	for k, v := range plan.Environment {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	liveChecks(t, plan, cmd, &logs, monitor, gateway)
}

// startK8sGateway serves the K8s gateway, requiring a client certificate
// signed by the test CA, on the previous default endpoint's port.
func startK8sGateway(t *testing.T, plan livePlan) *harness.Sink {
	serverPair, err := tls.LoadX509KeyPair(plan.ServerCert, plan.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(plan.ClientCA)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(caPEM)
	gl, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", plan.GatewayPort))
	if err != nil {
		t.Fatal(err)
	}
	return harness.NewSinkOn(t, tls.NewListener(gl, &tls.Config{
		Certificates: []tls.Certificate{serverPair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}), fmt.Sprintf("https://%s:%d", plan.GatewayHost, plan.GatewayPort))
}

func liveChecks(t *testing.T, plan livePlan, cmd *exec.Cmd, logs *bytes.Buffer, monitor, gateway *harness.Sink) {
	t.Cleanup(func() {
		harness.Terminate(cmd, 15*time.Second)
		if t.Failed() {
			t.Logf("collector output:\n%s", logs.String())
		}
	})
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", plan.HealthPort))
	if plan.ZPagesPort != 0 {
		waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/debug/servicez", plan.ZPagesPort))
	}

	receiver := fmt.Sprintf("http://127.0.0.1:%d", plan.ReceiverPort)
	postOTLP(t, receiver+"/v1/traces", liveTraces())
	postOTLP(t, receiver+"/v1/metrics", liveMetrics())
	if code, body, err := harness.PostLogs(receiver, harness.NewLogs("claude-code", "user_prompt")); err != nil || code != http.StatusOK {
		t.Fatalf("POST logs: %d %s %v", code, body, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	paths := func(reqs []harness.Request) map[string]harness.Request {
		m := map[string]harness.Request{}
		for _, r := range reqs {
			m[r.Path] = r
		}
		return m
	}
	allThree := func(reqs []harness.Request) bool {
		m := paths(reqs)
		return m["/v1/traces"].Path != "" && m["/v1/metrics"].Path != "" && m["/v1/logs"].Path != ""
	}
	reqs, err := monitor.WaitFor(ctx, allThree)
	if err != nil {
		t.Fatalf("otel-ai-monitor on 127.0.0.1:%d: %v (got %d requests)", plan.ForwarderPort, err, len(reqs))
	}
	for path, r := range paths(reqs) {
		expect(t, "monitor "+path+" content type", r.ContentType, "application/json")
		expect(t, "monitor "+path+" compression", r.ContentEncoding, "")
	}
	if plan.MonitorOnly {
		return
	}
	reqs, err = gateway.WaitFor(ctx, allThree)
	if err != nil {
		t.Fatalf("K8s gateway %s: %v (got %d requests)", gateway.URL, err, len(reqs))
	}
	for path, r := range paths(reqs) {
		expect(t, "gateway "+path+" content type", r.ContentType, "application/json")
	}
	expect(t, "span at the traces URL", paths(reqs)["/v1/traces"].Traces.SpanCount() > 0, true)

	// The file exporter: every signal, as JSON lines.
	deadline := time.Now().Add(20 * time.Second)
	want := []string{`"resourceSpans"`, `"resourceMetrics"`, `"resourceLogs"`}
	for {
		data, _ := os.ReadFile(plan.FileExporter)
		missing := []string{}
		for _, w := range want {
			if !bytes.Contains(data, []byte(w)) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s lacks %v:\n%.2000s", plan.FileExporter, missing, data)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// loopbackUp sets IFF_UP on lo, which starts down in a new network
// namespace (what `ip link set lo up` does, without needing iproute2).
func loopbackUp(t *testing.T) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	var ifr struct {
		name  [syscall.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(ifr.name[:], "lo")
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
		t.Fatalf("SIOCGIFFLAGS lo: %v", errno)
	}
	ifr.flags |= syscall.IFF_UP
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
		t.Fatalf("SIOCSIFFLAGS lo: %v", errno)
	}
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not up: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func postOTLP(t *testing.T, url string, payload []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/x-protobuf", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
}

func liveTraces() []byte {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "claude-code")
	span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName("claude_code.interaction")
	span.SetTraceID([16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	span.SetSpanID([8]byte{1, 2, 3, 4, 5, 6, 7, 8})
	now := time.Now()
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Second)))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	b, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	return b
}

func liveMetrics() []byte {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "claude-code")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("claude_code.token.usage")
	dp := m.SetEmptySum().DataPoints().AppendEmpty()
	m.Sum().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	m.Sum().SetIsMonotonic(true)
	dp.SetIntValue(42)
	dp.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	b, _ := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	return b
}

func writeCA(t *testing.T, dir, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "otel-ai-collector test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, name+".crt"), "CERTIFICATE", der)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writeLeaf(t *testing.T, dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, dnsName string, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: dnsName},
		DNSNames:     []string{dnsName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	return certFile, keyFile
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
