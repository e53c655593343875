package defaultconfig

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// kind says how a variable's value is checked.
type kind int

const (
	kindText       kind = iota // any value
	kindURL                    // http(s) base URL
	kindListenAddr             // host:port
	kindPort                   // 1..65535
	kindDuration               // Go duration, at least Variable.Min
	kindCount                  // positive integer (bytes, MiB, streams)
	kindSwitch                 // on/off
	kindBool                   // true/false, as the YAML it lands in reads it
	kindList                   // comma-separated, not empty
	kindPortList               // comma-separated TCP ports
	kindRegex                  // Go (RE2) regular expression
	kindFile                   // an existing file
	kindDir                    // an existing directory
	kindPriority               // journald priority or range
	kindStartAt                // beginning or end
	kindEndpoint               // http(s) URL or host:port (a gRPC exporter's endpoint)
	kindProfiling              // ebpf (or empty: off)
)

// Variable is one environment variable of the public interface. Variables
// is the one source of truth for README.md's table, `--help` and the checks
// made at start and by `validate`.
type Variable struct {
	Name        string
	Default     string // as README shows it
	Description string // Markdown, one paragraph
	Example     string // a valid value, quoted in error messages
	kind        kind
	min         time.Duration // kindDuration: least value; 0 allows 0 (forever)
	least       int64         // kindCount: least value; 0 means 1
}

