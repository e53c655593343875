// Package besteffortconnector is a connector that passes data to the next
// pipeline and never returns that pipeline's errors to the sender. Drops are
// counted and logged instead. See README.md for why it exists.
package besteffortconnector

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"

	"github.com/otel-ai-collector/otel-ai-collector/connector/besteffortconnector/internal/metadata"
)

// NewFactory returns the best_effort connector factory.
func NewFactory() connector.Factory {
	return connector.NewFactory(
		metadata.Type,
		createDefaultConfig,
		connector.WithTracesToTraces(createTraces, metadata.TracesToTracesStability),
		connector.WithMetricsToMetrics(createMetrics, metadata.MetricsToMetricsStability),
		connector.WithLogsToLogs(createLogs, metadata.LogsToLogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{LogInterval: 10 * time.Second}
}

func createTraces(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Traces) (connector.Traces, error) {
	d, err := newDropper(set, cfg.(*Config), "connector_best_effort_dropped_spans", "{span}", "spans")
	if err != nil {
		return nil, err
	}
	return &tracesConnector{dropper: d, next: next}, nil
}

func createMetrics(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Metrics) (connector.Metrics, error) {
	d, err := newDropper(set, cfg.(*Config), "connector_best_effort_dropped_metric_points", "{datapoint}", "metric data points")
	if err != nil {
		return nil, err
	}
	return &metricsConnector{dropper: d, next: next}, nil
}

func createLogs(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Logs) (connector.Logs, error) {
	d, err := newDropper(set, cfg.(*Config), "connector_best_effort_dropped_log_records", "{record}", "log records")
	if err != nil {
		return nil, err
	}
	return &logsConnector{dropper: d, next: next}, nil
}
