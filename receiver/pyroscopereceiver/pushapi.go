package pyroscopereceiver

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"

	"github.com/google/pprof/profile"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/otel-ai-collector/otel-ai-collector/internal/pyroscopeattr"
)

// Pyroscope's push API, push.v1.PusherService/Push, is what the Rust-based
// SDKs (pyroscope-io for Python, pyroscope-rs, .NET 0.14+) and Grafana Alloy
// send: a Connect unary call whose body is a protobuf PushRequest:
//
//	PushRequest      { repeated RawProfileSeries series = 1; }
//	RawProfileSeries { repeated LabelPair labels = 1; repeated RawSample samples = 2; }
//	RawSample        { bytes raw_profile = 1; string ID = 2; }
//	LabelPair        { string name = 1; string value = 2; }
//
// Labels carry the service (service_name) and the profile type (__name__,
// e.g. process_cpu); raw_profile is a pprof. The messages are small and
// stable, so they are decoded with protowire rather than generated code.
const (
	pushAPIPath        = "/push.v1.PusherService/Push"
	labelServiceName   = "service_name"
	labelProfileName   = "__name__"
	maxSeriesPerPush   = 1000
	maxLabelsPerSeries = 100
)

type pushSeries struct {
	labels  map[string]string
	samples [][]byte
}

// parsePushRequest turns a PushRequest body into one ingestRequest per
// sample. Refusals are badRequestErrors.
func parsePushRequest(contentType string, body []byte, limit *sizeLimit) ([]*ingestRequest, error) {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "application/proto" {
		return nil, badRequest(statusUnsupportedMediaType,
			"Content-Type %q is not supported on %s: send application/proto (Connect unary, protobuf)", contentType, pushAPIPath)
	}
	series, err := decodePushRequest(body)
	if err != nil {
		return nil, badRequest(statusBadRequest, "the PushRequest is not valid protobuf: %v", err)
	}
	if len(series) == 0 {
		return nil, badRequest(statusBadRequest, "the PushRequest has no series")
	}
	var pushes []*ingestRequest
	for i, s := range series {
		// Pyroscope files a series without service_name under
		// unknown_service (Distributor.pushSeries, v2.0.6); so does the
		// profile_forwarding processor's default_service_name for profiles
		// without service.name.
		service := s.labels[labelServiceName]
		for _, r := range service {
			if !pyroscopeattr.IsServiceNameRune(r) {
				return nil, badRequest(statusBadRequest, "series %d: service name %q contains %q: use letters, digits and _ . - /", i, service, r)
			}
		}
		labels := make(map[string]string, len(s.labels))
		for name, value := range s.labels {
			if name == labelServiceName || name == labelProfileName {
				continue
			}
			for _, r := range name {
				if !pyroscopeattr.IsLabelNameRune(r) {
					return nil, badRequest(statusBadRequest, "series %d: label name %q contains %q: use letters, digits, _ and .", i, name, r)
				}
			}
			labels[name] = value
		}
		if len(s.samples) == 0 {
			return nil, badRequest(statusBadRequest, "series %d (%s) has no samples", i, service)
		}
		for j, raw := range s.samples {
			prof, err := parsePprof(raw, limit)
			var tooLarge *badRequestError
			if errors.As(err, &tooLarge) {
				return nil, badRequest(tooLarge.status, "series %d (%s), sample %d: %s", i, service, j, tooLarge.msg)
			}
			if err != nil {
				return nil, badRequest(statusBadRequest, "series %d (%s), sample %d: %v", i, service, j, err)
			}
			pushes = append(pushes, &ingestRequest{
				serviceName: service,
				labels:      labels,
				profileName: s.labels[labelProfileName],
				profile:     prof,
				raw:         raw,
			})
		}
	}
	return pushes, nil
}

// sizeLimit bounds what the pprof of a request may decompress to: each
// profile to perProfile bytes, all of a request's together to total, so that
// a small gzip of zeros (a decompression bomb) is refused after at most that
// much work and memory. Pyroscope bounds the decompressed size the same way
// (pkg/pprof/pprof.go RawFromBytesWithLimit, v2.0.6).
type sizeLimit struct {
	perProfile int64
	total      int64
	// keepRaw is pass_through_pprof: the pprof is only checked (size, and
	// that it is a protobuf message with sample types), not decoded.
	keepRaw bool
}

