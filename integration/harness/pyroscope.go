package harness

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	pprofconv "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/pprof"
	"go.opentelemetry.io/collector/pdata/pprofile"
	"google.golang.org/protobuf/encoding/protowire"
)

// PyroscopePush is one profile a Pyroscope stand-in stored, decoded.
type PyroscopePush struct {
	// API is "ingest" (POST /ingest) or "push" (the push API).
	API     string
	Name    string // /ingest: as sent, service{labels}
	Service string // service_name (unknown_service when none was sent)
	Labels  map[string]string
	// ProfileName is the push API's __name__ label.
	ProfileName string
	// SpyLabel is the pyroscope_spy label Pyroscope stores: /ingest's
	// spyName, "unknown" when it has none; on the push API the series'
	// pyroscope_spy label, usually none.
	SpyLabel         string
	From, Until      time.Time
	SpyName          string
	SampleRate       string
	SampleTypeConfig string
	// Profile is the stored pprof. Its TimeNanos is the time Pyroscope files
	// it under: the pprof's own, or from when the pprof has none.
	Profile *profile.Profile
	// Raw is the pprof as it arrived (gzipped or not).
	Raw  []byte
	size int
}

// PyroscopeAnswer is one answer of the stand-in to a push that it did not
// store: the HTTP status and the message of its JSON error body.
type PyroscopeAnswer struct {
	Status  int
	Message string
}

// Defaults of Pyroscope's limits (pkg/validation/limits.go, v2.0.6) that the
// stand-in applies as Pyroscope does.
const (
	PyroscopeMaxProfileSize   = 4 << 20   // validation.max-profile-size-bytes
	PyroscopeBodyLimit        = 256 << 20 // distributor.ingestion-body-limit-mb
	PyroscopeRejectOlderThan  = time.Hour // validation.reject-older-than
	PyroscopeRejectNewerThan  = 10 * time.Minute
	PyroscopeIngestionRate    = 4 << 20 // distributor.ingestion-rate-limit-mb, bytes/s
	PyroscopeIngestionBurst   = 2 << 20 // distributor.ingestion-burst-size-mb
	pyroscopeUnavailableError = "rpc error: code = Unavailable desc = service is unavailable"
)

// Pyroscope is a stand-in for Grafana Pyroscope's HTTP ingest endpoint,
// POST /ingest. It mirrors Pyroscope v2.0.6 (github.com/grafana/pyroscope,
// tag v2.0.6):
//
//   - pkg/ingester/pyroscope/ingest_handler.go: the name is parsed first
//     (400); the body is read (413 over the body limit); then the format is
//     chosen in this order: format=trie/tree/lines/jfr/pprof/speedscope from
//     the query win over the Content-Type, and only without one of them is a
//     multipart/form-data body read as a form. So format=pprof with a
//     multipart body parses the whole envelope as pprof and fails. Every
//     error after the body was read is a 422 (the ingestion errors of
//     other formats aside); error bodies are JSON {code, message}
//     (pkg/util/http/error.go).
//   - pkg/og/convert/pprof/profile.go: from a form only the file part
//     "profile" counts (a plain field or an empty one stores nothing and is
//     answered 200), "prev_profile" is refused, "sample_type_config" must be
//     JSON; a pprof without a time (or one in 1970) gets from as its time.
//   - pkg/pprof/pprof.go RawFromBytesWithLimit: gzip or not by its header,
//     decompressed up to max_profile_size_bytes.
//   - pkg/distributor/distributor.go and pkg/validation/validate.go: the
//     per-tenant rate limit (a token bucket over the uncompressed size plus
//     labels), then the ingestion window on the profile's time;
//
// and the push API, push.v1.PusherService/Push (handlePushAPI).
//
// Formats other than pprof are not implemented (the collector sends none);
// the stand-in answers them 422 saying so. SetUnavailable makes it answer
// as Pyroscope does while it shuts down (422, code = Unavailable); SetDown
// makes it drop connections, as a stopped server does.
type Pyroscope struct {
	URL string

	mu          sync.Mutex
	pushes      []PyroscopePush
	answers     []PyroscopeAnswer
	empty       int
	down        bool
	unavailable bool
	rateLimit   bool
	tokens      float64
	lastFill    time.Time
}

