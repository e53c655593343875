package profileforwardingprocessor

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/pprof/profile"
	pprofconv "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/pprof"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pprofile"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/otel-ai-collector/otel-ai-collector/internal/pyroscopeattr"
)

// pyroscopePush is one POST to Pyroscope's /ingest.
type pyroscopePush struct {
	name    string // service{labels}
	service string
	labels  map[string]string
	// profileName is the push API's __name__ of a profile the pyroscope
	// receiver got on the push API: such a push goes on by the push API,
	// so that Pyroscope stores it as it would have from the SDK (the
	// /ingest path would add a pyroscope_spy=unknown label).
	profileName      string
	from, until      time.Time
	spyName          string
	sampleRate       int64
	units            string
	aggregationType  string
	sampleTypeConfig string
	pprof            []byte // gzipped pprof
	uncompressedSize int    // of the pprof, for size refusals
	// converted is the pprof before it is gzipped into pprof, while
	// pushes of one service are merged.
	converted *profile.Profile
}

// maxAnswerQuoted is how much of Pyroscope's answer an error quotes.
const maxAnswerQuoted = 1024

// forwarder turns OTLP profiles into Pyroscope pushes and sends them.
type forwarder struct {
	naming  *naming
	ingest  *url.URL
	pushAPI *url.URL
	client  *http.Client
	logger  *zap.Logger
	// dropped counts pushes Pyroscope refused for good, by reason.
	dropped metric.Int64Counter
}

// countDropped counts and logs a push Pyroscope refused for good; the
// exporterhelper logs the error itself when it drops the request.
func (f *forwarder) countDropped(ctx context.Context, reason string) {
	if f.dropped != nil {
		f.dropped.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", reason)))
	}
	if f.logger != nil && reason == reasonTooOld {
		f.logger.Warn("Pyroscope refused a profile outside its ingestion window; it is dropped. Pyroscope accepts profiles up to validation.reject-older-than (1h by default) old, so profiles held back by a longer outage are lost unless it is raised.")
	}
}

// pushes converts one request's profiles: a push per resource and scope, as
// pprof holding every profile (sample type) of that scope, which is how the
// pyroscope receiver received it. A scope whose profiles differ in their
// samples (as OTLP profilers may send) is pushed one profile at a time.
func (f *forwarder) pushes(pd pprofile.Profiles) ([]pyroscopePush, error) {
	var pushes []pyroscopePush
	var errs []error
	single := pd.ResourceProfiles().Len() == 1 && pd.ResourceProfiles().At(0).ScopeProfiles().Len() == 1
	for _, rp := range pd.ResourceProfiles().All() {
		attrs := rp.Resource().Attributes()
		service, labels := f.naming.serviceName(attrs), f.naming.labels(attrs)
		name := appName(service, labels)
		for _, sp := range rp.ScopeProfiles().All() {
			if raw, ok := sp.Scope().Attributes().Get(pyroscopeattr.Pprof); ok && raw.Type() == pcommon.ValueTypeBytes {
				pushes = append(pushes, passThroughPush(name, service, labels, sp.Scope().Attributes(), raw.Bytes().AsRaw()))
				continue
			}
			if sp.Profiles().Len() == 0 {
				continue
			}
			scoped := pd
			if !single {
				scoped = extractScope(pd, rp.Resource(), sp)
			}
			converted, err := toPprof(scoped)
			if err == nil {
				pushes = append(pushes, f.newPush(name, service, labels, sp, sp.Profiles().At(0), converted))
				continue
			}
			// One push per profile (sample type) instead.
			for i := range sp.Profiles().Len() {
				one := extractProfile(pd, rp.Resource(), sp, i)
				converted, err := toPprof(one)
				if err != nil {
					errs = append(errs, fmt.Errorf("profile of %s cannot be turned into pprof: %w", name, err))
					continue
				}
				pushes = append(pushes, f.newPush(name, service, labels, sp, sp.Profiles().At(i), converted))
			}
		}
	}
	return mergeByService(pushes), errors.Join(errs...)
}

