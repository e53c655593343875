// Package lokipartialsuccessextension is the loki_partial_success
// extension: an HTTP client middleware for an OTLP/HTTP logs exporter that
// sends to Loki's native OTLP endpoint. When Loki stored part of a request
// and answered 400 for the rest, it tells the exporter what the OTLP
// specification defines for that case, a partial success naming the number
// of refused records, so the records Loki kept are not reported as lost.
// See README.md.
package lokipartialsuccessextension

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/otel-ai-collector/otel-ai-collector/extension/lokipartialsuccessextension/internal/metadata"
)

// NewFactory returns the loki_partial_success extension factory.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	return &Config{}
}

func create(_ context.Context, set extension.Settings, _ component.Config) (extension.Extension, error) {
	return newExtension(set)
}