// errTooLarge is a profile over its sizeLimit; answered 413.
func errTooLarge(limit int64, what string) error {
	return badRequest(statusRequestEntityTooLarge, "the profile decompresses to more than %d bytes, the receiver's max_profile_size%s", limit, what)
}

// parsePprof decodes and checks a pprof profile, gzipped or not, charging
// its uncompressed size to limit.
func parsePprof(raw []byte, limit *sizeLimit) (*profile.Profile, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("the profile is empty")
	}
	data := raw
	if len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("the profile is not valid gzip: %w", err)
		}
		max := min(limit.perProfile, limit.total)
		if data, err = io.ReadAll(io.LimitReader(zr, max+1)); err != nil {
			return nil, fmt.Errorf("the profile is not valid gzip: %w", err)
		}
	}
	if int64(len(data)) > limit.perProfile {
		return nil, errTooLarge(limit.perProfile, "")
	}
	if int64(len(data)) > limit.total {
		return nil, errTooLarge(limit.perProfile, " for the profiles of one request together")
	}
	limit.total -= int64(len(data))
	if limit.keepRaw {
		return nil, checkPprofShape(data)
	}
	prof, err := profile.ParseUncompressed(data)
	if err != nil {
		return nil, fmt.Errorf("the profile is not valid pprof: %w", err)
	}
	if err := prof.CheckValid(); err != nil {
		return nil, fmt.Errorf("the pprof profile is inconsistent: %w", err)
	}
	if len(prof.SampleType) == 0 {
		return nil, fmt.Errorf("the pprof profile declares no sample types")
	}
	return prof, nil
}

// checkPprofShape is what pass_through_pprof checks of a pprof without
// decoding it: a well-formed protobuf message with at least one sample
// type (field 1) and sample types and samples (field 2) as messages.
// Pyroscope checks the rest and its refusals are counted by the processor.
func checkPprofShape(data []byte) error {
	sampleTypes := 0
	err := forEachField(data, func(num protowire.Number, typ protowire.Type, _ []byte) error {
		if (num == 1 || num == 2) && typ != protowire.BytesType {
			return fmt.Errorf("field %d is not a message", num)
		}
		if num == 1 {
			sampleTypes++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("the profile is not valid pprof: %w", err)
	}
	if sampleTypes == 0 {
		return fmt.Errorf("the pprof profile declares no sample types")
	}
	return nil
}

func decodePushRequest(b []byte) ([]pushSeries, error) {
	var series []pushSeries
	err := forEachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != 1 || typ != protowire.BytesType {
			return nil // unknown fields are skipped, as protobuf does
		}
		if len(series) == maxSeriesPerPush {
			return fmt.Errorf("more than %d series", maxSeriesPerPush)
		}
		s, err := decodeSeries(v)
		if err != nil {
			return err
		}
		series = append(series, s)
		return nil
	})
	return series, err
}

func decodeSeries(b []byte) (pushSeries, error) {
	s := pushSeries{labels: map[string]string{}}
	err := forEachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			if len(s.labels) == maxLabelsPerSeries {
				return fmt.Errorf("more than %d labels in a series", maxLabelsPerSeries)
			}
			var name, value string
			if err := forEachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
				if typ == protowire.BytesType && num == 1 {
					name = string(v)
				} else if typ == protowire.BytesType && num == 2 {
					value = string(v)
				}
				return nil
			}); err != nil {
				return err
			}
			if name == "" {
				return fmt.Errorf("a label has no name")
			}
			s.labels[name] = value
		case 2:
			var raw []byte
			if err := forEachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
				if typ == protowire.BytesType && num == 1 {
					raw = v
				}
				return nil
			}); err != nil {
				return err
			}
			s.samples = append(s.samples, raw)
		}
		return nil
	})
	return s, err
}

// forEachField calls fn for every field of a protobuf message; v is the
// payload of length-delimited fields (nil for the other wire types, which
// the push API does not use).
func forEachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		if typ == protowire.BytesType {
			v, n = protowire.ConsumeBytes(b)
		} else {
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := fn(num, typ, v); err != nil {
			return err
		}
	}
	return nil
}
