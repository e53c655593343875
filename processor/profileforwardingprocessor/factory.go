// Package profileforwardingprocessor is the profile_forwarding processor: it
// sends every profile of a profiles pipeline to Pyroscope under a correct
// service name and host labels, through a bounded queue with retries, and
// passes the profiles on unchanged. See README.md.
package profileforwardingprocessor

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer/xconsumer"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/xprocessor"

	"github.com/otel-ai-collector/otel-ai-collector/processor/profileforwardingprocessor/internal/metadata"
)

// NewFactory returns the profile_forwarding processor factory.
func NewFactory() processor.Factory {
	return xprocessor.NewFactory(metadata.Type, createDefaultConfig,
		xprocessor.WithProfiles(createProfiles, metadata.ProfilesStability))
}

func createDefaultConfig() component.Config {
	client := confighttp.NewDefaultClientConfig()
	client.Timeout = 15 * time.Second
	queue := exporterhelper.NewDefaultQueueConfig()
	// Profiles arrive as one push per service every 10-15 s; a thousand
	// requests is over an hour of a dozen services. Batching would merge
	// pushes of different services into one request for no gain.
	queue.Batch = configoptional.None[exporterhelper.BatchConfig]()
	queue.NumConsumers = 4
	return &Config{
		ClientConfig:       client,
		QueueConfig:        configoptional.Some(queue),
		RetryConfig:        configretry.NewDefaultBackOffConfig(),
		DefaultServiceName: "unknown_service",
		ExcludeResourceAttributes: []string{
			"process.pid", "process.parent_pid", "process.command_line", "process.command_args",
			"process.command", "process.executable.path", "process.owner",
			"telemetry.sdk.name", "telemetry.sdk.version", "telemetry.sdk.language",
			"host.id", "host.arch", "os.description",
		},
	}
}

func createProfiles(ctx context.Context, set processor.Settings, cfg component.Config, next xconsumer.Profiles) (xprocessor.Profiles, error) {
	return newProcessor(ctx, set, cfg.(*Config), next)
}