// Variables lists every variable users may set, in README order.
var Variables = []Variable{
	{Name: envMonitorEndpoint, Default: "`http://127.0.0.1:4320`", kind: kindURL, Example: "http://127.0.0.1:4320",
		Description: "OTLP/HTTP base URL of otel-ai-monitor. AI-session telemetry is sent there as JSON, uncompressed."},
	{Name: envAIServices, Default: "unset: AI CLIs recognised by what they send", kind: kindList, Example: "claude-code,codex",
		Description: "Comma-separated resource `service.name` values whose telemetry goes to otel-ai-monitor, exactly. Replaces the recognition of AI CLIs by their service names, scopes and event names (README.md, \"Which telemetry goes to otel-ai-monitor\"); AI-looking telemetry it leaves out is counted and logged once."},
	{Name: envRemoteEndpoint, Default: "unset (remote export off)", kind: kindURL, Example: "https://gateway.example:4318",
		Description: "OTLP/HTTP base URL of the remote gateway collector. Setting it turns on the remote path ([`config/remote-gateway.yaml`](config/remote-gateway.yaml)). Layers of your own may read it as a gRPC `host:port`."},
	{Name: envRemoteQueueBytes, Default: "`104857600` (100 MiB)", kind: kindCount, Example: "104857600",
		Description: "Bound of the persistent queue, per signal. When full, new data is refused with a retryable 503."},
	{Name: envRemoteMaxRetry, Default: "`24h`", kind: kindDuration, Example: "24h",
		Description: "How long one batch is retried (5 s to 60 s apart) before it is dropped; `0` retries forever."},
	{Name: envMemoryLimitMiB, Default: "`256`", kind: kindCount, Example: "256",
		Description: "memory_limiter on the remote path: above it, data is refused (retryable) until memory falls."},
	{Name: envDeltaMaxStreams, Default: "`10000`", kind: kindCount, Example: "10000",
		Description: "Most delta metric streams converted to cumulative on the remote path (about 0.7 KiB each); points of further streams are dropped and counted ([`docs/ai-metrics.md`](docs/ai-metrics.md))."},
	{Name: envLogLineMaxBytes, Default: "`262144`", kind: kindCount, least: 34, Example: "262144",
		Description: "Log bodies on the remote path longer than this are cut to it, ending with ` [truncated by otel-ai-collector]`: Loki refuses longer lines (`max_line_size`, 256 KiB by default)."},
	{Name: envHostname, Default: "the machine's hostname", kind: kindText, Example: "workstation-1",
		Description: "`host.name` and `service.instance.id` added to remote telemetry that lacks them."},
	{Name: envRemoteConfig, Default: "unset", kind: kindFile, Example: "/etc/otel-ai-collector/remote-direct.yaml",
		Description: "A mode layer of your own (e.g. [`config/examples/remote-direct.yaml`](config/examples/remote-direct.yaml)) used instead of the OTLP/HTTP gateway; turns remote export on by itself."},
	{Name: envAITraces, Default: "`on`", kind: kindSwitch, Example: "off",
		Description: "With remote export, AI CLI log events also become one trace per turn on the remote traces path ([`config/ai-traces.yaml`](config/ai-traces.yaml)); `off` switches it off."},
	{Name: envAITracesIdle, Default: "`30s`", kind: kindDuration, min: time.Second, Example: "30s",
		Description: "A turn's root span is emitted at the session's next prompt, or after this long (Go duration, at least 1s) without events of the session."},
	{Name: envAITracesCall, Default: "`10m`", kind: kindDuration, min: time.Second, Example: "10m",
		Description: "How long a quiet turn waits instead while its CLI owes a model call (after the prompt, a tool result or a request): the CLI may be retrying silently (Claude Code's default: 11 attempts over about 4 minutes, nothing sent until the last fails)."},
	{Name: envHostMetrics, Default: "`on`", kind: kindSwitch, Example: "off",
		Description: "Host metrics with remote export ([`docs/host-telemetry.md`](docs/host-telemetry.md))."},
	{Name: envHostMetricsInterval, Default: "`15s`", kind: kindDuration, min: time.Second, Example: "15s",
		Description: "Host metrics sampling interval."},
	{Name: envJournald, Default: "`on`", kind: kindSwitch, Example: "off",
		Description: "Journald logs with remote export, when the journal is readable ([`docs/host-telemetry.md`](docs/host-telemetry.md))."},
	{Name: envJournaldUnits, Default: "`" + strings.Join(DefaultJournaldUnits, ",") + "`", kind: kindList, Example: "otel-ai-collector.service,sshd.service",
		Description: "Units whose journal entries are exported, each matched as a system or a user unit."},
	{Name: envJournaldPriority, Default: "`info`", kind: kindPriority, Example: "info",
		Description: "Lowest journald priority exported (`emerg` .. `debug`, or a range like `err..info`)."},
	{Name: envJournaldStartAt, Default: "`end`", kind: kindStartAt, Example: "end",
		Description: "Where a first run starts reading the journal (`end` or `beginning`); later runs resume from the saved cursor."},
	{Name: envJournalDir, Default: "the system journal", kind: kindDir, Example: "/var/log/journal",
		Description: "Read journal files from this directory instead."},
	{Name: envEBPFPorts, Default: "unset", kind: kindPortList, Example: "8080,9090",
		Description: "With remote export: record HTTP spans of processes listening on these local TCP ports (eBPF, [`receiver/ebpfreceiver`](receiver/ebpfreceiver/README.md))."},
	{Name: envEBPFExecutable, Default: "unset", kind: kindRegex, Example: "^(node|python3)$",
		Description: "With remote export: record HTTP spans of processes whose executable name matches this Go regular expression."},
	{Name: envEBPFUnits, Default: "unset", kind: kindList, Example: "nginx.service",
		Description: "With remote export: record HTTP spans of the processes of these systemd units (comma-separated)."},
	{Name: envEBPFTCPConnections, Default: "`false`", kind: kindBool, Example: "true",
		Description: "With eBPF on, also one span per TCP connection of the selected processes."},
	{Name: envPyroscope, Default: "unset (profiling off)", kind: kindURL, Example: "http://pyroscope:4040",
		Description: "Pyroscope's base URL. Setting it adds [`config/profiling.yaml`](config/profiling.yaml): Pyroscope SDK pushes and OTLP profiles forwarded to it through a persistent queue, with or without remote export."},
	{Name: envProfiling, Default: "unset (SDK and OTLP profiles only)", kind: kindProfiling, Example: "ebpf",
		Description: "`ebpf`: with " + "`" + envPyroscope + "`" + " set, also profile every process on this machine on CPU with eBPF, no SDK needed ([`config/profiling-ebpf.yaml`](config/profiling-ebpf.yaml), [`docs/profiling.md`](docs/profiling.md)). Needs root or the capabilities listed there; without them the profiler logs one error and the rest keeps running."},
	{Name: envProfilingExe, Default: "unset (every process)", kind: kindRegex, Example: "^(python3.*|node)$",
		Description: "With eBPF profiling: send only the processes whose executable name matches this Go regular expression (or that run in `" + envProfilingUnits + "`), as the eBPF receiver selects."},
	{Name: envProfilingUnits, Default: "unset (every process)", kind: kindList, Example: "indexer.service",
		Description: "With eBPF profiling: send only the processes of these systemd units, system or user (comma-separated; or that match `" + envProfilingExe + "`)."},
	{Name: envPyroscopeIngest, Default: "`127.0.0.1:4040`", kind: kindListenAddr, Example: "127.0.0.1:4040",
		Description: "Where Pyroscope SDKs push (`/ingest` and the push API). Change it if a Pyroscope server runs on this machine."},
	{Name: envPyroscopeQueueBytes, Default: "`104857600`", kind: kindCount, Example: "104857600",
		Description: "Bound of the persistent queue to Pyroscope."},
	{Name: envPyroscopeMaxRetry, Default: "`24h`", kind: kindDuration, Example: "24h",
		Description: "How long a profile is retried before it is dropped; `0` retries forever."},
	{Name: envStateDir, Default: "`$STATE_DIRECTORY` under systemd, else `$XDG_STATE_HOME/otel-ai-collector`, else `~/.local/state/otel-ai-collector`", kind: kindText, Example: "/var/lib/otel-ai-collector",
		Description: "Where persistent queues live. Created if missing; the collector refuses to start with a message naming this variable if it is not writable while remote export is on. Always exported to the configuration, so your own `--config` can use `${env:OTEL_AI_COLLECTOR_STATE_DIR}`."},
	{Name: envOTLPGRPCEndpoint, Default: "`127.0.0.1:4317`", kind: kindListenAddr, Example: "127.0.0.1:4317",
		Description: "OTLP/gRPC listen address."},
	{Name: envOTLPHTTPEndpoint, Default: "`127.0.0.1:4318`", kind: kindListenAddr, Example: "127.0.0.1:4318",
		Description: "OTLP/HTTP listen address."},
	{Name: envHealthEndpoint, Default: "`127.0.0.1:13133`", kind: kindListenAddr, Example: "127.0.0.1:13133",
		Description: "health_check listen address."},
	{Name: envMetricsPort, Default: "`8888`", kind: kindPort, Example: "8888",
		Description: "Port of the collector's own Prometheus metrics on 127.0.0.1."},
	{Name: envZPagesEndpoint, Default: "`127.0.0.1:55679`", kind: kindListenAddr, Example: "127.0.0.1:55679",
		Description: "zpages listen address (`/debug/servicez`, `/debug/pipelinez`, `/debug/extensionz`, `/debug/featurez`)."},
}

