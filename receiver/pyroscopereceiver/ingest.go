package pyroscopereceiver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/pprof/profile"

	"github.com/otel-ai-collector/otel-ai-collector/internal/pyroscopeattr"
)

// ingestRequest is one profile pushed to /ingest or the push API, parsed
// and checked.
type ingestRequest struct {
	serviceName     string
	labels          map[string]string
	from, until     time.Time // zero when the push did not say
	spyName         string
	sampleRate      int64
	units           string
	aggregationType string
	// sampleTypeConfig is the SDK's description of the profile's sample
	// types (units, aggregation, display name), kept as the JSON it sent so
	// that it reaches Pyroscope exactly as the SDK meant it.
	sampleTypeConfig []byte
	// profileName is the push API's __name__ label (e.g. process_cpu).
	profileName string
	// profile is the decoded pprof; nil with pass_through_pprof.
	profile *profile.Profile
	// raw is the pprof as the SDK sent it, gzipped or not.
	raw []byte
}

// badRequestError is a push the sender must fix; it is answered with a 4xx
// and the message, never retried by us.
type badRequestError struct {
	status int
	msg    string
}

func (e *badRequestError) Error() string { return e.msg }

func badRequest(status int, format string, args ...any) error {
	return &badRequestError{status: status, msg: fmt.Sprintf(format, args...)}
}

const (
	statusBadRequest            = 400
	statusRequestEntityTooLarge = 413
	statusUnsupportedMediaType  = 415
)

// parseIngest turns the query and body of a push into an ingestRequest.
// Every way a push can be wrong is a badRequestError saying what to fix.
func parseIngest(query url.Values, contentType string, body []byte, limit *sizeLimit) (*ingestRequest, error) {
	req := &ingestRequest{}
	var err error
	if req.serviceName, req.labels, err = parseAppName(query.Get("name")); err != nil {
		return nil, err
	}

	switch format := query.Get("format"); format {
	case "", "pprof":
	default:
		return nil, badRequest(statusUnsupportedMediaType,
			"format %q is not supported: this receiver takes pprof pushes (format=pprof), as the Pyroscope SDKs send them", format)
	}

	if req.from, err = parseTimeParam(query, "from"); err != nil {
		return nil, err
	}
	if req.until, err = parseTimeParam(query, "until"); err != nil {
		return nil, err
	}
	if !req.from.IsZero() && !req.until.IsZero() && req.until.Before(req.from) {
		return nil, badRequest(statusBadRequest, "until (%s) is before from (%s)",
			req.until.Format(time.RFC3339Nano), req.from.Format(time.RFC3339Nano))
	}
	if v := query.Get("sampleRate"); v != "" {
		rate, err := strconv.ParseInt(v, 10, 64)
		if err != nil || rate < 0 {
			return nil, badRequest(statusBadRequest, "sampleRate %q is not a non-negative integer", v)
		}
		req.sampleRate = rate
	}
	req.spyName = query.Get("spyName")
	req.units = query.Get("units")
	req.aggregationType = query.Get("aggregationType")

	raw, sampleTypeConfig, err := splitBody(contentType, body)
	if err != nil {
		return nil, err
	}
	if len(sampleTypeConfig) > 0 {
		var decoded map[string]json.RawMessage
		if err := json.Unmarshal(sampleTypeConfig, &decoded); err != nil {
			return nil, badRequest(statusBadRequest, "sample_type_config is not a JSON object: %v", err)
		}
		req.sampleTypeConfig = sampleTypeConfig
	}
	if len(raw) == 0 {
		return nil, badRequest(statusBadRequest, "the push carries no profile: send the pprof as the body or as the multipart field \"profile\"")
	}
	req.raw = raw
	if req.profile, err = parsePprof(raw, limit); err != nil {
		var tooLarge *badRequestError
		if errors.As(err, &tooLarge) {
			return nil, err
		}
		return nil, badRequest(statusBadRequest, "%v", err)
	}
	return req, nil
}

