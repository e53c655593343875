package harness

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Loki is a stand-in for Grafana Loki's native OTLP endpoint,
// POST /otlp/v1/logs, as Loki v3.7.6 handles it with its default limits. It
// mirrors, in Loki's order:
//
//   - pkg/distributor/http.go pushHandler: a request without a tenant
//     (X-Scope-OrgID, auth_enabled: true) or that cannot be parsed (content
//     encoding other than gzip or none, content type other than protobuf or
//     JSON, bad body) is answered 400 and nothing is stored.
//   - pkg/loghttp/push/otlp.go otlpToLokiPushRequest: the resource
//     attributes of distributor.otlp.default_resource_attributes_as_index_labels
//     (service.name, service.instance.id, ...) become the stream's labels, every
//     other attribute structured metadata (names with '.' as '_'), with
//     severity_number, severity_text and observed_timestamp; the line is the
//     body as a string.
//   - pkg/distributor/distributor.go PushWithResolver and validator.go
//     ValidateLabels, per stream before its entries: a stream with more
//     label names than max_label_names_per_series (15; service_name not
//     counted) is refused whole, all its entries, with one message naming
//     the stream ("entry for stream '...' has N label names; limit 15").
//   - validator.go ValidateEntry: each entry is checked on its own, in this order:
//     timestamp older than reject_old_samples_max_age (7d), newer than
//     creation_grace_period (10m), line longer than max_line_size (256KB,
//     which dskit's flagext.ByteSize reads as 262144 bytes), structured
//     metadata over 64KB or 128 entries. Refused entries are left out, the
//     others are stored, and if any was refused the whole request is answered
//     400 with the refusals' messages grouped as pkg/util/errors.go
//     GroupedErrors formats them ("N errors like: ..." joined by "; "), the
//     formats of pkg/validation/validate.go. No valid entry and no refusal:
//     204.
//   - pkg/loghttp/push/push.go OTLPError: the status code in the header
//     (500 answered as 503) and a protobuf google.rpc.Status with code 0 and
//     the message as the body, with no Content-Type of its own (it sets one
//     after WriteHeader).
//   - pkg/distributor/field_detection.go: detected_level from a
//     severity_text-like field (normalized: "err" is error, "warning" warn,
//     an unknown value kept as it is), else from severity_number.
//
// Not mirrored: rate and stream limits (429), label-length limits, max_line_size_truncate, detecting the level from the line's text,
// service name discovery from other labels.
type Loki struct {
	URL string

	// Limits, Loki's defaults unless a test changes them before pushing.
	MaxLabelNamesPerSeries       int
	MaxLineSize                  int
	RejectOldSamplesMaxAge       time.Duration
	CreationGracePeriod          time.Duration
	MaxStructuredMetadataSize    int
	MaxStructuredMetadataEntries int

	mu      sync.Mutex
	entries []LokiEntry
	answers []LokiAnswer
}

// LokiEntry is one stored log line.
type LokiEntry struct {
	Stream   map[string]string // index labels
	Metadata map[string]string // structured metadata, with detected_level
	Line     string
	Time     time.Time
}

// LokiAnswer is one answer the stand-in gave.
type LokiAnswer struct {
	Status  int
	Message string
	Stored  int
}

// lokiIndexLabels is Loki's default list of resource attributes stored as
// index labels (pkg/loghttp/push/otlp_config.go, GlobalOTLPConfig).
var lokiIndexLabels = []string{
	"service.name", "service.namespace", "service.instance.id", "deployment.environment",
	"deployment.environment.name", "cloud.region", "cloud.availability_zone", "k8s.cluster.name",
	"k8s.namespace.name", "k8s.pod.name", "k8s.container.name", "container.name",
	"k8s.replicaset.name", "k8s.deployment.name", "k8s.statefulset.name", "k8s.daemonset.name",
	"k8s.cronjob.name", "k8s.job.name",
}

// lokiLevelFields are validation.DefaultAllowedLevelFields.
var lokiLevelFields = []string{
	"level", "LEVEL", "Level", "log.level", "severity", "SEVERITY", "Severity", "SeverityText",
	"lvl", "LVL", "Lvl", "severity_text", "Severity_Text", "SEVERITY_TEXT",
}

