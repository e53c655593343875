package profileforwardingprocessor

import (
	"bytes"
	"compress/gzip"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pprofile"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
	"github.com/otel-ai-collector/otel-ai-collector/internal/pyroscopeattr"
	"github.com/otel-ai-collector/otel-ai-collector/processor/profileforwardingprocessor/internal/metadata"
)

// Pyroscope's answers (pkg/ingester/pyroscope/ingest_handler.go and the
// distributor, v2.0.6) tell what is worth retrying only by their message.
func TestClassifyAnswer(t *testing.T) {
	for _, tc := range []struct {
		status int
		answer string
		reason string
		retry  bool
	}{
		{422, `{"code":"unknown","message":"pushing IngestInput-pprof failed rpc error: code = Unavailable desc = service is unavailable"}`, reasonUnavailable, true},
		{422, `{"code":"unknown","message":"pushing IngestInput-pprof failed push series with index 0 and id  failed: resource_exhausted: push rate limit (4.0 MiB) exceeded while adding 2.5 MiB"}`, reasonRateLimited, true},
		{422, `{"code":"unknown","message":"pushing IngestInput-pprof failed push series with index 0 and id  failed: invalid_argument: profile with labels '{service_name=\"unavailable\"}' is outside of ingestion window (profile timestamp: 2026-12-01T01:00:00Z, the ingestion window starts at 2026-12-02T04:00:00Z and ends at 2026-12-02T05:10:00Z)"}`, reasonTooOld, false},
		{422, `{"code":"unknown","message":"parsing IngestInput-pprof failed invalid_argument: decompressed size exceeds maximum allowed size of 4194304 bytes"}`, reasonTooLarge, false},
		{413, `{"code":"invalid_argument","message":"request body too large: http: request body too large"}`, reasonTooLarge, false},
		{422, `{"code":"unknown","message":"parsing IngestInput-pprof failed invalid_argument: proto: wrong wireType = 5 for field Function"}`, reasonRefused, false},
		{400, `{"code":"invalid_argument","message":"name: bad"}`, reasonRefused, false},
		{503, `no healthy upstream`, reasonServerError, true},
		{429, ``, reasonServerError, true},
	} {
		reason, retry := classifyAnswer(tc.status, []byte(tc.answer))
		if reason != tc.reason || retry != tc.retry {
			t.Errorf("%d %s: %s retry=%v, want %s retry=%v", tc.status, tc.answer, reason, retry, tc.reason, tc.retry)
		}
	}
}