// mergeByService makes one push of the converted pushes that Pyroscope would
// file under the same series (name, spy, rate, units, aggregation, sample
// type config), so a request holding many processes of one service (the
// eBPF profiler's report, split per service by ConsumeProfiles) is one push,
// not one per process. Profiles that pprof cannot merge (other sample types)
// stay separate pushes. Then every converted push is gzipped.
func mergeByService(pushes []pyroscopePush) []pyroscopePush {
	type key struct {
		name, profileName, spy, units, aggregation, config string
		rate                                               int64
	}
	index := make(map[key]int)
	var out []pyroscopePush
	for _, push := range pushes {
		if push.converted == nil {
			out = append(out, push)
			continue
		}
		k := key{push.name, push.profileName, push.spyName, push.units, push.aggregationType, push.sampleTypeConfig, push.sampleRate}
		i, seen := index[k]
		if !seen {
			index[k] = len(out)
			out = append(out, push)
			continue
		}
		into := &out[i]
		merged, err := profile.Merge([]*profile.Profile{into.converted, push.converted})
		if err != nil {
			out = append(out, push)
			continue
		}
		if push.from.Before(into.from) {
			into.from = push.from
		}
		if push.until.After(into.until) {
			into.until = push.until
		}
		// Merge adds durations up; the merged profile spans the range.
		merged.TimeNanos = into.from.UnixNano()
		merged.DurationNanos = into.until.Sub(into.from).Nanoseconds()
		into.converted = merged
	}
	for i := range out {
		if out[i].converted != nil {
			out[i] = out[i].withPprof(out[i].converted)
			out[i].converted = nil
		}
	}
	return out
}

// describedPush is a push with what the pyroscope receiver recorded about
// the SDK's push on the scope: spy, rate, config, __name__, from and until.
func describedPush(name, service string, labels map[string]string, scope pcommon.Map) pyroscopePush {
	push := pyroscopePush{
		name:             name,
		service:          service,
		labels:           labels,
		profileName:      stringAttr(scope, pyroscopeattr.ProfileName),
		spyName:          stringAttr(scope, pyroscopeattr.SpyName),
		units:            stringAttr(scope, pyroscopeattr.Units),
		aggregationType:  stringAttr(scope, pyroscopeattr.AggregationType),
		sampleTypeConfig: stringAttr(scope, pyroscopeattr.SampleTypeConfig),
	}
	if v, ok := scope.Get(pyroscopeattr.SampleRate); ok {
		push.sampleRate = v.Int()
	}
	if v, ok := scope.Get(pyroscopeattr.From); ok && v.Int() > 0 {
		push.from = time.Unix(0, v.Int())
	}
	if v, ok := scope.Get(pyroscopeattr.Until); ok && v.Int() > 0 {
		push.until = time.Unix(0, v.Int())
	}
	return push
}

// passThroughPush is a push the pyroscope receiver passed through
// undecoded (pass_through_pprof): the SDK's pprof bytes go on unchanged,
// with the same parameters, under the service name and labels (host.name
// added) the processor gives it.
func passThroughPush(name, service string, labels map[string]string, scope pcommon.Map, pprof []byte) pyroscopePush {
	push := describedPush(name, service, labels, scope)
	push.pprof = pprof
	push.uncompressedSize = len(pprof)
	if len(pprof) >= 18 && pprof[0] == 0x1f && pprof[1] == 0x8b {
		// The gzip trailer's ISIZE, which the receiver checked.
		push.uncompressedSize = int(binary.LittleEndian.Uint32(pprof[len(pprof)-4:]))
	}
	return push
}

