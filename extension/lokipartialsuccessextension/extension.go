package lokipartialsuccessextension

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensionmiddleware"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/otel-ai-collector/otel-ai-collector/extension/lokipartialsuccessextension/internal/metadata"
)

const (
	// The OTLP/HTTP content types; the exporter decodes a 2xx body by the
	// answer's Content-Type (otlphttpexporter otlp.go, logsPartialSuccessHandler).
	protobufContentType = "application/x-protobuf"
	jsonContentType     = "application/json"

	// maxStatusBytes bounds how much of a 400 body is read. Loki's message
	// has one group per distinct refusal, and a refusal for a too old
	// entry carries the entry's time, so a batch of 8192 old entries can
	// make a message of a few MiB. A longer body is passed on unread.
	maxStatusBytes = 16 << 20

	// maxAnswerBytes bounds the partial success answer: otlphttpexporter
	// reads at most 64 KiB of an answer (otlp.go maxHTTPResponseReadBytes)
	// and fails the whole request on a body it cannot decode. Loki's message
	// is cut to fit (maxMessageBytes, less if JSON escaping makes it grow).
	maxAnswerBytes  = 60 << 10
	maxMessageBytes = 16 << 10
)

type lokiPartialSuccess struct {
	component.StartFunc
	component.ShutdownFunc

	logger  *zap.Logger
	refused metric.Int64Counter
}

var _ extensionmiddleware.HTTPClient = (*lokiPartialSuccess)(nil)

func newExtension(set extension.Settings) (*lokiPartialSuccess, error) {
	refused, err := set.MeterProvider.Meter(metadata.ScopeName).Int64Counter(
		"otelcol_extension_loki_partial_success_refused_log_records",
		metric.WithDescription("Log records Loki refused in requests it otherwise stored, reported to the exporter as an OTLP partial success. [loki_partial_success extension]"),
		metric.WithUnit("{record}"),
	)
	if err != nil {
		return nil, err
	}
	return &lokiPartialSuccess{logger: set.Logger, refused: refused}, nil
}

// GetHTTPRoundTripper wraps the exporter's transport. confighttp puts client
// middlewares inside compression, headers and auth, so the request seen here
// is the one sent, compressed, with its Content-Type and Content-Encoding.
func (e *lokiPartialSuccess) GetHTTPRoundTripper(context.Context) (extensionmiddleware.WrapHTTPRoundTripperFunc, error) {
	return func(_ context.Context, next http.RoundTripper) (http.RoundTripper, error) {
		return &roundTripper{next: next, ext: e}, nil
	}, nil
}

type roundTripper struct {
	next http.RoundTripper
	ext  *lokiPartialSuccess
}

func (rt *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		return resp, err
	}
	return rt.ext.translate(req, resp), nil
}

// translate returns Loki's 400 as a partial success when Loki stored part
// of the request and its message says exactly how many records it refused;
// any other answer is returned as it came.
func (e *lokiPartialSuccess) translate(req *http.Request, resp *http.Response) *http.Response {
	body, complete, err := readUpTo(resp.Body, maxStatusBytes)
	if !complete || err != nil {
		// Too long to read, or broken: give the exporter what was read and
		// the rest, as it would have had it.
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
		return resp
	}
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))

	// Loki's OTLP error body: a protobuf google.rpc.Status, code 0, the
	// message (pkg/loghttp/push/push.go OTLPError).
	var st statuspb.Status
	if proto.Unmarshal(body, &st) != nil || st.GetMessage() == "" {
		return resp
	}
	msg := st.GetMessage()
	refused, ok := countRefused(msg)
	if !ok {
		if lokiRefusal.MatchString(msg) {
			e.logger.Warn("Loki answered 400 for a whole log request but may have stored part of it: it stores the entries that pass its checks. "+
				"Its message does not say exactly how many entries it refused, so the exporter reports the whole request as dropped.",
				zap.String("loki_message", truncate(msg, maxMessageBytes)))
		}
		return resp
	}
	contentType := req.Header.Get("Content-Type")
	records, err := requestLogRecords(req)
	if err != nil {
		e.logger.Warn("Loki answered 400 for a whole log request but may have stored part of it: the request's records could not be counted, "+
			"so the exporter reports the whole request as dropped.",
			zap.Int("refused_log_records", refused), zap.Error(err), zap.String("loki_message", truncate(msg, maxMessageBytes)))
		return resp
	}
	if refused > records {
		e.logger.Warn("Loki answered 400 for a whole log request, refusing more entries than the request held; passed on as it came.",
			zap.Int("refused_log_records", refused), zap.Int("log_records", records), zap.String("loki_message", truncate(msg, maxMessageBytes)))
		return resp
	}
	if refused == records {
		// Nothing stored: the exporter's report of a failed request is the
		// true one. The OTLP specification keeps partial success for
		// requests accepted in part.
		return resp
	}

	encoded, err := partialSuccess(contentType, refused, msg)
	if err != nil {
		return resp
	}

	e.refused.Add(req.Context(), int64(refused))
	e.logger.Warn("Loki refused some log records of a request and stored the rest; passing its 400 to the exporter as an OTLP partial success, so only the refused records are reported as dropped.",
		zap.Int("refused_log_records", refused), zap.Int("log_records", records),
		zap.String("loki_message", truncate(msg, maxMessageBytes)))

	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         resp.Proto,
		ProtoMajor:    resp.ProtoMajor,
		ProtoMinor:    resp.ProtoMinor,
		Header:        http.Header{"Content-Type": {contentType}},
		Body:          io.NopCloser(bytes.NewReader(encoded)),
		ContentLength: int64(len(encoded)),
		Request:       resp.Request,
		TLS:           resp.TLS,
	}
}

