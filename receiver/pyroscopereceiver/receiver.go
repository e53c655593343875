package pyroscopereceiver

import (
	"context"
	"encoding/json"
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
	"go.opentelemetry.io/collector/config/confighttp"
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
	accepted, err := meter.Int64Counter("otelcol_receiver_pyroscope_accepted_pushes",
		metric.WithDescription("Pyroscope pushes turned into profiles and accepted by the pipeline."),
		metric.WithUnit("{push}"))
	if err != nil {
		return nil, err
	}
	refused, err := meter.Int64Counter("otelcol_receiver_pyroscope_refused_pushes",
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
	mux.HandleFunc(pushAPIPath, r.handlePush)
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		http.Error(w, fmt.Sprintf("%s is not served here: this Pyroscope-compatible receiver takes POST /ingest and POST %s", req.URL.Path, pushAPIPath), http.StatusNotFound)
	})

	listener, err := r.cfg.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("pyroscope receiver cannot listen on %s: %w (is another Pyroscope or agent using it? set endpoint to a free address)", r.cfg.NetAddr.Endpoint, err)
	}
	r.server, err = r.cfg.ToServer(ctx, host.GetExtensions(), r.set.TelemetrySettings, mux,
		confighttp.WithErrorHandler(r.decompressionError))
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
	err := requirePost(w, req)
	var body []byte
	if err == nil {
		body, err = readBody(req)
	}
	var push *ingestRequest
	if err == nil {
		push, err = parseIngest(req.URL.Query(), req.Header.Get("Content-Type"), body, r.sizeLimit())
	}
	if err == nil {
		err = r.consume(req.Context(), []*ingestRequest{push})
	}
	if err != nil {
		http.Error(w, err.Error(), r.failure(req.Context(), err))
		return
	}
	// The Go SDK treats anything but 200 as a failed upload.
	w.WriteHeader(http.StatusOK)
}

// handlePush serves the push API as a Connect unary endpoint: 200 with an
// empty PushResponse, or a Connect error (JSON code and message).
func (r *pyroscopeReceiver) handlePush(w http.ResponseWriter, req *http.Request) {
	err := requirePost(w, req)
	var body []byte
	if err == nil {
		body, err = readBody(req)
	}
	var pushes []*ingestRequest
	if err == nil {
		pushes, err = parsePushRequest(req.Header.Get("Content-Type"), body, r.sizeLimit())
	}
	if err == nil {
		err = r.consume(req.Context(), pushes)
	}
	if err != nil {
		writeConnectError(w, r.failure(req.Context(), err), err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/proto")
	w.WriteHeader(http.StatusOK)
}

// sizeLimit is a request's budget of decompressed pprof: max_profile_size
// per profile, max_request_body_size (at least one profile) for all of them.
func (r *pyroscopeReceiver) sizeLimit() *sizeLimit {
	return &sizeLimit{perProfile: r.cfg.MaxProfileSize, total: max(r.cfg.MaxProfileSize, r.cfg.MaxRequestBodySize), keepRaw: r.cfg.PassThroughPprof}
}

// decompressionError answers a body whose Content-Encoding confighttp could
// not decode: counted as refused like any malformed push, and on the push API
// as a Connect error, as Pyroscope's Connect handler answers it.
func (r *pyroscopeReceiver) decompressionError(w http.ResponseWriter, req *http.Request, msg string, status int) {
	err := badRequest(status, "the request body cannot be decompressed: %s", msg)
	status = r.failure(req.Context(), err)
	if req.URL.Path == pushAPIPath {
		writeConnectError(w, status, err.Error())
		return
	}
	http.Error(w, err.Error(), status)
}

func requirePost(w http.ResponseWriter, req *http.Request) error {
	if req.Method == http.MethodPost {
		return nil
	}
	w.Header().Set("Allow", http.MethodPost)
	return badRequest(http.StatusMethodNotAllowed, "use POST to push profiles to %s", req.URL.Path)
}

// readBody reads a request body within max_request_body_size.
func readBody(req *http.Request) ([]byte, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, badRequest(http.StatusRequestEntityTooLarge, "the push is larger than max_request_body_size (%d bytes)", tooLarge.Limit)
		}
		return nil, badRequest(http.StatusBadRequest, "reading the request body failed: %v", err)
	}
	return body, nil
}

// pipelineError is a push the pipeline refused.
type pipelineError struct {
	service string
	err     error
}

func (e *pipelineError) Error() string {
	return "the collector could not accept the profile of " + e.service + ": " + e.err.Error()
}

