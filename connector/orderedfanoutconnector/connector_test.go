package orderedfanoutconnector

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pipeline"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otel-ai-collector/otel-ai-collector/connector/orderedfanoutconnector/internal/metadata"
)

// recorder is a pipeline's consumer: it records the order of calls across
// all recorders sharing calls, what it was given, and may change the data
// (as a pipeline with a transform does) or fail.
type recorder struct {
	name    string
	calls   *[]string
	mu      *sync.Mutex
	mutates bool
	fail    error
	got     []plog.Logs
}

func (r *recorder) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: r.mutates}
}

func (r *recorder) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	r.mu.Lock()
	*r.calls = append(*r.calls, r.name)
	r.mu.Unlock()
	r.got = append(r.got, ld)
	if r.mutates {
		ld.ResourceLogs().At(0).Resource().Attributes().PutStr("changed.by", r.name)
	}
	return r.fail
}

var pid = pipeline.NewIDWithName

func logsFrom(service string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", service)
	rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("hello")
	return ld
}

func newLogsConnector(t *testing.T, order []pipeline.ID, recorders ...*recorder) connector.Logs {
	t.Helper()
	consumers := map[pipeline.ID]consumer.Logs{}
	for _, r := range recorders {
		consumers[pid(pipeline.SignalLogs, r.name)] = r
	}
	set := connectortest.NewNopSettings(metadata.Type)
	c, err := NewFactory().CreateLogsToLogs(context.Background(), set, &Config{Order: order}, connector.NewLogsRouter(consumers))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newRecorders(specs ...string) ([]*recorder, *[]string) {
	calls := &[]string{}
	mu := &sync.Mutex{}
	var out []*recorder
	for _, s := range specs {
		name, mutates := strings.CutSuffix(s, "*")
		out = append(out, &recorder{name: name, calls: calls, mu: mu, mutates: mutates})
	}
	return out, calls
}

// The listed pipelines come first in the listed order, the others after
// them sorted by name; the router hands them over from a map, so the test
// repeats to catch any dependence on its order.
func TestCallOrder(t *testing.T) {
	for range 50 {
		recs, calls := newRecorders("remote*", "ai_sessions*", "debug", "file", "zz_other*")
		c := newLogsConnector(t, []pipeline.ID{
			pid(pipeline.SignalTraces, "ai_sessions"), // another signal's: ignored here
			pid(pipeline.SignalLogs, "ai_sessions"),
		}, recs...)
		if err := c.ConsumeLogs(context.Background(), logsFrom("claude-code")); err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Join(*calls, ","), "ai_sessions,debug,file,remote,zz_other"; got != want {
			t.Fatalf("call order %s, want %s", got, want)
		}
	}
}

// A pipeline that changes the data never changes what another sees: each
// mutating pipeline gets a copy unless it is the last and nobody else
// shares the original.
func TestDataSharing(t *testing.T) {
	t.Run("mutating and read-only", func(t *testing.T) {
		recs, _ := newRecorders("a*", "b", "c*")
		c := newLogsConnector(t, []pipeline.ID{pid(pipeline.SignalLogs, "a")}, recs...)
		ld := logsFrom("svc")
		if err := c.ConsumeLogs(context.Background(), ld); err != nil {
			t.Fatal(err)
		}
		if _, changed := ld.ResourceLogs().At(0).Resource().Attributes().Get("changed.by"); changed {
			t.Error("the original was changed although a read-only pipeline shares it")
		}
		if _, changed := recs[1].got[0].ResourceLogs().At(0).Resource().Attributes().Get("changed.by"); changed {
			t.Error("the read-only pipeline saw another pipeline's change")
		}
		for _, r := range []*recorder{recs[0], recs[2]} {
			v, _ := r.got[0].ResourceLogs().At(0).Resource().Attributes().Get("changed.by")
			if v.Str() != r.name {
				t.Errorf("pipeline %s's data carries %q's change", r.name, v.Str())
			}
		}
	})
	t.Run("all mutating", func(t *testing.T) {
		recs, _ := newRecorders("a*", "b*")
		c := newLogsConnector(t, []pipeline.ID{pid(pipeline.SignalLogs, "b")}, recs...)
		ld := logsFrom("svc")
		if err := c.ConsumeLogs(context.Background(), ld); err != nil {
			t.Fatal(err)
		}
		// b is called first and gets a copy; a, the last, the original.
		if v, _ := ld.ResourceLogs().At(0).Resource().Attributes().Get("changed.by"); v.Str() != "a" {
			t.Errorf("original changed by %q, want by the last pipeline (a) only", v.Str())
		}
		if v, _ := recs[1].got[0].ResourceLogs().At(0).Resource().Attributes().Get("changed.by"); v.Str() != "b" {
			t.Errorf("first pipeline's copy changed by %q", v.Str())
		}
	})
	t.Run("read-only input", func(t *testing.T) {
		recs, _ := newRecorders("a*")
		c := newLogsConnector(t, []pipeline.ID{pid(pipeline.SignalLogs, "a")}, recs...)
		ld := logsFrom("svc")
		ld.MarkReadOnly()
		if err := c.ConsumeLogs(context.Background(), ld); err != nil { // a mutation of read-only data would panic
			t.Fatal(err)
		}
	})
}

// Every pipeline is called even when one fails, and the errors reach the
// receiver as they would without the connector (a permanent one stays
// permanent, so the sender gets a 400 rather than a retryable status).
func TestErrors(t *testing.T) {
	recs, calls := newRecorders("first*", "second")
	recs[0].fail = consumererror.NewPermanent(errors.New("bad data"))
	c := newLogsConnector(t, []pipeline.ID{pid(pipeline.SignalLogs, "first")}, recs...)
	err := c.ConsumeLogs(context.Background(), logsFrom("svc"))
	if err == nil || !consumererror.IsPermanent(err) || !strings.Contains(err.Error(), "bad data") {
		t.Errorf("error %v, want the first pipeline's permanent error", err)
	}
	if len(*calls) != 2 {
		t.Errorf("calls %v, want both pipelines", *calls)
	}
}

func TestTracesAndMetrics(t *testing.T) {
	f := NewFactory()
	set := connectortest.NewNopSettings(metadata.Type)
	cfg := &Config{Order: []pipeline.ID{pid(pipeline.SignalTraces, "ai"), pid(pipeline.SignalMetrics, "ai")}}

	var spans [2]int
	tracesOf := func(i int) consumer.Traces {
		c, _ := consumer.NewTraces(func(_ context.Context, td ptrace.Traces) error { spans[i] += td.SpanCount(); return nil })
		return c
	}
	tc, err := f.CreateTracesToTraces(context.Background(), set, cfg, connector.NewTracesRouter(map[pipeline.ID]consumer.Traces{
		pid(pipeline.SignalTraces, "ai"): tracesOf(0), pid(pipeline.SignalTraces, "remote"): tracesOf(1),
	}))
	if err != nil {
		t.Fatal(err)
	}
	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	if err := tc.ConsumeTraces(context.Background(), td); err != nil || spans != [2]int{1, 1} {
		t.Errorf("spans %v, err %v; want one span in each pipeline", spans, err)
	}

	var points int
	mc, err := f.CreateMetricsToMetrics(context.Background(), set, cfg, connector.NewMetricsRouter(map[pipeline.ID]consumer.Metrics{
		pid(pipeline.SignalMetrics, "ai"): func() consumer.Metrics {
			c, _ := consumer.NewMetrics(func(_ context.Context, md pmetric.Metrics) error { points += md.DataPointCount(); return nil })
			return c
		}(),
	}))
	if err != nil {
		t.Fatal(err)
	}
	md := pmetric.NewMetrics()
	md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty()
	if err := mc.ConsumeMetrics(context.Background(), md); err != nil || points != 1 {
		t.Errorf("points %d, err %v", points, err)
	}
}

// A listed pipeline this connector does not feed is a configuration error
// that names the pipeline and the fix.
func TestListedPipelineNotFed(t *testing.T) {
	recs, _ := newRecorders("remote")
	set := connectortest.NewNopSettings(metadata.Type)
	_, err := NewFactory().CreateLogsToLogs(context.Background(), set,
		&Config{Order: []pipeline.ID{pid(pipeline.SignalLogs, "ai_sessions")}},
		connector.NewLogsRouter(map[pipeline.ID]consumer.Logs{pid(pipeline.SignalLogs, "remote"): recs[0]}))
	if err == nil || !strings.Contains(err.Error(), `"logs/ai_sessions"`) || !strings.Contains(err.Error(), "receivers") {
		t.Errorf("error %v, want one naming logs/ai_sessions and what to change", err)
	}
}

func TestConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf("testdata/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, wantErr := range map[string]string{
		"ordered_fanout/otlp":    "",
		"ordered_fanout/content": "",
		"ordered_fanout/empty":   "order must list",
		"ordered_fanout/twice":   "twice",
		"ordered_fanout/bad":     "signal",
	} {
		t.Run(name, func(t *testing.T) {
			sub, err := cm.Sub(name)
			if err != nil {
				t.Fatal(err)
			}
			cfg := NewFactory().CreateDefaultConfig()
			err = sub.Unmarshal(cfg)
			if err == nil {
				err = cfg.(*Config).Validate()
			}
			switch {
			case wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
				t.Errorf("error %v, want one containing %q", err, wantErr)
			}
		})
	}
	cfg := NewFactory().CreateDefaultConfig()
	sub, _ := cm.Sub("ordered_fanout/otlp")
	_ = sub.Unmarshal(cfg)
	if got := cfg.(*Config).Order; len(got) != 3 || got[2] != pid(pipeline.SignalLogs, "ai_sessions") {
		t.Errorf("order %v", got)
	}
	var _ component.Config = cfg

	content := NewFactory().CreateDefaultConfig().(*Config)
	sub, _ = cm.Sub("ordered_fanout/content")
	if err := sub.Unmarshal(content); err != nil {
		t.Fatal(err)
	}
	if in := content.Select.Include; in.Attribute != "service.name" || in.ScopeName == "" || in.ItemName == "" ||
		content.Select.ReportUnselected == nil || content.Select.ReportUnselected.ItemName == "" || content.Select.ReportUnselected.Hint != "add it" {
		t.Errorf("select decoded as %+v, report %+v", in, content.Select.ReportUnselected)
	}
}

