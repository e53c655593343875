// Package resilientfilestorageextension is the resilient_file_storage
// extension: the stock file_storage extension, except that a state file it
// cannot open (damaged by a torn write, truncated, unreadable, a directory
// in its place) is moved aside and replaced by a fresh one instead of
// failing the component that asked for it, and with it the collector's
// start. See README.md.
package resilientfilestorageextension

import (
	"context"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/otel-ai-collector/otel-ai-collector/extension/resilientfilestorageextension/internal/metadata"
)

// NewFactory returns the resilient_file_storage extension factory.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	inner := filestorage.NewFactory().CreateDefaultConfig().(*filestorage.Config)
	return &Config{Config: *inner}
}

func create(ctx context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newExtension(ctx, set, cfg.(*Config))
}