// journaldPriorities are the names and numbers journalctl --priority takes.
var journaldPriorities = regexp.MustCompile(`^(emerg|alert|crit|err|warning|notice|info|debug|[0-7])$`)

// check refuses a value the configuration it lands in would refuse (or
// silently misread), with a message that names the variable and shows an
// example.
func (v Variable) check(value string) error {
	trimmed := strings.TrimSpace(value)
	fail := func(why string) error {
		return fmt.Errorf("%s=%q: %s; set it like %s=%s", v.Name, value, why, v.Name, v.Example)
	}
	switch v.kind {
	case kindProfiling:
		if trimmed != "ebpf" {
			return fail("the only profiler is ebpf (unset it for SDK and OTLP profiles only)")
		}
	case kindURL:
		u, err := url.Parse(trimmed)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fail("not an http:// or https:// URL with a host")
		}
		if _, err := strconv.Atoi(u.Port()); u.Port() != "" && err != nil {
			return fail("the port is not a number")
		}
	case kindEndpoint:
		if (Variable{Name: v.Name, Example: v.Example, kind: kindURL}).check(value) == nil {
			return nil
		}
		if host, port, err := net.SplitHostPort(trimmed); err == nil && host != "" && !strings.Contains(host, "/") {
			if p, err := strconv.Atoi(port); err == nil && p > 0 && p <= 65535 {
				return nil
			}
		}
		return fail("neither an http:// or https:// URL nor a gRPC host:port")
	case kindListenAddr:
		host, port, err := net.SplitHostPort(trimmed)
		if err != nil {
			return fail("not a host:port listen address")
		}
		_ = host // empty host listens on all interfaces, as the collector allows
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			return fail("the port is not 0..65535")
		}
	case kindPort:
		if p, err := strconv.Atoi(trimmed); err != nil || p < 1 || p > 65535 {
			return fail("not a TCP port (1..65535)")
		}
	case kindDuration:
		d, err := time.ParseDuration(trimmed)
		if err != nil {
			return fail("not a Go duration (units ms, s, m, h)")
		}
		if d < v.min || d < 0 {
			if v.min > 0 {
				return fail("must be at least " + v.min.String())
			}
			return fail("must not be negative")
		}
	case kindCount:
		least := max(v.least, 1)
		if n, err := strconv.ParseInt(trimmed, 10, 64); err != nil || n < least {
			if least > 1 {
				// LOG_LINE_MAX_BYTES: the cut body keeps the 33-byte marker.
				return fail(fmt.Sprintf("not a whole number of at least %d", least))
			}
			return fail("not a positive whole number")
		}
	case kindSwitch:
		if _, err := switchedOn(v.Name); err != nil {
			return fail("use on or off")
		}
	case kindBool:
		if _, err := strconv.ParseBool(trimmed); err != nil {
			return fail("use true or false")
		}
	case kindList:
		if _, err := listFromEnv(v.Name, nil); err != nil {
			return fail("lists nothing (unset it for the default)")
		}
	case kindPortList:
		for _, item := range strings.Split(value, ",") {
			if p, err := strconv.Atoi(strings.TrimSpace(item)); err != nil || p < 1 || p > 65535 {
				return fail(fmt.Sprintf("%q is not a TCP port", item))
			}
		}
	case kindRegex:
		if _, err := regexp.Compile(value); err != nil {
			return fail("not a Go regular expression: " + err.Error())
		}
	case kindFile:
		if info, err := os.Stat(value); err != nil {
			return fail(err.Error())
		} else if info.IsDir() {
			return fail("a directory, not a configuration file")
		}
	case kindDir:
		if info, err := os.Stat(value); err != nil {
			return fail(err.Error())
		} else if !info.IsDir() {
			return fail("not a directory")
		}
	case kindPriority:
		from, to, isRange := strings.Cut(trimmed, "..")
		if !journaldPriorities.MatchString(from) || (isRange && !journaldPriorities.MatchString(to)) {
			return fail("not a journald priority (emerg, alert, crit, err, warning, notice, info, debug) or range like err..info")
		}
	case kindStartAt:
		if trimmed != "beginning" && trimmed != "end" {
			return fail("use beginning or end")
		}
	}
	return nil
}

// CheckEnvironment checks every variable of Variables that is set, so a bad
// value stops the collector (and `validate`) at once with the variable's
// name, instead of starting and failing quietly later.
//
// With layers of the user's own (ownConfig), OTEL_AI_COLLECTOR_REMOTE_ENDPOINT
// may also be a gRPC exporter's host:port (the NixOS module's gRPC gateway
// does that); the embedded gateway layer needs an http(s) URL.
func CheckEnvironment(ownConfig bool) error {
	var errs []string
	for _, v := range Variables {
		value, set := os.LookupEnv(v.Name)
		if !set || value == "" {
			// Empty counts as unset here (${env:X:-default}, and the
			// list variables say so themselves when empty matters).
			continue
		}
		if ownConfig && v.Name == envRemoteEndpoint {
			v.kind = kindEndpoint
		}
		if err := v.check(value); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n  "))
	}
	return nil
}
