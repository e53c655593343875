package harness

import (
	"bytes"
	"context"
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

// PyroscopePush is one push a Pyroscope stand-in received, decoded.
type PyroscopePush struct {
	Name             string // as sent: service{labels}
	Service          string
	Labels           map[string]string
	From, Until      time.Time
	SpyName          string
	SampleRate       string
	SampleTypeConfig string
	Profile          *profile.Profile
}

// Pyroscope is a stand-in for a Pyroscope server's push ingest
// (POST /ingest with a pprof in the multipart field "profile" or as the
// body). It decodes each push with github.com/google/pprof and keeps it; it
// answers 400 to pushes it cannot decode, as Pyroscope does, and 503 while
// SetDown(true).
type Pyroscope struct {
	URL    string
	mu     sync.Mutex
	pushes []PyroscopePush
	down   bool
	bad    []string
}

// StartPyroscope runs a stand-in on a free loopback port until the test ends.
func StartPyroscope(t testing.TB) *Pyroscope {
	p := &Pyroscope{}
	server := httptest.NewServer(http.HandlerFunc(p.handle))
	t.Cleanup(server.Close)
	p.URL = server.URL
	return p
}

// SetDown makes the stand-in answer 503 (down=true) or accept again.
func (p *Pyroscope) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

// Pushes returns what was accepted so far.
func (p *Pyroscope) Pushes() []PyroscopePush {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]PyroscopePush(nil), p.pushes...)
}

// Refused returns the reasons of the pushes answered with 400.
func (p *Pyroscope) Refused() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.bad...)
}

// WaitForPushes waits until at least n pushes arrived.
func (p *Pyroscope) WaitForPushes(ctx context.Context, n int) ([]PyroscopePush, error) {
	for {
		pushes := p.Pushes()
		if len(pushes) >= n {
			return pushes, nil
		}
		select {
		case <-ctx.Done():
			return pushes, fmt.Errorf("%d of %d pushes arrived (refused: %v)", len(pushes), n, p.Refused())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *Pyroscope) handle(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	down := p.down
	p.mu.Unlock()
	if down {
		http.Error(w, "stand-in is down", http.StatusServiceUnavailable)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/ingest" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	push, err := decodePush(r)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.bad = append(p.bad, err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p.pushes = append(p.pushes, push)
}

func decodePush(r *http.Request) (PyroscopePush, error) {
	q := r.URL.Query()
	push := PyroscopePush{Name: q.Get("name"), SpyName: q.Get("spyName"), SampleRate: q.Get("sampleRate")}
	if q.Get("format") != "pprof" {
		return push, fmt.Errorf("format %q, want pprof", q.Get("format"))
	}
	var err error
	if push.Service, push.Labels, err = splitName(push.Name); err != nil {
		return push, err
	}
	for key, dst := range map[string]*time.Time{"from": &push.From, "until": &push.Until} {
		n, err := strconv.ParseInt(q.Get(key), 10, 64)
		if err != nil {
			return push, fmt.Errorf("%s: %v", key, err)
		}
		*dst = time.Unix(0, n)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return push, err
	}
	raw := body
	mediaType, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType == "multipart/form-data" {
		raw = nil
		reader := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			part, err := reader.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return push, err
			}
			data, _ := io.ReadAll(part)
			switch part.FormName() {
			case "profile":
				raw = data
			case "sample_type_config":
				push.SampleTypeConfig = string(data)
			}
		}
	}
	if push.Profile, err = profile.ParseData(raw); err != nil {
		return push, fmt.Errorf("pprof: %v", err)
	}
	return push, push.Profile.CheckValid()
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