// StartPyroscope runs a stand-in on a free loopback port until the test ends.
func StartPyroscope(t testing.TB) *Pyroscope {
	p := &Pyroscope{rateLimit: true, tokens: PyroscopeIngestionBurst, lastFill: time.Now()}
	server := httptest.NewServer(http.HandlerFunc(p.handle))
	t.Cleanup(server.Close)
	p.URL = server.URL
	return p
}

// SetDown makes the stand-in close every connection without an answer
// (down=true), as a stopped Pyroscope does, or accept again.
func (p *Pyroscope) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

// SetUnavailable makes the stand-in answer every push as Pyroscope does
// while it shuts down: 422 with "code = Unavailable" in the message.
func (p *Pyroscope) SetUnavailable(unavailable bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unavailable = unavailable
}

// SetRateLimit turns Pyroscope's default ingestion rate limit (on by
// default, as in Pyroscope) off or on.
func (p *Pyroscope) SetRateLimit(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rateLimit = on
	p.tokens, p.lastFill = PyroscopeIngestionBurst, time.Now()
}

// Pushes returns what was stored so far.
func (p *Pyroscope) Pushes() []PyroscopePush {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]PyroscopePush(nil), p.pushes...)
}

// Answers returns the answers to the pushes that were not stored.
func (p *Pyroscope) Answers() []PyroscopeAnswer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]PyroscopeAnswer(nil), p.answers...)
}

// Refused returns the messages of the pushes answered with an error.
func (p *Pyroscope) Refused() []string {
	var msgs []string
	for _, a := range p.Answers() {
		msgs = append(msgs, fmt.Sprintf("%d %s", a.Status, a.Message))
	}
	return msgs
}

// EmptyPushes counts the pushes answered 200 although they stored nothing
// (a form without a file part "profile"), as Pyroscope answers them.
func (p *Pyroscope) EmptyPushes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.empty
}

