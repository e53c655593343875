// Package orderedfanoutconnector is a connector that passes data to the
// pipelines it feeds one after the other in a configured order, so that a
// fast pipeline never waits behind a slow one. See README.md for why.
package orderedfanoutconnector

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pipeline"

	"github.com/otel-ai-collector/otel-ai-collector/connector/orderedfanoutconnector/internal/metadata"
)

// NewFactory returns the ordered_fanout connector factory.
func NewFactory() connector.Factory {
	return connector.NewFactory(
		metadata.Type,
		func() component.Config { return &Config{} },
		connector.WithTracesToTraces(createTraces, metadata.TracesToTracesStability),
		connector.WithMetricsToMetrics(createMetrics, metadata.MetricsToMetricsStability),
		connector.WithLogsToLogs(createLogs, metadata.LogsToLogsStability),
	)
}

func createTraces(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Traces) (connector.Traces, error) {
	router, ok := next.(connector.TracesRouterAndConsumer)
	if !ok {
		return nil, fmt.Errorf("%s: the collector gave no traces router", set.ID)
	}
	f, err := buildFanout(set, cfg.(*Config), pipeline.SignalTraces, router.PipelineIDs(), router.Consumer,
		consumer.Traces.ConsumeTraces, tracesData)
	if err != nil {
		return nil, err
	}
	return &tracesConnector{fanout: f}, nil
}

func createMetrics(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Metrics) (connector.Metrics, error) {
	router, ok := next.(connector.MetricsRouterAndConsumer)
	if !ok {
		return nil, fmt.Errorf("%s: the collector gave no metrics router", set.ID)
	}
	f, err := buildFanout(set, cfg.(*Config), pipeline.SignalMetrics, router.PipelineIDs(), router.Consumer,
		consumer.Metrics.ConsumeMetrics, metricsData)
	if err != nil {
		return nil, err
	}
	return &metricsConnector{fanout: f}, nil
}

func createLogs(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Logs) (connector.Logs, error) {
	router, ok := next.(connector.LogsRouterAndConsumer)
	if !ok {
		return nil, fmt.Errorf("%s: the collector gave no logs router", set.ID)
	}
	f, err := buildFanout(set, cfg.(*Config), pipeline.SignalLogs, router.PipelineIDs(), router.Consumer,
		consumer.Logs.ConsumeLogs, logsData)
	if err != nil {
		return nil, err
	}
	return &logsConnector{fanout: f}, nil
}

// buildFanout builds one signal's fan-out over the pipelines the connector
// feeds: their call order, each one's consumer, and cfg's selection for the
// listed ones.
func buildFanout[D any, C consumerWithCapabilities](set connector.Settings, cfg *Config, signal pipeline.Signal,
	fed []pipeline.ID, lookup func(...pipeline.ID) (C, error), consume func(C, context.Context, D) error, ops dataOps[D],
) (*fanout[D], error) {
	order, err := callOrder(set.ID, cfg, signal, fed)
	if err != nil {
		return nil, err
	}
	targets, err := targetsFor(order, func(id pipeline.ID) (C, error) { return lookup(id) }, consume)
	if err != nil {
		return nil, err
	}
	if cfg.Select == nil {
		return newFanout(targets, 0, nil, nil, ops), nil
	}
	matcher, err := cfg.Select.matcher()
	if err != nil {
		return nil, err
	}
	listed := 0
	for _, p := range cfg.Order {
		if p.Signal() == signal {
			listed++
		}
	}
	var rep *reporter
	if matcher.report != nil {
		if rep, err = newReporter(set.TelemetrySettings, signal, matcher.hint); err != nil {
			return nil, err
		}
	}
	return newFanout(targets, listed, matcher, rep, ops), nil
}

// Each signal's data operations, for the shared fan-out.
var (
	tracesData = dataOps[ptrace.Traces]{
		clone:        func(d ptrace.Traces) ptrace.Traces { c := ptrace.NewTraces(); d.CopyTo(c); return c },
		isReadOnly:   ptrace.Traces.IsReadOnly,
		markReadOnly: ptrace.Traces.MarkReadOnly,
		selectResources: func(d ptrace.Traces, keep func(held) bool) (out ptrace.Traces, found bool) {
			for _, rs := range d.ResourceSpans().All() {
				if keep(heldSpans(rs)) {
					if !found {
						out, found = ptrace.NewTraces(), true
					}
					rs.CopyTo(out.ResourceSpans().AppendEmpty())
				}
			}
			return out, found
		},
	}
	metricsData = dataOps[pmetric.Metrics]{
		clone:        func(d pmetric.Metrics) pmetric.Metrics { c := pmetric.NewMetrics(); d.CopyTo(c); return c },
		isReadOnly:   pmetric.Metrics.IsReadOnly,
		markReadOnly: pmetric.Metrics.MarkReadOnly,
		selectResources: func(d pmetric.Metrics, keep func(held) bool) (out pmetric.Metrics, found bool) {
			for _, rm := range d.ResourceMetrics().All() {
				if keep(heldMetrics(rm)) {
					if !found {
						out, found = pmetric.NewMetrics(), true
					}
					rm.CopyTo(out.ResourceMetrics().AppendEmpty())
				}
			}
			return out, found
		},
	}
	logsData = dataOps[plog.Logs]{
		clone:        func(d plog.Logs) plog.Logs { c := plog.NewLogs(); d.CopyTo(c); return c },
		isReadOnly:   plog.Logs.IsReadOnly,
		markReadOnly: plog.Logs.MarkReadOnly,
		selectResources: func(d plog.Logs, keep func(held) bool) (out plog.Logs, found bool) {
			for _, rl := range d.ResourceLogs().All() {
				if keep(heldLogs(rl)) {
					if !found {
						out, found = plog.NewLogs(), true
					}
					rl.CopyTo(out.ResourceLogs().AppendEmpty())
				}
			}
			return out, found
		},
	}
)