// splitBody returns the pprof bytes and the optional sample type config of a
// push. The Go SDK sends multipart/form-data with the fields "profile" and
// "sample_type_config"; other clients send the pprof as the whole body.
func splitBody(contentType string, body []byte) (profileBytes, sampleTypeConfig []byte, err error) {
	if contentType == "" {
		return body, nil, nil
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, nil, badRequest(statusBadRequest, "Content-Type %q cannot be parsed: %v", contentType, err)
	}
	if mediaType != "multipart/form-data" {
		return body, nil, nil
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, nil, badRequest(statusBadRequest, "multipart Content-Type has no boundary")
	}
	reader := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		part, err := reader.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, badRequest(statusBadRequest, "multipart body is malformed: %v", err)
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return nil, nil, badRequest(statusBadRequest, "multipart field %q is truncated: %v", part.FormName(), err)
		}
		switch part.FormName() {
		case "profile":
			profileBytes = data
		case "sample_type_config":
			sampleTypeConfig = data
		}
		// "prev_profile" is a deprecated field older SDKs sent for cumulative
		// profiles; Pyroscope ignores it too.
	}
	if profileBytes == nil {
		return nil, nil, badRequest(statusBadRequest, "multipart body has no \"profile\" field")
	}
	return profileBytes, sampleTypeConfig, nil
}

// parseAppName parses Pyroscope's application name, `service{key=value,...}`
// (grammar in pyroscopeattr).
func parseAppName(name string) (string, map[string]string, error) {
	if name == "" {
		return "", nil, badRequest(statusBadRequest, "query parameter \"name\" is missing: send name=<service>{label=value,...}")
	}
	service, rest, hasLabels := strings.Cut(name, "{")
	service = strings.TrimSpace(service)
	if service == "" {
		return "", nil, badRequest(statusBadRequest, "name %q has no service name before its labels", name)
	}
	for _, r := range service {
		if !pyroscopeattr.IsServiceNameRune(r) {
			return "", nil, badRequest(statusBadRequest, "service name %q contains %q: use letters, digits and _ . - /", service, r)
		}
	}
	labels := map[string]string{}
	if !hasLabels {
		return service, labels, nil
	}
	body, ok := strings.CutSuffix(strings.TrimSpace(rest), "}")
	if !ok {
		return "", nil, badRequest(statusBadRequest, "name %q: labels are not closed with \"}\"", name)
	}
	if strings.TrimSpace(body) == "" {
		return service, labels, nil
	}
	for _, pair := range strings.Split(body, ",") {
		key, value, ok := strings.Cut(pair, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || key == "" {
			return "", nil, badRequest(statusBadRequest, "name %q: label %q is not key=value", name, pair)
		}
		if strings.ContainsAny(value, "{}") {
			return "", nil, badRequest(statusBadRequest, "name %q: label %q has a brace in its value", name, key)
		}
		for _, r := range key {
			if !pyroscopeattr.IsLabelNameRune(r) {
				return "", nil, badRequest(statusBadRequest, "name %q: label name %q contains %q: use letters, digits, _ and .", name, key, r)
			}
		}
		labels[key] = value
	}
	return service, labels, nil
}

// parseTimeParam reads from/until. Pyroscope takes Unix time in seconds,
// milliseconds, microseconds or nanoseconds (the Go SDK sends nanoseconds)
// and tells them apart by magnitude; so do we.
func parseTimeParam(query url.Values, key string) (time.Time, error) {
	v := query.Get(key)
	if v == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, badRequest(statusBadRequest, "%s %q is not a positive Unix time", key, v)
	}
	switch {
	case n < 1e11: // seconds until the year 5138
		return time.Unix(n, 0), nil
	case n < 1e14:
		return time.UnixMilli(n), nil
	case n < 1e17:
		return time.UnixMicro(n), nil
	default:
		return time.Unix(0, n), nil
	}
}

// sortedLabelKeys is used where output must not depend on map order.
func sortedLabelKeys(labels map[string]string) []string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
