package besteffortconnector

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otel-ai-collector/otel-ai-collector/connector/besteffortconnector/internal/metadata"
)

// dropper counts and logs what the next pipeline refused. Logging is
// rate-limited: the first drop is logged at once, later ones at most once per
// log interval, with the number dropped since the previous line.
type dropper struct {
	logger   *zap.Logger
	counter  metric.Int64Counter
	unitName string
	interval time.Duration

	mu          sync.Mutex
	lastLog     time.Time
	unlogged    int64
	unloggedErr error
}

func newDropper(set connector.Settings, cfg *Config, metricName, unit, unitName string) (*dropper, error) {
	counter, err := set.TelemetrySettings.MeterProvider.Meter(metadata.ScopeName).Int64Counter(
		"otelcol_"+metricName,
		metric.WithDescription("Items the downstream pipeline refused; dropped without telling the sender. [best_effort connector]"),
		metric.WithUnit(unit),
	)
	if err != nil {
		return nil, err
	}
	return &dropper{logger: set.Logger, counter: counter, unitName: unitName, interval: cfg.LogInterval}, nil
}

// consume runs send and swallows its error.
func (d *dropper) consume(ctx context.Context, items int, send func() error) error {
	if err := send(); err != nil {
		d.dropped(ctx, int64(items), err)
	}
	return nil
}

func (d *dropper) dropped(ctx context.Context, n int64, err error) {
	d.counter.Add(ctx, n)
	d.mu.Lock()
	d.unlogged += n
	d.unloggedErr = err
	if time.Since(d.lastLog) < d.interval {
		d.mu.Unlock()
		return
	}
	n, err = d.unlogged, d.unloggedErr
	d.unlogged, d.unloggedErr, d.lastLog = 0, nil, time.Now()
	d.mu.Unlock()
	d.logger.Warn("Dropped "+d.unitName+" that the next pipeline refused; this path is best effort, so the sender was not asked to retry. "+
		"Check that the destination of the next pipeline's exporter is up.",
		zap.Int64("dropped", n), zap.Duration("log_interval", d.interval), zap.Error(err))
}

func (*dropper) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

func (*dropper) Start(context.Context, component.Host) error { return nil }

func (*dropper) Shutdown(context.Context) error { return nil }

type tracesConnector struct {
	*dropper
	next consumer.Traces
}

func (c *tracesConnector) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	return c.consume(ctx, td.SpanCount(), func() error { return c.next.ConsumeTraces(ctx, td) })
}

type metricsConnector struct {
	*dropper
	next consumer.Metrics
}

func (c *metricsConnector) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	return c.consume(ctx, md.DataPointCount(), func() error { return c.next.ConsumeMetrics(ctx, md) })
}

type logsConnector struct {
	*dropper
	next consumer.Logs
}

func (c *logsConnector) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	return c.consume(ctx, ld.LogRecordCount(), func() error { return c.next.ConsumeLogs(ctx, ld) })
}
