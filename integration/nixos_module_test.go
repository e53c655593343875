package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// nixos/module.nix evaluated with nixpkgs' real module system
// (lib.evalModules, nixos/tests/module-eval.nix): the unit NixOS would run,
// its configuration file and build-time validation script run for real.
//
// nixpkgs' lib is found beside the repository, at ../shared/nixpkgs-lib/lib
// relative to its root (as CI provides it), or at NIXPKGS_LIB. From a git
// worktree, beside the main checkout.

func nixpkgsLib(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("NIXPKGS_LIB"); dir != "" {
		return dir
	}
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	candidates := []string{filepath.Join(root, "..", "shared", "nixpkgs-lib", "lib")}
	if out, err := exec.Command("git", "-C", root, "rev-parse", "--path-format=absolute", "--git-common-dir").Output(); err == nil {
		main := filepath.Dir(strings.TrimSpace(string(out)))
		candidates = append(candidates, filepath.Join(main, "..", "shared", "nixpkgs-lib", "lib"))
	}
	for _, dir := range candidates {
		if _, err := os.Stat(filepath.Join(dir, "default.nix")); err == nil {
			abs, err := filepath.Abs(dir)
			if err != nil {
				t.Fatal(err)
			}
			return abs
		}
	}
	t.Fatalf("nixpkgs lib not found at %v (set NIXPKGS_LIB)", candidates)
	return ""
}

// packageDir is a stand-in for the package's store path: bin/otel-ai-collector
// is the binary under test.
func packageDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(abs, filepath.Join(dir, "bin", "otel-ai-collector")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// moduleEval is what nixos/tests/module-eval.nix returns.
type moduleEval struct {
	Warnings []string `json:"warnings"`
	Firewall struct {
		AllowedTCPPorts []int `json:"allowedTCPPorts"`
	} `json:"firewall"`
	Settings map[string]any `json:"settings"`
	Unit     struct {
		Environment   map[string]string `json:"environment"`
		ServiceConfig map[string]any    `json:"serviceConfig"`
		Path          []string          `json:"path"`
		WantedBy      []string          `json:"wantedBy"`
	} `json:"unit"`
	pkg string
}

func moduleEvalArgs(t *testing.T, pkg string, extra ...string) []string {
	// --read-write-mode: builtins.toFile and path literals write to the
	// store, so the unit's files exist.
	return append([]string{"--read-write-mode", "--eval", "--strict", "--json", "nixos/tests/module-eval.nix",
		"--arg", "lib", "import " + nixpkgsLib(t), "--argstr", "packageDir", pkg}, extra...)
}

func evalModule(t *testing.T, extra ...string) moduleEval {
	t.Helper()
	pkg := packageDir(t)
	out := nixInstantiate(t, moduleEvalArgs(t, pkg, extra...)...)
	var e moduleEval
	if err := json.Unmarshal(out, &e); err != nil {
		t.Fatalf("%v: %v\n%s", extra, err, out)
	}
	e.pkg = pkg
	return e
}

func evalModuleCase(t *testing.T, name string) moduleEval {
	t.Helper()
	return evalModule(t, "--argstr", "case", name)
}

// evalModuleFails evaluates a case that must fail and returns the error.
func evalModuleFails(t *testing.T, name string) string {
	t.Helper()
	return nixInstantiateFails(t, moduleEvalArgs(t, packageDir(t), "--argstr", "case", name)...)
}

// execStart splits the unit's ExecStart as systemd does for the module's
// lib.escapeShellArgs quoting (words, single-quoted where needed).
func (e moduleEval) execStart(t *testing.T) []string {
	t.Helper()
	line, _ := e.Unit.ServiceConfig["ExecStart"].(string)
	var args []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '\'':
			quoted, inWord = true, true
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case c == ' ':
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		args = append(args, cur.String())
	}
	if len(args) == 0 {
		t.Fatalf("no ExecStart in %v", e.Unit.ServiceConfig)
	}
	return args
}