// StartLoki starts a Loki stand-in on a free loopback port.
func StartLoki(t testing.TB) *Loki {
	t.Helper()
	l := &Loki{
		MaxLabelNamesPerSeries:       15,
		MaxLineSize:                  256 << 10,
		RejectOldSamplesMaxAge:       7 * 24 * time.Hour,
		CreationGracePeriod:          10 * time.Minute,
		MaxStructuredMetadataSize:    64 << 10,
		MaxStructuredMetadataEntries: 128,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /otlp/v1/logs", l.push)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	l.URL = srv.URL
	return l
}

// Entries returns what Loki stored.
func (l *Loki) Entries() []LokiEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.entries)
}

// Answers returns the answers given so far.
func (l *Loki) Answers() []LokiAnswer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.answers)
}

func (l *Loki) answer(w http.ResponseWriter, code int, msg string, stored int) {
	l.mu.Lock()
	l.answers = append(l.answers, LokiAnswer{Status: code, Message: msg, Stored: stored})
	l.mu.Unlock()
	if code == http.StatusNoContent {
		w.WriteHeader(code)
		return
	}
	if code == http.StatusInternalServerError {
		code = http.StatusServiceUnavailable
	}
	body, _ := proto.Marshal(status.New(0, msg).Proto())
	// OTLPError sets its Content-Type after WriteHeader, where net/http
	// ignores it; the server sniffs one from the body instead.
	w.WriteHeader(code)
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(body)
}

func (l *Loki) push(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Scope-OrgID") == "" {
		l.answer(w, http.StatusBadRequest, "no org id", 0)
		return
	}
	ld, err := readOTLPLogs(r)
	if err != nil {
		l.answer(w, http.StatusBadRequest, err.Error(), 0)
		return
	}

	now := time.Now()
	var refused []string
	var stored []LokiEntry
	refusedStreams := map[string]bool{}
	for _, rl := range ld.ResourceLogs().All() {
		stream := map[string]string{}
		var resourceMeta [][2]string
		for k, v := range rl.Resource().Attributes().All() {
			if slices.Contains(lokiIndexLabels, k) {
				stream[lokiLabelName(k)] = v.AsString()
			} else {
				resourceMeta = append(resourceMeta, [2]string{lokiLabelName(k), v.AsString()})
			}
		}
		labels := lokiLabelsString(stream)
		names := len(stream)
		if _, ok := stream["service_name"]; ok {
			names--
		}
		records := 0
		for _, sl := range rl.ScopeLogs().All() {
			records += sl.LogRecords().Len()
		}
		if l.MaxLabelNamesPerSeries != 0 && names > l.MaxLabelNamesPerSeries {
			// Resources with the same labels are one stream to Loki
			// (otlpToLokiPushRequest), refused once; a stream without
			// entries is skipped before its labels are checked.
			if !refusedStreams[labels] && records > 0 {
				refusedStreams[labels] = true
				refused = append(refused, fmt.Sprintf("entry for stream '%s' has %d label names; limit %d", labels, names, l.MaxLabelNamesPerSeries))
			}
			continue
		}
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				e := LokiEntry{Stream: stream, Metadata: map[string]string{}, Line: lr.Body().AsString(), Time: lokiTimestamp(lr, now)}
				var meta [][2]string
				for k, v := range lr.Attributes().All() {
					meta = append(meta, [2]string{lokiLabelName(k), v.AsString()})
				}
				if lr.Timestamp() != 0 && lr.ObservedTimestamp() != 0 {
					meta = append(meta, [2]string{"observed_timestamp", strconv.FormatInt(int64(lr.ObservedTimestamp()), 10)})
				}
				if n := lr.SeverityNumber(); n != plog.SeverityNumberUnspecified {
					meta = append(meta, [2]string{"severity_number", strconv.Itoa(int(n))})
				}
				if text := lr.SeverityText(); text != "" {
					meta = append(meta, [2]string{"severity_text", text})
				}
				meta = append(meta, resourceMeta...)
				if sl.Scope().Name() != "" {
					meta = append(meta, [2]string{"scope_name", sl.Scope().Name()})
				}
				if err := l.validate(now, labels, e, meta); err != "" {
					refused = append(refused, err)
					continue
				}
				for _, m := range meta {
					e.Metadata[m[0]] = m[1]
				}
				if level := lokiDetectedLevel(e.Metadata); level != "" {
					e.Metadata["detected_level"] = level
				}
				stored = append(stored, e)
			}
		}
	}
	l.mu.Lock()
	l.entries = append(l.entries, stored...)
	l.mu.Unlock()
	if len(refused) > 0 {
		l.answer(w, http.StatusBadRequest, groupedErrors(refused), len(stored))
		return
	}
	l.answer(w, http.StatusNoContent, "", len(stored))
}

