//go:build !linux || !amd64

package ebpfreceiver

import (
	"errors"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
)

// SDKName marks the receiver's spans (resource telemetry.sdk.name).
const SDKName = "otel-ai-collector-ebpf"

func newReceiver(receiver.Settings, *Config, consumer.Traces) (receiver.Traces, error) {
	return nil, errors.New("ebpf_network runs on Linux amd64 only (its BPF objects are built for x86_64)")
}