// build runs the module's build-time validation script (the runCommand
// derivation; module-eval.nix gives its output path as its script's store
// path plus ".out") with $out in a temporary directory, and returns
// ExecStart with that output path put in place of the store path.
func (e moduleEval) build(t *testing.T) []string {
	t.Helper()
	args := e.execStart(t)
	for i, a := range args {
		const prefix = "--config=file:"
		if !strings.HasPrefix(a, prefix) || !strings.HasSuffix(a, ".build.sh.out") {
			continue
		}
		script := strings.TrimSuffix(strings.TrimPrefix(a, prefix), ".out")
		tmp := t.TempDir()
		out := filepath.Join(tmp, "out")
		cmd := exec.Command("bash", "-e", script)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + tmp, "out=" + out}
		if output, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build-time validation (%s) failed: %v\n%s", script, err, output)
		}
		args[i] = prefix + out
	}
	return args
}

// unitCommand is ExecStart (after the build) with the unit's environment;
// the state directory is a temporary one, the only change.
func (e moduleEval) unitCommand(t *testing.T, args []string, extra ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range e.Unit.Environment {
		if k == "OTEL_AI_COLLECTOR_STATE_DIR" {
			v = t.TempDir()
		}
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, extra...)
	return cmd
}

// validate builds the case and runs `validate` on exactly the unit's
// command line and environment.
func (e moduleEval) validate(t *testing.T) []string {
	t.Helper()
	args := e.build(t)
	if want := filepath.Join(e.pkg, "bin", "otel-ai-collector"); args[0] != want {
		t.Fatalf("ExecStart runs %s, want the package's %s", args[0], want)
	}
	v := append([]string{args[0], "validate"}, args[1:]...)
	if out, err := e.unitCommand(t, v).CombinedOutput(); err != nil {
		t.Fatalf("validate %v: %v\n%s", v, err, out)
	}
	return args
}

func (e moduleEval) service(key string) any { return e.Unit.ServiceConfig[key] }

