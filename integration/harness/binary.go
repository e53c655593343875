// Package harness runs the real otel-ai-collector binary as a subprocess for
// integration tests, and provides real OTLP senders and receivers around it.
package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// EnvBinary names a prebuilt collector binary to test instead of building one
// (the Makefile builds once and passes it, so `make test` compiles it once).
const EnvBinary = "OTEL_AI_COLLECTOR_BINARY"

// BuildBinary returns the path of the collector binary under test. Without
// OTEL_AI_COLLECTOR_BINARY it builds ./cmd/otel-ai-collector into dir, reusing
// the Go build cache. Call it once from TestMain.
func BuildBinary(dir string) (string, error) {
	if path := os.Getenv(EnvBinary); path != "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvBinary, path, err)
		}
		return abs, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "otel-ai-collector")
	// The same -overlay as the Makefile and nixos/package.nix: our own
	// rlimit.MaximizeMemlock for the eBPF profiler (docs/profiling.md).
	var stderr strings.Builder
	overlay := exec.Command(filepath.Join(root, "scripts", "memlock-overlay.sh"), filepath.Join(dir, "profiler"))
	overlay.Stderr = &stderr
	flags, err := overlay.Output()
	if err != nil {
		return "", fmt.Errorf("scripts/memlock-overlay.sh: %w\n%s", err, stderr.String())
	}
	args := append([]string{"build", "-trimpath", "-tags", "grpcnotrace", "-ldflags=-s -w"}, strings.Fields(string(flags))...)
	cmd := exec.Command("go", append(args, "-o", out, "./cmd/otel-ai-collector")...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, output)
	}
	return out, nil
}

// RepoRoot is the directory of the root go.mod.
func RepoRoot() (string, error) {
	output, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(output))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the otel-ai-collector module")
	}
	return filepath.Dir(gomod), nil
}

// RunTests is a TestMain body for packages that test the binary: it builds
// (or finds) the binary into *binary, runs the tests and returns their exit
// code.
func RunTests(m interface{ Run() int }, binary *string) int {
	dir, err := os.MkdirTemp("", "otel-ai-collector-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if *binary, err = BuildBinary(dir); err != nil {
		fmt.Fprintln(os.Stderr, "building the collector:", err)
		return 1
	}
	return m.Run()
}

// BuildProgram builds a main package of this module (e.g.
// "./integration/pyroscopeclient") into the test's temporary directory.
func BuildProgram(t testing.TB, pkg string) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), filepath.Base(pkg))
	build := exec.Command("go", "build", "-o", out, pkg)
	build.Dir = root
	if output, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, output)
	}
	return out
}
