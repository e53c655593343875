package integration

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// goSDKPush is an /ingest push as the Pyroscope Go SDK sends it: multipart
// file parts "profile" and "sample_type_config", no format parameter.
func goSDKPush(t *testing.T, base string, query url.Values, pprof []byte, sampleTypeConfig string) {
	t.Helper()
	var body bytes.Buffer
	form := multipart.NewWriter(&body)
	part, _ := form.CreateFormFile("profile", "profile.pprof")
	_, _ = part.Write(pprof)
	part, _ = form.CreateFormFile("sample_type_config", "sample_type_config.json")
	_, _ = part.Write([]byte(sampleTypeConfig))
	_ = form.Close()
	resp, err := http.Post(base+"/ingest?"+query.Encode(), form.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("push to %s: %d %s", base, resp.StatusCode, answer)
	}
}

// The same SDK push, sent to Pyroscope directly and through the collector,
// is stored the same way: the same time (the pprof's own, or from when it
// has none), duration, service, labels plus host.name, spy name, sample
// rate, sample type config and sample types.
func TestPyroscopeForwardedPushMatchesDirectPush(t *testing.T) {
	direct := harness.StartPyroscope(t)
	forwarded := harness.StartPyroscope(t)
	_, ingest := startProfilingCollector(t, forwarded, nil)

	until := time.Now().Truncate(time.Second)
	from := until.Add(-10 * time.Second)
	for i, timeNanos := range []int64{until.UnixNano(), 0} { // a heap profile, a pprof without time
		parsed, err := profile.ParseData(harness.CPUProfile(t, from))
		if err != nil {
			t.Fatal(err)
		}
		parsed.TimeNanos = timeNanos
		var pprof bytes.Buffer
		if err := parsed.Write(&pprof); err != nil {
			t.Fatal(err)
		}
		query := url.Values{
			"name":       {"burner{team=infra,n=" + strconv.Itoa(i) + "}"},
			"from":       {strconv.FormatInt(from.UnixNano(), 10)},
			"until":      {strconv.FormatInt(until.UnixNano(), 10)},
			"spyName":    {"gospy"},
			"sampleRate": {"100"},
		}
		config := `{"cpu":{"units":"samples","sampled":true}}`
		goSDKPush(t, direct.URL, query, pprof.Bytes(), config)
		goSDKPush(t, ingest, query, pprof.Bytes(), config)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	want, err := direct.WaitForPushes(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	got, err := forwarded.WaitForPushes(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	byN := map[string]harness.PyroscopePush{}
	for _, p := range got {
		byN[p.Labels["n"]] = p
	}
	for _, w := range want {
		g, ok := byN[w.Labels["n"]]
		if !ok {
			t.Errorf("push n=%s not forwarded", w.Labels["n"])
			continue
		}
		// The embedded layer passes SDK pushes through: the same bytes.
		if !bytes.Equal(g.Raw, w.Raw) {
			t.Errorf("n=%s: the forwarded pprof (%d bytes) is not the SDK's (%d bytes)", w.Labels["n"], len(g.Raw), len(w.Raw))
		}
		if g.Profile.TimeNanos != w.Profile.TimeNanos || g.Profile.DurationNanos != w.Profile.DurationNanos {
			t.Errorf("n=%s: stored at %s for %s, direct push at %s for %s", w.Labels["n"],
				time.Unix(0, g.Profile.TimeNanos), time.Duration(g.Profile.DurationNanos),
				time.Unix(0, w.Profile.TimeNanos), time.Duration(w.Profile.DurationNanos))
		}
		if g.Labels["host.name"] != "workstation-7" {
			t.Errorf("n=%s: host.name %q", w.Labels["n"], g.Labels["host.name"])
		}
		delete(g.Labels, "host.name")
		if g.Service != w.Service || !reflect.DeepEqual(g.Labels, w.Labels) {
			t.Errorf("n=%s: %s %v, direct push %s %v", w.Labels["n"], g.Service, g.Labels, w.Service, w.Labels)
		}
		if !g.From.Equal(w.From) || !g.Until.Equal(w.Until) || g.SpyName != w.SpyName || g.SampleRate != w.SampleRate || g.SampleTypeConfig != w.SampleTypeConfig {
			t.Errorf("n=%s: from %s until %s spy %s rate %s config %s; direct push: %s %s %s %s %s", w.Labels["n"],
				g.From, g.Until, g.SpyName, g.SampleRate, g.SampleTypeConfig, w.From, w.Until, w.SpyName, w.SampleRate, w.SampleTypeConfig)
		}
		if !reflect.DeepEqual(sampleTypes(g.Profile), sampleTypes(w.Profile)) {
			t.Errorf("n=%s: sample types %v, direct push %v", w.Labels["n"], sampleTypes(g.Profile), sampleTypes(w.Profile))
		}
	}
}

func sampleTypes(p *profile.Profile) []string {
	var types []string
	for _, st := range p.SampleType {
		types = append(types, st.Type+"/"+st.Unit)
	}
	return types
}

// A push API request, sent to Pyroscope directly and through the collector,
// is stored the same way: labels plus host.name, __name__, no pyroscope_spy
// label, the pprof's time; a series without service_name under
// unknown_service.
func TestPyroscopeForwardedPushAPIMatchesDirectPush(t *testing.T) {
	direct := harness.StartPyroscope(t)
	forwarded := harness.StartPyroscope(t)
	_, ingest := startProfilingCollector(t, forwarded, nil)
	start := time.Now().Add(-10 * time.Second).Truncate(time.Second)
	for _, labels := range []map[string]string{
		{"__name__": "process_cpu", "service_name": "py-indexer", "env": "prod", "n": "0"},
		{"__name__": "process_cpu", "env": "prod", "n": "1"},
	} {
		body := harness.EncodePushRequest(harness.PushSeries{Labels: labels, Samples: [][]byte{harness.CPUProfile(t, start)}})
		for _, base := range []string{direct.URL, ingest} {
			resp, err := http.Post(base+harness.PyroscopePushAPIPath, "application/proto", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("push API on %s: %d %s", base, resp.StatusCode, answer)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	want, err := direct.WaitForPushes(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	got, err := forwarded.WaitForPushes(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	byN := map[string]harness.PyroscopePush{}
	for _, p := range got {
		byN[p.Labels["n"]] = p
	}
	for _, w := range want {
		g := byN[w.Labels["n"]]
		if g.Profile == nil {
			t.Errorf("n=%s not forwarded", w.Labels["n"])
			continue
		}
		if g.Labels["host.name"] != "workstation-7" {
			t.Errorf("n=%s: host.name %q", w.Labels["n"], g.Labels["host.name"])
		}
		delete(g.Labels, "host.name")
		if g.API != w.API || g.Service != w.Service || g.ProfileName != w.ProfileName || g.SpyLabel != w.SpyLabel || !reflect.DeepEqual(g.Labels, w.Labels) {
			t.Errorf("n=%s: %s %s %s spy %q %v; direct push: %s %s %s spy %q %v", w.Labels["n"],
				g.API, g.Service, g.ProfileName, g.SpyLabel, g.Labels, w.API, w.Service, w.ProfileName, w.SpyLabel, w.Labels)
		}
		if !bytes.Equal(g.Raw, w.Raw) {
			t.Errorf("n=%s: the forwarded pprof (%d bytes) is not the SDK's (%d bytes)", w.Labels["n"], len(g.Raw), len(w.Raw))
		}
		if g.Profile.TimeNanos != w.Profile.TimeNanos || g.Profile.DurationNanos != w.Profile.DurationNanos {
			t.Errorf("n=%s: time %d + %d, direct push %d + %d", w.Labels["n"], g.Profile.TimeNanos, g.Profile.DurationNanos, w.Profile.TimeNanos, w.Profile.DurationNanos)
		}
		if !reflect.DeepEqual(sampleTypes(g.Profile), sampleTypes(w.Profile)) {
			t.Errorf("n=%s: sample types %v, direct push %v", w.Labels["n"], sampleTypes(g.Profile), sampleTypes(w.Profile))
		}
	}
}