func strs(v any) []string {
	list, _ := v.([]any)
	out := []string{}
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestNixModuleRealLibPreviousOptions(t *testing.T) {
	t.Run("all defaults", func(t *testing.T) {
		e := evalModuleCase(t, "previous-defaults")
		args := e.validate(t)
		expect(t, "embedded layers then the settings file", args[1:len(args)-1], []string{
			"--config=embedded:default.yaml", "--config=embedded:remote.yaml", "--config=embedded:ai-traces.yaml",
			"--config=embedded:host-metrics.yaml", "--config=embedded:journald.yaml"})
		expect(t, "receiver", e.Unit.Environment["OTEL_AI_COLLECTOR_OTLP_HTTP_ENDPOINT"], "127.0.0.1:4318")
		expect(t, "forwarder", e.Unit.Environment["OTEL_AI_COLLECTOR_MONITOR_ENDPOINT"], "http://127.0.0.1:4320")
		expect(t, "zpages", e.Unit.Environment["OTEL_AI_COLLECTOR_ZPAGES_ENDPOINT"], "127.0.0.1:55679")
		remote := get(e.Settings, "exporters", "otlp_http/remote").(map[string]any)
		// The previous default is the traces URL itself.
		expect(t, "K8s traces URL", remote["traces_endpoint"], "https://otel-collector.cnoe.localtest.me:8443/v1/traces")
		expect(t, "K8s base URL", remote["endpoint"], "https://otel-collector.cnoe.localtest.me:8443")
		expect(t, "K8s encoding", remote["encoding"], "json")
		expect(t, "no client certificate where the old files are absent", remote["tls"], nil)
		expect(t, "file path", get(e.Settings, "exporters", "file", "path"), "/var/lib/opentelemetry-collector/traces.json")
		for _, signal := range []string{"traces", "metrics", "logs"} {
			expect(t, signal+" to the file", get(e.Settings, "service", "pipelines", signal+"/file", "exporters"), []any{"file"})
		}
		expect(t, "old directory created for the dynamic user", strs(e.service("StateDirectory")), []string{"otel-ai-collector", "opentelemetry-collector"})
		expect(t, "no ExecStartPre", e.service("ExecStartPre"), nil)
		expect(t, "warnings", len(e.Warnings), 0)
		expect(t, "wantedBy", e.Unit.WantedBy, []string{"multi-user.target"})
	})

	t.Run("a host's last settings", func(t *testing.T) {
		e := evalModuleCase(t, "previous-host")
		e.validate(t)
		remote := get(e.Settings, "exporters", "otlp_http/remote").(map[string]any)
		expect(t, "K8s endpoint", remote["endpoint"], "https://otel-collector-myhost.tailnet.ts.net")
		expect(t, "no traces URL of its own", remote["traces_endpoint"], nil)
		expect(t, "K8s encoding", remote["encoding"], "json")
		expect(t, "no debug exporter", get(e.Settings, "exporters", "debug"), nil)
		expect(t, "warnings", len(e.Warnings), 0)
	})

	t.Run("client certificate named, protobuf chosen", func(t *testing.T) {
		e := evalModuleCase(t, "previous-host-mtls")
		e.validate(t)
		remote := get(e.Settings, "exporters", "otlp_http/remote").(map[string]any)
		expect(t, "encoding", remote["encoding"], "proto")
		expect(t, "client certificate from credentials", get(remote, "tls", "cert_file"), "/run/credentials/otel-ai-collector.service/remote-tls-cert")
		expect(t, "client key from credentials", get(remote, "tls", "key_file"), "/run/credentials/otel-ai-collector.service/remote-tls-key")
		expect(t, "LoadCredential", strs(e.service("LoadCredential")), []string{
			"remote-tls-cert:/etc/otel/certs/client.crt", "remote-tls-key:/etc/otel/certs/client.key"})
	})

	t.Run("client certificate at the old paths when enabled", func(t *testing.T) {
		e := evalModule(t, "--argstr", "configJSON", `{"enable":true,"k8sExporterTls":{"enable":true}}`)
		e.validate(t)
		expect(t, "LoadCredential", strs(e.service("LoadCredential")), []string{
			"remote-tls-cert:/etc/otel/certs/client.crt", "remote-tls-key:/etc/otel/certs/client.key"})
	})

	changed := map[string]func(t *testing.T, e moduleEval){
		"receiverPort": func(t *testing.T, e moduleEval) {
			expect(t, "receiver", e.Unit.Environment["OTEL_AI_COLLECTOR_OTLP_HTTP_ENDPOINT"], "127.0.0.1:14318")
		},
		"forwarderPort": func(t *testing.T, e moduleEval) {
			expect(t, "forwarder", e.Unit.Environment["OTEL_AI_COLLECTOR_MONITOR_ENDPOINT"], "http://127.0.0.1:14320")
		},
		"enableDebugExporter": func(t *testing.T, e moduleEval) {
			for _, signal := range []string{"traces", "metrics", "logs"} {
				expect(t, signal+" to debug", get(e.Settings, "service", "pipelines", signal+"/debug", "exporters"), []any{"debug"})
			}
		},
		"enableFileExporter": func(t *testing.T, e moduleEval) {
			expect(t, "no file exporter", get(e.Settings, "exporters", "file"), nil)
			expect(t, "no extra state directory", strs(e.service("StateDirectory")), []string{"otel-ai-collector"})
		},
		"fileExporterPath": func(t *testing.T, e moduleEval) {
			expect(t, "file path", get(e.Settings, "exporters", "file", "path"), "/var/log/otel/telemetry.json")
			expect(t, "logs directory", strs(e.service("LogsDirectory")), []string{"otel"})
			expect(t, "state directory", strs(e.service("StateDirectory")), []string{"otel-ai-collector"})
		},
		"enableK8sExporter": func(t *testing.T, e moduleEval) {
			expect(t, "no remote exporter", get(e.Settings, "exporters", "otlp_http/remote"), nil)
			if len(e.Warnings) != 1 || !strings.Contains(e.Warnings[0], "turns remote export off") {
				t.Errorf("warnings = %q, want one saying remote export is off", e.Warnings)
			}
		},
		"k8sExporterEndpoint": func(t *testing.T, e moduleEval) {
			expect(t, "endpoint", get(e.Settings, "exporters", "otlp_http/remote", "endpoint"), "https://otel-gateway.example:4318")
			expect(t, "encoding", get(e.Settings, "exporters", "otlp_http/remote", "encoding"), "json")
		},
		"enableZPages": func(t *testing.T, e moduleEval) {
			expect(t, "extensions", get(e.Settings, "service", "extensions"), []any{"health_check", "resilient_file_storage/queue"})
		},
		"zpagesPort": func(t *testing.T, e moduleEval) {
			expect(t, "zpages", e.Unit.Environment["OTEL_AI_COLLECTOR_ZPAGES_ENDPOINT"], "127.0.0.1:15679")
		},
	}
	for name, check := range changed {
		t.Run("changed "+name, func(t *testing.T) {
			e := evalModuleCase(t, "previous-changed-"+name)
			e.validate(t)
			check(t, e)
		})
	}
}

func TestNixModuleRealLibFeatures(t *testing.T) {
	remoteLayers := []string{"--config=embedded:default.yaml", "--config=embedded:remote.yaml", "--config=embedded:ai-traces.yaml",
		"--config=embedded:host-metrics.yaml", "--config=embedded:journald.yaml"}

	t.Run("gateway with headers, TLS and a bearer token", func(t *testing.T) {
		e := evalModuleCase(t, "gateway")
		e.validate(t)
		remote := get(e.Settings, "exporters", "otlp_http/remote").(map[string]any)
		expect(t, "endpoint", remote["endpoint"], "https://gateway.example:4318")
		expect(t, "protobuf to a gateway of its own", remote["encoding"], nil)
		expect(t, "CA", get(remote, "tls", "ca_file"), "/etc/ssl/lgtm-ca.pem")
		expect(t, "key via credentials", get(remote, "tls", "key_file"), "/run/credentials/otel-ai-collector.service/remote-tls-key")
		expect(t, "LoadCredential", strs(e.service("LoadCredential")), []string{
			"remote-token:/run/secrets/lgtm-token", "remote-tls-cert:/etc/otel/client.pem", "remote-tls-key:/etc/otel/client-key.pem"})
	})

	t.Run("direct", func(t *testing.T) {
		e := evalModuleCase(t, "direct")
		e.validate(t)
		expect(t, "traces", get(e.Settings, "service", "pipelines", "traces/export", "exporters"), []any{"otlp_grpc/tempo"})
		expect(t, "metrics", get(e.Settings, "service", "pipelines", "metrics/export", "exporters"), []any{"otlp_http/mimir"})
		expect(t, "logs", get(e.Settings, "service", "pipelines", "logs/export", "exporters"), []any{"otlp_http/loki"})
	})

	t.Run("every feature on", func(t *testing.T) {
		e := evalModuleCase(t, "all-on")
		args := e.validate(t)
		expect(t, "layers", args[1:len(args)-1], remoteLayers)
		expect(t, "settings merged", get(e.Settings, "processors", "memory_limiter", "limit_mib"), float64(512))
		expect(t, "journalctl on PATH", len(e.Unit.Path), 1)
	})

	t.Run("every feature at once, eBPF and profiling included", func(t *testing.T) {
		e := evalModuleCase(t, "every-feature")
		args := e.validate(t)
		expect(t, "layers", args[1:len(args)-1], append(append([]string{}, remoteLayers...), "--config=embedded:ebpf.yaml", "--config=embedded:profiling.yaml"))
	})

	t.Run("eBPF", func(t *testing.T) {
		e := evalModuleCase(t, "ebpf")
		args := e.validate(t)
		expect(t, "layers", args[1:len(args)-1], append(append([]string{}, remoteLayers...), "--config=embedded:ebpf.yaml"))
		expect(t, "capabilities", strs(e.service("CapabilityBoundingSet")), []string{"CAP_BPF", "CAP_PERFMON", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"})
		expect(t, "other processes' /proc visible", e.service("ProtectProc"), nil)
	})

	t.Run("profiling", func(t *testing.T) {
		e := evalModuleCase(t, "profiling")
		e.validate(t)
		expect(t, "forwarding auth", get(e.Settings, "processors", "profile_forwarding", "auth", "authenticator"), "bearertokenauth/pyroscope")
	})

	t.Run("eBPF profiling", func(t *testing.T) {
		e := evalModuleCase(t, "profiling-ebpf")
		args := e.validate(t)
		expect(t, "layers", args[1:len(args)-1], []string{"--config=embedded:default.yaml", "--config=embedded:profiling.yaml", "--config=embedded:profiling-ebpf.yaml"})
		expect(t, "switch", e.Unit.Environment["OTEL_AI_COLLECTOR_PROFILING"], "ebpf")
		expect(t, "units selected", e.Unit.Environment["OTEL_AI_COLLECTOR_PROFILING_UNITS"], "indexer.service,worker")
		expect(t, "capabilities", strs(e.service("CapabilityBoundingSet")),
			[]string{"CAP_BPF", "CAP_PERFMON", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH", "CAP_SYSLOG", "CAP_CHECKPOINT_RESTORE"})
		expect(t, "kallsyms readable", e.service("ProtectKernelTunables"), false)
		expect(t, "bpf and perf_event_open allowed", strs(e.service("SystemCallFilter")), []string{"@system-service", "bpf", "perf_event_open"})
	})

	t.Run("everything off: nothing leaves loopback", func(t *testing.T) {
		e := evalModuleCase(t, "all-off")
		args := e.validate(t)
		expect(t, "layers", args[1:len(args)-1], []string{"--config=embedded:default.yaml"})
		expect(t, "IPAddressDeny", e.service("IPAddressDeny"), "any")
		expect(t, "IPAddressAllow", e.service("IPAddressAllow"), "localhost")
		expect(t, "ProtectProc", e.service("ProtectProc"), "invisible")
		expect(t, "ProcSubset", e.service("ProcSubset"), "pid")
	})

	t.Run("settings override generated values the nixpkgs way", func(t *testing.T) {
		e := evalModuleCase(t, "settings-override")
		args := e.validate(t)
		expect(t, "value replaced", get(e.Settings, "exporters", "otlp_http/remote", "timeout"), "30s")
		expect(t, "sibling kept", get(e.Settings, "exporters", "otlp_http/remote", "encoding"), "json")
		expect(t, "list replaced", get(e.Settings, "service", "extensions"), []any{"health_check", "resilient_file_storage/queue"})
		expect(t, "mkForce-d subtree", get(e.Settings, "exporters", "file", "rotation"), map[string]any{"max_megabytes": float64(500)})
		// The unit runs the file written from exactly these settings.
		data, err := os.ReadFile(strings.TrimPrefix(args[len(args)-1], "--config=file:"))
		if err != nil {
			t.Fatal(err)
		}
		var file map[string]any
		if err := json.Unmarshal(data, &file); err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
		if !reflect.DeepEqual(file, e.Settings) {
			t.Errorf("the unit's configuration file differs from config.services.otel-ai-collector.settings:\n%s", data)
		}
	})

	t.Run("a configFile path literal is copied to the store and validated", func(t *testing.T) {
		e := evalModuleCase(t, "config-file")
		before := e.execStart(t)
		expect(t, "only the file", len(before), 2)
		args := e.validate(t)
		data, err := os.ReadFile(strings.TrimPrefix(args[1], "--config=file:"))
		if err != nil {
			t.Fatal(err)
		}
		root, _ := harness.RepoRoot()
		expect(t, "the host's file", string(data), readText(t, filepath.Join(root, "nixos", "tests", "config-file.yaml")))
		script := readText(t, strings.TrimSuffix(strings.TrimPrefix(before[1], "--config=file:"), ".out"))
		if !strings.Contains(script, "/nix/store/") || !strings.Contains(script, "-config-file.yaml") {
			t.Errorf("the build reads the file from outside the store:\n%s", script)
		}
	})

	t.Run("file exporter directories", func(t *testing.T) {
		e := evalModuleCase(t, "file-in-state-dir")
		e.validate(t)
		expect(t, "state directory only", strs(e.service("StateDirectory")), []string{"otel-ai-collector"})
		expect(t, "nothing else writable", strs(e.service("ReadWritePaths")), []string{})
		e = evalModuleCase(t, "file-elsewhere")
		e.validate(t)
		expect(t, "state directory only", strs(e.service("StateDirectory")), []string{"otel-ai-collector"})
		expect(t, "made writable", strs(e.service("ReadWritePaths")), []string{"/srv/telemetry"})
	})

	t.Run("openFirewall", func(t *testing.T) {
		e := evalModuleCase(t, "firewall")
		expect(t, "ports", e.Firewall.AllowedTCPPorts, []int{4318, 4317})
		expect(t, "warnings", len(e.Warnings), 0)
		e = evalModuleCase(t, "firewall-loopback")
		if len(e.Warnings) != 1 || !strings.Contains(e.Warnings[0], "openFirewall has no effect") {
			t.Errorf("warnings = %q, want one about openFirewall on loopback", e.Warnings)
		}
		e = evalModuleCase(t, "previous-defaults")
		expect(t, "closed by default", len(e.Firewall.AllowedTCPPorts), 0)
	})

	t.Run("eBPF without remote export warns", func(t *testing.T) {
		e := evalModuleCase(t, "ebpf-without-remote")
		e.validate(t)
		if len(e.Warnings) != 1 || !strings.Contains(e.Warnings[0], "ebpf.enable has no effect without remote export") {
			t.Errorf("warnings = %q, want one about eBPF without remote export", e.Warnings)
		}
		expect(t, "no capabilities", strs(e.service("CapabilityBoundingSet")), []string{""})
	})

	t.Run("gateway without an endpoint warns", func(t *testing.T) {
		e := evalModuleCase(t, "gateway-without-endpoint")
		e.validate(t)
		if len(e.Warnings) != 1 || !strings.Contains(e.Warnings[0], "turns remote export off") {
			t.Errorf("warnings = %q, want one saying remote export is off", e.Warnings)
		}
	})
}

func TestNixModuleRealLibAssertions(t *testing.T) {
	for name, want := range map[string]string{
		"assert-settings-and-config-file": "set either settings or configFile, not both",
		"assert-ebpf-selects-nothing":     "ebpf.enable selects nothing",
		"assert-profiling-no-endpoint":    "profiling.enable needs profiling.pyroscope.endpoint",
		"assert-direct-missing-endpoint":  `remote.mode = \"direct\" needs remote.tempo.endpoint`,
		"ai-traces-bad-idle":              `aiTraces.turnIdleTimeout = \"500ms\" is not a Go duration`,
	} {
		t.Run(name, func(t *testing.T) {
			stderr := evalModuleFails(t, name)
			if !strings.Contains(stderr, "Failed assertions:") || !strings.Contains(stderr, strings.ReplaceAll(want, `\"`, `"`)) {
				t.Errorf("stderr does not have the failed assertion %q:\n%s", want, stderr)
			}
		})
	}
	t.Run("eBPF on an old kernel", func(t *testing.T) {
		stderr := nixInstantiateFails(t, moduleEvalArgs(t, packageDir(t), "--argstr", "case", "assert-ebpf-old-kernel", "--argstr", "kernelVersion", "5.4.0")...)
		if !strings.Contains(stderr, "ebpf needs Linux 5.8 or newer") {
			t.Errorf("stderr:\n%s", stderr)
		}
		e := evalModule(t, "--argstr", "case", "assert-ebpf-old-kernel", "--argstr", "kernelVersion", "6.6.0")
		e.validate(t)
	})
	t.Run("a type error names the host's definition", func(t *testing.T) {
		stderr := nixInstantiateFails(t, moduleEvalArgs(t, packageDir(t), "--argstr", "configJSON", `{"enable":true,"receiverPort":"4318"}`)...)
		if !strings.Contains(stderr, "services.otel-ai-collector.receiverPort") || !strings.Contains(stderr, "host configuration (configJSON)") {
			t.Errorf("stderr does not name the option and the defining file:\n%s", stderr)
		}
	})
}

// The previous client certificate is presented when its files exist at
// evaluation: evaluated in a private mount namespace whose /etc is an
// overlay holding /etc/otel/certs/client.{crt,key} (the host's /etc is not
// touched), the previous defaults' K8s exporter gets both through
// LoadCredential; without the files (every other test) it gets none.
func TestNixModuleRealLibPreviousCertificatesExist(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{"upper", "work"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := `mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/work" /etc &&
mkdir -p /etc/otel/certs && echo cert > /etc/otel/certs/client.crt && echo key > /etc/otel/certs/client.key &&
shift && exec nix-instantiate "$@"`
	args := append([]string{"--map-root-user", "--mount", "--propagation", "private", "sh", "-c", script, "sh", dir},
		moduleEvalArgs(t, packageDir(t), "--argstr", "case", "previous-defaults")...)
	cmd := exec.Command("unshare", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "NIX_CONFIG=build-users-group =\nexperimental-features = nix-command")
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("unshare ... nix-instantiate: %v\n%s", err, stderr)
	}
	var e moduleEval
	if err := json.Unmarshal(out, &e); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	expect(t, "LoadCredential", strs(e.service("LoadCredential")), []string{
		"remote-tls-cert:/etc/otel/certs/client.crt", "remote-tls-key:/etc/otel/certs/client.key"})
	expect(t, "client certificate", get(e.Settings, "exporters", "otlp_http/remote", "tls", "cert_file"),
		"/run/credentials/otel-ai-collector.service/remote-tls-cert")
}
