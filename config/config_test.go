package config_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/otelcol"

	"github.com/otel-ai-collector/otel-ai-collector/components"
	"github.com/otel-ai-collector/otel-ai-collector/config/embeddedprovider"
	"github.com/otel-ai-collector/otel-ai-collector/internal/defaultconfig"
)

// Every shipped configuration, alone or layered as documented, loads and
// validates against the distribution's own factories. (The integration tests
// also run the binary's `validate` on them.)
func TestShippedConfigsValidate(t *testing.T) {
	factories, err := components.Components()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("OTEL_AI_COLLECTOR_STATE_DIR", t.TempDir())
	t.Setenv("OTEL_AI_COLLECTOR_HOSTNAME", "workstation-1")
	t.Setenv("OTEL_AI_COLLECTOR_REMOTE_ENDPOINT", "https://gateway.example:4318")
	t.Setenv("OTEL_AI_COLLECTOR_EBPF_PORTS", "8080")
	t.Setenv("OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT", "http://pyroscope.example:4040")
	// The feature gate and environment the binary sets before loading its configuration.
	if err := defaultconfig.EnableProfiles(); err != nil {
		t.Fatal(err)
	}
	if _, err := defaultconfig.Apply(nil); err != nil {
		t.Fatal(err)
	}

	for name, uris := range map[string][]string{
		"local only":        {"embedded:default.yaml"},
		"gateway":           {"embedded:default.yaml", "embedded:remote.yaml", "embedded:remote-gateway.yaml"},
		"AI traces":         {"embedded:default.yaml", "embedded:remote.yaml", "embedded:ai-traces.yaml", "embedded:remote-gateway.yaml"},
		"AI traces, direct": {"embedded:default.yaml", "embedded:remote.yaml", "embedded:ai-traces.yaml", "file:examples/remote-direct.yaml"},
		"gateway, host":     {"embedded:default.yaml", "embedded:remote.yaml", "embedded:host-metrics.yaml", "embedded:journald.yaml", "embedded:remote-gateway.yaml"},
		"direct example":    {"embedded:default.yaml", "embedded:remote.yaml", "embedded:host-metrics.yaml", "file:examples/remote-direct.yaml"},
		"gRPC gateway":      {"embedded:default.yaml", "embedded:remote.yaml", "embedded:journald.yaml", "file:examples/remote-gateway-grpc.yaml"},
		"profiling":         {"embedded:default.yaml", "embedded:profiling.yaml"},
		"all layers":        {"embedded:default.yaml", "embedded:remote.yaml", "embedded:ai-traces.yaml", "embedded:host-metrics.yaml", "embedded:journald.yaml", "embedded:ebpf.yaml", "embedded:profiling.yaml", "embedded:remote-gateway.yaml"},
	} {
		t.Run(name, func(t *testing.T) {
			provider, err := otelcol.NewConfigProvider(otelcol.ConfigProviderSettings{
				ResolverSettings: confmap.ResolverSettings{
					URIs: uris,
					ProviderFactories: []confmap.ProviderFactory{
						embeddedprovider.NewFactory(), fileprovider.NewFactory(), envprovider.NewFactory(),
					},
					DefaultScheme: "env",
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := provider.Get(context.Background(), factories)
			if err != nil {
				t.Fatal(err)
			}
			if err := confmap.Validate(cfg); err != nil {
				t.Fatal(err)
			}
		})
	}
}
