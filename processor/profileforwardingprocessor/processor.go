package profileforwardingprocessor

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/xconsumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"
	"go.opentelemetry.io/collector/exporter/xexporter"
	"go.opentelemetry.io/collector/pdata/pprofile"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/metric"

	"github.com/otel-ai-collector/otel-ai-collector/processor/profileforwardingprocessor/internal/metadata"
)

// forwardingProcessor hands each batch to its Pyroscope sender (an
// exporterhelper exporter, for the same queue, retries and metrics as the
// stock exporters) and then to the next consumer, unchanged.
type forwardingProcessor struct {
	cfg       *Config
	set       processor.Settings
	next      xconsumer.Profiles
	forwarder *forwarder
	sender    xexporter.Profiles
	// inMemoryQueue means the sender keeps a reference to what it is given,
	// while the next consumer may change it: it must get its own copy. A
	// persistent queue serializes the batch before ConsumeProfiles returns.
	inMemoryQueue bool
}

func newProcessor(ctx context.Context, set processor.Settings, cfg *Config, next xconsumer.Profiles) (*forwardingProcessor, error) {
	ingest, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	pushAPI := *ingest
	ingest.Path = path.Join(ingest.Path, "ingest")
	pushAPI.Path = path.Join(pushAPI.Path, "push.v1.PusherService", "Push")

	hostName := cfg.HostName
	if hostName == "" {
		if hostName, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("cannot read this machine's hostname for the host.name label (set host_name): %w", err)
		}
	}
	exclude := make(map[string]bool, len(cfg.ExcludeResourceAttributes))
	for _, key := range cfg.ExcludeResourceAttributes {
		exclude[key] = true
	}
	dropped, err := set.TelemetrySettings.MeterProvider.Meter(metadata.ScopeName).Int64Counter(
		"otelcol_processor_profile_forwarding_dropped_pushes",
		metric.WithDescription("Pushes Pyroscope refused for good and the processor dropped, by reason (outside_ingestion_window, too_large, refused, unconvertible)."),
		metric.WithUnit("{push}"))
	if err != nil {
		return nil, err
	}
	p := &forwardingProcessor{
		cfg:  cfg,
		set:  set,
		next: next,
		forwarder: &forwarder{
			naming:  &naming{defaultServiceName: cfg.DefaultServiceName, hostName: hostName, exclude: exclude, procRoot: "/proc"},
			ingest:  ingest,
			pushAPI: &pushAPI,
			logger:  set.Logger,
			dropped: dropped,
		},
		inMemoryQueue: cfg.QueueConfig.HasValue() && cfg.QueueConfig.Get().StorageID == nil,
	}
	p.sender, err = xexporterhelper.NewProfiles(ctx,
		exporter.Settings{ID: set.ID, TelemetrySettings: set.TelemetrySettings, BuildInfo: set.BuildInfo},
		cfg, p.forwarder.push,
		exporterhelper.WithQueue(cfg.QueueConfig),
		exporterhelper.WithRetry(cfg.RetryConfig),
		// The HTTP client's own timeout bounds each push.
		exporterhelper.WithTimeout(exporterhelper.TimeoutConfig{Timeout: 0}),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
	)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (p *forwardingProcessor) Start(ctx context.Context, host component.Host) error {
	client, err := p.cfg.ToClient(ctx, host.GetExtensions(), p.set.TelemetrySettings)
	if err != nil {
		return fmt.Errorf("profile_forwarding: HTTP client for %s: %w", p.cfg.Endpoint, err)
	}
	p.forwarder.client = client
	// Starting the sender opens the persistent queue and resumes sending
	// what an earlier run left in it.
	return p.sender.Start(ctx, host)
}

func (p *forwardingProcessor) Shutdown(ctx context.Context) error {
	return p.sender.Shutdown(ctx)
}

func (p *forwardingProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// ConsumeProfiles queues the profiles for Pyroscope first: if the queue
// refuses them (full), nothing went downstream yet, so the sender's retry
// does not duplicate them there. Then the profiles go on unchanged.
func (p *forwardingProcessor) ConsumeProfiles(ctx context.Context, pd pprofile.Profiles) error {
	toPyroscope := pd
	if p.inMemoryQueue {
		toPyroscope = pprofile.NewProfiles()
		pd.CopyTo(toPyroscope)
	}
	if err := p.sender.ConsumeProfiles(ctx, toPyroscope); err != nil {
		return fmt.Errorf("queueing profiles for Pyroscope: %w", err)
	}
	return p.next.ConsumeProfiles(ctx, pd)
}