func (f *forwarder) newPush(name, service string, labels map[string]string, sp pprofile.ScopeProfiles, first pprofile.Profile, converted *profile.Profile) pyroscopePush {
	scope := sp.Scope().Attributes()
	push := describedPush(name, service, labels, scope)
	if push.sampleRate == 0 && converted.Period > 0 && converted.PeriodType != nil && converted.PeriodType.Unit == "nanoseconds" {
		push.sampleRate = int64(time.Second) / converted.Period
	}
	// Pyroscope files the profile under the pprof's time (set from the
	// profile's); from and until only stand in when the pprof has none. A
	// push from the pyroscope receiver gets its own from and until back.
	push.converted = converted
	if !push.from.IsZero() && !push.until.Before(push.from) {
		return push
	}
	push.from = first.Time().AsTime()
	if first.Time() == 0 {
		push.from = time.Now()
	}
	push.until = push.from.Add(time.Duration(first.DurationNano()))
	if !push.until.After(push.from) {
		// Pyroscope wants a range; a point in time becomes one second.
		push.until = push.from.Add(time.Second)
	}
	return push
}

// withPprof sets the push's pprof: converted, gzipped.
func (push pyroscopePush) withPprof(converted *profile.Profile) pyroscopePush {
	// gzip at its fastest level: for a 10 s Go CPU profile it took the whole
	// conversion from 5.5 to 4.6 ms for output 11% larger (29.7 vs 26.8 KB;
	// BenchmarkForwardProfile/convert).
	// Writing to a bytes.Buffer cannot fail.
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	counted := &countingWriter{w: zw}
	_ = converted.WriteUncompressed(counted)
	_ = zw.Close()
	push.pprof = buf.Bytes()
	push.uncompressedSize = counted.n
	return push
}

// send posts one push the way the Pyroscope Go SDK does: the pprof and the
// sample type config as multipart file parts (Pyroscope reads only file
// parts), the rest in the query.
func (f *forwarder) send(ctx context.Context, push pyroscopePush) error {
	if push.profileName != "" {
		return f.do(ctx, push, f.pushAPI.String(), "application/proto", encodePushRequest(push))
	}
	var body bytes.Buffer
	form := multipart.NewWriter(&body)
	part, err := form.CreateFormFile("profile", "profile.pprof")
	if err != nil {
		return consumererror.NewPermanent(err)
	}
	_, _ = part.Write(push.pprof)
	if push.sampleTypeConfig != "" {
		part, err = form.CreateFormFile("sample_type_config", "sample_type_config.json")
		if err != nil {
			return consumererror.NewPermanent(err)
		}
		_, _ = part.Write([]byte(push.sampleTypeConfig))
	}
	if err := form.Close(); err != nil {
		return consumererror.NewPermanent(err)
	}

	query := url.Values{}
	query.Set("name", push.name)
	// Without them (a passed-through push that had none) Pyroscope takes
	// the time it receives the push, as it would have from the SDK.
	if !push.from.IsZero() {
		query.Set("from", strconv.FormatInt(push.from.UnixNano(), 10))
	}
	if !push.until.IsZero() {
		query.Set("until", strconv.FormatInt(push.until.UnixNano(), 10))
	}
	// No format parameter: Pyroscope's ingest handler
	// (pkg/ingester/pyroscope/ingest_handler.go) checks format before the
	// Content-Type, so format=pprof would make it parse the multipart
	// envelope as a pprof and refuse it (422). The Go SDK sends none either.
	// Without a spy name Pyroscope records "unknown", as for any client
	// that sends none; a made-up one could trigger its per-spy fixes.
	if push.spyName != "" {
		query.Set("spyName", push.spyName)
	}
	if push.sampleRate > 0 {
		query.Set("sampleRate", strconv.FormatInt(push.sampleRate, 10))
	}
	if push.units != "" {
		query.Set("units", push.units)
	}
	if push.aggregationType != "" {
		query.Set("aggregationType", push.aggregationType)
	}
	target := *f.ingest
	target.RawQuery = query.Encode()

	return f.do(ctx, push, target.String(), form.FormDataContentType(), body.Bytes())
}

