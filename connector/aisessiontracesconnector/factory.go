// Package aisessiontracesconnector is the ai_session_traces connector: it
// turns the log events of AI coding CLIs (Claude Code, Codex, Gemini CLI)
// into one trace per turn, with a span per model call and per tool run,
// following the OpenTelemetry GenAI semantic conventions. See README.md.
package aisessiontracesconnector

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"

	"github.com/otel-ai-collector/otel-ai-collector/connector/aisessiontracesconnector/internal/metadata"
)

// NewFactory returns the ai_session_traces connector factory.
func NewFactory() connector.Factory {
	return connector.NewFactory(
		metadata.Type,
		createDefaultConfig,
		connector.WithLogsToTraces(createLogsToTraces, metadata.LogsToTracesStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{TurnIdleTimeout: 30 * time.Second, ModelCallTimeout: 10 * time.Minute, MaxSessions: 1000}
}

func createLogsToTraces(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Traces) (connector.Logs, error) {
	return newConnector(set, cfg.(*Config), next)
}