func aiSelect() *ResourceSelect {
	return &ResourceSelect{
		Include: Match{AttributeRegex: AttributeRegex{Attribute: "service.name", Regex: "^(claude-code|codex)$"}},
		Exclude: []AttributeRegex{{Attribute: "telemetry.sdk.name", Regex: "^otel-ai-collector-ebpf$"}},
	}
}

func newSelectingConnector(t *testing.T, recorders ...*recorder) connector.Logs {
	t.Helper()
	return newSelectingConnectorWith(t, aiSelect(), connectortest.NewNopSettings(metadata.Type), recorders...)
}

func newSelectingConnectorWith(t *testing.T, sel *ResourceSelect, set connector.Settings, recorders ...*recorder) connector.Logs {
	t.Helper()
	consumers := map[pipeline.ID]consumer.Logs{}
	for _, r := range recorders {
		consumers[pid(pipeline.SignalLogs, r.name)] = r
	}
	cfg := &Config{Order: []pipeline.ID{pid(pipeline.SignalLogs, "ai")}, Select: sel}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := NewFactory().CreateLogsToLogs(context.Background(), set, cfg,
		connector.NewLogsRouter(consumers))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func services(ld plog.Logs) []string {
	var out []string
	for _, rl := range ld.ResourceLogs().All() {
		v, _ := rl.Resource().Attributes().Get("service.name")
		out = append(out, v.Str())
	}
	return out
}

// With a selection, the listed pipeline gets a copy of only the selected
// resources, and the others the original, whole; a request with nothing
// selected copies nothing and does not call the listed pipeline.
func TestSelect(t *testing.T) {
	recs, calls := newRecorders("ai*", "remote*")
	ai, remote := recs[0], recs[1]
	c := newSelectingConnector(t, recs...)

	mixed := logsFrom("my-web-app")
	logsFrom("claude-code").ResourceLogs().MoveAndAppendTo(mixed.ResourceLogs())
	ebpf := mixed.ResourceLogs().AppendEmpty()
	ebpf.Resource().Attributes().PutStr("service.name", "codex")
	ebpf.Resource().Attributes().PutStr("telemetry.sdk.name", "otel-ai-collector-ebpf")
	if err := c.ConsumeLogs(context.Background(), mixed); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(services(ai.got[0]), ","); got != "claude-code" {
		t.Errorf("listed pipeline got resources %s, want claude-code only", got)
	}
	if got := strings.Join(services(remote.got[0]), ","); got != "my-web-app,claude-code,codex" {
		t.Errorf("other pipeline got resources %s, want all three", got)
	}
	// The listed pipeline changed its copy (its first resource: claude-code),
	// the last pipeline the original (its first resource: my-web-app).
	if v, _ := mixed.ResourceLogs().At(0).Resource().Attributes().Get("changed.by"); v.Str() != "remote" {
		t.Errorf("original changed by %q, want by the last pipeline, which gets it uncopied", v.Str())
	}
	if _, changed := mixed.ResourceLogs().At(1).Resource().Attributes().Get("changed.by"); changed {
		t.Error("the listed pipeline's change reached the original")
	}

	other := logsFrom("my-web-app")
	if err := c.ConsumeLogs(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if strings.Join(*calls, ",") != "ai,remote,remote" || len(ai.got) != 1 {
		t.Errorf("calls %v, want the listed pipeline skipped for a request with nothing selected", *calls)
	}
	if v, _ := other.ResourceLogs().At(0).Resource().Attributes().Get("changed.by"); v.Str() != "remote" {
		t.Error("the only other pipeline did not get the original (it was copied for nothing)")
	}
}

func TestSelectConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		sel  ResourceSelect
		want string
	}{
		"nothing":      {ResourceSelect{}, "select.include: give attribute and regex, scope_name or item_name"},
		"no attribute": {ResourceSelect{Include: Match{AttributeRegex: AttributeRegex{Regex: "x"}}}, "select.include: attribute must name"},
		"bad regex":    {ResourceSelect{Include: Match{AttributeRegex: AttributeRegex{Attribute: "service.name", Regex: "("}}}, `select.include: regex "("`},
		"bad scope":    {ResourceSelect{Include: Match{ScopeName: "("}}, `select.include.scope_name: regex "("`},
		"bad item":     {ResourceSelect{Include: Match{ItemName: "["}}, `select.include.item_name: regex "["`},
		"bad report":   {ResourceSelect{Include: Match{ItemName: "x"}, ReportUnselected: &Report{Match: Match{ScopeName: "("}}}, "select.report_unselected.scope_name"},
		"bad exclude": {ResourceSelect{Include: Match{AttributeRegex: AttributeRegex{Attribute: "service.name", Regex: "x"}},
			Exclude: []AttributeRegex{{Attribute: "a", Regex: "["}}}, "select.exclude[0]"},
	} {
		cfg := &Config{Order: []pipeline.ID{pid(pipeline.SignalLogs, "ai")}, Select: &tc.sel}
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", name, err, tc.want)
		}
	}
}

