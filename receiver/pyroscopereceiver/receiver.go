package pyroscopereceiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	pprofconv "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/pprof"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/xconsumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pprofile"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otel-ai-collector/otel-ai-collector/internal/pyroscopeattr"
	"github.com/otel-ai-collector/otel-ai-collector/receiver/pyroscopereceiver/internal/metadata"
)

type pyroscopeReceiver struct {
	cfg    *Config
	set    receiver.Settings
	next   xconsumer.Profiles
	server *http.Server
	wg     sync.WaitGroup

	accepted metric.Int64Counter
	refused  metric.Int64Counter
}

func newReceiver(set receiver.Settings, cfg *Config, next xconsumer.Profiles) (*pyroscopeReceiver, error) {
	meter := set.TelemetrySettings.MeterProvider.Meter(metadata.ScopeName)
	accepted, err := meter.Int64Counter("receiver_pyroscope_accepted_pushes",
		metric.WithDescription("Pyroscope pushes turned into profiles and accepted by the pipeline."),
		metric.WithUnit("{push}"))
	if err != nil {
		return nil, err
	}
	refused, err := meter.Int64Counter("receiver_pyroscope_refused_pushes",
		metric.WithDescription("Pyroscope pushes answered with an error, by reason (bad_request or pipeline)."),
		metric.WithUnit("{push}"))
	if err != nil {
		return nil, err
	}
	return &pyroscopeReceiver{cfg: cfg, set: set, next: next, accepted: accepted, refused: refused}, nil
}

func (r *pyroscopeReceiver) Start(ctx context.Context, host component.Host) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/ingest", r.handleIngest)
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		http.Error(w, fmt.Sprintf("%s is not served here: this Pyroscope-compatible receiver only takes POST /ingest", req.URL.Path), http.StatusNotFound)
	})

	listener, err := r.cfg.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("pyroscope receiver cannot listen on %s: %w (is another Pyroscope or agent using it? set endpoint to a free address)", r.cfg.NetAddr.Endpoint, err)
	}
	r.server, err = r.cfg.ToServer(ctx, host.GetExtensions(), r.set.TelemetrySettings, mux)
	if err != nil {
		_ = listener.Close()
		return err
	}
	r.set.Logger.Info("Pyroscope ingest endpoint listening", zap.String("endpoint", listener.Addr().String()))
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := r.server.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	return nil
}

func (r *pyroscopeReceiver) Shutdown(ctx context.Context) error {
	if r.server == nil {
		return nil
	}
	err := r.server.Shutdown(ctx)
	r.wg.Wait()
	return err
}

func (r *pyroscopeReceiver) handleIngest(w http.ResponseWriter, req *http.Request) {
	ctx := req.Context()
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.refuse(ctx, w, "bad_request", http.StatusMethodNotAllowed, "use POST to push profiles to /ingest")
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			r.refuse(ctx, w, "bad_request", http.StatusRequestEntityTooLarge,
				fmt.Sprintf("the push is larger than max_request_body_size (%d bytes)", tooLarge.Limit))
			return
		}
		r.refuse(ctx, w, "bad_request", http.StatusBadRequest, "reading the request body failed: "+err.Error())
		return
	}
	push, err := parseIngest(req.URL.Query(), req.Header.Get("Content-Type"), body)
	if err != nil {
		var bad *badRequestError
		if errors.As(err, &bad) {
			r.refuse(ctx, w, "bad_request", bad.status, bad.msg)
			return
		}
		r.refuse(ctx, w, "bad_request", http.StatusBadRequest, err.Error())
		return
	}
	profiles, err := toProfiles(push, time.Now())
	if err != nil {
		r.refuse(ctx, w, "bad_request", http.StatusBadRequest, "the profile cannot be represented as OTLP profiles: "+err.Error())
		return
	}
	if err := r.next.ConsumeProfiles(ctx, profiles); err != nil {
		status := http.StatusServiceUnavailable
		if consumererror.IsPermanent(err) {
			status = http.StatusInternalServerError
		}
		r.set.Logger.Warn("Pyroscope push refused by the pipeline",
			zap.String("service", push.serviceName), zap.Error(err))
		r.refuse(ctx, w, "pipeline", status, "the collector could not accept the profile: "+err.Error())
		return
	}
	r.accepted.Add(ctx, 1)
	// The Go SDK treats anything but 200 as a failed upload.
	w.WriteHeader(http.StatusOK)
}

func (r *pyroscopeReceiver) refuse(ctx context.Context, w http.ResponseWriter, reason string, status int, msg string) {
	r.refused.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", reason)))
	if reason == "bad_request" {
		r.set.Logger.Debug("Pyroscope push refused", zap.Int("status", status), zap.String("reason", msg))
	}
	http.Error(w, msg, status)
}

// toProfiles converts a parsed push into OTLP profiles: one resource with
// service.name and the push's labels, one scope describing the push, and one
// profile per pprof sample type (the translator's mapping).
func toProfiles(push *ingestRequest, received time.Time) (pprofile.Profiles, error) {
	converted, err := pprofconv.ConvertPprofToProfiles(push.profile)
	if err != nil {
		return pprofile.Profiles{}, err
	}
	profiles := *converted
	resource := profiles.ResourceProfiles().At(0)
	attrs := resource.Resource().Attributes()
	attrs.PutStr("service.name", push.serviceName)
	for _, key := range sortedLabelKeys(push.labels) {
		attrs.PutStr(key, push.labels[key])
	}

	scope := resource.ScopeProfiles().At(0)
	scope.Scope().SetName(metadata.ScopeName)
	scopeAttrs := scope.Scope().Attributes()
	putIfSet(scopeAttrs, pyroscopeattr.SpyName, push.spyName)
	if push.sampleRate > 0 {
		scopeAttrs.PutInt(pyroscopeattr.SampleRate, push.sampleRate)
	}
	putIfSet(scopeAttrs, pyroscopeattr.Units, push.units)
	putIfSet(scopeAttrs, pyroscopeattr.AggregationType, push.aggregationType)
	putIfSet(scopeAttrs, pyroscopeattr.SampleTypeConfig, string(push.sampleTypeConfig))

	// The push's from/until are the time range Pyroscope files the profile
	// under; they win over the pprof's own fields, which some SDKs leave zero.
	start := push.from
	if start.IsZero() && push.profile.TimeNanos > 0 {
		start = time.Unix(0, push.profile.TimeNanos)
	}
	if start.IsZero() {
		start = received
	}
	var duration time.Duration
	switch {
	case !push.until.IsZero():
		duration = push.until.Sub(start)
	case push.profile.DurationNanos > 0:
		duration = time.Duration(push.profile.DurationNanos)
	}
	if duration < 0 {
		duration = 0
	}
	for _, p := range scope.Profiles().All() {
		p.SetTime(pcommon.NewTimestampFromTime(start))
		p.SetDurationNano(uint64(duration))
	}
	return profiles, nil
}

func putIfSet(m pcommon.Map, key, value string) {
	if value != "" {
		m.PutStr(key, value)
	}
}
