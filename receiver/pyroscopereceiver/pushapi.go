package pyroscopereceiver

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
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
// its uncompressed size to limit. With limit.keepRaw it only checks it
// (checkPprofRaw) and returns nil.
func parsePprof(raw []byte, limit *sizeLimit) (*profile.Profile, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("the profile is empty")
	}
	if limit.keepRaw {
		return nil, checkPprofRaw(raw, limit)
	}
	data := raw
	if isGzip(raw) {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("the profile is not valid gzip: %w", err)
		}
		if data, err = io.ReadAll(io.LimitReader(zr, min(limit.perProfile, limit.total)+1)); err != nil {
			return nil, fmt.Errorf("the profile is not valid gzip: %w", err)
		}
	}
	if err := limit.charge(int64(len(data))); err != nil {
		return nil, err
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

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// charge counts size bytes of decompressed pprof against the limits.
func (limit *sizeLimit) charge(size int64) error {
	if size > limit.perProfile {
		return errTooLarge(limit.perProfile, "")
	}
	if size > limit.total {
		return errTooLarge(limit.perProfile, " for the profiles of one request together")
	}
	limit.total -= size
	return nil
}

// shapePrefix is how much of an uncompressed passed-through pprof is
// checked for its shape.
const shapePrefix = 4 << 10

// checkPprofRaw is what pass_through_pprof checks of a pprof it does not
// decode. A gzipped one is not decompressed at all (decompressing even its
// first block cost 0.2 ms, more than everything else the collector does
// per push): its header must be gzip with deflate, and its uncompressed
// size, from the gzip trailer (ISIZE), must be within the limits. The
// collector never decompresses it, so a trailer that lies cannot hurt it;
// Pyroscope bounds its own decompression and checks the rest, and the
// processor counts and logs what it refuses. An uncompressed one must be
// within the limits and its first 4 KiB pprof fields.
func checkPprofRaw(raw []byte, limit *sizeLimit) error {
	if isGzip(raw) {
		// 10 bytes of header (CM 8 = deflate, no reserved flags), 8 of trailer.
		if len(raw) < 18 || raw[2] != 8 || raw[3]&0xe0 != 0 {
			return fmt.Errorf("the profile is not valid gzip")
		}
		return limit.charge(int64(binary.LittleEndian.Uint32(raw[len(raw)-4:])))
	}
	if err := limit.charge(int64(len(raw))); err != nil {
		return err
	}
	if len(raw) > shapePrefix {
		return checkPprofShape(raw[:shapePrefix], true)
	}
	return checkPprofShape(raw, false)
}

// checkPprofShape checks that data, the start of a pprof (truncated) or a
// whole one, is protobuf with pprof's fields: numbers 1-15 with their wire
// types. A whole one must declare a sample type (field 1).
func checkPprofShape(data []byte, truncated bool) error {
	sampleTypes := 0
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			if truncated {
				break
			}
			return fmt.Errorf("the profile is not valid pprof: %w", protowire.ParseError(n))
		}
		if num < 1 || num > 15 || (typ != pprofWireType(num) && !(num == 13 && typ == protowire.VarintType)) {
			return fmt.Errorf("the profile is not valid pprof: field %d has wire type %d", num, typ)
		}
		if num == 1 {
			sampleTypes++
		}
		m := protowire.ConsumeFieldValue(num, typ, data[n:])
		if m < 0 {
			if truncated {
				break
			}
			return fmt.Errorf("the profile is not valid pprof: %w", protowire.ParseError(m))
		}
		data = data[n+m:]
	}
	if !truncated && sampleTypes == 0 {
		return fmt.Errorf("the pprof profile declares no sample types")
	}
	return nil
}

// pprofWireType is the wire type of field num of profile.proto's Profile:
// messages and strings (1-6, 11, 15 doc_url), varints (7-10, 12, 14), and
// comment (13) packed.
func pprofWireType(num protowire.Number) protowire.Type {
	switch num {
	case 7, 8, 9, 10, 12, 14:
		return protowire.VarintType
	}
	return protowire.BytesType
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
