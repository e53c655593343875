package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// doctor runs `otel-ai-collector doctor args...` with env and returns its
// output and exit code.
func doctor(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"doctor"}, args...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("doctor: %v", err)
	}
	t.Logf("doctor %v exit %d:\n%s", args, code, out)
	return string(out), code
}

// wantLine fails unless a line of the table matches pattern.
func wantLine(t *testing.T, out, pattern string) {
	t.Helper()
	if !regexp.MustCompile("(?m)" + pattern).MatchString(out) {
		t.Errorf("no line matches %q", pattern)
	}
}

func TestDoctorHealthy(t *testing.T) {
	monitor, remote := harness.NewSink(t), harness.NewSink(t)
	stateDir := t.TempDir()
	c := harness.Start(t, binary, harness.Options{StateDir: stateDir, Env: map[string]string{
		"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT": monitor.URL,
		"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT":  remote.URL,
	}})
	// The collector's own environment, as the NixOS wrapper would give it.
	env := append(os.Environ(),
		"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT="+monitor.URL,
		"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT="+remote.URL,
		"OTEL_AI_COLLECTOR_STATE_DIR="+stateDir,
		"OTEL_AI_COLLECTOR_OTLP_GRPC_ENDPOINT="+c.OTLPGRPCEndpoint,
		"OTEL_AI_COLLECTOR_OTLP_HTTP_ENDPOINT="+strings.TrimPrefix(c.OTLPHTTPEndpoint, "http://"),
		"OTEL_AI_COLLECTOR_HEALTH_ENDPOINT="+c.HealthEndpoint,
		"OTEL_AI_COLLECTOR_METRICS_PORT="+strings.TrimSuffix(strings.TrimPrefix(c.MetricsEndpoint, "http://127.0.0.1:"), "/metrics"),
		"OTEL_AI_COLLECTOR_ZPAGES_ENDPOINT="+harness.FreeAddr(t),
		"OTEL_AI_COLLECTOR_HOST_METRICS=off",
		"OTEL_AI_COLLECTOR_JOURNALD=off",
	)
	out, code := doctor(t, env)
	if code != 0 {
		t.Errorf("exit %d on a healthy setup, want 0", code)
	}
	wantLine(t, out, `^configuration +ok +embedded default, layers default.yaml \+ remote.yaml`)
	wantLine(t, out, `^state dir +ok +`+regexp.QuoteMeta(stateDir)+`: writable, .* free, queues hold .* on disk, bounded at 300.0 MiB`)
	wantLine(t, out, `^monitor +ok +otel-ai-monitor at `+regexp.QuoteMeta(monitor.URL)+` answers OTLP/HTTP \(200\)`)
	wantLine(t, out, `^remote +ok +`+regexp.QuoteMeta(remote.URL)+` answers an empty OTLP/HTTP request with 200`)
	wantLine(t, out, `^port `+regexp.QuoteMeta(c.OTLPGRPCEndpoint)+` +ok +in use by the running collector`)
	wantLine(t, out, `^queues +ok +backlog/capacity .*otlp_http/remote logs \d+/104857600`)
	wantLine(t, out, `^no check failed$`)
	if strings.Contains(out, "FAIL") {
		t.Error("a check failed on a healthy setup")
	}

	out, code = doctor(t, env, "--json")
	var report struct {
		OK     bool `json:"ok"`
		Checks []struct{ Name, Status string }
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("--json output is not JSON: %v", err)
	}
	if code != 0 || !report.OK || len(report.Checks) < 8 {
		t.Errorf("--json: exit %d, ok %v, %d checks", code, report.OK, len(report.Checks))
	}
}

