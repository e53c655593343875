// Package metadata holds what metadata.yaml declares. mdatagen, which would
// generate it, is not served by this project's module mirror at the pinned
// release, so it is written by hand; keep it in step with metadata.yaml.
package metadata

import "go.opentelemetry.io/collector/component"

var Type = component.MustNewType("resilient_file_storage")

const ScopeName = "github.com/otel-ai-collector/otel-ai-collector/extension/resilientfilestorageextension"

const ExtensionStability = component.StabilityLevelAlpha
