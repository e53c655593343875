// Package defaultconfig decides, before the collector parses its command
// line, whether the embedded default configuration is used, and exports the
// environment that configuration (and users' own configurations) rely on.
package defaultconfig

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Environment interface of the embedded default configuration (README.md).
const (
	envStateDir        = "OTEL_AI_COLLECTOR_STATE_DIR"
	envRemoteEndpoint  = "OTEL_AI_COLLECTOR_REMOTE_ENDPOINT"
	envRemoteConfig    = "OTEL_AI_COLLECTOR_REMOTE_CONFIG"
	envHostMetrics     = "OTEL_AI_COLLECTOR_HOST_METRICS"
	envJournald        = "OTEL_AI_COLLECTOR_JOURNALD"
	envJournalDir      = "OTEL_AI_COLLECTOR_JOURNAL_DIR"
	envJournaldUnits   = "OTEL_AI_COLLECTOR_JOURNALD_UNITS"
	envJournaldMatches = "OTEL_AI_COLLECTOR_JOURNALD_MATCHES"
	envHostname        = "OTEL_AI_COLLECTOR_HOSTNAME"
	envAIServices      = "OTEL_AI_COLLECTOR_AI_SERVICES"
	envAIServiceRegex  = "OTEL_AI_COLLECTOR_AI_SERVICE_REGEX"
	envAIScopeRegex    = "OTEL_AI_COLLECTOR_AI_SCOPE_REGEX"
	envAIEventRegex    = "OTEL_AI_COLLECTOR_AI_EVENT_REGEX"
	envAIReportService = "OTEL_AI_COLLECTOR_AI_REPORT_SERVICE_REGEX"
	envAIReportScope   = "OTEL_AI_COLLECTOR_AI_REPORT_SCOPE_REGEX"
	envAIReportEvent   = "OTEL_AI_COLLECTOR_AI_REPORT_EVENT_REGEX"
	envEBPFPorts       = "OTEL_AI_COLLECTOR_EBPF_PORTS"
	envEBPFPortsList   = "OTEL_AI_COLLECTOR_EBPF_PORTS_LIST"
	envEBPFExecutable  = "OTEL_AI_COLLECTOR_EBPF_EXECUTABLE_REGEX"
	envEBPFUnits       = "OTEL_AI_COLLECTOR_EBPF_UNITS"
	envEBPFUnitsList   = "OTEL_AI_COLLECTOR_EBPF_UNITS_LIST"
	envPyroscope       = "OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT"
	envProfiling       = "OTEL_AI_COLLECTOR_PROFILING"
	envProfilingExe    = "OTEL_AI_COLLECTOR_PROFILING_EXECUTABLE_REGEX"
	envProfilingUnits  = "OTEL_AI_COLLECTOR_PROFILING_UNITS"
	envProfilingUnitsL = "OTEL_AI_COLLECTOR_PROFILING_UNITS_LIST"
	envAITraces        = "OTEL_AI_COLLECTOR_AI_TRACES"
	envAITracesIdle    = "OTEL_AI_COLLECTOR_AI_TRACES_IDLE"
	envAITracesCall    = "OTEL_AI_COLLECTOR_AI_TRACES_MODEL_CALL_TIMEOUT"

	envMonitorEndpoint     = "OTEL_AI_COLLECTOR_MONITOR_ENDPOINT"
	envRemoteQueueBytes    = "OTEL_AI_COLLECTOR_REMOTE_QUEUE_BYTES"
	envRemoteMaxRetry      = "OTEL_AI_COLLECTOR_REMOTE_MAX_RETRY_TIME"
	envMemoryLimitMiB      = "OTEL_AI_COLLECTOR_MEMORY_LIMIT_MIB"
	envDeltaMaxStreams     = "OTEL_AI_COLLECTOR_DELTA_MAX_STREAMS"
	envLogLineMaxBytes     = "OTEL_AI_COLLECTOR_LOG_LINE_MAX_BYTES"
	envHostMetricsInterval = "OTEL_AI_COLLECTOR_HOST_METRICS_INTERVAL"
	envJournaldPriority    = "OTEL_AI_COLLECTOR_JOURNALD_PRIORITY"
	envJournaldStartAt     = "OTEL_AI_COLLECTOR_JOURNALD_START_AT"
	envEBPFTCPConnections  = "OTEL_AI_COLLECTOR_EBPF_TCP_CONNECTIONS"
	envPyroscopeIngest     = "OTEL_AI_COLLECTOR_PYROSCOPE_INGEST_ENDPOINT"
	envPyroscopeQueueBytes = "OTEL_AI_COLLECTOR_PYROSCOPE_QUEUE_BYTES"
	envPyroscopeMaxRetry   = "OTEL_AI_COLLECTOR_PYROSCOPE_MAX_RETRY_TIME"
	envOTLPGRPCEndpoint    = "OTEL_AI_COLLECTOR_OTLP_GRPC_ENDPOINT"
	envOTLPHTTPEndpoint    = "OTEL_AI_COLLECTOR_OTLP_HTTP_ENDPOINT"
	envHealthEndpoint      = "OTEL_AI_COLLECTOR_HEALTH_ENDPOINT"
	envMetricsPort         = "OTEL_AI_COLLECTOR_METRICS_PORT"
	envZPagesEndpoint      = "OTEL_AI_COLLECTOR_ZPAGES_ENDPOINT"
)

