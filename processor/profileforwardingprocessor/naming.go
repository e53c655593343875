package profileforwardingprocessor

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

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

	// seen remembers the unit or script found for a live process, so that
	// the profiler's last report of a process, which comes after it ended
	// (its /proc entry gone), is filed under the same name as the others.
	mu        sync.Mutex
	seen      map[seenKey]seenName
	lastSweep time.Time
}

// seenKey is a process as the profiler reports it; the executable name
// guards against a reused pid.
type seenKey struct {
	pid int64
	exe string
}

type seenName struct {
	name string
	at   time.Time
}

// Bounds of naming.seen: entries not used for seenTTL are dropped, and at
// most seenMax are kept.
const (
	seenTTL = 5 * time.Minute
	seenMax = 8192
)

// localName is the systemd unit, else the script of an interpreter, of
// process.pid on this host; for a process that has ended, what was found
// while it ran (within seenTTL).
func (n *naming) localName(attrs pcommon.Map) string {
	name := n.systemdUnit(attrs)
	if name == "" {
		name = n.script(attrs)
	}
	pid := n.localPID(attrs)
	if pid <= 0 {
		return name
	}
	exe := ""
	if v, ok := attrs.Get(attrExecutableName); ok {
		exe = v.AsString()
	}
	key := seenKey{pid, exe}
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.seen == nil {
		n.seen = make(map[seenKey]seenName)
	}
	if now.Sub(n.lastSweep) > time.Minute || len(n.seen) >= seenMax {
		for k, v := range n.seen {
			if now.Sub(v.at) > seenTTL || len(n.seen) >= seenMax {
				delete(n.seen, k)
			}
		}
		n.lastSweep = now
	}
	if name != "" {
		n.seen[key] = seenName{name, now}
		return name
	}
	if _, err := os.Stat(filepath.Join(n.procRoot, strconv.FormatInt(pid, 10))); err == nil {
		return "" // alive, and neither in a unit nor a script
	}
	if prev, ok := n.seen[key]; ok {
		prev.at = now
		n.seen[key] = prev
		return prev.name
	}
	return ""
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
	if local := n.localName(attrs); local != "" {
		return sanitizeServiceName(local)
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

// localPID is process.pid when the profile is from this host (no host.name,
// or this machine's), else 0.
func (n *naming) localPID(attrs pcommon.Map) int64 {
	if v, ok := attrs.Get(attrHostName); ok && v.AsString() != n.hostName {
		return 0
	}
	v, ok := attrs.Get(attrProcessPID)
	if !ok {
		return 0
	}
	pid := v.Int()
	if v.Type() == pcommon.ValueTypeStr {
		pid, _ = strconv.ParseInt(v.Str(), 10, 64)
	}
	return pid
}

// systemdUnit returns the service unit (without ".service") that process.pid
// runs in, read from its cgroup; "" when the profile is from another host,
// names no pid, or the process is gone or not in a service unit.
func (n *naming) systemdUnit(attrs pcommon.Map) string {
	pid := n.localPID(attrs)
	if pid <= 0 {
		return ""
	}
	data, err := os.ReadFile(filepath.Join(n.procRoot, strconv.FormatInt(pid, 10), "cgroup"))
	if err != nil {
		return ""
	}
	return unitFromCgroup(string(data))
}

// interpreters are executables whose processes are named after the script
// they run (python3.11 busy.py is "busy"), not after themselves.
var interpreters = regexp.MustCompile(`^(python[0-9.]*|pypy[0-9.]*|node|nodejs|bun|deno|ruby[0-9.]*|perl[0-9.]*|php[0-9.]*)$`)

// scriptExtensions are cut from a script's name.
var scriptExtensions = []string{".py", ".js", ".mjs", ".cjs", ".ts", ".rb", ".pl", ".php"}

// script names an interpreter's process (process.executable.name matches
// interpreters) after what it runs, from /proc/PID/cmdline on this host: the
// first argument that is not an option, without directory and extension;
// python -m pkg.mod gives pkg.mod. "" for other processes, a process that
// is gone, or an interpreter running no file (python -c, a REPL).
func (n *naming) script(attrs pcommon.Map) string {
	exe, ok := attrs.Get(attrExecutableName)
	if !ok || !interpreters.MatchString(exe.AsString()) {
		return ""
	}
	pid := n.localPID(attrs)
	if pid <= 0 {
		return ""
	}
	data, err := os.ReadFile(filepath.Join(n.procRoot, strconv.FormatInt(pid, 10), "cmdline"))
	if err != nil {
		return ""
	}
	return scriptFromArgs(strings.Split(strings.TrimRight(string(data), "\x00"), "\x00"))
}

// scriptFromArgs is script's reading of an interpreter's argv.
func scriptFromArgs(argv []string) string {
	for i := 1; i < len(argv); i++ {
		arg := argv[i]
		switch {
		case arg == "-m" && i+1 < len(argv):
			return argv[i+1]
		case arg == "-c" || arg == "-e" || arg == "--eval" || arg == "-p" || arg == "--print" || arg == "-":
			return "" // code on the command line or stdin, no file
		case arg == "--":
			continue
		case strings.HasPrefix(arg, "-"):
			// Python's options that take a value as the next argument.
			if arg == "-W" || arg == "-X" || arg == "--require" || arg == "-r" {
				i++
			}
			continue
		}
		name := path.Base(arg)
		for _, ext := range scriptExtensions {
			if trimmed, ok := strings.CutSuffix(name, ext); ok && trimmed != "" {
				return trimmed
			}
		}
		return name
	}
	return ""
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