// encodePushRequest is the push API body for a push: one series with the
// labels __name__, service_name and the push's labels, one sample.
func encodePushRequest(push pyroscopePush) []byte {
	label := func(msg []byte, name, value string) []byte {
		var pair []byte
		pair = protowire.AppendTag(pair, 1, protowire.BytesType)
		pair = protowire.AppendString(pair, name)
		pair = protowire.AppendTag(pair, 2, protowire.BytesType)
		pair = protowire.AppendString(pair, value)
		msg = protowire.AppendTag(msg, 1, protowire.BytesType)
		return protowire.AppendBytes(msg, pair)
	}
	var series []byte
	series = label(series, "__name__", push.profileName)
	series = label(series, "service_name", push.service)
	keys := make([]string, 0, len(push.labels))
	for k := range push.labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		series = label(series, k, push.labels[k])
	}
	var sample []byte
	sample = protowire.AppendTag(sample, 1, protowire.BytesType)
	sample = protowire.AppendBytes(sample, push.pprof)
	series = protowire.AppendTag(series, 2, protowire.BytesType)
	series = protowire.AppendBytes(series, sample)
	var req []byte
	req = protowire.AppendTag(req, 1, protowire.BytesType)
	return protowire.AppendBytes(req, series)
}

// do posts one push and turns Pyroscope's answer into nil, a retryable
// error or a permanent one.
func (f *forwarder) do(ctx context.Context, push pyroscopePush, target, contentType string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return consumererror.NewPermanent(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("pushing %s to Pyroscope: %w", push.name, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswerQuoted))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	reason, retry := classifyAnswer(resp.StatusCode, answer)
	err = fmt.Errorf("pushing %s: Pyroscope answered %s: %s", push.name, resp.Status, strings.TrimSpace(string(answer)))
	switch reason {
	case reasonTooOld:
		err = fmt.Errorf("%w (Pyroscope refuses profiles older than its validation.reject-older-than, 1h by default, or newer than validation.reject-newer-than, 10m; raise reject-older-than, e.g. -validation.reject-older-than=24h, to deliver what a longer outage held back)", err)
	case reasonTooLarge:
		err = fmt.Errorf("%w (the profile is larger uncompressed than Pyroscope's validation.max-profile-size-bytes, 4 MiB by default; raise it to accept such profiles)", err)
	case reasonRateLimited:
		if push.uncompressedSize > pyroscopeDefaultBurst {
			err = fmt.Errorf("%w (the profile is %d bytes uncompressed, more than Pyroscope's default burst of %d: unless distributor.ingestion-burst-size-mb was raised it is refused on every retry)", err, push.uncompressedSize, pyroscopeDefaultBurst)
		}
	}
	if !retry {
		f.countDropped(ctx, reason)
		return consumererror.NewPermanent(err)
	}
	return err
}

// Why Pyroscope refused a push, as counted in
// otelcol_processor_profile_forwarding_dropped_pushes.
const (
	reasonTooOld          = "outside_ingestion_window"
	reasonTooLarge        = "too_large"
	reasonRateLimited     = "rate_limited"
	reasonUnavailable     = "unavailable"
	reasonRefused         = "refused"
	reasonUnconvertible   = "unconvertible"
	reasonServerError     = "server_error"
	pyroscopeDefaultBurst = 2 << 20 // distributor.ingestion-burst-size-mb
)

