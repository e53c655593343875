// Package pyroscopereceiver is the pyroscope receiver: it accepts profiles
// pushed by Pyroscope SDKs to Pyroscope's HTTP ingest API and turns each push
// into OTLP profiles. See README.md.
package pyroscopereceiver

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer/xconsumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/xreceiver"

	"github.com/otel-ai-collector/otel-ai-collector/receiver/pyroscopereceiver/internal/metadata"
)

const (
	defaultEndpoint = "127.0.0.1:4040"
	// A 15 s CPU profile of a busy service is a few hundred KiB; 16 MiB leaves
	// room for heap profiles of large programs and refuses anything absurd.
	defaultMaxRequestBodySize = 16 << 20
	// Pyroscope's validation.max-profile-size-bytes default.
	defaultMaxProfileSize = 4 << 20
)

// NewFactory returns the pyroscope receiver factory.
func NewFactory() receiver.Factory {
	return xreceiver.NewFactory(metadata.Type, createDefaultConfig,
		xreceiver.WithProfiles(createProfiles, metadata.ProfilesStability))
}

func createDefaultConfig() component.Config {
	server := confighttp.NewDefaultServerConfig()
	server.NetAddr.Endpoint = defaultEndpoint
	server.MaxRequestBodySize = defaultMaxRequestBodySize
	return &Config{ServerConfig: server, MaxProfileSize: defaultMaxProfileSize}
}

func createProfiles(_ context.Context, set receiver.Settings, cfg component.Config, next xconsumer.Profiles) (xreceiver.Profiles, error) {
	return newReceiver(set, cfg.(*Config), next)
}