// A resource is also selected by what it holds: a scope or a log event
// named like an AI CLI's, whatever its service.name.
func TestSelectByContent(t *testing.T) {
	recs, _ := newRecorders("ai", "remote")
	ai := recs[0]
	sel := &ResourceSelect{
		Include: Match{
			AttributeRegex: AttributeRegex{Attribute: "service.name", Regex: "^claude-code$"},
			ScopeName:      `^com\.anthropic\.claude_code`,
			ItemName:       `^(codex|gemini_cli)\.`,
		},
	}
	c := newSelectingConnectorWith(t, sel, connectortest.NewNopSettings(metadata.Type), recs...)

	ld := logsFrom("my-web-app") // body "hello": not selected
	byScope := ld.ResourceLogs().AppendEmpty()
	byScope.Resource().Attributes().PutStr("service.name", "renamed-claude")
	byScope.ScopeLogs().AppendEmpty().Scope().SetName("com.anthropic.claude_code.events")
	byAttr := ld.ResourceLogs().AppendEmpty()
	byAttr.Resource().Attributes().PutStr("service.name", "codex_exec")
	rec := byAttr.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	rec.Attributes().PutStr("event.name", "codex.user_prompt")
	byField := ld.ResourceLogs().AppendEmpty()
	byField.Resource().Attributes().PutStr("service.name", "gemini-next")
	byField.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().SetEventName("gemini_cli.api_request")
	byBody := ld.ResourceLogs().AppendEmpty()
	byBody.Resource().Attributes().PutStr("service.name", "some-wrapper")
	byBody.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("codex.sse_event")

	if err := c.ConsumeLogs(context.Background(), ld); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(services(ai.got[0]), ","); got != "renamed-claude,codex_exec,gemini-next,some-wrapper" {
		t.Errorf("listed pipeline got resources %s, want all but my-web-app", got)
	}
}

