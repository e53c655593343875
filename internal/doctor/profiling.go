package doctor

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/otel-ai-collector/otel-ai-collector/internal/defaultconfig"
)

// profilingCaps are what the eBPF profiler (the `profiling` receiver) needs
// without root, and why (docs/profiling.md), by bit number in CapEff.
var profilingCaps = []struct {
	name string
	bit  uint
}{
	{"CAP_BPF", 39},                // load its BPF programs and maps
	{"CAP_PERFMON", 38},            // perf_event_open for the 20 Hz sampling
	{"CAP_SYS_PTRACE", 19},         // read other processes' memory (interpreter stacks)
	{"CAP_DAC_READ_SEARCH", 2},     // other users' /proc/PID/exe and mapped files
	{"CAP_SYSLOG", 34},             // /proc/kallsyms addresses (kernel.kptr_restrict)
	{"CAP_CHECKPOINT_RESTORE", 40}, // /proc/PID/map_files, to open mapped executables
}

// tracefsDirs are where the profiler looks for tracefs (its tracepoints).
var tracefsDirs = []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}

// checkEBPFProfiling reports what whole-host eBPF profiling needs when it is
// asked for: tracefs, the capabilities, readable kernel symbol addresses and
// the memlock limit. Without them the receiver logs one error and the
// collector runs on without it.
func checkEBPFProfiling(plan *defaultconfig.Plan) Check {
	c := Check{Name: "eBPF profiling"}
	if on, why := featureOn(plan, "eBPF profiling"); !on {
		c.Status, c.Detail = Skip, why
		return c
	}
	var details, fixes []string
	fail := func(detail, fix string) {
		details = append(details, detail)
		fixes = append(fixes, fix)
	}

	tracefs := ""
	for _, dir := range tracefsDirs {
		if _, err := os.Stat(dir + "/events"); err == nil {
			tracefs = dir
			break
		}
	}
	if tracefs == "" {
		fail("tracefs not mounted (no /sys/kernel/tracing/events)",
			"mount it: mount -t tracefs nodev /sys/kernel/tracing (the NixOS unit mounts it in its own mount namespace)")
	} else {
		details = append(details, "tracefs at "+tracefs)
	}

	var missing []string
	eff := capEff()
	for _, cp := range profilingCaps {
		if eff&(1<<cp.bit) == 0 {
			missing = append(missing, cp.name)
		}
	}
	if len(missing) > 0 {
		names := make([]string, len(profilingCaps))
		for i, cp := range profilingCaps {
			names[i] = cp.name
		}
		fail("missing "+strings.Join(missing, ", "),
			"run the collector as root, or give its unit AmbientCapabilities="+strings.Join(names, " ")+" (doctor checks its own process: run it as the collector's user)")
	} else {
		details = append(details, "all six capabilities held")
	}

	if kallsymsHidden() {
		fail("/proc/kallsyms shows no addresses", "the profiler needs kernel symbol addresses: CAP_SYSLOG, and /proc/kallsyms visible (systemd: ProtectKernelTunables=false)")
	}

	var limit unix.Rlimit
	_ = unix.Getrlimit(unix.RLIMIT_MEMLOCK, &limit)
	release, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	if limit.Max != unix.RLIM_INFINITY && !memcgAccounted(strings.TrimSpace(string(release))) && eff&(1<<24) == 0 {
		fail(fmt.Sprintf("RLIMIT_MEMLOCK hard limit %d bytes on kernel %s (< 5.11 counts BPF memory against it)", limit.Max, strings.TrimSpace(string(release))),
			"LimitMEMLOCK=infinity for the unit, or CAP_SYS_RESOURCE")
	}

	c.Status = OK
	if len(fixes) > 0 {
		c.Status = Fail
		c.Fix = strings.Join(fixes, "; ") + ". Until then the collector runs without eBPF profiling (one error line at start)"
	}
	c.Detail = strings.Join(details, ", ")
	return c
}

// kallsymsHidden reports whether /proc/kallsyms is unreadable or shows
// only zero addresses (kernel.kptr_restrict without CAP_SYSLOG).
func kallsymsHidden() bool {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return true
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for i := 0; i < 100 && scanner.Scan(); i++ {
		addr, _, _ := strings.Cut(scanner.Text(), " ")
		if n, err := strconv.ParseUint(addr, 16, 64); err == nil && n != 0 {
			return false
		}
	}
	return true
}

// memcgAccounted reports whether a kernel release is 5.11 or newer, where
// BPF memory is charged to the memory cgroup, not RLIMIT_MEMLOCK.
func memcgAccounted(release string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(release, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 5 || (major == 5 && minor >= 11)
}
