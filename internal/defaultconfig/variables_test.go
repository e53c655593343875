package defaultconfig

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// derived are variables the collector sets itself from the public ones.
var derived = map[string]bool{envAIServiceRegex: true, envAIScopeRegex: true, envAIEventRegex: true, envAIReportService: true, envAIReportScope: true, envAIReportEvent: true, envEBPFPortsList: true, envEBPFUnitsList: true, envProfilingUnitsL: true, envJournaldMatches: true}

func TestVariablesCoverTheConfigLayers(t *testing.T) {
	known := map[string]bool{}
	for _, v := range Variables {
		if known[v.Name] {
			t.Errorf("%s listed twice", v.Name)
		}
		known[v.Name] = true
	}
	layers, err := filepath.Glob("../../config/*.yaml")
	if err != nil || len(layers) == 0 {
		t.Fatalf("no config layers: %v", err)
	}
	ref := regexp.MustCompile(`\$\{env:(OTEL_AI_COLLECTOR_[A-Z_]+)`)
	for _, layer := range layers {
		text, err := os.ReadFile(layer)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ref.FindAllStringSubmatch(string(text), -1) {
			if !known[m[1]] && !derived[m[1]] {
				t.Errorf("%s reads %s, which Variables (README, --help, checks) does not list", layer, m[1])
			}
		}
	}
}

func TestVariableExamplesPass(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "layer.yaml")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, v := range Variables {
		example := v.Example
		switch v.kind {
		case kindFile:
			example = file
		case kindDir:
			example = dir
		}
		t.Setenv(v.Name, example)
		if err := v.check(example); err != nil {
			t.Errorf("%s: its own example is refused: %v", v.Name, err)
		}
		if v.Description == "" || v.Default == "" || strings.Contains(v.Description, "\n") {
			t.Errorf("%s: README row needs a one-line description and a default", v.Name)
		}
	}
}

// The embedded gateway layer needs a URL; layers of the user's own (the
// NixOS module's gRPC gateway) may take host:port.
func TestRemoteEndpointForOwnLayers(t *testing.T) {
	for _, tc := range []struct {
		value         string
		embedded, own bool
	}{
		{"https://gateway.example:4318", true, true},
		{"gateway.example:4317", false, true},
		{"not-a-url", false, false},
		{"gateway.example:99999", false, false},
	} {
		t.Setenv(envRemoteEndpoint, tc.value)
		if got := CheckEnvironment(false) == nil; got != tc.embedded {
			t.Errorf("%q with the embedded default: accepted %v, want %v", tc.value, got, tc.embedded)
		}
		if got := CheckEnvironment(true) == nil; got != tc.own {
			t.Errorf("%q with own layers: accepted %v, want %v", tc.value, got, tc.own)
		}
	}
}
