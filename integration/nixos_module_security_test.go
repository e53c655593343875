package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The unit's exposure as systemd scores it (systemd-analyze security
// --offline, from Debian's systemd package), for the unit file NixOS would
// write from the module's evaluated serviceConfig. nixos/README.md records
// the numbers and the command.

// unitFile renders the service as NixOS's systemd-lib does: one Key=value
// line per list element (none for an empty list), booleans as true/false,
// the environment as quoted Environment= lines.
func (e moduleEval) unitFile(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("[Unit]\nDescription=otel-ai-collector\n\n[Service]\n")
	keys := make([]string, 0, len(e.Unit.Environment))
	for k := range e.Unit.Environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "Environment=%s\n", strconv.Quote(k+"="+e.Unit.Environment[k]))
	}
	keys = keys[:0]
	for k := range e.Unit.ServiceConfig {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		values, ok := e.Unit.ServiceConfig[k].([]any)
		if !ok {
			values = []any{e.Unit.ServiceConfig[k]}
		}
		for _, v := range values {
			switch v := v.(type) {
			case bool:
				fmt.Fprintf(&b, "%s=%t\n", k, v)
			case float64:
				fmt.Fprintf(&b, "%s=%d\n", k, int64(v))
			default:
				fmt.Fprintf(&b, "%s=%v\n", k, v)
			}
		}
	}
	b.WriteString("\n[Install]\nWantedBy=multi-user.target\n")
	return b.String()
}

var exposureLine = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)

func exposure(t *testing.T, e moduleEval) float64 {
	t.Helper()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze (Debian's systemd package, installed by scripts/install-test-deps.sh) is needed: %v", err)
	}
	path := filepath.Join(t.TempDir(), "otel-ai-collector.service")
	if err := os.WriteFile(path, []byte(e.unitFile(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(analyze, "security", "--offline=true", "--no-pager", path).CombinedOutput()
	m := exposureLine.FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security --offline=true %s: no score\n%s", path, out)
	}
	score, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() {
		t.Logf("%s", out)
	}
	return score
}

func TestNixModuleExposure(t *testing.T) {
	for _, c := range []struct {
		name string
		max  float64
	}{
		{"previous-defaults", 2.0},
		{"all-on", 2.0},
		{"all-off", 2.0},
		{"profiling", 2.0},
		// eBPF needs CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH.
		{"ebpf", 3.0},
		{"every-feature", 3.0},
	} {
		t.Run(c.name, func(t *testing.T) {
			score := exposure(t, evalModuleCase(t, c.name))
			t.Logf("%s: exposure %.1f", c.name, score)
			if score > c.max {
				t.Errorf("%s: exposure %.1f, want at most %.1f", c.name, score, c.max)
			}
		})
	}
}
