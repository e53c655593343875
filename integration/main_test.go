// Package integration tests the built otel-ai-collector binary as a real
// process, with real OTLP senders (OpenTelemetry Go SDK) and receivers.
package integration

import (
	"os"
	"testing"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// binary is the collector under test, built once per `go test` run.
var binary string

func TestMain(m *testing.M) { os.Exit(harness.RunTests(m, &binary)) }
