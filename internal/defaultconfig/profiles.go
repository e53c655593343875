package defaultconfig

import "go.opentelemetry.io/collector/featuregate"

// profilesGate is the collector's switch for the profiles signal.
const profilesGate = "service.profilesSupport"

// EnableProfiles turns the profiles signal on by default in this
// distribution: profiling is one of its features, and users should not need
// a flag for a pipeline the embedded config and NixOS module generate.
// --feature-gates=-service.profilesSupport still turns it off.
func EnableProfiles() error {
	return featuregate.GlobalRegistry().Set(profilesGate, true)
}
