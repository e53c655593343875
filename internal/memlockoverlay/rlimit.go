// Package rlimit is this repository's own implementation of the one function
// of go.opentelemetry.io/ebpf-profiler/rlimit (v0.0.202633), MaximizeMemlock.
// It is not imported: the build (Makefile, nixos/package.nix,
// integration/harness) puts this file in place of the library's
// rlimit/rlimit.go with `go build -overlay` (scripts/memlock-overlay.sh), so
// the package keeps its import path and its callers (tracer, processmanager)
// are unchanged. It is also an ordinary package here, so `go test` and
// `go vet` cover it.
//
// Why: the library raises RLIMIT_MEMLOCK to infinity before loading BPF
// objects and treats any failure as fatal. A process without
// CAP_SYS_RESOURCE whose hard limit is lower (8 MiB on the machines this was
// written on; the default of many container runtimes) gets EPERM, and the
// profiler refuses to start. Since Linux 5.11 BPF maps and programs are
// charged to the memory cgroup, not to RLIMIT_MEMLOCK, so the raise is not
// needed there: the same reasoning as cilium/ebpf's rlimit.RemoveMemlock,
// which does nothing on such kernels. docs/profiling.md has the decision.
package rlimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// memcgAccounting is the first kernel version that charges BPF memory to the
// memory cgroup instead of RLIMIT_MEMLOCK (commit "bpf: memcg-based memory
// accounting for bpf maps", Linux 5.11).
var memcgAccounting = [2]int{5, 11}

// kernelRelease is uname -r; tests replace it.
var kernelRelease = func() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", err
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}

// setMemlock is prlimit(2) on this process for RLIMIT_MEMLOCK; tests replace it.
var setMemlock = func(newLimit, oldLimit *unix.Rlimit) error {
	return unix.Prlimit(0, unix.RLIMIT_MEMLOCK, newLimit, oldLimit)
}

// MaximizeMemlock raises RLIMIT_MEMLOCK to infinity and returns a function
// that puts the previous limit back. When the raise is refused (EPERM: no
// CAP_SYS_RESOURCE, hard limit lower than infinity) on a kernel that does not
// count BPF memory against the limit, there is nothing to raise: it returns a
// function that does nothing, and no error. On older kernels the refusal is
// an error that says what to change.
func MaximizeMemlock() (func(), error) {
	infinity := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	var previous unix.Rlimit
	err := setMemlock(&infinity, &previous)
	if err == nil {
		return func() { _ = setMemlock(&previous, nil) }, nil
	}
	if !errors.Is(err, unix.EPERM) {
		return nil, fmt.Errorf("raising RLIMIT_MEMLOCK for BPF maps: %w", err)
	}
	release, uerr := kernelRelease()
	if uerr == nil && atLeast(release, memcgAccounting) {
		return func() {}, nil
	}
	return nil, fmt.Errorf("raising RLIMIT_MEMLOCK for BPF maps: %w; kernel %q counts BPF memory against it "+
		"(memory cgroup accounting needs Linux >= 5.11): run with LimitMEMLOCK=infinity or CAP_SYS_RESOURCE", err, release)
}

// atLeast reports whether a kernel release such as "6.18.0-1-amd64" is at
// least version; an unreadable release is not.
func atLeast(release string, version [2]int) bool {
	fields := strings.SplitN(release, ".", 3)
	if len(fields) < 2 {
		return false
	}
	major, err := strconv.Atoi(fields[0])
	if err != nil {
		return false
	}
	minorDigits := fields[1]
	if i := strings.IndexFunc(fields[1], func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minorDigits = fields[1][:i]
	}
	minor, err := strconv.Atoi(minorDigits)
	if err != nil {
		return false
	}
	return major > version[0] || (major == version[0] && minor >= version[1])
}