// WaitForPushes waits until at least n pushes were stored.
func (p *Pyroscope) WaitForPushes(ctx context.Context, n int) ([]PyroscopePush, error) {
	for {
		pushes := p.Pushes()
		if len(pushes) >= n {
			return pushes, nil
		}
		select {
		case <-ctx.Done():
			return pushes, fmt.Errorf("%d of %d pushes stored (refused: %v; empty: %d)", len(pushes), n, p.Refused(), p.EmptyPushes())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// pyroscopeError is an answer with Pyroscope's JSON error body.
type pyroscopeError struct {
	status int
	msg    string
}

func (e *pyroscopeError) Error() string { return e.msg }

func pyroscopeErrorf(status int, format string, args ...any) *pyroscopeError {
	return &pyroscopeError{status: status, msg: fmt.Sprintf(format, args...)}
}

func (p *Pyroscope) handle(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	down := p.down
	p.mu.Unlock()
	if down {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == PyroscopePushAPIPath {
		p.handlePushAPI(w, r)
		return
	}
	if r.Method != http.MethodPost || (r.URL.Path != "/ingest" && r.URL.Path != "/pyroscope/ingest") {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	push, err := p.ingest(r)
	p.mu.Lock()
	defer p.mu.Unlock()
	var refused *pyroscopeError
	switch {
	case errors.As(err, &refused):
		p.answers = append(p.answers, PyroscopeAnswer{Status: refused.status, Message: refused.msg})
		writePyroscopeError(w, refused)
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	case push == nil:
		p.empty++
	default:
		p.pushes = append(p.pushes, *push)
	}
}

// writePyroscopeError writes the JSON body of Pyroscope's ErrorWithStatus:
// the Connect code its HTTPToCode gives the status, and the message.
func writePyroscopeError(w http.ResponseWriter, e *pyroscopeError) {
	code := map[int]string{400: "invalid_argument", 413: "invalid_argument", 429: "resource_exhausted", 503: "unavailable"}[e.status]
	if code == "" {
		code = "unknown"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": e.msg})
}

// ingest follows Pyroscope's ingest handler and push path. It returns the
// stored push, nil for a push that stored nothing, or a *pyroscopeError.
func (p *Pyroscope) ingest(r *http.Request) (*PyroscopePush, error) {
	q := r.URL.Query()
	push := PyroscopePush{API: "ingest", Name: q.Get("name"), SpyName: q.Get("spyName"), SpyLabel: q.Get("spyName"), SampleRate: q.Get("sampleRate")}
	if push.SpyLabel == "" {
		push.SpyLabel = "unknown"
	}
	var err error
	if push.Service, push.Labels, err = splitName(push.Name); err != nil {
		return nil, pyroscopeErrorf(http.StatusBadRequest, "name: %v", err)
	}
	for key, dst := range map[string]*time.Time{"from": &push.From, "until": &push.Until} {
		*dst = time.Now()
		if v := q.Get(key); v != "" {
			*dst = parseAtTime(v)
		}
	}

	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, PyroscopeBodyLimit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, pyroscopeErrorf(http.StatusRequestEntityTooLarge, "request body too large: %v", err)
		}
		return nil, pyroscopeErrorf(http.StatusRequestTimeout, "error reading request body: %v", err)
	}

	// The decision order of readInputRawDataFromRequest.
	format, contentType := q.Get("format"), r.Header.Get("Content-Type")
	var raw []byte
	switch {
	default:
		return nil, pyroscopeErrorf(http.StatusUnprocessableEntity, "stand-in: the collapsed (groups) format is not implemented")
	case format == "trie", contentType == "binary/octet-stream+trie",
		format == "tree", contentType == "binary/octet-stream+tree",
		format == "lines", format == "jfr", format == "speedscope":
		return nil, pyroscopeErrorf(http.StatusUnprocessableEntity, "stand-in: format %q is not implemented", format)
	case format == "pprof":
		raw = body
	case strings.Contains(contentType, "multipart/form-data"):
		if raw, push.SampleTypeConfig, err = readPprofForm(contentType, body); err != nil {
			return nil, pyroscopeErrorf(http.StatusUnprocessableEntity, "parsing IngestInput-pprof failed failed to parse pprof /ingest multipart form %v", err)
		}
	}
	if len(raw) == 0 {
		return nil, nil // Pyroscope logs "empty profile" and answers 200
	}

	push.Raw = raw
	uncompressed, err := gunzipWithLimit(raw, PyroscopeMaxProfileSize)
	if err == nil {
		push.Profile, err = profile.ParseUncompressed(uncompressed)
	}
	if err != nil {
		return nil, pyroscopeErrorf(http.StatusUnprocessableEntity, "parsing IngestInput-pprof failed invalid_argument: %v", err)
	}
	// fixTime: old SDKs send no time or microseconds.
	if t := time.Unix(0, push.Profile.TimeNanos); push.Profile.TimeNanos == 0 || t.Year() == 1970 {
		push.Profile.TimeNanos = push.From.UnixNano()
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.unavailable {
		return nil, pyroscopeErrorf(http.StatusUnprocessableEntity, "pushing IngestInput-pprof failed %s", pyroscopeUnavailableError)
	}
	if err := p.admit(&push, len(uncompressed)); err != nil {
		return nil, pyroscopeErrorf(http.StatusUnprocessableEntity, "pushing IngestInput-pprof failed push series with index 0 and id  failed: %s: %s", err.code, err.msg)
	}
	return &push, nil
}

// admitError is a refusal of the distributor's pushSeries: a Connect code
// and the message.
type admitError struct{ code, msg string }

// admit applies the distributor's checks on one series in its order
// (pushSeries): the rate limit on the uncompressed size plus labels, then
// ValidateProfile (empty profile, ingestion window on the profile's time,
// which it sets to now when the profile has none). p.mu must be held.
func (p *Pyroscope) admit(push *PyroscopePush, uncompressed int) *admitError {
	size := uncompressed + len(push.Service) + len("service_name") + len(push.ProfileName)
	for k, v := range push.Labels {
		size += len(k) + len(v)
	}
	if p.rateLimit && !p.allow(size) {
		return &admitError{"resource_exhausted", fmt.Sprintf("push rate limit (4.0 MiB) exceeded while adding %.1f KiB", float64(size)/1024)}
	}
	if len(push.Profile.SampleType) == 0 {
		return &admitError{"invalid_argument", "empty profile"}
	}
	now := time.Now()
	if push.Profile.TimeNanos <= 0 {
		push.Profile.TimeNanos = now.UnixNano()
	}
	if t := time.Unix(0, push.Profile.TimeNanos); !t.After(now.Add(-PyroscopeRejectOlderThan)) || !t.Before(now.Add(PyroscopeRejectNewerThan)) {
		return &admitError{"invalid_argument", fmt.Sprintf("profile with labels '{service_name=%q}' is outside of ingestion window (profile timestamp: %s, the ingestion window starts at %s and ends at %s)",
			push.Service, t.UTC().Format(time.RFC3339Nano), now.Add(-PyroscopeRejectOlderThan).UTC().Format(time.RFC3339Nano), now.Add(PyroscopeRejectNewerThan).UTC().Format(time.RFC3339Nano))}
	}
	return nil
}

// PyroscopePushAPIPath is the push API's Connect path.
const PyroscopePushAPIPath = "/push.v1.PusherService/Push"

// connectStatus is the HTTP status of a Connect error code (the Connect
// protocol's mapping, as connect-go answers).
var connectStatus = map[string]int{"invalid_argument": 400, "resource_exhausted": 429, "unavailable": 503, "unknown": 500, "internal": 500, "unimplemented": 501}

func writeConnectError(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(connectStatus[code])
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
}

// handlePushAPI is the push API as Pyroscope v2.0.6 serves it: a connect-go
// unary handler (application/proto, gzip Content-Encoding) calling
// Distributor.Push (pkg/distributor/distributor.go): every sample is
// decompressed within max_profile_size (a validation error, so
// invalid_argument) and parsed (other errors stay unknown, 500); then each
// series gets service_name=unknown_service when it has none and goes
// through pushSeries. connect-go answers the code of the first Connect
// error inside the (unwrappable) multierror.
func (p *Pyroscope) handlePushAPI(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "application/proto" {
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}
	var body io.Reader = http.MaxBytesReader(nil, r.Body, PyroscopeBodyLimit)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			writeConnectError(w, "invalid_argument", "decompress: "+err.Error())
			return
		}
		body = io.LimitReader(zr, PyroscopeBodyLimit)
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		writeConnectError(w, "invalid_argument", err.Error())
		return
	}
	series, err := decodePushRequest(raw)
	if err != nil {
		writeConnectError(w, "invalid_argument", "unmarshal message: "+err.Error())
		return
	}
	refuse := func(status int, code, msg string) {
		p.mu.Lock()
		p.answers = append(p.answers, PyroscopeAnswer{Status: status, Message: msg})
		p.mu.Unlock()
		writeConnectError(w, code, msg)
	}
	var pushes []PyroscopePush
	for _, s := range series {
		for _, sample := range s.Samples {
			push := PyroscopePush{API: "push", Labels: map[string]string{}}
			for k, v := range s.Labels {
				switch k {
				case "service_name":
					push.Service = v
				case "__name__":
					push.ProfileName = v
				case "pyroscope_spy":
					push.SpyLabel = v
				default:
					push.Labels[k] = v
				}
			}
			if push.Service == "" {
				push.Service = "unknown_service"
			}
			uncompressed, err := gunzipWithLimit(sample, PyroscopeMaxProfileSize)
			if err != nil && strings.Contains(err.Error(), "exceeds") {
				refuse(400, "invalid_argument", fmt.Sprintf("uncompressed profile payload size exceeds limit of %d B", PyroscopeMaxProfileSize))
				return
			}
			if err == nil {
				push.Profile, err = profile.ParseUncompressed(uncompressed)
			}
			if err != nil {
				refuse(500, "unknown", err.Error())
				return
			}
			push.size = len(uncompressed)
			push.Raw = sample
			pushes = append(pushes, push)
		}
	}
	if len(pushes) == 0 {
		refuse(400, "invalid_argument", "no profiles received")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.unavailable {
		p.answers = append(p.answers, PyroscopeAnswer{Status: 500, Message: "push series with index 0 and id  failed: " + pyroscopeUnavailableError})
		writeConnectError(w, "unknown", "push series with index 0 and id  failed: "+pyroscopeUnavailableError)
		return
	}
	for i := range pushes {
		if err := p.admit(&pushes[i], pushes[i].size); err != nil {
			p.answers = append(p.answers, PyroscopeAnswer{Status: connectStatus[err.code], Message: err.msg})
			writeConnectError(w, err.code, err.msg)
			return
		}
	}
	p.pushes = append(p.pushes, pushes...)
	w.Header().Set("Content-Type", "application/proto")
	w.WriteHeader(http.StatusOK)
}

// decodePushRequest decodes a push.v1.PushRequest.
func decodePushRequest(b []byte) ([]PushSeries, error) {
	var series []PushSeries
	err := eachBytesField(b, func(num protowire.Number, v []byte) error {
		if num != 1 {
			return nil
		}
		s := PushSeries{Labels: map[string]string{}}
		err := eachBytesField(v, func(num protowire.Number, v []byte) error {
			var name, value string
			var raw []byte
			err := eachBytesField(v, func(n protowire.Number, v []byte) error {
				switch n {
				case 1:
					name, raw = string(v), v
				case 2:
					value = string(v)
				}
				return nil
			})
			switch num {
			case 1:
				s.Labels[name] = value
			case 2:
				s.Samples = append(s.Samples, raw)
			}
			return err
		})
		series = append(series, s)
		return err
	})
	return series, err
}

func eachBytesField(b []byte, fn func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := fn(num, v); err != nil {
			return err
		}
	}
	return nil
}

// allow is the distributor's local rate limiter: a token bucket of
// PyroscopeIngestionBurst bytes filled at PyroscopeIngestionRate.
func (p *Pyroscope) allow(n int) bool {
	now := time.Now()
	p.tokens = min(PyroscopeIngestionBurst, p.tokens+now.Sub(p.lastFill).Seconds()*PyroscopeIngestionRate)
	p.lastFill = now
	if float64(n) > p.tokens {
		return false
	}
	p.tokens -= float64(n)
	return true
}

// readPprofForm reads a form as Pyroscope's loadPprofFromForm does.
func readPprofForm(contentType string, body []byte) (profileBytes []byte, sampleTypeConfig string, err error) {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, "", err
	}
	boundary, ok := params["boundary"]
	if !ok {
		return nil, "", errors.New("malformed multipart content type header")
	}
	form, err := multipart.NewReader(bytes.NewReader(body), boundary).ReadForm(32 << 20)
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = form.RemoveAll() }()
	field := func(name string) ([]byte, error) {
		files := form.File[name]
		if len(files) == 0 || files[0].Size == 0 {
			return nil, nil
		}
		f, err := files[0].Open()
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(f)
	}
	if profileBytes, err = field("profile"); err != nil {
		return nil, "", err
	}
	if prev, err := field("prev_profile"); err != nil || prev != nil {
		return nil, "", errors.New("unsupported client version. Please update github.com/grafana/pyroscope-go to the latest version")
	}
	config, err := field("sample_type_config")
	if err != nil || config == nil {
		return profileBytes, "", err
	}
	var decoded map[string]any
	if err := json.Unmarshal(config, &decoded); err != nil {
		return nil, "", err
	}
	return profileBytes, string(config), nil
}

// gunzipWithLimit is RawFromBytesWithLimit's decompression: data without a
// gzip header is taken as it is; gzip is decompressed up to limit bytes.
func gunzipWithLimit(data []byte, limit int64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.EOF) {
		if int64(len(data)) > limit {
			return nil, fmt.Errorf("decompressed size exceeds maximum allowed size of %d bytes", limit)
		}
		return data, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gzip reset: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, fmt.Errorf("copy to buffer: %w", err)
	}
	if int64(len(out)) > limit {
		return nil, fmt.Errorf("decompressed size exceeds maximum allowed size of %d bytes", limit)
	}
	return out, nil
}

