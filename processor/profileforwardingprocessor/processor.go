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
	// selection narrows the eBPF profiler's processes; nil: all.
	selection *selection
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
		selection:     newSelection(cfg.ProfilerSelection, "/proc"),
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
//
// A batch of several resources (the eBPF profiler's report: one resource
// per process) is queued as one request per Pyroscope series, so that each
// becomes one push (the forwarder merges the processes of a service) and a
// retry resends only that service's push, never others Pyroscope already
// took.
func (p *forwardingProcessor) ConsumeProfiles(ctx context.Context, pd pprofile.Profiles) error {
	if pd.ResourceProfiles().Len() > 1 || (p.selection != nil && pd.ResourceProfiles().Len() == 1 && fromProfiler(pd.ResourceProfiles().At(0))) {
		groups, err := p.splitBySeries(pd)
		if err != nil {
			return fmt.Errorf("splitting profiles by service for Pyroscope: %w", err)
		}
		for _, group := range groups {
			if err := p.sender.ConsumeProfiles(ctx, group); err != nil {
				return fmt.Errorf("queueing profiles for Pyroscope: %w", err)
			}
		}
		return p.next.ConsumeProfiles(ctx, pd)
	}
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

// splitBySeries groups a batch's resources by the Pyroscope series
// (service{labels}) they are filed under. Each group is a copy holding only
// the dictionary entries its own resources use (pprofile's MergeTo), so the
// queue does not store the whole host's dictionary once per service. The
// service name is decided now, while the processes still run (their systemd
// unit and script are read from /proc), and kept as service.name for the
// push, which may be sent after a restart.
func (p *forwardingProcessor) splitBySeries(pd pprofile.Profiles) ([]pprofile.Profiles, error) {
	index := make(map[string]int)
	var members [][]int
	services := make([]string, pd.ResourceProfiles().Len())
	for r, rp := range pd.ResourceProfiles().All() {
		if !p.selection.selects(rp) {
			continue
		}
		attrs := rp.Resource().Attributes()
		services[r] = p.forwarder.naming.serviceName(attrs)
		name := appName(services[r], p.forwarder.naming.labels(attrs))
		i, ok := index[name]
		if !ok {
			i = len(members)
			index[name] = i
			members = append(members, nil)
		}
		members[i] = append(members[i], r)
	}
	groups := make([]pprofile.Profiles, 0, len(members))
	for _, resources := range members {
		src := pprofile.NewProfiles()
		pd.Dictionary().CopyTo(src.Dictionary())
		for _, r := range resources {
			copied := src.ResourceProfiles().AppendEmpty()
			pd.ResourceProfiles().At(r).CopyTo(copied)
			copied.Resource().Attributes().PutStr(attrServiceName, services[r])
		}
		group := newProfilesWithDictionary()
		if err := src.MergeTo(group); err != nil {
			return nil, err
		}
		groups = append(groups, group)
	}
	return groups, nil
}

// newProfilesWithDictionary is empty Profiles whose dictionary tables hold
// their required zero value at index 0, as OTLP profiles must.
func newProfilesWithDictionary() pprofile.Profiles {
	out := pprofile.NewProfiles()
	dict := out.Dictionary()
	dict.StringTable().Append("")
	dict.MappingTable().AppendEmpty()
	dict.LocationTable().AppendEmpty()
	dict.FunctionTable().AppendEmpty()
	dict.LinkTable().AppendEmpty()
	dict.AttributeTable().AppendEmpty()
	dict.StackTable().AppendEmpty()
	return out
}
