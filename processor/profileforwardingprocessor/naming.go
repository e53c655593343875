package profileforwardingprocessor

import (
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otel-ai-collector/otel-ai-collector/internal/pyroscopeattr"
)

// Resource attributes the processor reads (OpenTelemetry semantic conventions).
const (
	attrServiceName    = "service.name"
	attrHostName       = "host.name"
	attrProcessPID     = "process.pid"
	attrExecutableName = "process.executable.name"
	attrExecutablePath = "process.executable.path"
	// Pyroscope's own names for the service; a resource attribute of either
	// name must not become a second, conflicting service label.
	labelServiceName = "service_name"
	labelAppName     = "__name__"
)

// naming decides the service name and labels a profile is filed under in
// Pyroscope.
type naming struct {
	defaultServiceName string
	hostName           string
	exclude            map[string]bool
	// procRoot is /proc; tests point it elsewhere.
	procRoot string
}

// serviceName picks, in order: a service.name that is not the SDK default
// "unknown_service[:exe]"; the systemd unit of process.pid on this host; the
// executable name; the SDK default if there was one; default_service_name.
func (n *naming) serviceName(attrs pcommon.Map) string {
	declared := ""
	if v, ok := attrs.Get(attrServiceName); ok {
		declared = v.AsString()
	}
	if declared != "" && !strings.HasPrefix(declared, "unknown_service") {
		return sanitizeServiceName(declared)
	}
	if unit := n.systemdUnit(attrs); unit != "" {
		return sanitizeServiceName(unit)
	}
	if v, ok := attrs.Get(attrExecutableName); ok && v.AsString() != "" {
		return sanitizeServiceName(v.AsString())
	}
	if v, ok := attrs.Get(attrExecutablePath); ok && v.AsString() != "" {
		return sanitizeServiceName(path.Base(v.AsString()))
	}
	if declared != "" {
		return sanitizeServiceName(declared)
	}
	return n.defaultServiceName
}

// systemdUnit returns the service unit (without ".service") that process.pid
// runs in, read from its cgroup; "" when the profile is from another host,
// names no pid, or the process is gone or not in a service unit.
func (n *naming) systemdUnit(attrs pcommon.Map) string {
	if v, ok := attrs.Get(attrHostName); ok && v.AsString() != n.hostName {
		return ""
	}
	v, ok := attrs.Get(attrProcessPID)
	if !ok {
		return ""
	}
	pid := v.Int()
	if v.Type() == pcommon.ValueTypeStr {
		pid, _ = strconv.ParseInt(v.Str(), 10, 64)
	}
	if pid <= 0 {
		return ""
	}
	data, err := os.ReadFile(filepath.Join(n.procRoot, strconv.FormatInt(pid, 10), "cgroup"))
	if err != nil {
		return ""
	}
	return unitFromCgroup(string(data))
}

// unitFromCgroup finds the innermost service unit in a /proc/PID/cgroup file,
// e.g. "0::/system.slice/nginx.service" gives "nginx". The user manager
// itself (user@1000.service) only counts when nothing deeper is a service.
func unitFromCgroup(cgroup string) string {
	for _, line := range strings.Split(cgroup, "\n") {
		// cgroup v2 is the line with hierarchy 0 and no controllers.
		cgroupPath, ok := strings.CutPrefix(line, "0::")
		if !ok {
			continue
		}
		parts := strings.Split(cgroupPath, "/")
		for i := len(parts) - 1; i >= 0; i-- {
			if unit, ok := strings.CutSuffix(parts[i], ".service"); ok && unit != "" {
				return unit
			}
		}
	}
	return ""
}

// labels are the Pyroscope labels of a resource: its attributes with
// scalar values except the excluded ones, plus host.name.
func (n *naming) labels(attrs pcommon.Map) map[string]string {
	labels := make(map[string]string, attrs.Len()+1)
	for key, value := range attrs.All() {
		if key == attrServiceName || key == labelServiceName || key == labelAppName || n.exclude[key] {
			continue
		}
		switch value.Type() {
		case pcommon.ValueTypeStr, pcommon.ValueTypeInt, pcommon.ValueTypeBool, pcommon.ValueTypeDouble:
		default:
			continue
		}
		name := sanitizeLabelName(key)
		if name == "" {
			continue
		}
		labels[name] = sanitizeLabelValue(value.AsString())
	}
	if _, ok := labels[attrHostName]; !ok && n.hostName != "" {
		labels[attrHostName] = sanitizeLabelValue(n.hostName)
	}
	return labels
}

// appName renders Pyroscope's `service{key=value,...}` with sorted keys.
func appName(service string, labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(service)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(labels[k])
	}
	b.WriteByte('}')
	return b.String()
}

// Pyroscope's name grammar (pyroscopeattr) has no escaping: anything outside
// it becomes "_" rather than a push Pyroscope refuses.

func sanitizeLabelName(s string) string {
	return replaceOutside(s, pyroscopeattr.IsLabelNameRune)
}

func sanitizeServiceName(s string) string {
	return replaceOutside(s, pyroscopeattr.IsServiceNameRune)
}

// replaceOutside replaces every rune that allowed refuses with "_".
func replaceOutside(s string, allowed func(rune) bool) string {
	return strings.Map(func(r rune) rune {
		if allowed(r) {
			return r
		}
		return '_'
	}, s)
}

func sanitizeLabelValue(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ',', '{', '}':
			return '_'
		}
		return r
	}, strings.TrimSpace(s))
}
