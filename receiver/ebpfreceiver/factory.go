// Package ebpfreceiver is the ebpf_network receiver: spans for the network
// activity of selected local processes, observed with eBPF, without changes
// to those processes. See README.md.
package ebpfreceiver

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/otel-ai-collector/otel-ai-collector/receiver/ebpfreceiver/internal/metadata"
)

// NewFactory returns the ebpf_network receiver factory.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(metadata.Type, createDefaultConfig,
		receiver.WithTraces(createTraces, metadata.TracesStability))
}

func createDefaultConfig() component.Config {
	return &Config{
		HTTP:                  HTTPConfig{Enabled: true, MaxTargetLength: 256, IdleTimeout: time.Second},
		RefreshInterval:       5 * time.Second,
		MaxTrackedConnections: 16384,
	}
}

func createTraces(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Traces) (receiver.Traces, error) {
	return newReceiver(set, cfg.(*Config), next)
}
