package profileforwardingprocessor

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pprofile"

	"github.com/otel-ai-collector/otel-ai-collector/internal/procinfo"
)

// profilerScope is the instrumentation scope of the eBPF profiler's
// profiles (go.opentelemetry.io/ebpf-profiler's collector receiver).
const profilerScope = "go.opentelemetry.io/ebpf-profiler"

// selection is a compiled ProfilerSelection; nil selects everything.
type selection struct {
	exe      *regexp.Regexp
	units    map[string]bool
	procRoot string
}

func newSelection(cfg ProfilerSelection, procRoot string) *selection {
	if cfg.ExecutableRegex == "" && len(cfg.SystemdUnits) == 0 {
		return nil
	}
	s := &selection{units: map[string]bool{}, procRoot: procRoot}
	if cfg.ExecutableRegex != "" {
		s.exe = regexp.MustCompile(cfg.ExecutableRegex) // checked by Validate
	}
	for _, u := range cfg.SystemdUnits {
		if !strings.Contains(u, ".") {
			u += ".service"
		}
		s.units[u] = true
	}
	return s
}

// fromProfiler reports whether a resource's profiles come from the eBPF
// profiler.
func fromProfiler(rp pprofile.ResourceProfiles) bool {
	for _, sp := range rp.ScopeProfiles().All() {
		if sp.Scope().Name() == profilerScope {
			return true
		}
	}
	return false
}

// selects reports whether a resource passes: anything not from the eBPF
// profiler, or a profiled process the selectors select, read from /proc
// with internal/procinfo as the eBPF receiver reads it (executable base
// name, innermost unit). A process already gone is not selected.
func (s *selection) selects(rp pprofile.ResourceProfiles) bool {
	if s == nil || !fromProfiler(rp) {
		return true
	}
	attrs := rp.Resource().Attributes()
	if s.exe != nil {
		if v, ok := attrs.Get(attrExecutableName); ok && s.exe.MatchString(v.AsString()) {
			return true
		}
	}
	pid, ok := attrs.Get(attrProcessPID)
	if !ok || pid.Int() <= 0 {
		return false
	}
	dir := filepath.Join(s.procRoot, strconv.FormatInt(pid.Int(), 10))
	if s.exe != nil {
		if exe, err := procinfo.Executable(dir); err == nil && s.exe.MatchString(exe) {
			return true
		}
	}
	unit := procinfo.Unit(dir)
	return unit != "" && s.units[unit]
}