// parseAtTime reads a Unix time as Pyroscope's attime.Parse does: by its
// number of digits (13 milliseconds, 16 microseconds, 19 nanoseconds,
// anything else seconds). Relative times are not implemented.
func parseAtTime(v string) time.Time {
	n, _ := strconv.ParseInt(v, 10, 64)
	switch len(v) {
	case 13:
		return time.UnixMilli(n)
	case 16:
		return time.UnixMicro(n)
	case 19:
		return time.Unix(0, n)
	default:
		return time.Unix(n, 0)
	}
}

// splitName parses service{k=v,...}.
func splitName(name string) (string, map[string]string, error) {
	service, rest, _ := strings.Cut(name, "{")
	if service == "" {
		return "", nil, fmt.Errorf("name %q has no service", name)
	}
	labels := map[string]string{}
	rest = strings.TrimSuffix(rest, "}")
	if rest == "" {
		return service, labels, nil
	}
	for _, pair := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			return "", nil, fmt.Errorf("name %q: bad label %q", name, pair)
		}
		labels[k] = v
	}
	return service, labels, nil
}

// HasFunction reports whether a sample of the profile has name on its stack.
func HasFunction(p *profile.Profile, name string) bool {
	for _, s := range p.Sample {
		for _, loc := range s.Location {
			for _, line := range loc.Line {
				if line.Function != nil && line.Function.Name == name {
					return true
				}
			}
		}
	}
	return false
}