func TestDoctorFailures(t *testing.T) {
	base := func(t *testing.T, extra ...string) []string {
		return collectorEnv(t, extra...)
	}
	t.Run("monitor down", func(t *testing.T) {
		down := harness.RefusingURL(t)
		out, code := doctor(t, base(t, "OTEL_AI_COLLECTOR_MONITOR_ENDPOINT="+down))
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		wantLine(t, out, `^monitor +FAIL +otel-ai-monitor at `+regexp.QuoteMeta(down)+`: connection refused`)
		wantLine(t, out, `^ +fix: +start otel-ai-monitor \(systemctl --user start otel-ai-monitor\)`)
	})
	t.Run("blackholed remote", func(t *testing.T) {
		monitor, remote := harness.NewSink(t), harness.Blackhole(t)
		out, code := doctor(t, base(t, "OTEL_AI_COLLECTOR_MONITOR_ENDPOINT="+monitor.URL, "OTEL_AI_COLLECTOR_REMOTE_ENDPOINT="+remote))
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		wantLine(t, out, `^remote +FAIL +`+regexp.QuoteMeta(remote)+`: no answer within 3s \(blackholed`)
		wantLine(t, out, `^monitor +ok `)
	})
	t.Run("unwritable state dir", func(t *testing.T) {
		monitor := harness.NewSink(t)
		out, code := doctor(t, base(t, "OTEL_AI_COLLECTOR_MONITOR_ENDPOINT="+monitor.URL,
			"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT="+harness.NewSink(t).URL,
			"OTEL_AI_COLLECTOR_STATE_DIR=/proc/otel-ai-collector-state"))
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		wantLine(t, out, `^state dir +FAIL +/proc/otel-ai-collector-state: cannot create`)
		wantLine(t, out, `^ +fix: +set OTEL_AI_COLLECTOR_STATE_DIR to a directory this user can write`)
	})
	t.Run("port taken", func(t *testing.T) {
		taken := harness.NewSink(t) // listens; no collector runs
		addr := strings.TrimPrefix(taken.URL, "http://")
		out, code := doctor(t, base(t, "OTEL_AI_COLLECTOR_MONITOR_ENDPOINT="+harness.NewSink(t).URL, "OTEL_AI_COLLECTOR_OTLP_HTTP_ENDPOINT="+addr))
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		// The sink runs in this test process, so /proc names it.
		wantLine(t, out, `^port `+regexp.QuoteMeta(addr)+` +FAIL +taken \(.*pid `)
		wantLine(t, out, `^ +fix: +stop what listens there, or set OTEL_AI_COLLECTOR_OTLP_HTTP_ENDPOINT to a free address`)
	})
	t.Run("unprivileged eBPF request", func(t *testing.T) {
		setpriv, err := exec.LookPath("setpriv") // util-linux
		if err != nil {
			t.Skip("setpriv not installed")
		}
		env := base(t, "OTEL_AI_COLLECTOR_MONITOR_ENDPOINT="+harness.NewSink(t).URL,
			"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT="+harness.NewSink(t).URL, "OTEL_AI_COLLECTOR_EBPF_PORTS=8080")
		// Without CAP_BPF and CAP_PERFMON, whoever runs the test.
		cmd := exec.Command(setpriv, "--bounding-set=-bpf,-perfmon", "--inh-caps=-all", binary, "doctor")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Errorf("exit %v, want 1\n%s", err, out)
		}
		wantLine(t, string(out), `^eBPF +FAIL +kernel .*, missing CAP_BPF, CAP_PERFMON`)
		wantLine(t, string(out), `^ +fix: +run the collector as root, or give its unit AmbientCapabilities=CAP_BPF CAP_PERFMON CAP_SYS_PTRACE CAP_DAC_READ_SEARCH`)
	})
	t.Run("bad variable", func(t *testing.T) {
		out, code := doctor(t, base(t, "OTEL_AI_COLLECTOR_REMOTE_ENDPOINT=not-a-url"))
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		wantLine(t, out, `^configuration +FAIL +OTEL_AI_COLLECTOR_REMOTE_ENDPOINT="not-a-url"`)
	})
}

// doctor says which running processes the eBPF selectors match now: here a
// port this test listens on, and nothing on a port where nothing listens.
func TestDoctorEBPFSelection(t *testing.T) {
	listener := harness.NewSink(t)
	port := listener.URL[strings.LastIndex(listener.URL, ":")+1:]
	env := collectorEnv(t, "OTEL_AI_COLLECTOR_MONITOR_ENDPOINT="+harness.NewSink(t).URL,
		"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT="+harness.NewSink(t).URL, "OTEL_AI_COLLECTOR_EBPF_PORTS="+port)
	out, _ := doctor(t, env)
	wantLine(t, out, `^eBPF +\S+ +kernel .*; port `+port+` \(integration.tes, pid \d+\)`)

	free := strconv.Itoa(harness.FreePort(t))
	out, _ = doctor(t, collectorEnv(t, "OTEL_AI_COLLECTOR_MONITOR_ENDPOINT="+harness.NewSink(t).URL,
		"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT="+harness.NewSink(t).URL, "OTEL_AI_COLLECTOR_EBPF_PORTS="+free))
	wantLine(t, out, `^eBPF +\S+ +kernel .*; nothing selected now`)
}

// With the collector's own layers (as the NixOS module runs it), doctor
// checks them as start does, and probes the same endpoints.
func TestDoctorOwnLayers(t *testing.T) {
	monitor := harness.NewSink(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "overlay.yaml")
	if err := os.WriteFile(good, []byte("exporters: {debug: {}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	gateway := strings.TrimPrefix(harness.NewSink(t).URL, "http://") // listens; a gRPC gateway's host:port, as NixOS sets it
	env := collectorEnv(t, "OTEL_AI_COLLECTOR_MONITOR_ENDPOINT="+monitor.URL,
		"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT="+gateway)
	out, code := doctor(t, env, "--config=embedded:default.yaml", "--config", good)
	if code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	wantLine(t, out, `^configuration +ok +your layers embedded:default.yaml \+ `+regexp.QuoteMeta(good))
	wantLine(t, out, `^monitor +ok `)
	wantLine(t, out, `^remote +ok +`+regexp.QuoteMeta(gateway)+` accepts TCP connections`)

	typo := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(typo, []byte("exporter: {debug: {}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code = doctor(t, env, "--config", typo)
	if code != 1 {
		t.Errorf("exit %d with a misspelt key, want 1", code)
	}
	wantLine(t, out, `^configuration +FAIL +`+regexp.QuoteMeta(typo)+`: unknown key exporter: did you mean "exporters"\?`)
}
