package config_test

import (
	"io/fs"
	"testing"

	"go.opentelemetry.io/collector/otelcol/otelcoltest"

	"github.com/otel-ai-collector/otel-ai-collector/components"
	"github.com/otel-ai-collector/otel-ai-collector/config"
)

// Every shipped configuration loads and validates against the distribution's
// own factories (the integration tests also run the binary's `validate`).
func TestShippedConfigsValidate(t *testing.T) {
	factories, err := components.Components()
	if err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(config.Files, "*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no embedded configs: %v", err)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if _, err := otelcoltest.LoadConfigAndValidate(name, factories); err != nil {
				t.Fatal(err)
			}
		})
	}
}
