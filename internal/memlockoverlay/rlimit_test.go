package rlimit

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestAtLeast(t *testing.T) {
	for release, want := range map[string]bool{
		"6.18.0-1-amd64": true, "5.11.0": true, "5.10.200": false, "5.11": true,
		"4.19.0-26": false, "10.0.0": true, "6.1-rc3": true, "garbage": false, "": false,
	} {
		if got := atLeast(release, memcgAccounting); got != want {
			t.Errorf("atLeast(%q) = %v, want %v", release, got, want)
		}
	}
}

func fake(t *testing.T, release string, setErr error) *[]unix.Rlimit {
	t.Helper()
	oldSet, oldRelease := setMemlock, kernelRelease
	t.Cleanup(func() { setMemlock, kernelRelease = oldSet, oldRelease })
	var calls []unix.Rlimit
	setMemlock = func(newLimit, oldLimit *unix.Rlimit) error {
		calls = append(calls, *newLimit)
		if oldLimit != nil {
			*oldLimit = unix.Rlimit{Cur: 8 << 20, Max: 8 << 20}
		}
		return setErr
	}
	kernelRelease = func() (string, error) { return release, nil }
	return &calls
}

func TestRaisedAndRestored(t *testing.T) {
	calls := fake(t, "6.18.0", nil)
	restore, err := MaximizeMemlock()
	if err != nil {
		t.Fatal(err)
	}
	restore()
	if len(*calls) != 2 || (*calls)[0].Cur != unix.RLIM_INFINITY || (*calls)[1].Cur != 8<<20 {
		t.Fatalf("prlimit calls %+v: want infinity, then the previous 8 MiB", *calls)
	}
}

func TestRefusedOnMemcgKernelIsNoRaise(t *testing.T) {
	calls := fake(t, "6.18.0-1-amd64", unix.EPERM)
	restore, err := MaximizeMemlock()
	if err != nil {
		t.Fatal(err)
	}
	restore()
	if len(*calls) != 1 {
		t.Fatalf("restore changed the limit after a refused raise: %+v", *calls)
	}
}

func TestRefusedOnOldKernelSaysWhatToChange(t *testing.T) {
	fake(t, "5.10.0", unix.EPERM)
	_, err := MaximizeMemlock()
	if err == nil || !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), "LimitMEMLOCK=infinity") {
		t.Fatalf("err = %v", err)
	}
}

func TestOtherErrorsAreErrors(t *testing.T) {
	fake(t, "6.18.0", unix.EINVAL)
	if _, err := MaximizeMemlock(); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("err = %v", err)
	}
}

// The real call in this process: on this repository's test machines
// (kernel >= 5.11) it must succeed whether or not the raise is allowed.
func TestRealProcess(t *testing.T) {
	release, err := kernelRelease()
	if err != nil || !atLeast(release, memcgAccounting) {
		t.Skipf("kernel %q: memcg accounting not expected", release)
	}
	restore, err := MaximizeMemlock()
	if err != nil {
		t.Fatal(err)
	}
	restore()
}
