package aisessiontracesconnector

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otel-ai-collector/otel-ai-collector/connector/aisessiontracesconnector/internal/metadata"
)

// telemetry is the connector's own metrics (metadata.yaml), exported with
// the collector's as otelcol_connector_ai_session_traces_*.
type telemetry struct {
	meter    metric.Meter
	events   metric.Int64Counter
	spans    metric.Int64Counter
	turns    metric.Int64Counter
	evictedN metric.Int64Counter
	late     metric.Int64Counter

	attrSets sync.Map // attribute.Distinct -> metric.AddOption
}

func newTelemetry(set component.TelemetrySettings) (*telemetry, error) {
	meter := set.MeterProvider.Meter(metadata.ScopeName)
	t := &telemetry{meter: meter}
	var err error
	if t.events, err = meter.Int64Counter("otelcol_connector_ai_session_traces_events",
		metric.WithDescription("AI CLI log events read, by CLI and outcome: span, turn_start, decision, session_end, repeated (a prompt seen before), ignored (not a span), native (the CLI traces the session itself), malformed_<reason>. [ai_session_traces connector]"),
		metric.WithUnit("{event}")); err != nil {
		return nil, err
	}
	if t.spans, err = meter.Int64Counter("otelcol_connector_ai_session_traces_spans",
		metric.WithDescription("Spans emitted, by kind: turn, chat, tool. [ai_session_traces connector]"),
		metric.WithUnit("{span}")); err != nil {
		return nil, err
	}
	if t.turns, err = meter.Int64Counter("otelcol_connector_ai_session_traces_turns_closed",
		metric.WithDescription("Turns whose root span was emitted, by what ended them: next_prompt, session_end, idle, evicted, late, shutdown. [ai_session_traces connector]"),
		metric.WithUnit("{turn}")); err != nil {
		return nil, err
	}
	if t.evictedN, err = meter.Int64Counter("otelcol_connector_ai_session_traces_evicted_sessions",
		metric.WithDescription("Sessions forgotten because max_sessions was reached (least recently active first); their open turn was ended. [ai_session_traces connector]"),
		metric.WithUnit("{session}")); err != nil {
		return nil, err
	}
	if t.late, err = meter.Int64Counter("otelcol_connector_ai_session_traces_late_spans",
		metric.WithDescription("Child spans that arrived after their turn's root was emitted, by CLI: outside the root's time range, marked ai_session.after_root=true. [ai_session_traces connector]"),
		metric.WithUnit("{span}")); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *telemetry) lateSpan(cli string) {
	t.late.Add(context.Background(), 1, t.attributes(attribute.String("cli", cli)))
}

func (t *telemetry) observeSessions(count func() int64) {
	_, _ = t.meter.Int64ObservableGauge("otelcol_connector_ai_session_traces_sessions",
		metric.WithDescription("AI sessions whose state is held (bounded by max_sessions). [ai_session_traces connector]"),
		metric.WithUnit("{session}"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(count())
			return nil
		}))
}

func (t *telemetry) event(ctx context.Context, cli, outcome string) {
	t.events.Add(ctx, 1, t.attributes(attribute.String("cli", cli), attribute.String("outcome", outcome)))
}

func (t *telemetry) span(kind string) {
	t.spans.Add(context.Background(), 1, t.attributes(attribute.String("kind", kind)))
}

func (t *telemetry) turnClosed(reason string) {
	t.turns.Add(context.Background(), 1, t.attributes(attribute.String("reason", reason)))
}

// attributes is the measurement option for an attribute set, made once per
// set: counting an event or a span allocates nothing.
func (t *telemetry) attributes(kv ...attribute.KeyValue) metric.AddOption {
	set := attribute.NewSet(kv...)
	key := set.Equivalent()
	if opt, ok := t.attrSets.Load(key); ok {
		return opt.(metric.AddOption)
	}
	opt, _ := t.attrSets.LoadOrStore(key, metric.WithAttributeSet(set))
	return opt.(metric.AddOption)
}

func (t *telemetry) evicted() { t.evictedN.Add(context.Background(), 1) }