// How the embedded default recognises AI CLIs' telemetry (for
// otel-ai-monitor) by what it is, not by an exact list of names: the CLIs
// rename themselves between releases and modes (Codex: codex_cli_rs,
// codex-tui, codex_exec), and an exact list of service.name values missed
// every new name (README.md: "Which telemetry goes to otel-ai-monitor").
// A resource is AI telemetry when its service.name matches AIServicePattern,
// one of its scopes AIScopePattern, or one of its log events or metrics
// AIEventPattern.
const (
	AIServicePattern = `(?i)^(claude[-_]?code|codex|gemini)([-_.].*)?$`
	// Claude Code's logs and metrics, Codex's (codex-rs/otel), Gemini CLI's.
	AIScopePattern = `^(com\.anthropic\.claude_code|codex_otel|gemini-cli)(\.|$)`
	// The CLIs' event and metric names: claude_code.api_request,
	// claude_code.token.usage, codex.sse_event, gemini_cli.tool_call.
	AIEventPattern = `^(claude_code|codex|gemini_cli)\.`
)

// DefaultJournaldUnits are the units whose journal entries are exported: the
// collector itself and otel-ai-monitor.
var DefaultJournaldUnits = []string{"otel-ai-collector.service", "otel-ai-monitor.service"}

// The embedded configuration layers; the collector merges them in order.
const (
	LocalURI         = "embedded:default.yaml"        // local AI path, always
	RemoteURI        = "embedded:remote.yaml"         // remote processing, when remote export is on
	AITracesURI      = "embedded:ai-traces.yaml"      // with remote export, unless switched off
	HostMetricsURI   = "embedded:host-metrics.yaml"   // with remote export, unless switched off
	JournaldURI      = "embedded:journald.yaml"       // with remote export, if the journal is readable
	EBPFURI          = "embedded:ebpf.yaml"           // with remote export, when eBPF selectors are set
	ProfilingURI     = "embedded:profiling.yaml"      // when OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT is set
	ProfilingEBPFURI = "embedded:profiling-ebpf.yaml" // with profiling, when OTEL_AI_COLLECTOR_PROFILING=ebpf
	RemoteGatewayURI = "embedded:remote-gateway.yaml" // mode layer, unless OTEL_AI_COLLECTOR_REMOTE_CONFIG names another
)

// Apply returns the command-line arguments (without the program name) with
// the embedded default configuration added when the command takes a
// configuration and none was given, and exports the environment the
// configurations rely on. Warnings about capabilities left off go to stderr.
func Apply(args []string) ([]string, error) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") && args[0] != "validate" {
		return args, exportEnvironment() // components, help, ...: no checks
	}
	if !usesDefaultConfig(args) {
		set := setVariables()
		if err := CheckEnvironment(true); err != nil {
			return nil, err
		}
		if err := checkConfigKeys(args); err != nil {
			return nil, err
		}
		if len(args) > 0 && args[0] == "validate" {
			fmt.Printf("validate: your --config layers; %d %s* variables set and checked\n", set, envPrefix)
		}
		return args, exportEnvironment()
	}
	plan, err := NewPlan()
	if err != nil {
		return nil, err
	}
	for _, w := range plan.Warnings {
		fmt.Fprintln(os.Stderr, "otel-ai-collector: warning:", w)
	}
	if len(args) > 0 && args[0] == "validate" {
		fmt.Println(plan.Summary())
	}
	for _, layer := range plan.Layers {
		args = append(args, "--config="+layer)
	}
	return append(args, plan.extra...), nil
}

func exportEnvironment() error {
	for _, export := range []func() error{exportHostname, exportAIServiceRegex, exportJournaldMatches, exportEBPFSelectors, exportStateDir} {
		if err := export(); err != nil {
			return err
		}
	}
	return nil
}

// skipStateDirCheck is set by doctor, which reports an unwritable state
// directory as one of its checks rather than stopping at it.
var skipStateDirCheck bool

// remoteEnabled reports whether remote export is configured.
func remoteEnabled() bool {
	return os.Getenv(envRemoteEndpoint) != "" || os.Getenv(envRemoteConfig) != ""
}

// profilingEnabled reports whether profiles go to a Pyroscope; independent of
// remote export, whose gateway may not take profiles.
func profilingEnabled() bool {
	return strings.TrimSpace(os.Getenv(envPyroscope)) != ""
}

