package defaultconfig

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestUsesDefaultConfig(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{nil, true},
		{[]string{"--feature-gates=service.profilesSupport"}, true},
		{[]string{"validate"}, true},
		{[]string{"--config", "x.yaml"}, false},
		{[]string{"--config=x.yaml"}, false},
		{[]string{"-config=x.yaml"}, false},
		{[]string{"validate", "--config=x.yaml"}, false},
		{[]string{"components"}, false},
		{[]string{"help"}, false},
		{[]string{"--set=config=x"}, true},
	} {
		if got := usesDefaultConfig(tc.args); got != tc.want {
			t.Errorf("usesDefaultConfig(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

func TestDefaultStateDir(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "/var/lib/otel-ai-collector:/var/lib/other")
	if got := defaultStateDir(); got != "/var/lib/otel-ai-collector" {
		t.Errorf("with STATE_DIRECTORY: %q", got)
	}
	t.Setenv("STATE_DIRECTORY", "")
	t.Setenv("XDG_STATE_HOME", "/home/u/.state")
	if got := defaultStateDir(); got != "/home/u/.state/otel-ai-collector" {
		t.Errorf("with XDG_STATE_HOME: %q", got)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/u")
	if got := defaultStateDir(); got != "/home/u/.local/state/otel-ai-collector" {
		t.Errorf("with HOME only: %q", got)
	}
}

func TestExportStateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	t.Setenv(envStateDir, dir)
	t.Setenv(envRemoteEndpoint, "")
	if err := exportStateDir(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("state dir created although remote export is off")
	}

	t.Setenv(envRemoteEndpoint, "http://127.0.0.1:1")
	if err := exportStateDir(); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		t.Fatalf("state dir not created: %v", err)
	}

	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envStateDir, filepath.Join(file, "state"))
	err := exportStateDir()
	if err == nil || !strings.Contains(err.Error(), envStateDir) {
		t.Errorf("unusable state dir: error %v should name %s", err, envStateDir)
	}
}

func TestApplyChoosesLayers(t *testing.T) {
	t.Setenv(envStateDir, t.TempDir())
	modeFile := filepath.Join(t.TempDir(), "direct.yaml")
	if err := os.WriteFile(modeFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"local only", map[string]string{}, nil,
			[]string{"--config=" + LocalURI}},
		{"gateway with host metrics", map[string]string{envRemoteEndpoint: "http://gw:4318", envJournald: "off"}, []string{"validate"},
			[]string{"validate", "--config=" + LocalURI, "--config=" + RemoteURI, "--config=" + AITracesURI, "--config=" + HostMetricsURI, "--config=" + RemoteGatewayURI}},
		{"host metrics off", map[string]string{envRemoteEndpoint: "http://gw:4318", envJournald: "off", envHostMetrics: "false"}, nil,
			[]string{"--config=" + LocalURI, "--config=" + RemoteURI, "--config=" + AITracesURI, "--config=" + RemoteGatewayURI}},
		{"own mode layer", map[string]string{envRemoteConfig: modeFile, envJournald: "off", envHostMetrics: "off"}, nil,
			[]string{"--config=" + LocalURI, "--config=" + RemoteURI, "--config=" + AITracesURI, "--config=file:" + modeFile}},
		{"eBPF selected", map[string]string{envRemoteEndpoint: "http://gw:4318", envJournald: "off", envHostMetrics: "off", envEBPFPorts: "8080"}, nil,
			[]string{"--config=" + LocalURI, "--config=" + RemoteURI, "--config=" + AITracesURI, "--config=" + EBPFURI, "--config=" + RemoteGatewayURI}},
		{"profiling only", map[string]string{envPyroscope: "http://pyroscope:4040"}, nil,
			[]string{"--config=" + LocalURI, "--config=" + ProfilingURI}},
		{"profiling with remote export", map[string]string{envRemoteEndpoint: "http://gw:4318", envJournald: "off", envHostMetrics: "off", envPyroscope: "http://pyroscope:4040"}, nil,
			[]string{"--config=" + LocalURI, "--config=" + RemoteURI, "--config=" + AITracesURI, "--config=" + ProfilingURI, "--config=" + RemoteGatewayURI}},
		{"AI traces off", map[string]string{envRemoteEndpoint: "http://gw:4318", envJournald: "off", envHostMetrics: "off", envAITraces: "off"}, nil,
			[]string{"--config=" + LocalURI, "--config=" + RemoteURI, "--config=" + RemoteGatewayURI}},
		{"explicit --config", map[string]string{envRemoteEndpoint: "http://gw:4318"}, []string{"--config=mine.yaml"},
			[]string{"--config=mine.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, name := range []string{envRemoteEndpoint, envRemoteConfig, envJournald, envHostMetrics, envEBPFPorts, envPyroscope, envAITraces} {
				t.Setenv(name, tc.env[name])
			}
			args, err := Apply(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(args, " ") != strings.Join(tc.want, " ") {
				t.Errorf("got %q\nwant %q", args, tc.want)
			}
		})
	}
}

