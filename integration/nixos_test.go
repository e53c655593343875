package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// The NixOS module's parts, directly: every .nix file is parse-checked, the
// option-to-configuration function (nixos/config.nix, with nixpkgs' lib) is
// evaluated with nix-instantiate for the option sets of
// nixos/tests/cases.nix, and what it produces is validated by the real
// binary; the idle timeout check is compared with the collector's; no
// option is dead; vendorHash is current. nixos_module_test.go evaluates the
// whole module with the real module system.

func nixInstantiate(t *testing.T, args ...string) []byte {
	t.Helper()
	out, stderr, err := runNixInstantiate(t, args...)
	if err != nil {
		t.Fatalf("nix-instantiate %v: %v\n%s", args, err, stderr)
	}
	return out
}

// nixInstantiateFails runs nix-instantiate expecting it to fail, and returns
// its stderr.
func nixInstantiateFails(t *testing.T, args ...string) string {
	t.Helper()
	out, stderr, err := runNixInstantiate(t, args...)
	if err == nil {
		t.Fatalf("nix-instantiate %v succeeded, want an error:\n%s", args, out)
	}
	return stderr
}

func runNixInstantiate(t *testing.T, args ...string) (stdout []byte, stderr string, err error) {
	t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nix-instantiate", args...)
	cmd.Dir = root
	// Debian's nix-bin runs without the nixbld group and without a daemon.
	cmd.Env = append(os.Environ(), "NIX_CONFIG=build-users-group =\nexperimental-features = nix-command")
	stdout, err = cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	return stdout, stderr, err
}

func TestNixFilesParse(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "nixos", "*.nix"))
	more, _ := filepath.Glob(filepath.Join(root, "nixos", "tests", "*.nix"))
	files = append(append(files, more...), filepath.Join(root, "flake.nix"))
	if len(files) < 6 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		nixInstantiate(t, "--parse", f)
	}
}

// evaluated is what nixos/config.nix returns, with the warnings the module
// would emit (nixos/tests/eval.nix).
type evaluated struct {
	Warnings            []string          `json:"warnings"`
	Layers              []string          `json:"layers"`
	Overlay             map[string]any    `json:"overlay"`
	Environment         map[string]string `json:"environment"`
	Credentials         []string          `json:"credentials"`
	SupplementaryGroups []string          `json:"supplementaryGroups"`
	ReadWritePaths      []string          `json:"readWritePaths"`
	FileDirectories     map[string]string `json:"fileDirectories"`
	RemoteOn            bool              `json:"remoteOn"`
	Capabilities        []string          `json:"capabilities"`
}

func evalCase(t *testing.T, name string) evaluated {
	t.Helper()
	out := nixInstantiate(t, "--eval", "--strict", "--json", "nixos/tests/eval.nix", "--argstr", "case", name, "--arg", "lib", "import "+nixpkgsLib(t))
	var e evaluated
	if err := json.Unmarshal(out, &e); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
	return e
}

// validate runs the binary's validate on the evaluated layers, as the
// module's build-time check does.
func (e evaluated) validate(t *testing.T) {
	t.Helper()
	if out, err := e.runValidate(t); err != nil {
		t.Fatalf("validate: %v\n%s", err, out)
	}
}

func (e evaluated) runValidate(t *testing.T) ([]byte, error) {
	t.Helper()
	dir := t.TempDir()
	overlay := filepath.Join(dir, "overlay.json") // JSON is YAML
	data, err := json.Marshal(e.Overlay)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(overlay, data, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"validate"}
	for _, l := range e.Layers {
		args = append(args, "--config="+l)
	}
	args = append(args, "--config=file:"+overlay)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "OTEL_AI_COLLECTOR_STATE_DIR="+dir)
	for k, v := range e.Environment {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return append([]byte(strings.Join(args, " ")+"\n"), out...), err
}

