package main

import "github.com/otel-ai-collector/otel-ai-collector/internal/gcpacing"

// While the collector allocates fast (eBPF events, OTLP bursts) its garbage
// collector runs less often, within 16 MiB more heap; idle, GOGC stays the
// runtime's default. A GOGC in the environment turns this off.
func init() {
	gcpacing.Start()
}