func TestApplyRejectsBadSettings(t *testing.T) {
	t.Setenv(envStateDir, t.TempDir())
	t.Setenv(envRemoteEndpoint, "http://gw:4318")
	t.Setenv(envHostMetrics, "maybe")
	if _, err := Apply(nil); err == nil || !strings.Contains(err.Error(), envHostMetrics) {
		t.Errorf("bad switch: error %v should name %s", err, envHostMetrics)
	}
	t.Setenv(envHostMetrics, "")
	t.Setenv(envJournald, "off")
	t.Setenv(envRemoteConfig, "/nonexistent/direct.yaml")
	if _, err := Apply(nil); err == nil || !strings.Contains(err.Error(), envRemoteConfig) {
		t.Errorf("missing mode file: error %v should name %s", err, envRemoteConfig)
	}
	t.Setenv(envRemoteConfig, "")
	for _, bad := range []string{"30", "soon", "500ms"} {
		t.Setenv(envAITracesIdle, bad)
		if _, err := Apply(nil); err == nil || !strings.Contains(err.Error(), envAITracesIdle) {
			t.Errorf("turn idle timeout %q: error %v should name %s", bad, err, envAITracesIdle)
		}
	}
	t.Setenv(envAITracesIdle, "")
	os.Unsetenv(envAITracesIdle)
	t.Setenv(envPyroscope, "pyroscope:4040")
	if _, err := Apply(nil); err == nil || !strings.Contains(err.Error(), envPyroscope) {
		t.Errorf("Pyroscope endpoint without scheme: error %v should name %s", err, envPyroscope)
	}
}

func TestJournaldMatches(t *testing.T) {
	t.Setenv(envStateDir, t.TempDir())
	os.Unsetenv(envJournaldUnits)
	if _, err := Apply([]string{"components"}); err != nil {
		t.Fatal(err)
	}
	want := `[{"_SYSTEMD_UNIT":"otel-ai-collector.service"},{"_SYSTEMD_USER_UNIT":"otel-ai-collector.service"},` +
		`{"_SYSTEMD_UNIT":"otel-ai-monitor.service"},{"_SYSTEMD_USER_UNIT":"otel-ai-monitor.service"}]`
	if got := os.Getenv(envJournaldMatches); got != want {
		t.Errorf("default matches %s\nwant %s", got, want)
	}
	t.Setenv(envJournaldUnits, "ipc-daemon, backup.timer")
	if _, err := Apply([]string{"components"}); err != nil {
		t.Fatal(err)
	}
	want = `[{"_SYSTEMD_UNIT":"ipc-daemon.service"},{"_SYSTEMD_USER_UNIT":"ipc-daemon.service"},` +
		`{"_SYSTEMD_UNIT":"backup.timer"},{"_SYSTEMD_USER_UNIT":"backup.timer"}]`
	if got := os.Getenv(envJournaldMatches); got != want {
		t.Errorf("custom matches %s\nwant %s", got, want)
	}
}

func TestJournalReadable(t *testing.T) {
	empty := t.TempDir()
	readable, warning := journalReadable(empty)
	if readable || !strings.Contains(warning, "no journal files") && !strings.Contains(warning, "journalctl was not found") {
		t.Errorf("empty journal directory: readable=%v warning %q", readable, warning)
	}
	t.Setenv("PATH", t.TempDir())
	readable, warning = journalReadable("")
	if readable || !strings.Contains(warning, "journalctl was not found") {
		t.Errorf("without journalctl: readable=%v warning %q", readable, warning)
	}
}