// validate is ValidateEntry's order; it returns the refusal's message.
func (l *Loki) validate(now time.Time, labels string, e LokiEntry, meta [][2]string) string {
	if e.Time.Before(now.Add(-l.RejectOldSamplesMaxAge)) {
		return fmt.Sprintf("entry for stream '%s' has timestamp too old: %v, oldest acceptable timestamp is: %v",
			labels, e.Time.Format(time.RFC3339), now.Add(-l.RejectOldSamplesMaxAge).Format(time.RFC3339))
	}
	if e.Time.After(now.Add(l.CreationGracePeriod)) {
		return fmt.Sprintf("entry for stream '%s' has timestamp too new: %v", labels, e.Time.Format(time.RFC3339))
	}
	if l.MaxLineSize != 0 && len(e.Line) > l.MaxLineSize {
		return fmt.Sprintf("max entry size '%d' bytes exceeded for stream '%s' while adding an entry with length '%d' bytes",
			l.MaxLineSize, labels, len(e.Line))
	}
	size := 0
	for _, m := range meta {
		size += len(m[0]) + len(m[1])
	}
	if l.MaxStructuredMetadataSize != 0 && size > l.MaxStructuredMetadataSize {
		return fmt.Sprintf("stream '%s' has structured metadata too large: '%d' bytes, limit: '%d' bytes. Please see `limits_config.max_structured_metadata_size` or contact your Loki administrator to increase it",
			labels, size, l.MaxStructuredMetadataSize)
	}
	if l.MaxStructuredMetadataEntries != 0 && len(meta) > l.MaxStructuredMetadataEntries {
		return fmt.Sprintf("stream '%s' has too many structured metadata labels: '%d', limit: '%d'. Please see `limits_config.max_structured_metadata_entries_count` or contact your Loki administrator to increase it",
			labels, len(meta), l.MaxStructuredMetadataEntries)
	}
	return ""
}

func readOTLPLogs(r *http.Request) (plog.Logs, error) {
	var body io.Reader = r.Body
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return plog.Logs{}, err
		}
		defer zr.Close()
		body = zr
	case "":
	default:
		return plog.Logs{}, fmt.Errorf("unsupported content encoding %s: only gzip, lz4 and zstd are supported", enc)
	}
	buf, err := io.ReadAll(body)
	if err != nil {
		return plog.Logs{}, err
	}
	req := plogotlp.NewExportRequest()
	switch ct := r.Header.Get("Content-Type"); ct {
	case "application/x-protobuf":
		err = req.UnmarshalProto(buf)
	case "application/json":
		err = req.UnmarshalJSON(buf)
	default:
		err = fmt.Errorf("content type: %s is not supported", ct)
	}
	return req.Logs(), err
}

func lokiTimestamp(lr plog.LogRecord, now time.Time) time.Time {
	switch {
	case lr.Timestamp() != 0:
		return lr.Timestamp().AsTime()
	case lr.ObservedTimestamp() != 0:
		return lr.ObservedTimestamp().AsTime()
	}
	return now
}

var lokiInvalidLabelChar = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// lokiLabelName is the Prometheus label name otlptranslator's LabelNamer
// builds for the attribute names used here (service.name -> service_name).
func lokiLabelName(k string) string {
	n := lokiInvalidLabelChar.ReplaceAllString(k, "_")
	if n != "" && n[0] >= '0' && n[0] <= '9' {
		n = "key_" + n
	}
	return n
}