// ebpfProfiling reports whether whole-host eBPF profiling is asked for
// (OTEL_AI_COLLECTOR_PROFILING=ebpf); it runs only with profiling on.
func ebpfProfiling() bool {
	return strings.TrimSpace(os.Getenv(envProfiling)) == "ebpf"
}

// checkPyroscopeEndpoint refuses a Pyroscope endpoint that is not a base URL,
// naming the variable (the processor's own error could only name its
// `endpoint` setting).
func checkPyroscopeEndpoint() error {
	value := strings.TrimSpace(os.Getenv(envPyroscope))
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s=%q is not Pyroscope's base URL; set it like http://pyroscope:4040", envPyroscope, value)
	}
	return nil
}

// defaultLayers chooses the embedded layers for the environment, and any
// --set flags they need.
func defaultLayers() (layers, extra, warnings []string, err error) {
	layers = []string{LocalURI}
	if profilingEnabled() {
		if err := checkPyroscopeEndpoint(); err != nil {
			return nil, nil, nil, err
		}
	}
	if !remoteEnabled() {
		if profilingEnabled() {
			layers = append(layers, ProfilingURI)
			if ebpfProfiling() {
				layers = append(layers, ProfilingEBPFURI)
			}
		}
		return layers, nil, warnings, nil
	}
	layers = append(layers, RemoteURI)

	aiTraces, err := switchedOn(envAITraces)
	if err != nil {
		return nil, nil, nil, err
	}
	if aiTraces {
		if err := checkAITracesIdle(); err != nil {
			return nil, nil, nil, err
		}
		layers = append(layers, AITracesURI)
	}

	hostMetrics, err := switchedOn(envHostMetrics)
	if err != nil {
		return nil, nil, nil, err
	}
	if hostMetrics {
		layers = append(layers, HostMetricsURI)
	}

	journald, err := switchedOn(envJournald)
	if err != nil {
		return nil, nil, nil, err
	}
	if journald {
		dir := os.Getenv(envJournalDir)
		readable, warning := journalReadable(dir)
		if warning != "" {
			warnings = append(warnings, warning)
		}
		if readable {
			layers = append(layers, JournaldURI)
			if dir != "" {
				extra = append(extra, "--set=receivers::journald::directory="+dir)
			}
		}
	}

	if ebpfSelected() {
		layers = append(layers, EBPFURI)
	}
	if profilingEnabled() {
		layers = append(layers, ProfilingURI)
		if ebpfProfiling() {
			layers = append(layers, ProfilingEBPFURI)
		}
	}

	// The mode layer comes last: it may replace service::extensions.
	if path := os.Getenv(envRemoteConfig); path != "" {
		if _, err := os.Stat(path); err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", envRemoteConfig, err)
		}
		layers = append(layers, "file:"+path)
	} else {
		layers = append(layers, RemoteGatewayURI)
	}
	return layers, extra, warnings, nil
}

// checkAITracesIdle refuses a turn idle timeout the connector would refuse,
// naming the variable.
func checkAITracesIdle() error {
	value, set := os.LookupEnv(envAITracesIdle)
	if !set {
		return nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(value))
	if err != nil || d < time.Second {
		return fmt.Errorf("%s=%q: use a Go duration of at least 1s, e.g. 30s or 2m", envAITracesIdle, value)
	}
	return nil
}

// switchedOn reads an on/off switch that defaults to on.
func switchedOn(name string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(name))) {
	case "", "on", "true", "1", "yes":
		return true, nil
	case "off", "false", "0", "no":
		return false, nil
	default:
		return false, fmt.Errorf("%s=%q: use on or off", name, os.Getenv(name))
	}
}

// Only the root command and `validate` take --config; other subcommands
// (components, help) are left alone.
func usesDefaultConfig(args []string) bool {
	for _, arg := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if strings.HasPrefix(arg, "-") && name == "config" {
			return false
		}
	}
	return len(args) == 0 || strings.HasPrefix(args[0], "-") || args[0] == "validate"
}

