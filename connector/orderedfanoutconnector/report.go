package orderedfanoutconnector

import (
	"context"
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pipeline"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otel-ai-collector/otel-ai-collector/connector/orderedfanoutconnector/internal/metadata"
)

// reporter counts the resources that select.report_unselected matches but
// the selection leaves out, and logs the first one: an operator who
// narrowed the selection learns what it now misses, once, not per request.
type reporter struct {
	logger  *zap.Logger
	counter metric.Int64Counter
	signal  metric.AddOption
	hint    string
	logged  atomic.Bool
}

func newReporter(set component.TelemetrySettings, signal pipeline.Signal, hint string) (*reporter, error) {
	counter, err := set.MeterProvider.Meter(metadata.ScopeName).Int64Counter("otelcol_connector_ordered_fanout_unselected_resources",
		metric.WithDescription("Resources that select.report_unselected matches but the selection leaves out, by signal. [ordered_fanout connector]"),
		metric.WithUnit("{resource}"))
	if err != nil {
		return nil, err
	}
	return &reporter{
		logger: set.Logger, counter: counter, hint: hint,
		signal: metric.WithAttributeSet(attribute.NewSet(attribute.String("signal", signal.String()))),
	}, nil
}

func (r *reporter) unselected(res pcommon.Resource) {
	r.counter.Add(context.Background(), 1, r.signal)
	if r.logged.Swap(true) {
		return
	}
	name, _ := res.Attributes().Get("service.name")
	r.logger.Warn("Telemetry that matches select.report_unselected is left out of the selected pipelines (logged once; counted in otelcol_connector_ordered_fanout_unselected_resources)",
		zap.String("service.name", name.AsString()), zap.String("hint", r.hint))
}