// CPUProfile returns a gzipped pprof CPU profile shaped like Go's runtime
// CPU profiles: sample types samples/count and cpu/nanoseconds, one stack
// main.burn <- main.main.
func CPUProfile(t testing.TB, start time.Time) []byte {
	t.Helper()
	burn := &profile.Function{ID: 1, Name: "main.burn", SystemName: "main.burn", Filename: "main.go"}
	mainFn := &profile.Function{ID: 2, Name: "main.main", SystemName: "main.main", Filename: "main.go"}
	mapping := &profile.Mapping{ID: 1, Start: 0x400000, Limit: 0x500000, File: "/usr/bin/app"}
	burnLoc := &profile.Location{ID: 1, Mapping: mapping, Address: 0x401000, Line: []profile.Line{{Function: burn, Line: 10}}}
	mainLoc := &profile.Location{ID: 2, Mapping: mapping, Address: 0x402000, Line: []profile.Line{{Function: mainFn, Line: 20}}}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		Sample: []*profile.Sample{
			{Location: []*profile.Location{burnLoc, mainLoc}, Value: []int64{90, 900_000_000}},
			{Location: []*profile.Location{mainLoc}, Value: []int64{10, 100_000_000}},
		},
		Mapping:       []*profile.Mapping{mapping},
		Location:      []*profile.Location{burnLoc, mainLoc},
		Function:      []*profile.Function{burn, mainFn},
		TimeNanos:     start.UnixNano(),
		DurationNanos: int64(10 * time.Second),
		PeriodType:    &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:        10_000_000,
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// OTLPCPUProfiles is CPUProfile converted to OTLP profiles by the stock
// translator (as the pyroscope receiver does), with the given resource
// attributes.
func OTLPCPUProfiles(t testing.TB, start time.Time, resource map[string]any) pprofile.Profiles {
	t.Helper()
	parsed, err := profile.ParseData(CPUProfile(t, start))
	if err != nil {
		t.Fatal(err)
	}
	converted, err := pprofconv.ConvertPprofToProfiles(parsed)
	if err != nil {
		t.Fatal(err)
	}
	if err := converted.ResourceProfiles().At(0).Resource().Attributes().FromRaw(resource); err != nil {
		t.Fatal(err)
	}
	return *converted
}

// PushSeries is one series of a push API request.
type PushSeries struct {
	Labels  map[string]string
	Samples [][]byte // pprof
}

// EncodePushRequest builds a push.v1 PushRequest the way pyroscope-rs (the
// engine of the Python SDK) does, with protowire.
func EncodePushRequest(series ...PushSeries) []byte {
	var req []byte
	for _, s := range series {
		var msg []byte
		names := make([]string, 0, len(s.Labels))
		for name := range s.Labels {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			var label []byte
			label = protowire.AppendTag(label, 1, protowire.BytesType)
			label = protowire.AppendString(label, name)
			label = protowire.AppendTag(label, 2, protowire.BytesType)
			label = protowire.AppendString(label, s.Labels[name])
			msg = protowire.AppendTag(msg, 1, protowire.BytesType)
			msg = protowire.AppendBytes(msg, label)
		}
		for _, raw := range s.Samples {
			var sample []byte
			sample = protowire.AppendTag(sample, 1, protowire.BytesType)
			sample = protowire.AppendBytes(sample, raw)
			sample = protowire.AppendTag(sample, 2, protowire.BytesType)
			sample = protowire.AppendString(sample, "5f0c7b0e-0000-4000-8000-000000000000")
			msg = protowire.AppendTag(msg, 2, protowire.BytesType)
			msg = protowire.AppendBytes(msg, sample)
		}
		req = protowire.AppendTag(req, 1, protowire.BytesType)
		req = protowire.AppendBytes(req, msg)
	}
	return req
}