// exportAIServiceRegex sets the AI selection's patterns
// (ordered_fanout/otlp in config/default.yaml). Unset,
// OTEL_AI_COLLECTOR_AI_SERVICES leaves the recognition by what the telemetry
// is (AIServicePattern, AIScopePattern, AIEventPattern). Set, it is an
// exact list of service.name values that replaces it, and what the patterns
// would have selected besides is counted and logged once.
func exportAIServiceRegex() error {
	include := [3]string{AIServicePattern, AIScopePattern, AIEventPattern}
	var report [3]string
	if _, set := os.LookupEnv(envAIServices); set {
		names, err := listFromEnv(envAIServices, nil)
		if err != nil {
			return err
		}
		quoted := make([]string, len(names))
		for i, name := range names {
			// Kept out so that the regex stays a plain YAML scalar where the
			// configuration expands it.
			if strings.ContainsAny(name, `"\`) {
				return fmt.Errorf("%s: service name %q may not contain quotes or backslashes", envAIServices, name)
			}
			quoted[i] = regexp.QuoteMeta(name)
		}
		report = include
		include = [3]string{"^(" + strings.Join(quoted, "|") + ")$", "", ""}
	}
	for i, name := range []string{envAIServiceRegex, envAIScopeRegex, envAIEventRegex} {
		if err := os.Setenv(name, include[i]); err != nil {
			return err
		}
	}
	for i, name := range []string{envAIReportService, envAIReportScope, envAIReportEvent} {
		if err := os.Setenv(name, report[i]); err != nil {
			return err
		}
	}
	return nil
}

// exportHostname sets OTEL_AI_COLLECTOR_HOSTNAME to the machine's hostname
// unless the user set it; configurations backfill host.name from it.
func exportHostname() error {
	if os.Getenv(envHostname) != "" {
		return nil
	}
	name, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("cannot read the hostname for host.name: %w; set %s", err, envHostname)
	}
	return os.Setenv(envHostname, name)
}

// exportStateDir resolves where persistent queues live and exports it as
// OTEL_AI_COLLECTOR_STATE_DIR, so configurations can use
// ${env:OTEL_AI_COLLECTOR_STATE_DIR} whether or not the user set it. The
// directory itself is created by the file_storage extension
// (create_directory); when remote export is on it is checked here first, so
// an unwritable directory fails with a message that names the variable.
func exportStateDir() error {
	dir := os.Getenv(envStateDir)
	if dir == "" {
		dir = defaultStateDir()
		if err := os.Setenv(envStateDir, dir); err != nil {
			return err
		}
	}
	if !remoteEnabled() || skipStateDirCheck {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create the state directory for persistent queues: %w; set %s to a writable directory", err, envStateDir)
	}
	probe, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("the state directory for persistent queues is not writable: %w; set %s to a writable directory", err, envStateDir)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// defaultStateDir follows systemd's StateDirectory= first, then the XDG base
// directory specification.
func defaultStateDir() string {
	if dir, _, _ := strings.Cut(os.Getenv("STATE_DIRECTORY"), ":"); dir != "" {
		return dir
	}
	if xdg := os.Getenv("XDG_STATE_HOME"); xdg != "" {
		return filepath.Join(xdg, "otel-ai-collector")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "otel-ai-collector")
	}
	return filepath.Join(os.TempDir(), "otel-ai-collector")
}

// listFromEnv reads a comma-separated list from the environment, defaults
// when the variable is unset; set but empty is an error.
func listFromEnv(name string, defaults []string) ([]string, error) {
	list, set := os.LookupEnv(name)
	if !set {
		return defaults, nil
	}
	var items []string
	for _, item := range strings.Split(list, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	if len(items) == 0 {
		if defaults == nil {
			return nil, fmt.Errorf("%s is set but lists nothing; unset it for the default", name)
		}
		return nil, fmt.Errorf("%s is set but lists nothing; unset it for the defaults (%s)", name, strings.Join(defaults, ","))
	}
	return items, nil
}

// ebpfSelected reports whether any eBPF process selector is set.
func ebpfSelected() bool {
	return os.Getenv(envEBPFPorts) != "" || os.Getenv(envEBPFExecutable) != "" || os.Getenv(envEBPFUnits) != ""
}

// exportEBPFSelectors turns the comma-separated eBPF port and unit lists into
// the YAML flow lists ebpf.yaml reads (empty lists when unset).
func exportEBPFSelectors() error {
	var ports []int
	if list := os.Getenv(envEBPFPorts); list != "" {
		for _, item := range strings.Split(list, ",") {
			port, err := strconv.Atoi(strings.TrimSpace(item))
			if err != nil || port < 1 || port > 65535 {
				return fmt.Errorf("%s=%q: %q is not a TCP port", envEBPFPorts, list, item)
			}
			ports = append(ports, port)
		}
	}
	units := func(name string) []string {
		var units []string
		if list := os.Getenv(name); list != "" {
			for _, item := range strings.Split(list, ",") {
				if item = strings.TrimSpace(item); item != "" {
					units = append(units, item)
				}
			}
		}
		return units
	}
	for name, value := range map[string]any{envEBPFPortsList: ports, envEBPFUnitsList: units(envEBPFUnits), envProfilingUnitsL: units(envProfilingUnits)} {
		flow, err := json.Marshal(value) // JSON is YAML; nil marshals as null
		if err != nil {
			return err
		}
		if string(flow) == "null" {
			flow = []byte("[]")
		}
		if err := os.Setenv(name, string(flow)); err != nil {
			return err
		}
	}
	return nil
}
