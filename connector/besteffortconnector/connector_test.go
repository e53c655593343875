package besteffortconnector

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otel-ai-collector/otel-ai-collector/connector/besteffortconnector/internal/metadata"
)

type setup struct {
	telemetry *componenttest.Telemetry
	logs      *observer.ObservedLogs
}

func newSetup(t *testing.T) (setup, func() connector.Settings) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	core, logs := observer.New(zap.WarnLevel)
	return setup{tel, logs}, func() connector.Settings {
		set := connectortest.NewNopSettings(metadata.Type)
		set.TelemetrySettings = tel.NewTelemetrySettings()
		set.Logger = zap.New(core)
		return set
	}
}

func counterValue(t *testing.T, tel *componenttest.Telemetry, name string) int64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	if err != nil {
		t.Fatalf("metric %s: %v", name, err)
	}
	var total int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		total += dp.Value
	}
	return total
}

func twoSpans() ptrace.Traces {
	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	spans.AppendEmpty().SetName("a")
	spans.AppendEmpty().SetName("b")
	return td
}

func TestPassesDataThroughUnchanged(t *testing.T) {
	_, settings := newSetup(t)
	ctx := context.Background()
	sink := new(consumertest.TracesSink)
	conn, err := NewFactory().CreateTracesToTraces(ctx, settings(), createDefaultConfig(), sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.ConsumeTraces(ctx, twoSpans()); err != nil {
		t.Fatal(err)
	}
	if got := sink.SpanCount(); got != 2 {
		t.Errorf("next consumer got %d spans, want 2", got)
	}
	if conn.Capabilities().MutatesData {
		t.Error("declares MutatesData: would force a copy in the fan-out for nothing")
	}
}

func TestSwallowsCountsAndLogsRefusals(t *testing.T) {
	s, settings := newSetup(t)
	ctx := context.Background()
	refused := consumertest.NewErr(errors.New("sending queue is full"))
	factory := NewFactory()
	cfg := &Config{LogInterval: time.Hour}

	traces, err := factory.CreateTracesToTraces(ctx, settings(), cfg, refused)
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := factory.CreateMetricsToMetrics(ctx, settings(), cfg, refused)
	if err != nil {
		t.Fatal(err)
	}
	logs, err := factory.CreateLogsToLogs(ctx, settings(), cfg, refused)
	if err != nil {
		t.Fatal(err)
	}

	for range 3 {
		if err := traces.ConsumeTraces(ctx, twoSpans()); err != nil {
			t.Fatalf("error reached the sender: %v", err)
		}
	}
	md := pmetric.NewMetrics()
	md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty()
	if err := metrics.ConsumeMetrics(ctx, md); err != nil {
		t.Fatalf("error reached the sender: %v", err)
	}
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	if err := logs.ConsumeLogs(ctx, ld); err != nil {
		t.Fatalf("error reached the sender: %v", err)
	}

	for name, want := range map[string]int64{
		"otelcol_connector_best_effort_dropped_spans":         6,
		"otelcol_connector_best_effort_dropped_metric_points": 1,
		"otelcol_connector_best_effort_dropped_log_records":   1,
	} {
		if got := counterValue(t, s.telemetry, name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}

	// One line per signal for the first drop; the next two trace drops fall
	// inside the hour-long interval and are only counted.
	entries := s.logs.FilterMessageSnippet("Dropped spans").All()
	if len(entries) != 1 {
		t.Fatalf("%d log lines for dropped spans, want 1 (rate-limited)", len(entries))
	}
	fields := entries[0].ContextMap()
	if fields["dropped"] != int64(2) || fields["error"] != "sending queue is full" {
		t.Errorf("log fields %v, want dropped=2 and the refusal's error", fields)
	}
}

func TestLogLineReportsDropsSinceThePreviousLine(t *testing.T) {
	s, settings := newSetup(t)
	ctx := context.Background()
	conn, err := NewFactory().CreateTracesToTraces(ctx, settings(), &Config{LogInterval: 50 * time.Millisecond},
		consumertest.NewErr(errors.New("connection refused")))
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.ConsumeTraces(ctx, twoSpans()) // logged at once: 2
	_ = conn.ConsumeTraces(ctx, twoSpans()) // within the interval: held
	_ = conn.ConsumeTraces(ctx, twoSpans()) // held
	time.Sleep(60 * time.Millisecond)
	_ = conn.ConsumeTraces(ctx, twoSpans()) // logged with the held ones: 6

	entries := s.logs.All()
	if len(entries) != 2 {
		t.Fatalf("%d log lines, want 2", len(entries))
	}
	if got := entries[1].ContextMap()["dropped"]; got != int64(6) {
		t.Errorf("second line reports dropped=%v, want 6", got)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := createDefaultConfig().(*Config).Validate(); err != nil {
		t.Errorf("default config invalid: %v", err)
	}
	if err := (&Config{}).Validate(); err == nil {
		t.Error("zero log_interval accepted")
	}
	if err := componenttest.CheckConfigStruct(createDefaultConfig()); err != nil {
		t.Error(err)
	}
}

var _ consumer.Traces = (*tracesConnector)(nil)