// partialSuccess encodes an ExportLogsServiceResponse whose partial_success
// holds the refused count and Loki's message, as the request was encoded.
func partialSuccess(contentType string, refused int, msg string) ([]byte, error) {
	for limit := maxMessageBytes; ; limit /= 2 {
		out := plogotlp.NewExportResponse()
		out.PartialSuccess().SetRejectedLogRecords(int64(refused))
		out.PartialSuccess().SetErrorMessage(truncate(msg, limit))
		var encoded []byte
		var err error
		switch contentType {
		case protobufContentType:
			encoded, err = out.MarshalProto()
		case jsonContentType:
			encoded, err = out.MarshalJSON()
		default:
			err = fmt.Errorf("content type %q", contentType)
		}
		if err != nil || len(encoded) <= maxAnswerBytes {
			return encoded, err
		}
	}
}

// readUpTo reads r to its end if it holds at most limit bytes; complete
// says whether it did.
func readUpTo(r io.Reader, limit int64) (b []byte, complete bool, err error) {
	b, err = io.ReadAll(io.LimitReader(r, limit+1))
	if int64(len(b)) > limit {
		return b, false, err
	}
	return b, true, err
}

// requestLogRecords counts the log records of the request as sent, read
// again through GetBody (set by http.NewRequest for the exporter's and
// confighttp's in-memory bodies). It decodes what Loki decodes
// (pkg/loghttp/push/otlp.go extractLogs: gzip, zstd, lz4 or none; protobuf
// or JSON); Loki maps each log record to one entry (otlpToLokiPushRequest).
func requestLogRecords(req *http.Request) (int, error) {
	if req.GetBody == nil {
		return 0, errors.New("the request body cannot be read again")
	}
	body, err := req.GetBody()
	if err != nil {
		return 0, err
	}
	defer body.Close()
	var r io.Reader = body
	switch enc := req.Header.Get("Content-Encoding"); enc {
	case "":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return 0, err
		}
		defer zr.Close()
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(body, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return 0, err
		}
		defer zr.Close()
		r = zr
	case "lz4":
		r = lz4.NewReader(body)
	default:
		return 0, fmt.Errorf("content encoding %q, which Loki does not accept", enc)
	}
	buf, err := io.ReadAll(r)
	if err != nil {
		return 0, err
	}
	logs := plogotlp.NewExportRequest()
	switch ct := req.Header.Get("Content-Type"); ct {
	case protobufContentType:
		err = logs.UnmarshalProto(buf)
	case jsonContentType:
		err = logs.UnmarshalJSON(buf)
	default:
		err = fmt.Errorf("content type %q, which Loki does not accept", ct)
	}
	if err != nil {
		return 0, err
	}
	return logs.Logs().LogRecordCount(), nil
}

// truncate cuts s to at most n bytes at a character boundary, saying so.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const more = " ... [cut by loki_partial_success]"
	cut := max(n-len(more), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + more
}
