package harness

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// ProcessRSS reads VmRSS of a process from /proc, in bytes.
func ProcessRSS(pid int) (int64, error) { return procStatusBytes(pid, "VmRSS") }

// ProcessRSSAnon reads RssAnon of a process from /proc, in bytes: the
// resident memory that is not file-backed.
func ProcessRSSAnon(pid int) (int64, error) { return procStatusBytes(pid, "RssAnon") }

// procStatusBytes reads a kB field of /proc/PID/status, in bytes.
func procStatusBytes(pid int, field string) (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s for pid %d", field, pid)
}

func pcommonNow() pcommon.Timestamp { return pcommon.NewTimestampFromTime(time.Now()) }

// ProcessCPU reads the user plus system CPU time a process has used so far.
func ProcessCPU(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it are fixed.
	_, rest, ok := strings.Cut(string(stat), ") ")
	if !ok {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	fields := strings.Fields(rest)
	// utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat: %v %v", pid, err1, err2)
	}
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// ResetPeakRSS resets a process's peak RSS (VmHWM) to its current RSS, so
// that ProcessPeakRSS then reports the peak since this call.
func ResetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// ProcessPeakRSS reads VmHWM (peak RSS) of a process from /proc, in bytes.
func ProcessPeakRSS(pid int) (int64, error) { return procStatusBytes(pid, "VmHWM") }

// Terminate stops a process the test started: SIGTERM (so a master process
// such as nginx's stops its workers; SIGKILL would leave them), then SIGKILL
// if it has not exited within grace. It waits for the process either way.
func Terminate(cmd *exec.Cmd, grace time.Duration) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}
