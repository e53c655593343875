// Package bench holds benchmarks that run the built collector binaries as
// real processes. Run them with bench/run.sh (or `make bench`), which builds
// otel-ai-collector and the previous-setup baseline and runs both side by
// side in one `go test -bench` invocation.
package bench

import (
	"os"
	"testing"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// EnvPreviousBinary names the baseline binary (bench/previous-setup).
const EnvPreviousBinary = "OTEL_AI_COLLECTOR_PREVIOUS_BINARY"

var binary string

func TestMain(m *testing.M) { os.Exit(harness.RunTests(m, &binary)) }

// distribution is a collector binary with the configuration it is run with.
type distribution struct {
	name   string
	binary string
	config string   // empty: the embedded default
	args   []string // more command-line arguments, e.g. --config layers
}

func distributions(b *testing.B) []distribution {
	previous := os.Getenv(EnvPreviousBinary)
	if previous == "" {
		b.Skipf("%s is not set; bench/run.sh builds the baseline and sets it", EnvPreviousBinary)
	}
	config, err := os.ReadFile("previous-setup/config.yaml")
	if err != nil {
		b.Fatal(err)
	}
	return []distribution{
		{name: "otel-ai-collector", binary: binary},
		{name: "previous-setup", binary: previous, config: string(config)},
	}
}

// start runs d with its monitor and remote pointed at the given URLs.
func (d distribution) start(b *testing.B, monitorURL, remoteURL string) *harness.Collector {
	return harness.Start(b, d.binary, harness.Options{
		Config: d.config,
		Args:   d.args,
		// The previous setup waits out its exporters' 30 s timeout when the
		// remote hangs.
		StopTimeout: time.Minute,
		Env: map[string]string{
			"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT": monitorURL,
			"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT":  remoteURL,
		},
	})
}
