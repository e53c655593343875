// Package procinfo reads what the eBPF receiver selects processes by, from a
// process's /proc directory: its executable name and its systemd unit. The
// doctor reads them the same way, so that what it counts is what the
// receiver selects.
package procinfo

import (
	"os"
	"path/filepath"
	"strings"
)

// Executable is the base name of the process's executable (dir is
// /proc/PID), or its comm when the link cannot be read (kernel threads, or
// no permission); the error is the link's when neither can be read.
func Executable(dir string) (string, error) {
	exe, err := os.Readlink(filepath.Join(dir, "exe"))
	if err == nil {
		return filepath.Base(strings.TrimSuffix(exe, " (deleted)")), nil
	}
	if comm, err2 := os.ReadFile(filepath.Join(dir, "comm")); err2 == nil {
		return strings.TrimSpace(string(comm)), nil
	}
	return "", err
}

// Unit is the innermost systemd unit of the process (dir is /proc/PID), ""
// when it has none or its cgroup cannot be read.
func Unit(dir string) string {
	cgroup, err := os.ReadFile(filepath.Join(dir, "cgroup"))
	if err != nil {
		return ""
	}
	return UnitFromCgroup(string(cgroup))
}

// UnitFromCgroup returns the innermost systemd unit in a /proc/PID/cgroup:
// "0::/user.slice/user-1000.slice/user@1000.service/app.slice/otel-ai-monitor.service"
// gives otel-ai-monitor.service.
func UnitFromCgroup(cgroup string) string {
	for _, line := range strings.Split(cgroup, "\n") {
		_, path, ok := strings.Cut(line, "::")
		if !ok {
			continue
		}
		parts := strings.Split(path, "/")
		for i := len(parts) - 1; i >= 0; i-- {
			if strings.HasSuffix(parts[i], ".service") || strings.HasSuffix(parts[i], ".scope") {
				if strings.HasPrefix(parts[i], "user@") || strings.HasPrefix(parts[i], "session-") {
					return "" // the user manager or a login session, not a unit of its own
				}
				return parts[i]
			}
		}
	}
	return ""
}
