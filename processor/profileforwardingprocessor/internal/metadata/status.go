// Package metadata holds what metadata.yaml declares, written by hand:
// mdatagen is not served by this project's module mirror at the pinned release.
package metadata

import "go.opentelemetry.io/collector/component"

var Type = component.MustNewType("profile_forwarding")

const (
	ScopeName         = "github.com/otel-ai-collector/otel-ai-collector/processor/profileforwardingprocessor"
	ProfilesStability = component.StabilityLevelDevelopment
)
