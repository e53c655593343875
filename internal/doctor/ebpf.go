package doctor

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/otel-ai-collector/otel-ai-collector/internal/defaultconfig"
	"github.com/otel-ai-collector/otel-ai-collector/internal/procinfo"
)

// ebpfCaps are the capabilities the eBPF receiver needs (its README), by
// bit number in /proc/<pid>/status CapEff.
var ebpfCaps = []struct {
	name string
	bit  uint
}{{"CAP_BPF", 39}, {"CAP_PERFMON", 38}, {"CAP_SYS_PTRACE", 19}, {"CAP_DAC_READ_SEARCH", 2}}

// checkEBPF reports the kernel, BTF and this process's capabilities when
// eBPF spans are asked for.
func checkEBPF(plan *defaultconfig.Plan) Check {
	c := Check{Name: "eBPF"}
	if on, why := featureOn(plan, "eBPF"); !on {
		c.Status, c.Detail = Skip, why
		return c
	}
	release, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	btf := "BTF present"
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		btf = "no /sys/kernel/btf/vmlinux (kernel without BTF)"
		c.Status = Fail
		c.Fix = "eBPF needs a kernel built with CONFIG_DEBUG_INFO_BTF"
	}
	var missing []string
	eff := capEff()
	for _, cp := range ebpfCaps {
		if eff&(1<<cp.bit) == 0 {
			missing = append(missing, cp.name)
		}
	}
	caps := "all four capabilities held"
	if len(missing) > 0 {
		caps = "missing " + strings.Join(missing, ", ")
		c.Status = Fail
		c.Fix = "run the collector as root, or give its unit AmbientCapabilities=CAP_BPF CAP_PERFMON CAP_SYS_PTRACE CAP_DAC_READ_SEARCH (doctor checks its own process: run it as the collector's user)"
	}
	matches := selectedNow()
	if c.Status == "" {
		c.Status = OK
		if matches == "" {
			c.Status = Warn
			c.Fix = "no running process matches the eBPF selectors yet: spans appear once one does (check the ports, executable regex and unit names)"
		}
	}
	if matches == "" {
		matches = "nothing selected now"
	}
	c.Detail = fmt.Sprintf("kernel %s, %s, %s; %s", strings.TrimSpace(string(release)), btf, caps, matches)
	return c
}

// selectedNow says which running processes the selectors match now, as the
// receiver selects them: a listening port, the executable's base name
// (comm when exe is unreadable), or the innermost systemd unit of the
// process's cgroup.
func selectedNow() string {
	var found []string
	for _, port := range strings.Split(os.Getenv("OTEL_AI_COLLECTOR_EBPF_PORTS"), ",") {
		if port = strings.TrimSpace(port); port == "" {
			continue
		}
		if pid, owner := portOwner("127.0.0.1:" + port); pid != "" {
			found = append(found, "port "+port+" ("+owner+")")
		} else if listening(port) {
			found = append(found, "port "+port)
		}
	}
	exe, _ := regexp.Compile(os.Getenv("OTEL_AI_COLLECTOR_EBPF_EXECUTABLE_REGEX"))
	units := map[string]bool{}
	for _, u := range strings.Split(os.Getenv("OTEL_AI_COLLECTOR_EBPF_UNITS"), ",") {
		if u = strings.TrimSpace(u); u != "" {
			if !strings.Contains(u, ".") {
				u += ".service"
			}
			units[u] = true
		}
	}
	if os.Getenv("OTEL_AI_COLLECTOR_EBPF_EXECUTABLE_REGEX") == "" {
		exe = nil
	}
	if exe == nil && len(units) == 0 {
		return strings.Join(found, ", ")
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	n := 0
	for _, dir := range dirs {
		name, _ := procinfo.Executable(dir)
		unit := procinfo.Unit(dir)
		if (exe != nil && name != "" && exe.MatchString(name)) || (unit != "" && units[unit]) {
			n++
		}
	}
	if n > 0 {
		found = append(found, fmt.Sprintf("%d processes by executable or unit", n))
	}
	return strings.Join(found, ", ")
}

// listening reports whether any socket listens on port (owner not visible).
func listening(port string) bool {
	p, err := strconv.Atoi(port)
	if err != nil {
		return false
	}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		text, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(text), "\n") {
			fields := strings.Fields(line)
			if len(fields) < 4 || fields[3] != "0A" {
				continue
			}
			_, hexPort, _ := strings.Cut(fields[1], ":")
			if v, err := strconv.ParseInt(hexPort, 16, 32); err == nil && int(v) == p {
				return true
			}
		}
	}
	return false
}

// capEff reads this process's effective capability set.
func capEff() uint64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return n
		}
	}
	return 0
}

// featureOn reports whether the embedded default plan turns the feature on,
// and otherwise why not, for a check that only applies when it is on.
func featureOn(plan *defaultconfig.Plan, name string) (bool, string) {
	if plan == nil {
		return false, "the embedded default's layers are not in use (your own layers, or a configuration error above)"
	}
	for _, f := range plan.Features {
		if f.Name == name {
			if f.On {
				return true, ""
			}
			return false, "off: " + f.Why
		}
	}
	return false, ""
}
