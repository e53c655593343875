package doctor

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/otel-ai-collector/otel-ai-collector/internal/defaultconfig"
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
	on := false
	if plan != nil {
		for _, f := range plan.Features {
			if f.Name == "eBPF" {
				on = f.On
				if !on {
					c.Detail = "off: " + f.Why
				}
			}
		}
	}
	if !on {
		c.Status = Skip
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
	if c.Status == "" {
		c.Status = OK
	}
	c.Detail = fmt.Sprintf("kernel %s, %s, %s", strings.TrimSpace(string(release)), btf, caps)
	return c
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