func TestApplyExportsHostname(t *testing.T) {
	t.Setenv(envStateDir, t.TempDir())
	t.Setenv(envHostname, "")
	if _, err := Apply([]string{"components"}); err != nil {
		t.Fatal(err)
	}
	want, _ := os.Hostname()
	if got := os.Getenv(envHostname); got != want || got == "" {
		t.Errorf("%s = %q, want the hostname %q", envHostname, got, want)
	}
	t.Setenv(envHostname, "workstation-7")
	if _, err := Apply(nil); err != nil {
		t.Fatal(err)
	}
	if got := os.Getenv(envHostname); got != "workstation-7" {
		t.Errorf("a user-set %s was replaced by %q", envHostname, got)
	}
}

func TestAIServiceRegex(t *testing.T) {
	t.Setenv(envStateDir, t.TempDir())
	os.Unsetenv(envAIServices)
	if _, err := Apply(nil); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{envAIServiceRegex: AIServicePattern, envAIScopeRegex: AIScopePattern, envAIEventRegex: AIEventPattern,
		envAIReportService: "", envAIReportScope: "", envAIReportEvent: ""} {
		if got := os.Getenv(name); got != want {
			t.Errorf("default %s %q, want %q", name, got, want)
		}
	}
	// The names the CLIs have used, and the next release's, are AI
	// telemetry; others are not.
	services := regexp.MustCompile(AIServicePattern)
	for _, name := range []string{"claude-code", "claude_code", "codex", "codex-cli", "codex_cli_rs", "codex_exec", "codex-tui", "codex_next_mode", "gemini", "gemini-cli", "Gemini-CLI"} {
		if !services.MatchString(name) {
			t.Errorf("service.name %q is not recognised as an AI CLI", name)
		}
	}
	for _, name := range []string{"my-web-app", "claude", "codexample", "geminid", "otel-ai-collector"} {
		if services.MatchString(name) {
			t.Errorf("service.name %q is taken for an AI CLI", name)
		}
	}
	scopes, events := regexp.MustCompile(AIScopePattern), regexp.MustCompile(AIEventPattern)
	for _, scope := range []string{"com.anthropic.claude_code.events", "com.anthropic.claude_code", "codex_otel.log_only", "gemini-cli"} {
		if !scopes.MatchString(scope) {
			t.Errorf("scope %q is not recognised", scope)
		}
	}
	for _, event := range []string{"claude_code.api_request", "claude_code.token.usage", "codex.sse_event", "gemini_cli.tool_call"} {
		if !events.MatchString(event) {
			t.Errorf("event %q is not recognised", event)
		}
	}
	if scopes.MatchString("gemini-client") || events.MatchString("codexample.x") {
		t.Error("a look-alike scope or event name is recognised")
	}

	t.Setenv(envAIServices, " claude-code , my.agent ,")
	if _, err := Apply(nil); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{envAIServiceRegex: `^(claude-code|my\.agent)$`, envAIScopeRegex: "", envAIEventRegex: "",
		envAIReportService: AIServicePattern, envAIReportScope: AIScopePattern, envAIReportEvent: AIEventPattern} {
		if got := os.Getenv(name); got != want {
			t.Errorf("with a list, %s %q, want %q", name, got, want)
		}
	}

	t.Setenv(envAIServices, " , ")
	if _, err := Apply(nil); err == nil || !strings.Contains(err.Error(), envAIServices) {
		t.Errorf("an empty list: error %v should name %s", err, envAIServices)
	}
	t.Setenv(envAIServices, `bad"name`)
	if _, err := Apply(nil); err == nil {
		t.Error("a quote in a service name was accepted")
	}
}

func TestEBPFSelectors(t *testing.T) {
	t.Setenv(envStateDir, t.TempDir())
	t.Setenv(envEBPFPorts, "8080, 4320")
	t.Setenv(envEBPFUnits, "")
	if _, err := Apply([]string{"components"}); err != nil {
		t.Fatal(err)
	}
	if got := os.Getenv(envEBPFPortsList); got != "[8080,4320]" {
		t.Errorf("ports list %q", got)
	}
	if got := os.Getenv(envEBPFUnitsList); got != "[]" {
		t.Errorf("units list %q", got)
	}
	t.Setenv(envEBPFPorts, "80,http")
	if _, err := Apply(nil); err == nil || !strings.Contains(err.Error(), envEBPFPorts) {
		t.Errorf("bad port: error %v should name %s", err, envEBPFPorts)
	}
}