// lokiLabelsString formats labels as Loki's error messages show a stream:
// {a="1", b="2"}, sorted by name.
func lokiLabelsString(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for n := range labels {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("{")
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%q", n, labels[n])
	}
	b.WriteString("}")
	return b.String()
}

// groupedErrors formats refusals as GroupedErrors.Error does: grouped by
// text, in Go's map order (so in no fixed order), nothing left out.
func groupedErrors(errs []string) string {
	counts := map[string]int{}
	for _, e := range errs {
		counts[e]++
	}
	var b bytes.Buffer
	i := 0
	for e, n := range counts {
		if i > 0 {
			b.WriteString("; ")
		}
		if len(counts) > 1 || n > 1 {
			fmt.Fprintf(&b, "%d errors like: ", n)
		}
		b.WriteString(e)
		i++
	}
	return b.String()
}

func lokiDetectedLevel(meta map[string]string) string {
	for _, f := range lokiLevelFields {
		if v, ok := meta[f]; ok {
			switch strings.ToLower(v) {
			case "trace", "trc":
				return "trace"
			case "debug", "dbg":
				return "debug"
			case "info", "inf", "information":
				return "info"
			case "warn", "wrn", "warning":
				return "warn"
			case "error", "err":
				return "error"
			case "critical":
				return "critical"
			case "fatal":
				return "fatal"
			}
			return v
		}
	}
	n, err := strconv.Atoi(meta["severity_number"])
	if err != nil {
		return ""
	}
	switch {
	case n <= int(plog.SeverityNumberTrace4):
		return "trace"
	case n <= int(plog.SeverityNumberDebug4):
		return "debug"
	case n <= int(plog.SeverityNumberInfo4):
		return "info"
	case n <= int(plog.SeverityNumberWarn4):
		return "warn"
	case n <= int(plog.SeverityNumberError4):
		return "error"
	case n <= int(plog.SeverityNumberFatal4):
		return "fatal"
	}
	return "unknown"
}

// Query answers the LogQL this repository documents: a stream selector of
// equality matchers, then label filters (| name="value", over stream labels
// and structured metadata) and line filters (|= "text"). Anything else is
// an error, so documentation cannot quote a query the tests do not run.
func (l *Loki) Query(q string) ([]LokiEntry, error) {
	m := lokiQuery.FindStringSubmatch(strings.TrimSpace(q))
	if m == nil {
		return nil, fmt.Errorf("query %q is not of the supported form {a=\"v\", ...} | b=\"v\" |= \"text\"", q)
	}
	selector := lokiMatcher.FindAllStringSubmatch(m[1], -1)
	stages := lokiStage.FindAllStringSubmatch(m[2], -1)
	var out []LokiEntry
next:
	for _, e := range l.Entries() {
		for _, s := range selector {
			if v, err := strconv.Unquote(s[2]); err != nil || e.Stream[s[1]] != v {
				continue next
			}
		}
		for _, s := range stages {
			v, err := strconv.Unquote(s[3])
			if err != nil {
				return nil, err
			}
			if s[1] == "|=" {
				if !strings.Contains(e.Line, v) {
					continue next
				}
				continue
			}
			got, ok := e.Stream[s[2]]
			if !ok {
				got = e.Metadata[s[2]]
			}
			if got != v {
				continue next
			}
		}
		out = append(out, e)
	}
	return out, nil
}

var (
	lokiQuery   = regexp.MustCompile(`^\{((?:\s*[a-zA-Z_]\w*\s*=\s*"(?:[^"\\]|\\.)*"\s*,?)+)\}((?:\s*(?:\|=\s*"(?:[^"\\]|\\.)*"|\|\s*[a-zA-Z_]\w*\s*=\s*"(?:[^"\\]|\\.)*"))*)\s*$`)
	lokiMatcher = regexp.MustCompile(`([a-zA-Z_]\w*)\s*=\s*("(?:[^"\\]|\\.)*")`)
	lokiStage   = regexp.MustCompile(`(\|=|\|\s*([a-zA-Z_]\w*)\s*=)\s*("(?:[^"\\]|\\.)*")`)
)
