package defaultconfig

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/confmap"

	embedded "github.com/otel-ai-collector/otel-ai-collector/config"
)

// Feature is one capability of the embedded default, on or off, and why.
type Feature struct {
	Name string `json:"name"`
	On   bool   `json:"on"`
	Why  string `json:"why"`
}

// Plan is what the embedded default will run with the current environment.
type Plan struct {
	Layers   []string  `json:"layers"`
	Features []Feature `json:"features"`
	Warnings []string  `json:"warnings,omitempty"`
	// Set is how many public variables the environment sets (all checked).
	Set   int `json:"variables_set"`
	extra []string
}

// NewPlan checks the environment and chooses the embedded layers, as the
// collector does at start. It exports the environment the layers read.
func NewPlan() (*Plan, error) {
	if err := CheckEnvironment(false); err != nil {
		return nil, err
	}
	set := setVariables()
	if err := exportEnvironment(); err != nil {
		return nil, err
	}
	layers, extra, warnings, err := defaultLayers()
	if err != nil {
		return nil, err
	}
	p := &Plan{Layers: layers, Warnings: append(warnings, askedButOff()...), extra: extra, Set: set}
	p.Features = p.features()
	return p, nil
}

// askedButOff warns about features a variable asks for that the embedded
// default cannot run, naming the missing piece, so they are never silently
// off.
func askedButOff() []string {
	var warnings []string
	if !remoteEnabled() && ebpfSelected() {
		var set []string
		for _, name := range []string{envEBPFPorts, envEBPFExecutable, envEBPFUnits} {
			if os.Getenv(name) != "" {
				set = append(set, name)
			}
		}
		warnings = append(warnings, fmt.Sprintf("eBPF spans are off: %s is set, but eBPF spans go only to remote export; set %s (or %s) to turn it on",
			strings.Join(set, ", "), envRemoteEndpoint, envRemoteConfig))
	}
	if ebpfProfiling() && !profilingEnabled() {
		warnings = append(warnings, fmt.Sprintf("eBPF profiling is off: %s=ebpf is set, but profiles go only to Pyroscope; set %s to turn it on",
			envProfiling, envPyroscope))
	}
	return warnings
}

func (p *Plan) has(uri string) bool { return slices.Contains(p.Layers, uri) }

func (p *Plan) features() []Feature {
	remote := remoteEnabled()
	needsRemote := "no remote export"
	on := func(name string, uri string, offWhy ...string) Feature {
		if p.has(uri) {
			return Feature{Name: name, On: true}
		}
		for _, why := range offWhy {
			if why != "" {
				return Feature{Name: name, Why: why}
			}
		}
		return Feature{Name: name}
	}
	switchOff := func(name string) string {
		if v, _ := switchedOn(name); !v {
			return name + "=" + os.Getenv(name)
		}
		return ""
	}
	remoteWhy := envRemoteEndpoint + " unset"
	if remote {
		remoteWhy = envRemoteEndpoint + "=" + os.Getenv(envRemoteEndpoint)
		if path := os.Getenv(envRemoteConfig); path != "" {
			remoteWhy = envRemoteConfig + "=" + path
		}
	}
	notRemote := ""
	if !remote {
		notRemote = needsRemote
	}
	ebpfWhy := "no eBPF selector set"
	if ebpfSelected() {
		ebpfWhy = notRemote
	}
	ebpfProfilingWhy := envProfiling + " unset"
	if ebpfProfiling() {
		ebpfProfilingWhy = envPyroscope + " unset"
	}
	return []Feature{
		{Name: "monitor", On: true, Why: "otel-ai-monitor at " + monitorEndpoint()},
		{Name: "remote export", On: remote, Why: remoteWhy},
		on("AI traces", AITracesURI, notRemote, switchOff(envAITraces)),
		on("host metrics", HostMetricsURI, notRemote, switchOff(envHostMetrics)),
		on("journald", JournaldURI, notRemote, switchOff(envJournald), "journal not readable"),
		on("eBPF", EBPFURI, ebpfWhy),
		on("profiling", ProfilingURI, envPyroscope+" unset"),
		on("eBPF profiling", ProfilingEBPFURI, ebpfProfilingWhy),
	}
}