// consume converts every push first, so that a malformed one refuses the
// request before any reached the pipeline, then hands each to the pipeline.
// Should the pipeline refuse a later sample of a push API request with
// several, the request is refused and the sender's retry repeats the ones
// before it; the SDKs send one sample per request.
func (r *pyroscopeReceiver) consume(ctx context.Context, pushes []*ingestRequest) error {
	batches := make([]pprofile.Profiles, len(pushes))
	for i, push := range pushes {
		if push.profile == nil {
			batches[i] = toPassThrough(push)
			continue
		}
		profiles, err := toProfiles(push, time.Now())
		if err != nil {
			return badRequest(http.StatusBadRequest, "the profile of %s cannot be represented as OTLP profiles: %v", push.serviceName, err)
		}
		batches[i] = profiles
	}
	for i, profiles := range batches {
		if err := r.next.ConsumeProfiles(ctx, profiles); err != nil {
			return &pipelineError{service: pushes[i].serviceName, err: err}
		}
	}
	r.accepted.Add(ctx, int64(len(pushes)))
	return nil
}

// failure counts and logs a refused request and returns its HTTP status:
// the 4xx of a malformed push (logged at debug: the sender gets the
// reason), else 503 for a retryable pipeline error and 500 for a permanent
// one.
func (r *pyroscopeReceiver) failure(ctx context.Context, err error) int {
	var bad *badRequestError
	if errors.As(err, &bad) {
		r.refused.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", "bad_request")))
		r.set.Logger.Debug("Pyroscope push refused", zap.Int("status", bad.status), zap.String("reason", bad.msg))
		return bad.status
	}
	r.refused.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", "pipeline")))
	r.set.Logger.Warn("Pyroscope push refused by the pipeline", zap.Error(err))
	var refused *pipelineError
	if errors.As(err, &refused) && consumererror.IsPermanent(refused.err) {
		return http.StatusInternalServerError
	}
	return http.StatusServiceUnavailable
}

// writeConnectError answers as a Connect server does: the HTTP status and a
// JSON body with the Connect code and the message.
func writeConnectError(w http.ResponseWriter, status int, msg string) {
	code := "internal"
	switch status {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType:
		code = "invalid_argument"
	case http.StatusRequestEntityTooLarge:
		code = "resource_exhausted"
	case http.StatusMethodNotAllowed:
		code = "unimplemented"
	case http.StatusServiceUnavailable:
		code = "unavailable"
	}
	body, _ := json.Marshal(map[string]string{"code": code, "message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
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
	scope := resource.ScopeProfiles().At(0)
	describePush(push, resource.Resource().Attributes(), scope.Scope())

	// Pyroscope files a profile under the pprof's own time, and under the
	// push's from only when the pprof has none or one in 1970 (old SDKs
	// sent microseconds): fixTime in pkg/og/convert/pprof/profile.go,
	// v2.0.6. Heap profiles, for one, carry the time they were taken, the
	// end of the push's range. The duration is the pprof's too.
	start := time.Unix(0, push.profile.TimeNanos)
	if push.profile.TimeNanos == 0 || start.Year() == 1970 {
		start = push.from
	}
	if start.IsZero() {
		start = received
	}
	duration := time.Duration(push.profile.DurationNanos)
	if duration <= 0 && !push.from.IsZero() && push.until.After(push.from) {
		duration = push.until.Sub(push.from)
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

// toPassThrough is a push as pass_through_pprof hands it on: the resource
// and scope of toProfiles, no profiles, and the pprof as the SDK sent it in
// the scope attribute pyroscope.pprof, for profile_forwarding to send on
// unchanged.
func toPassThrough(push *ingestRequest) pprofile.Profiles {
	profiles := pprofile.NewProfiles()
	resource := profiles.ResourceProfiles().AppendEmpty()
	scope := resource.ScopeProfiles().AppendEmpty()
	describePush(push, resource.Resource().Attributes(), scope.Scope())
	scope.Scope().Attributes().PutEmptyBytes(pyroscopeattr.Pprof).FromRaw(push.raw)
	return profiles
}

// describePush records a push's service, labels and parameters on the
// resource and scope of the profiles made of it.
func describePush(push *ingestRequest, attrs pcommon.Map, scope pcommon.InstrumentationScope) {
	if push.serviceName != "" {
		attrs.PutStr("service.name", push.serviceName)
	}
	for _, key := range sortedLabelKeys(push.labels) {
		attrs.PutStr(key, push.labels[key])
	}
	scope.SetName(metadata.ScopeName)
	scopeAttrs := scope.Attributes()
	putIfSet(scopeAttrs, pyroscopeattr.SpyName, push.spyName)
	if push.sampleRate > 0 {
		scopeAttrs.PutInt(pyroscopeattr.SampleRate, push.sampleRate)
	}
	putIfSet(scopeAttrs, pyroscopeattr.Units, push.units)
	putIfSet(scopeAttrs, pyroscopeattr.AggregationType, push.aggregationType)
	putIfSet(scopeAttrs, pyroscopeattr.SampleTypeConfig, string(push.sampleTypeConfig))
	putIfSet(scopeAttrs, pyroscopeattr.ProfileName, push.profileName)
	if !push.from.IsZero() {
		scopeAttrs.PutInt(pyroscopeattr.From, push.from.UnixNano())
	}
	if !push.until.IsZero() {
		scopeAttrs.PutInt(pyroscopeattr.Until, push.until.UnixNano())
	}
}

func putIfSet(m pcommon.Map, key, value string) {
	if value != "" {
		m.PutStr(key, value)
	}
}
