// Package integration tests the built otel-ai-collector binary as a real
// process, with real OTLP senders (OpenTelemetry Go SDK) and receivers.
package integration

import (
	"fmt"
	"os"
	"testing"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// binary is the collector under test, built once per `go test` run.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "otel-ai-collector-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary, err = harness.BuildBinary(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "building the collector:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