// A resource that the report matches but the selection leaves out is
// counted each time and logged once, with the hint.
func TestReportUnselected(t *testing.T) {
	recs, _ := newRecorders("ai", "remote")
	sel := &ResourceSelect{
		Include:          Match{AttributeRegex: AttributeRegex{Attribute: "service.name", Regex: "^claude-code$"}},
		ReportUnselected: &Report{Match: Match{ItemName: `^codex\.`}, Hint: "add it to THE_LIST"},
	}
	core, logs := observer.New(zap.InfoLevel)
	set := connectortest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	reader := sdkmetric.NewManualReader()
	set.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	c := newSelectingConnectorWith(t, sel, set, recs...)

	for range 3 {
		ld := logsFrom("claude-code")
		codex := ld.ResourceLogs().AppendEmpty()
		codex.Resource().Attributes().PutStr("service.name", "codex_exec")
		codex.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Attributes().PutStr("event.name", "codex.api_request")
		ld.ResourceLogs().AppendEmpty().Resource().Attributes().PutStr("service.name", "my-web-app")
		if err := c.ConsumeLogs(context.Background(), ld); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(services(recs[0].got[0]), ","); got != "claude-code" {
		t.Errorf("listed pipeline got %s, want claude-code only", got)
	}
	warnings := logs.FilterMessageSnippet("select.report_unselected").All()
	if len(warnings) != 1 {
		t.Fatalf("%d warnings, want 1", len(warnings))
	}
	if f := warnings[0].ContextMap(); f["service.name"] != "codex_exec" || f["hint"] != "add it to THE_LIST" {
		t.Errorf("warning fields %v", f)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var counted int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "otelcol_connector_ordered_fanout_unselected_resources" {
				for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
					counted += dp.Value
				}
			}
		}
	}
	if counted != 3 {
		t.Errorf("counted %d unselected resources, want 3 (my-web-app is not reported)", counted)
	}
}
