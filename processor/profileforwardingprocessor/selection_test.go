package profileforwardingprocessor

import (
	"os"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/pdata/pprofile"
)

func resource(scope string, pid int, exe string) pprofile.ResourceProfiles {
	rp := pprofile.NewResourceProfiles()
	rp.Resource().Attributes().PutInt("process.pid", int64(pid))
	if exe != "" {
		rp.Resource().Attributes().PutStr("process.executable.name", exe)
	}
	rp.ScopeProfiles().AppendEmpty().Scope().SetName(scope)
	return rp
}

func TestProfilerSelection(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Base(self)
	if newSelection(ProfilerSelection{}, "/proc") != nil {
		t.Fatal("an empty selection must select everything (nil)")
	}
	s := newSelection(ProfilerSelection{ExecutableRegex: `^indexer$`, SystemdUnits: []string{"worker"}}, "/proc")
	for _, tc := range []struct {
		name string
		rp   pprofile.ResourceProfiles
		want bool
	}{
		{"SDK profiles are never filtered", resource("pyroscope", os.Getpid(), "other"), true},
		{"the profiler's, executable matches", resource(profilerScope, 0, "indexer"), true},
		{"the profiler's, not selected", resource(profilerScope, os.Getpid(), "other"), false},
		{"the profiler's, gone", resource(profilerScope, 1<<30, ""), false},
	} {
		if got := s.selects(tc.rp); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// This test process, by the executable /proc says it runs.
	byProc := newSelection(ProfilerSelection{ExecutableRegex: "^" + exe + "$"}, "/proc")
	if !byProc.selects(resource(profilerScope, os.Getpid(), "")) {
		t.Errorf("this process (%s) not selected by its executable", exe)
	}
}

func TestProfilerSelectionRegexChecked(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = "http://pyroscope:4040"
	cfg.ProfilerSelection.ExecutableRegex = "("
	if err := cfg.Validate(); err == nil {
		t.Fatal("an invalid regex passed Validate")
	}
}
