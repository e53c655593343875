package profileforwardingprocessor

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pprofile"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
	"github.com/otel-ai-collector/otel-ai-collector/internal/pyroscopeattr"
	"github.com/otel-ai-collector/otel-ai-collector/processor/profileforwardingprocessor/internal/metadata"
)

func startProcessor(t testing.TB, endpoint string, next *consumertest.ProfilesSink, edit func(*Config)) *forwardingProcessor {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = endpoint
	cfg.HostName = "ws1"
	cfg.RetryConfig = configretry.BackOffConfig{Enabled: true, InitialInterval: 20 * time.Millisecond, MaxInterval: 50 * time.Millisecond, Multiplier: 1.5, MaxElapsedTime: time.Minute}
	if edit != nil {
		edit(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := newProcessor(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

func TestForwardsToPyroscopeAndPassesOn(t *testing.T) {
	pyroscope := harness.StartPyroscope(t)
	next := new(consumertest.ProfilesSink)
	p := startProcessor(t, pyroscope.URL, next, nil)

	// Recent: Pyroscope refuses profiles older than an hour.
	start := time.Now().Add(-10 * time.Second).Truncate(time.Second)
	in := harness.OTLPCPUProfiles(t, start, map[string]any{"service.name": "api", "env": "prod", "process.pid": 1234})
	scope := in.ResourceProfiles().At(0).ScopeProfiles().At(0)
	scope.Scope().Attributes().PutStr(pyroscopeattr.SpyName, "gospy")
	scope.Scope().Attributes().PutStr(pyroscopeattr.SampleTypeConfig, `{"cpu":{"units":"samples"}}`)
	want := pprofile.NewProfiles()
	in.CopyTo(want)

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
	if got.Service != "api" || got.Labels["env"] != "prod" || got.Labels["host.name"] != "ws1" {
		t.Errorf("pushed as %q", got.Name)
	}
	if _, ok := got.Labels["process.pid"]; ok {
		t.Errorf("process.pid became a label: %q", got.Name)
	}
	if got.SpyName != "gospy" || got.SampleTypeConfig != `{"cpu":{"units":"samples"}}` {
		t.Errorf("spy %q, sample type config %q", got.SpyName, got.SampleTypeConfig)
	}
	if !got.From.Equal(start) || got.Until.Sub(got.From) != 10*time.Second {
		t.Errorf("time range %s..%s", got.From, got.Until)
	}
	types := []string{}
	for _, st := range got.Profile.SampleType {
		types = append(types, st.Type+"/"+st.Unit)
	}
	if len(types) != 2 || types[0] != "samples/count" || types[1] != "cpu/nanoseconds" {
		t.Errorf("sample types %v, want [samples/count cpu/nanoseconds] as the SDK sent them", types)
	}
	if !harness.HasFunction(got.Profile, "main.burn") {
		t.Error("main.burn missing from the pushed profile")
	}

	if len(next.AllProfiles()) != 1 {
		t.Fatalf("next consumer got %d batches, want 1", len(next.AllProfiles()))
	}
	if !equalProfiles(t, next.AllProfiles()[0], want) {
		t.Error("the profiles passed on differ from the input")
	}
}

func TestRetriesUntilPyroscopeIsBack(t *testing.T) {
	pyroscope := harness.StartPyroscope(t)
	pyroscope.SetDown(true)
	next := new(consumertest.ProfilesSink)
	p := startProcessor(t, pyroscope.URL, next, nil)
	for i := range 5 {
		if err := p.ConsumeProfiles(context.Background(), harness.OTLPCPUProfiles(t, time.Now(), map[string]any{"service.name": "api", "n": i})); err != nil {
			t.Fatal(err)
		}
	}
	// Pyroscope's outage must not hold the profiles back from the pipeline.
	if len(next.AllProfiles()) != 5 {
		t.Fatalf("next consumer got %d batches while Pyroscope was down, want 5", len(next.AllProfiles()))
	}
	time.Sleep(200 * time.Millisecond)
	pyroscope.SetDown(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := pyroscope.WaitForPushes(ctx, 5); err != nil {
		t.Fatal(err)
	}
}

func TestUnconvertibleProfileIsDroppedNotRetried(t *testing.T) {
	pyroscope := harness.StartPyroscope(t)
	next := new(consumertest.ProfilesSink)
	p := startProcessor(t, pyroscope.URL, next, nil)
	broken := harness.OTLPCPUProfiles(t, time.Now(), map[string]any{"service.name": "api"})
	// A stack index past the stack table cannot be turned into pprof.
	broken.ResourceProfiles().At(0).ScopeProfiles().At(0).Profiles().At(0).Samples().At(0).SetStackIndex(99)
	if err := p.ConsumeProfiles(context.Background(), broken); err != nil {
		t.Fatal(err)
	}
	good := harness.OTLPCPUProfiles(t, time.Now(), map[string]any{"service.name": "api"})
	if err := p.ConsumeProfiles(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := pyroscope.WaitForPushes(ctx, 1); err != nil {
		t.Fatal(err)
	}
}

func equalProfiles(t *testing.T, a, b pprofile.Profiles) bool {
	t.Helper()
	marshaler := &pprofile.ProtoMarshaler{}
	ab, err := marshaler.MarshalProfiles(a)
	if err != nil {
		t.Fatal(err)
	}
	bb, err := marshaler.MarshalProfiles(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ab) == string(bb)
}
