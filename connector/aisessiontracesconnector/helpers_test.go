package aisessiontracesconnector

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"os"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-ai-collector/otel-ai-collector/connector/aisessiontracesconnector/internal/metadata"
)

// fakeClock is the connector's wall clock in tests, so idle timeouts are
// reached by moving it rather than by sleeping.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

type harness struct {
	t     *testing.T
	c     *aiConnector
	sink  *consumertest.TracesSink
	clock *fakeClock
	tel   *componenttest.Telemetry
}

// newHarness starts a connector on host (nil: no extensions) with a fake
// clock; it is shut down when the test ends unless the test does it.
func newHarness(t *testing.T, cfg *Config, host component.Host) *harness {
	t.Helper()
	return newHarnessB(t, t, cfg, host)
}

func newHarnessB(tb testing.TB, t *testing.T, cfg *Config, host component.Host) *harness {
	tb.Helper()
	if host == nil {
		host = componenttest.NewNopHost()
	}
	sink := &consumertest.TracesSink{}
	tel := componenttest.NewTelemetry()
	set := connectortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	// The same id across restarts, as in a collector: the storage file
	// is named after it.
	set.ID = component.NewID(metadata.Type)
	c, err := newConnector(set, cfg, sink)
	if err != nil {
		tb.Fatal(err)
	}
	clock := &fakeClock{now: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)}
	c.now = clock.Now
	if err := c.Start(context.Background(), host); err != nil {
		tb.Fatal(err)
	}
	h := &harness{t: t, c: c, sink: sink, clock: clock, tel: tel}
	tb.Cleanup(func() { _ = c.Shutdown(context.Background()) })
	return h
}

func defaultTestConfig() *Config { return createDefaultConfig().(*Config) }

func (h *harness) consume(ld plog.Logs) {
	h.t.Helper()
	if err := h.c.ConsumeLogs(context.Background(), ld); err != nil {
		h.t.Fatal(err)
	}
}

// idle moves the clock past the idle timeouts (a turn that waits for a
// model call's answer ends later) and runs the idle check.
func (h *harness) idle() {
	h.clock.Advance(max(h.c.cfg.TurnIdleTimeout, h.c.cfg.ModelCallTimeout) + time.Second)
	h.c.expire()
	h.c.flushPending(context.Background())
}

func loadFixture(t testing.TB, path string) plog.Logs {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(raw)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return ld
}

func spanCount(batches []ptrace.Traces) int {
	n := 0
	for _, td := range batches {
		n += td.SpanCount()
	}
	return n
}

func attrStr(m pcommon.Map, key string) string {
	if v, ok := m.Get(key); ok {
		return v.AsString()
	}
	return ""
}

func attrInt(m pcommon.Map, key string) int64 {
	if v, ok := m.Get(key); ok && v.Type() == pcommon.ValueTypeInt {
		return v.Int()
	}
	return -1
}

// counter sums a counter of the connector over the points whose attributes
// include the given key/value pairs.
func (h *harness) counter(name string, kv ...string) int64 {
	h.t.Helper()
	m, err := h.tel.GetMetric(name)
	if err != nil {
		return 0 // never recorded
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		h.t.Fatalf("%s is %T", name, m.Data)
	}
	var total int64
	for _, dp := range sum.DataPoints {
		match := true
		for i := 0; i+1 < len(kv); i += 2 {
			if v, found := dp.Attributes.Value(attribute.Key(kv[i])); !found || v.AsString() != kv[i+1] {
				match = false
			}
		}
		if match {
			total += dp.Value
		}
	}
	return total
}

// refusingSink refuses every batch, as a full traces queue does.
type refusingSink struct{ consumertest.TracesSink }

func (*refusingSink) ConsumeTraces(context.Context, ptrace.Traces) error {
	return errors.New("sending queue is full")
}