// classifyAnswer tells from Pyroscope's answer whether a push may succeed
// later. Pyroscope's /ingest answers 422 for nearly everything that goes
// wrong after the body was read (pkg/ingester/pyroscope/ingest_handler.go,
// v2.0.6): a malformed profile, but also its rate limit, its ingestion window
// and its own shutdown ("rpc error: code = Unavailable"). The JSON body's
// message carries the distributor's error, which tells them apart.
func classifyAnswer(status int, answer []byte) (reason string, retry bool) {
	var body struct{ Code, Message string }
	msg := string(answer)
	if json.Unmarshal(answer, &body) == nil && body.Message != "" {
		msg = body.Message
	}
	switch {
	case strings.Contains(msg, "outside of ingestion window"):
		return reasonTooOld, false
	case status == http.StatusRequestEntityTooLarge,
		strings.Contains(msg, "decompressed size exceeds"),
		strings.Contains(msg, "exceeds the size limit"),
		strings.Contains(msg, "payload size exceeds limit"):
		return reasonTooLarge, false
	case status >= 500, status == http.StatusTooManyRequests, status == http.StatusRequestTimeout:
		return reasonServerError, true
	case strings.Contains(msg, "resource_exhausted:"), strings.Contains(msg, "code = ResourceExhausted"),
		strings.Contains(msg, "push rate limit"), body.Code == "resource_exhausted":
		return reasonRateLimited, true
	case strings.Contains(msg, "unavailable:"), strings.Contains(msg, "code = Unavailable"),
		strings.Contains(msg, "deadline_exceeded:"), strings.Contains(msg, "code = DeadlineExceeded"),
		body.Code == "unavailable", body.Code == "deadline_exceeded":
		return reasonUnavailable, true
	}
	return reasonRefused, false
}

// push is the exporter's push function: convert, then send every push. A
// transient failure returns at once so that the queue retries the request;
// pushes Pyroscope already took are then sent again, which only happens for
// requests with several resources or scopes (one push per Pyroscope SDK push
// never does).
func (f *forwarder) push(ctx context.Context, pd pprofile.Profiles) error {
	pushes, convErr := f.pushes(pd)
	var permanent []error
	if convErr != nil {
		permanent = append(permanent, convErr)
		f.countDropped(ctx, reasonUnconvertible)
	}
	for _, push := range pushes {
		if err := f.send(ctx, push); err != nil {
			if !consumererror.IsPermanent(err) {
				return err
			}
			permanent = append(permanent, err)
		}
	}
	if len(permanent) > 0 {
		return consumererror.NewPermanent(errors.Join(permanent...))
	}
	return nil
}

// toPprof runs the stock translator. It indexes the dictionary tables without
// bounds checks, so a profile with a stale index (as a buggy profiler may send
// over OTLP) would panic and take the collector down; that profile is refused
// instead.
func toPprof(pd pprofile.Profiles) (converted *profile.Profile, err error) {
	defer func() {
		if r := recover(); r != nil {
			converted, err = nil, fmt.Errorf("malformed profile (an index points outside the dictionary): %v", r)
		}
	}()
	return pprofconv.ConvertPprofileToPprof(&pd)
}

// extractScope copies one resource's scope into Profiles of its own, with
// the dictionary its indices point into.
func extractScope(pd pprofile.Profiles, resource pcommon.Resource, sp pprofile.ScopeProfiles) pprofile.Profiles {
	out := pprofile.NewProfiles()
	pd.Dictionary().CopyTo(out.Dictionary())
	rp := out.ResourceProfiles().AppendEmpty()
	resource.CopyTo(rp.Resource())
	sp.CopyTo(rp.ScopeProfiles().AppendEmpty())
	return out
}

// extractProfile is extractScope for a single profile of the scope.
func extractProfile(pd pprofile.Profiles, resource pcommon.Resource, sp pprofile.ScopeProfiles, i int) pprofile.Profiles {
	out := pprofile.NewProfiles()
	pd.Dictionary().CopyTo(out.Dictionary())
	rp := out.ResourceProfiles().AppendEmpty()
	resource.CopyTo(rp.Resource())
	osp := rp.ScopeProfiles().AppendEmpty()
	sp.Scope().CopyTo(osp.Scope())
	sp.Profiles().At(i).CopyTo(osp.Profiles().AppendEmpty())
	return out
}

type countingWriter struct {
	w io.Writer
	n int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += n
	return n, err
}

func stringAttr(m pcommon.Map, key string) string {
	if v, ok := m.Get(key); ok {
		return v.AsString()
	}
	return ""
}