// While Pyroscope shuts down it answers 422 "code = Unavailable": the push
// is retried and delivered once Pyroscope is back, not dropped.
func TestUnavailableAnswerIsRetriedAndDelivered(t *testing.T) {
	pyroscope := harness.StartPyroscope(t)
	pyroscope.SetUnavailable(true)
	p := startProcessor(t, pyroscope.URL, new(consumertest.ProfilesSink), nil)
	if err := p.ConsumeProfiles(context.Background(), harness.OTLPCPUProfiles(t, time.Now(), map[string]any{"service.name": "api"})); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(pyroscope.Answers()) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if answers := pyroscope.Answers(); len(answers) < 2 || answers[0].Status != 422 || !strings.Contains(answers[0].Message, "code = Unavailable") {
		t.Fatalf("answers %v, want at least two 422 code = Unavailable (a retry)", answers)
	}
	pyroscope.SetUnavailable(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := pyroscope.WaitForPushes(ctx, 1); err != nil {
		t.Fatal(err)
	}
}

// A profile older than Pyroscope's ingestion window is dropped at once,
// counted and logged with the Pyroscope setting that would accept it.
func TestTooOldIsDroppedCountedAndLogged(t *testing.T) {
	pyroscope := harness.StartPyroscope(t)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	core, logs := observer.New(zap.WarnLevel)
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = pyroscope.URL
	cfg.HostName = "ws1"
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	p, err := newProcessor(context.Background(), set, cfg, new(consumertest.ProfilesSink))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })

	old := harness.OTLPCPUProfiles(t, time.Now().Add(-2*time.Hour), map[string]any{"service.name": "api"})
	if err := p.ConsumeProfiles(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for logs.FilterMessageSnippet("ingestion window").Len() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if logs.FilterMessageSnippet("reject-older-than").Len() != 1 {
		t.Errorf("no warning naming validation.reject-older-than; logs: %v", logs.All())
	}
	m, err := tel.GetMetric("otelcol_processor_profile_forwarding_dropped_pushes")
	if err != nil {
		t.Fatal(err)
	}
	dps := m.Data.(metricdata.Sum[int64]).DataPoints
	if len(dps) != 1 || dps[0].Value != 1 {
		t.Fatalf("dropped pushes %+v, want one with reason %s", dps, reasonTooOld)
	}
	if reason, _ := dps[0].Attributes.Value("reason"); reason.AsString() != reasonTooOld {
		t.Errorf("reason %q, want %s", reason.AsString(), reasonTooOld)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(pyroscope.Answers()); n != 1 {
		t.Errorf("Pyroscope was asked %d times, want once (no retries of a permanent refusal)", n)
	}
}

// Profiles the pyroscope receiver got on the push API (they carry its
// __name__) go on by the push API: stored without a pyroscope_spy label.
func TestPushAPIProfilesGoOnByThePushAPI(t *testing.T) {
	pyroscope := harness.StartPyroscope(t)
	p := startProcessor(t, pyroscope.URL, new(consumertest.ProfilesSink), nil)
	in := harness.OTLPCPUProfiles(t, time.Now(), map[string]any{"service.name": "py", "env": "prod"})
	in.ResourceProfiles().At(0).ScopeProfiles().At(0).Scope().Attributes().PutStr(pyroscopeattr.ProfileName, "process_cpu")
	if err := p.ConsumeProfiles(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pushes, err := pyroscope.WaitForPushes(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := pushes[0]
	if got.API != "push" || got.Service != "py" || got.ProfileName != "process_cpu" || got.SpyLabel != "" || got.Labels["env"] != "prod" || got.Labels["host.name"] != "ws1" {
		t.Errorf("stored %s %s %s spy %q %v", got.API, got.Service, got.ProfileName, got.SpyLabel, got.Labels)
	}
}

// A push the receiver passed through undecoded goes to Pyroscope as the
// SDK's bytes, under the processor's service name and labels.
func TestPassThroughPushIsSentAsItCame(t *testing.T) {
	pyroscope := harness.StartPyroscope(t)
	p := startProcessor(t, pyroscope.URL, new(consumertest.ProfilesSink), nil)
	until := time.Now().Truncate(time.Second)
	from := until.Add(-10 * time.Second)
	parsed, err := profile.ParseData(harness.CPUProfile(t, from))
	if err != nil {
		t.Fatal(err)
	}
	parsed.TimeNanos = until.UnixNano() // a heap profile: taken at until
	var pprof bytes.Buffer
	_ = parsed.Write(&pprof)

	in := pprofile.NewProfiles()
	rp := in.ResourceProfiles().AppendEmpty()
	rp.Resource().Attributes().PutStr("service.name", "api")
	rp.Resource().Attributes().PutStr("env", "prod")
	scope := rp.ScopeProfiles().AppendEmpty().Scope().Attributes()
	scope.PutStr(pyroscopeattr.SpyName, "gospy")
	scope.PutInt(pyroscopeattr.SampleRate, 100)
	scope.PutStr(pyroscopeattr.SampleTypeConfig, `{"cpu":{}}`)
	scope.PutInt(pyroscopeattr.From, from.UnixNano())
	scope.PutInt(pyroscopeattr.Until, until.UnixNano())
	scope.PutEmptyBytes(pyroscopeattr.Pprof).FromRaw(pprof.Bytes())
	if err := p.ConsumeProfiles(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pushes, err := pyroscope.WaitForPushes(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := pushes[0]
	if got.Name != "api{env=prod,host.name=ws1}" || got.SpyName != "gospy" || got.SampleRate != "100" || got.SampleTypeConfig != `{"cpu":{}}` {
		t.Errorf("pushed as %s spy %s rate %s config %s", got.Name, got.SpyName, got.SampleRate, got.SampleTypeConfig)
	}
	if !got.From.Equal(from) || !got.Until.Equal(until) || got.Profile.TimeNanos != until.UnixNano() {
		t.Errorf("from %s until %s stored at %s", got.From, got.Until, time.Unix(0, got.Profile.TimeNanos))
	}
	if !harness.HasFunction(got.Profile, "main.burn") {
		t.Error("main.burn missing")
	}
}

// Pyroscope's rate limit refuses one profile larger than its burst on every
// try: it stays retryable (the limit may have been raised), but the error
// says why it keeps failing and which Pyroscope setting to raise.
func TestRateLimitedOversizedProfileSaysSo(t *testing.T) {
	pyroscope := harness.StartPyroscope(t)
	p := startProcessor(t, pyroscope.URL, new(consumertest.ProfilesSink), nil)
	parsed, err := profile.ParseData(harness.CPUProfile(t, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	_ = parsed.WriteUncompressed(&raw)
	// An unknown field of zeros makes it 3 MiB uncompressed.
	raw.Write(protowire.AppendBytes(protowire.AppendTag(nil, 100, protowire.BytesType), make([]byte, 3<<20)))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(raw.Bytes())
	_ = zw.Close()
	in := pprofile.NewProfiles()
	rp := in.ResourceProfiles().AppendEmpty()
	rp.Resource().Attributes().PutStr("service.name", "big")
	rp.ScopeProfiles().AppendEmpty().Scope().Attributes().PutEmptyBytes(pyroscopeattr.Pprof).FromRaw(gz.Bytes())
	pushes, err := p.forwarder.pushes(in)
	if err != nil || len(pushes) != 1 {
		t.Fatalf("%d pushes, %v", len(pushes), err)
	}
	err = p.forwarder.send(context.Background(), pushes[0])
	if err == nil || consumererror.IsPermanent(err) {
		t.Fatalf("send: %v, want a retryable error", err)
	}
	if !strings.Contains(err.Error(), "push rate limit") || !strings.Contains(err.Error(), "distributor.ingestion-burst-size-mb") {
		t.Errorf("error %q does not say the profile is over Pyroscope's burst", err)
	}
}
