package pyroscopereceiver

import (
	"bytes"
	"mime/multipart"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// cpuProfile returns a gzipped pprof CPU profile shaped like Go's runtime
// CPU profiles: sample types samples/count and cpu/nanoseconds, one stack
// main.burn <- main.main.
func cpuProfile(t testing.TB, start time.Time) []byte {
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

// multipartBody builds the body the Go SDK sends.
func multipartBody(t testing.TB, pprofBytes []byte, sampleTypeConfig string) (contentType string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, err := w.CreateFormFile("profile", "profile.pprof")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(pprofBytes)
	if sampleTypeConfig != "" {
		fw, err = w.CreateFormFile("sample_type_config", "sample_type_config.json")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write([]byte(sampleTypeConfig))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), buf.Bytes()
}