// monitorEndpoint is where the monitor path sends, as default.yaml has it.
func monitorEndpoint() string {
	if v := os.Getenv(envMonitorEndpoint); v != "" {
		return v
	}
	return "http://127.0.0.1:4320"
}

// Summary is the one line `validate` prints: what it checked.
func (p *Plan) Summary() string {
	names := make([]string, len(p.Layers))
	for i, l := range p.Layers {
		names[i] = strings.TrimPrefix(l, "embedded:")
	}
	var feats []string
	for _, f := range p.Features[1:] {
		state := "off"
		if f.On {
			state = "on"
		}
		if !f.On && f.Why != "" {
			state += " (" + f.Why + ")"
		}
		feats = append(feats, f.Name+" "+state)
	}
	return fmt.Sprintf("validate: embedded default, layers %s; pipelines: %s; %s; %d %s* variables set and checked",
		strings.Join(names, " + "), p.Pipelines(), strings.Join(feats, ", "), p.Set, envPrefix)
}

const envPrefix = "OTEL_AI_COLLECTOR_"

// setVariables counts the public variables set (non-empty).
func setVariables() int {
	n := 0
	for _, v := range Variables {
		if os.Getenv(v.Name) != "" {
			n++
		}
	}
	return n
}

// NewDoctorPlan is NewPlan for doctor: an unwritable state directory does
// not stop it (doctor checks the directory itself), and no warning is
// printed.
func NewDoctorPlan() (*Plan, error) {
	skipStateDirCheck = true
	defer func() { skipStateDirCheck = false }()
	return NewPlan()
}

// RemoteEnabled reports whether remote export is configured.
func RemoteEnabled() bool { return remoteEnabled() }

// JournalReadable says whether journalctl can read the journal the journald
// layer would read, and if not why.
func JournalReadable() (bool, string) { return journalReadable(os.Getenv(envJournalDir)) }

// Value is a variable's value, or its default when unset or empty (the
// first `quoted` word of Variable.Default; "" when it has none).
func Value(name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	for _, v := range Variables {
		if v.Name == name {
			if _, rest, ok := strings.Cut(v.Default, "`"); ok {
				def, _, _ := strings.Cut(rest, "`")
				return def
			}
		}
	}
	return ""
}

// CheckOwnLayers makes the checks start makes when --config names the
// layers: every variable (OTEL_AI_COLLECTOR_REMOTE_ENDPOINT may be a
// host:port) and the files' keys, and exports the environment.
func CheckOwnLayers(configs []string) error {
	if err := CheckEnvironment(true); err != nil {
		return err
	}
	args := make([]string, 0, len(configs))
	for _, c := range configs {
		args = append(args, "--config="+c)
	}
	if err := checkConfigKeys(args); err != nil {
		return err
	}
	skipStateDirCheck = true
	defer func() { skipStateDirCheck = false }()
	return exportEnvironment()
}

// Pipelines counts the pipelines the layers define, by signal ("4 traces,
// 3 metrics, ..."): layers merge, so a name in several layers is one
// pipeline.
func (p *Plan) Pipelines() string {
	names := map[string]bool{}
	for _, layer := range p.Layers {
		var text []byte
		var err error
		if name, ok := strings.CutPrefix(layer, "embedded:"); ok {
			text, err = embedded.Files.ReadFile(name)
		} else {
			text, err = os.ReadFile(strings.TrimPrefix(layer, "file:"))
		}
		if err != nil {
			continue
		}
		retrieved, err := confmap.NewRetrievedFromYAML(text)
		if err != nil {
			continue
		}
		conf, err := retrieved.AsConf()
		if err != nil || !conf.IsSet("service::pipelines") {
			continue
		}
		pipelines, _ := conf.Get("service::pipelines").(map[string]any)
		for name := range pipelines {
			names[name] = true
		}
	}
	bySignal := map[string]int{}
	for name := range names {
		signal, _, _ := strings.Cut(name, "/")
		bySignal[signal]++
	}
	var parts []string
	for _, signal := range pipelineKind {
		if n := bySignal[signal]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, signal))
		}
	}
	return strings.Join(parts, ", ")
}
