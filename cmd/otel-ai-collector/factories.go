package main

import (
	"go.opentelemetry.io/collector/otelcol"

	distcomponents "github.com/otel-ai-collector/otel-ai-collector/components"
)

// components is what ocb's generated main.go calls. The generated factory list
// lives in package components (see `make generate`), so that the binary, the
// config tests and the integration tests share one source of truth.
func components() (otelcol.Factories, error) {
	return distcomponents.Components()
}
