package harness

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Protocol is an OTLP transport.
type Protocol string

const (
	HTTP Protocol = "http/protobuf"
	GRPC Protocol = "grpc"
)

// SDK is the OpenTelemetry Go SDK exporting all three signals over OTLP to
// one endpoint, as an AI CLI or an instrumented app does. Spans and log
// records are exported synchronously when they end or are emitted, so an
// export call's return can be timed; metrics are exported on Flush.
type SDK struct {
	Tracer trace.Tracer
	Logger log.Logger
	Meter  metric.Meter

	tracerProvider *sdktrace.TracerProvider
	loggerProvider *sdklog.LoggerProvider
	meterProvider  *sdkmetric.MeterProvider
}

// NewSDK exports to endpoint ("host:port", or "http://host:port" for HTTP)
// with a resource holding exactly attrs. It shuts down when the test ends.
func NewSDK(t testing.TB, protocol Protocol, endpoint string, attrs ...attribute.KeyValue) *SDK {
	t.Helper()
	ctx := context.Background()
	hostPort := strings.TrimPrefix(endpoint, "http://")
	res := resource.NewSchemaless(attrs...)

	var (
		spanExporter   sdktrace.SpanExporter
		logExporter    sdklog.Exporter
		metricExporter sdkmetric.Exporter
		err            error
	)
	switch protocol {
	case HTTP:
		spanExporter, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(hostPort), otlptracehttp.WithInsecure())
		check(t, err)
		logExporter, err = otlploghttp.New(ctx, otlploghttp.WithEndpoint(hostPort), otlploghttp.WithInsecure())
		check(t, err)
		metricExporter, err = otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(hostPort), otlpmetrichttp.WithInsecure())
		check(t, err)
	case GRPC:
		spanExporter, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(hostPort), otlptracegrpc.WithInsecure())
		check(t, err)
		logExporter, err = otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(hostPort), otlploggrpc.WithInsecure())
		check(t, err)
		metricExporter, err = otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(hostPort), otlpmetricgrpc.WithInsecure())
		check(t, err)
	default:
		t.Fatalf("unknown protocol %q", protocol)
	}

	s := &SDK{
		tracerProvider: sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSyncer(spanExporter)),
		loggerProvider: sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewSimpleProcessor(logExporter))),
		meterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithResource(res),
			sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricExporter, sdkmetric.WithInterval(time.Hour)))),
	}
	s.Tracer = s.tracerProvider.Tracer("otel-ai-collector/integration")
	s.Logger = s.loggerProvider.Logger("otel-ai-collector/integration")
	s.Meter = s.meterProvider.Meter("otel-ai-collector/integration")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.tracerProvider.Shutdown(ctx)
		_ = s.loggerProvider.Shutdown(ctx)
		_ = s.meterProvider.Shutdown(ctx)
	})
	return s
}

// FlushMetrics exports the metrics recorded so far.
func (s *SDK) FlushMetrics(ctx context.Context) error {
	return s.meterProvider.ForceFlush(ctx)
}

// EmitLog emits one log record and returns once the exporter has sent it.
func (s *SDK) EmitLog(ctx context.Context, body string, attrs ...log.KeyValue) {
	var record log.Record
	record.SetTimestamp(time.Now())
	record.SetObservedTimestamp(time.Now())
	record.SetSeverity(log.SeverityInfo)
	record.SetSeverityText("INFO")
	record.SetBody(log.StringValue(body))
	record.AddAttributes(attrs...)
	s.Logger.Emit(ctx, record)
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// NewMeter returns a meter whose provider exports over OTLP/HTTP to endpoint
// ("http://host:port") with a resource holding exactly attrs, in the given
// temporality for counters and histograms (up-down counters and gauges stay
// cumulative, as the delta preference of the SDK spec has it): delta is what
// Claude Code exports by default (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE
// "delta"). Flush exports what was recorded since the last flush. It shuts down
// when the test ends.
func NewMeter(t testing.TB, endpoint string, temporality metricdata.Temporality, attrs ...attribute.KeyValue) (metric.Meter, func(context.Context) error) {
	t.Helper()
	exporter, err := otlpmetrichttp.New(context.Background(),
		otlpmetrichttp.WithEndpoint(strings.TrimPrefix(endpoint, "http://")), otlpmetrichttp.WithInsecure(),
		otlpmetrichttp.WithTemporalitySelector(func(kind sdkmetric.InstrumentKind) metricdata.Temporality {
			switch kind {
			case sdkmetric.InstrumentKindCounter, sdkmetric.InstrumentKindHistogram, sdkmetric.InstrumentKindObservableCounter:
				return temporality
			}
			return metricdata.CumulativeTemporality
		}))
	check(t, err)
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithResource(resource.NewSchemaless(attrs...)),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exporter, sdkmetric.WithInterval(time.Hour))))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = provider.Shutdown(ctx)
	})
	return provider.Meter("otel-ai-collector/integration"), provider.ForceFlush
}