// get walks nested maps: get(m, "exporters", "otlp_http/remote", "endpoint").
func get(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

func expect(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func TestNixOSModuleConfigurations(t *testing.T) {
	// AI session traces are on by default with remote export, in the
	// binary's own layer order (internal/defaultconfig).
	remoteLayers := []string{"embedded:default.yaml", "embedded:remote.yaml", "embedded:ai-traces.yaml", "embedded:host-metrics.yaml", "embedded:journald.yaml"}

	t.Run("previous module options only", func(t *testing.T) {
		e := evalCase(t, "previous-module")
		e.validate(t)
		// The same effective pipelines as the previous module: OTLP/HTTP on
		// 4318, AI telemetry to otel-ai-monitor on 4320, the K8s exporter
		// (now with the persistent queue), file and debug exporters, zpages
		// on 55679; plus the new defaults (host metrics, journald).
		expect(t, "OTLP/HTTP endpoint", e.Environment["OTEL_AI_COLLECTOR_OTLP_HTTP_ENDPOINT"], "127.0.0.1:4318")
		expect(t, "monitor endpoint", e.Environment["OTEL_AI_COLLECTOR_MONITOR_ENDPOINT"], "http://127.0.0.1:4320")
		expect(t, "zpages endpoint", e.Environment["OTEL_AI_COLLECTOR_ZPAGES_ENDPOINT"], "127.0.0.1:55679")
		expect(t, "remote endpoint", e.Environment["OTEL_AI_COLLECTOR_REMOTE_ENDPOINT"], "http://otel-gateway.example:4318")
		expect(t, "layers", e.Layers, remoteLayers)
		expect(t, "remote exporter endpoint", get(e.Overlay, "exporters", "otlp_http/remote", "endpoint"), "http://otel-gateway.example:4318")
		expect(t, "remote queue storage", get(e.Overlay, "exporters", "otlp_http/remote", "sending_queue", "storage"), "resilient_file_storage/queue")
		expect(t, "remote queue bytes", get(e.Overlay, "exporters", "otlp_http/remote", "sending_queue", "queue_size"), float64(104857600))
		expect(t, "file exporter path", get(e.Overlay, "exporters", "file", "path"), "/var/lib/opentelemetry-collector/traces.json")
		expect(t, "file pipeline", get(e.Overlay, "service", "pipelines", "traces/file", "exporters"), []any{"file"})
		expect(t, "debug pipeline", get(e.Overlay, "service", "pipelines", "logs/debug", "exporters"), []any{"debug"})
		expect(t, "extensions", get(e.Overlay, "service", "extensions"), []any{"health_check", "zpages", "resilient_file_storage/queue"})
		expect(t, "old directory created by systemd, not only made writable", len(e.ReadWritePaths), 0)
		expect(t, "old directory as a state directory", e.FileDirectories, map[string]string{"StateDirectory": "opentelemetry-collector"})
		expect(t, "file pipelines", get(e.Overlay, "service", "pipelines", "logs/file", "exporters"), []any{"file"})
		expect(t, "journal group", e.SupplementaryGroups, []string{"systemd-journal"})
		_, listed := e.Environment["OTEL_AI_COLLECTOR_AI_SERVICES"]
		expect(t, "AI services recognised, not listed", listed, false)
		expect(t, "no capabilities", len(e.Capabilities), 0)
		expect(t, "AI traces switch", e.Environment["OTEL_AI_COLLECTOR_AI_TRACES"], "on")
		expect(t, "AI traces idle", e.Environment["OTEL_AI_COLLECTOR_AI_TRACES_IDLE"], "30s")
		expect(t, "AI traces model call timeout", e.Environment["OTEL_AI_COLLECTOR_AI_TRACES_MODEL_CALL_TIMEOUT"], "10m")
		expect(t, "warnings", len(e.Warnings), 0)
	})

	t.Run("gateway with headers, TLS and a bearer token", func(t *testing.T) {
		e := evalCase(t, "gateway")
		e.validate(t)
		remote := get(e.Overlay, "exporters", "otlp_http/remote").(map[string]any)
		expect(t, "endpoint", remote["endpoint"], "https://gateway.example:4318")
		expect(t, "tenant header", get(remote, "headers", "X-Scope-OrgID"), "workstations")
		expect(t, "CA", get(remote, "tls", "ca_file"), "/etc/ssl/lgtm-ca.pem")
		expect(t, "client cert via credentials", get(remote, "tls", "cert_file"), "/run/credentials/otel-ai-collector.service/remote-tls-cert")
		expect(t, "client key via credentials", get(remote, "tls", "key_file"), "/run/credentials/otel-ai-collector.service/remote-tls-key")
		expect(t, "authenticator", get(remote, "auth", "authenticator"), "bearertokenauth/remote")
		expect(t, "queue bytes", get(remote, "sending_queue", "queue_size"), float64(52428800))
		expect(t, "token file via credentials", get(e.Overlay, "extensions", "bearertokenauth/remote", "filename"),
			"/run/credentials/otel-ai-collector.service/remote-token")
		expect(t, "LoadCredential", e.Credentials, []string{"remote-token:/run/secrets/lgtm-token", "remote-tls-cert:/etc/otel/client.pem", "remote-tls-key:/etc/otel/client-key.pem"})
		expect(t, "extensions", get(e.Overlay, "service", "extensions"), []any{"health_check", "zpages", "resilient_file_storage/queue", "bearertokenauth/remote"})
	})

	t.Run("direct to Tempo, Mimir and Loki", func(t *testing.T) {
		e := evalCase(t, "direct")
		e.validate(t)
		expect(t, "no gateway endpoint", e.Environment["OTEL_AI_COLLECTOR_REMOTE_ENDPOINT"], "")
		expect(t, "traces", get(e.Overlay, "service", "pipelines", "traces/export", "exporters"), []any{"otlp_grpc/tempo"})
		expect(t, "metrics", get(e.Overlay, "service", "pipelines", "metrics/export", "exporters"), []any{"otlp_http/mimir"})
		expect(t, "logs", get(e.Overlay, "service", "pipelines", "logs/export", "exporters"), []any{"otlp_http/loki"})
		expect(t, "tempo endpoint", get(e.Overlay, "exporters", "otlp_grpc/tempo", "endpoint"), "tempo.example:4317")
		expect(t, "mimir auth", get(e.Overlay, "exporters", "otlp_http/mimir", "auth", "authenticator"), "bearertokenauth/mimir")
		expect(t, "loki tenant", get(e.Overlay, "exporters", "otlp_http/loki", "headers", "X-Scope-OrgID"), "ws")
		expect(t, "loki partial success", get(e.Overlay, "exporters", "otlp_http/loki", "middlewares"), []any{map[string]any{"id": "loki_partial_success"}})
		expect(t, "extensions", get(e.Overlay, "service", "extensions"), []any{"health_check", "zpages", "resilient_file_storage/queue", "bearertokenauth/mimir", "loki_partial_success"})
		expect(t, "LoadCredential", e.Credentials, []string{"mimir-token:/run/secrets/mimir"})
		expect(t, "layers", e.Layers, remoteLayers)
	})

	t.Run("every feature on", func(t *testing.T) {
		e := evalCase(t, "all-on")
		e.validate(t)
		expect(t, "listen address", e.Environment["OTEL_AI_COLLECTOR_OTLP_HTTP_ENDPOINT"], "0.0.0.0:4318")
		expect(t, "gRPC gateway", get(e.Overlay, "service", "pipelines", "traces/export", "exporters"), []any{"otlp_grpc/remote"})
		expect(t, "AI services", e.Environment["OTEL_AI_COLLECTOR_AI_SERVICES"], "claude-code,aider")
		expect(t, "host metrics interval", e.Environment["OTEL_AI_COLLECTOR_HOST_METRICS_INTERVAL"], "30s")
		expect(t, "journald units", e.Environment["OTEL_AI_COLLECTOR_JOURNALD_UNITS"], "otel-ai-monitor.service,ipc-daemon.service")
		expect(t, "journald priority", e.Environment["OTEL_AI_COLLECTOR_JOURNALD_PRIORITY"], "warning")
		expect(t, "settings merged", get(e.Overlay, "processors", "memory_limiter", "limit_mib"), float64(512))
		expect(t, "layers", e.Layers, remoteLayers)
	})

	t.Run("eBPF network spans", func(t *testing.T) {
		e := evalCase(t, "ebpf")
		e.validate(t)
		expect(t, "layers", e.Layers, append(append([]string{}, remoteLayers...), "embedded:ebpf.yaml"))
		expect(t, "ports", e.Environment["OTEL_AI_COLLECTOR_EBPF_PORTS"], "4320,8080")
		expect(t, "regex", e.Environment["OTEL_AI_COLLECTOR_EBPF_EXECUTABLE_REGEX"], "^(python3.*|node)$")
		expect(t, "units", e.Environment["OTEL_AI_COLLECTOR_EBPF_UNITS"], "ipc-daemon.service")
		expect(t, "capabilities", e.Capabilities, []string{"CAP_BPF", "CAP_PERFMON", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"})
	})

	t.Run("profiling to Pyroscope with a tenant, TLS and a bearer token", func(t *testing.T) {
		e := evalCase(t, "profiling")
		e.validate(t)
		expect(t, "layers", e.Layers, []string{"embedded:default.yaml", "embedded:profiling.yaml"})
		expect(t, "Pyroscope endpoint", e.Environment["OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT"], "https://pyroscope.example")
		expect(t, "ingest address", e.Environment["OTEL_AI_COLLECTOR_PYROSCOPE_INGEST_ENDPOINT"], "127.0.0.1:4041")
		expect(t, "queue bytes", e.Environment["OTEL_AI_COLLECTOR_PYROSCOPE_QUEUE_BYTES"], "10485760")
		forwarding := get(e.Overlay, "processors", "profile_forwarding").(map[string]any)
		expect(t, "tenant header", get(forwarding, "headers", "X-Scope-OrgID"), "workstations")
		expect(t, "CA", get(forwarding, "tls", "ca_file"), "/etc/ssl/lgtm-ca.pem")
		expect(t, "authenticator", get(forwarding, "auth", "authenticator"), "bearertokenauth/pyroscope")
		expect(t, "fallback service name", forwarding["default_service_name"], "workstation-app")
		expect(t, "token file via credentials", get(e.Overlay, "extensions", "bearertokenauth/pyroscope", "filename"),
			"/run/credentials/otel-ai-collector.service/pyroscope-token")
		expect(t, "LoadCredential", e.Credentials, []string{"pyroscope-token:/run/secrets/pyroscope-token"})
		expect(t, "extensions", get(e.Overlay, "service", "extensions"), []any{"health_check", "zpages", "resilient_file_storage/queue", "bearertokenauth/pyroscope"})
		expect(t, "no capabilities", len(e.Capabilities), 0)
	})

	t.Run("AI session traces with a longer turn idle timeout", func(t *testing.T) {
		e := evalCase(t, "ai-traces-idle")
		e.validate(t)
		expect(t, "layers", e.Layers, remoteLayers)
		expect(t, "AI traces switch", e.Environment["OTEL_AI_COLLECTOR_AI_TRACES"], "on")
		expect(t, "AI traces idle", e.Environment["OTEL_AI_COLLECTOR_AI_TRACES_IDLE"], "2m")
		expect(t, "warnings", len(e.Warnings), 0)
		// The layer reads its idle timeout from that variable: the same
		// layers with a timeout under 1s are refused by the collector (its
		// check of the variable, before the connector's), which is why the
		// module checks the option at evaluation.
		e.Environment["OTEL_AI_COLLECTOR_AI_TRACES_IDLE"] = "500ms"
		out, err := e.runValidate(t)
		if err == nil || !strings.Contains(string(out), `OTEL_AI_COLLECTOR_AI_TRACES_IDLE="500ms": must be at least 1s`) {
			t.Errorf("validate with a 500ms idle timeout: err=%v, want the refusal naming OTEL_AI_COLLECTOR_AI_TRACES_IDLE\n%s", err, out)
		}
	})

	t.Run("AI session traces off", func(t *testing.T) {
		e := evalCase(t, "ai-traces-off")
		e.validate(t)
		expect(t, "layers", e.Layers, []string{"embedded:default.yaml", "embedded:remote.yaml", "embedded:host-metrics.yaml", "embedded:journald.yaml"})
		expect(t, "AI traces switch", e.Environment["OTEL_AI_COLLECTOR_AI_TRACES"], "off")
		expect(t, "warnings", len(e.Warnings), 0)
	})

	t.Run("AI session traces set on without remote export warn", func(t *testing.T) {
		e := evalCase(t, "ai-traces-without-remote")
		e.validate(t)
		expect(t, "layers", e.Layers, []string{"embedded:default.yaml"})
		if len(e.Warnings) != 1 || !strings.Contains(e.Warnings[0], "aiTraces.enable has no effect without remote export") {
			t.Errorf("warnings = %q, want one saying aiTraces.enable has no effect without remote export", e.Warnings)
		}
	})

	t.Run("a turn idle timeout the collector would refuse fails evaluation", func(t *testing.T) {
		stderr := nixInstantiateFails(t, "--eval", "--strict", "--json", "nixos/tests/eval.nix", "--argstr", "case", "ai-traces-bad-idle", "--arg", "lib", "import "+nixpkgsLib(t))
		want := `aiTraces.turnIdleTimeout = "500ms" is not a Go duration of at least 1s`
		if !strings.Contains(stderr, "Failed assertions") || !strings.Contains(stderr, want) {
			t.Errorf("nix-instantiate stderr does not have the failed assertion %q:\n%s", want, stderr)
		}
	})

	t.Run("every feature off", func(t *testing.T) {
		e := evalCase(t, "all-off")
		e.validate(t)
		expect(t, "layers", e.Layers, []string{"embedded:default.yaml"})
		expect(t, "extensions", get(e.Overlay, "service", "extensions"), []any{"health_check"})
		expect(t, "no remote", e.Environment["OTEL_AI_COLLECTOR_REMOTE_ENDPOINT"], "")
		expect(t, "no groups", len(e.SupplementaryGroups), 0)
		expect(t, "no exporters", get(e.Overlay, "exporters"), nil)
		expect(t, "no capabilities", len(e.Capabilities), 0)
		// aiTraces.enable is on by default but not set here: no warning.
		expect(t, "warnings", len(e.Warnings), 0)
	})
}

// The module's check of aiTraces.turnIdleTimeout (nixos/lib.nix, plain Nix)
// accepts exactly what the collector accepts as
// OTEL_AI_COLLECTOR_AI_TRACES_IDLE with its embedded default configuration,
// and whatever it accepts also passes the module's own layers (the
// build-time validation).
func TestNixIdleTimeoutCheckMatchesCollector(t *testing.T) {
	values := []string{
		"30s", "2m", "1h30m", "1s", "1000ms", "1000000us", "1000000µs", "1000000μs", "1000000000ns",
		"1.5s", ".5m", "1.s", "0.0167m", "+2m", "1h0m0s", "1.0000000001s",
		"2562047h", "9223372036854775807ns", "0000000000000000000001s",
		"999ms", "0.5s", "0.9999999999s", "999999999ns", "0", "-0", "-2m", "", ".", ".s", "s",
		"30", "1e9", "2 m", " 30s", "30s ", "1sm", "1S", "1s2", "1h-1s", "2562048h", "9223372036854775808ns",
		"99999999999999999999h",
	}
	list, err := json.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	out := nixInstantiate(t, "--eval", "--strict", "--json", "--expr",
		`{ values }: map (import ./nixos/lib.nix).isIdleTimeout (builtins.fromJSON values)`, "--argstr", "values", string(list))
	var accepted []bool
	if err := json.Unmarshal(out, &accepted); err != nil || len(accepted) != len(values) {
		t.Fatalf("%v: %s", err, out)
	}
	e := evalCase(t, "ai-traces-idle")
	nAccepted := 0
	for i, v := range values {
		// The embedded default, as started with no flags: remote export on,
		// nothing else.
		dir := t.TempDir()
		cmd := exec.Command(binary, "validate")
		cmd.Env = append(os.Environ(), "OTEL_AI_COLLECTOR_STATE_DIR="+dir,
			"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT=http://"+harness.FreeAddr(t),
			"OTEL_AI_COLLECTOR_HOST_METRICS=off", "OTEL_AI_COLLECTOR_JOURNALD=off",
			"OTEL_AI_COLLECTOR_AI_TRACES=on", "OTEL_AI_COLLECTOR_AI_TRACES_IDLE="+v)
		collectorOut, err := cmd.CombinedOutput()
		collectorAccepts := err == nil
		if accepted[i] != collectorAccepts {
			t.Errorf("%q: module check accepts=%v, collector accepts=%v\n%s", v, accepted[i], collectorAccepts, collectorOut)
		}
		if !accepted[i] {
			continue
		}
		nAccepted++
		e.Environment["OTEL_AI_COLLECTOR_AI_TRACES_IDLE"] = v
		if out, err := e.runValidate(t); err != nil {
			t.Errorf("%q: accepted by the module check, refused with the module's layers: %v\n%s", v, err, out)
		}
	}
	t.Logf("%d values, %d accepted by both", len(values), nAccepted)
}

// Every option the module declares takes its default from defaults.nix, and
// every option in defaults.nix is declared by the module and read by
// config.nix (or the module itself): no dead options.
func TestNixOSModuleHasNoDeadOptions(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := nixInstantiate(t, "--eval", "--strict", "--json", "--expr", `
		let
		  leaves = prefix: set: builtins.concatLists (map (name:
		    let v = set.${name}; path = prefix ++ [ name ]; in
		    if builtins.isAttrs v && v != { } && name != "headers" && name != "settings"
		    then leaves path v else [ path ]) (builtins.attrNames set));
		in leaves [ ] (import ./nixos/defaults.nix)`)
	var paths [][]string
	if err := json.Unmarshal(out, &paths); err != nil {
		t.Fatal(err)
	}
	module := readText(t, filepath.Join(root, "nixos", "module.nix"))
	config := readText(t, filepath.Join(root, "nixos", "config.nix"))
	// Declared by endpointOptions / connectionOptions, once for every peer.
	endpointFields := regexp.MustCompile(`^remote\.(gateway|tempo|mimir|loki)\.|^profiling\.pyroscope\.(headers|tls|bearerTokenFile)`)
	var names []string
	for _, p := range paths {
		dotted := strings.Join(p, ".")
		names = append(names, dotted)
		leaf := p[len(p)-1]
		switch {
		case endpointFields.MatchString(dotted):
			if !strings.Contains(module, "d."+strings.Join(p[2:], ".")) {
				t.Errorf("option %s: endpointOptions/connectionOptions have no default d.%s", dotted, strings.Join(p[2:], "."))
			}
			if !strings.Contains(config, "."+leaf) {
				t.Errorf("option %s is not read by config.nix", dotted)
			}
		case dotted == "enable":
			continue // mkEnableOption; read by the module's mkIf
		default:
			if !strings.Contains(module, "defaults."+dotted) {
				t.Errorf("option %s is not declared in module.nix with default defaults.%s", dotted, dotted)
			}
			if !strings.Contains(config, "cfg."+dotted) && !strings.Contains(module, "cfg."+dotted) {
				t.Errorf("option %s is read by neither config.nix nor module.nix", dotted)
			}
		}
	}
	sort.Strings(names)
	t.Logf("%d options checked", len(names))
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// package.nix's vendorHash matches the module graph (nixos/vendor-hash.sh).
func TestNixPackageVendorHash(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(root, "nixos", "vendor-hash.sh")).Output()
	if err != nil {
		t.Fatalf("vendor-hash.sh: %v", err)
	}
	want := strings.TrimSpace(string(out))
	if !strings.Contains(readText(t, filepath.Join(root, "nixos", "package.nix")), `vendorHash = "`+want+`";`) {
		t.Errorf("nixos/package.nix vendorHash is stale: set it to %s (nixos/vendor-hash.sh)", want)
	}
}
