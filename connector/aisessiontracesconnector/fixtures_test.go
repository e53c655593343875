package aisessiontracesconnector

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otel-ai-collector/otel-ai-collector/connector/aisessiontracesconnector/aitracetest"
)

// Each CLI's recorded-style session (testdata/<cli>/session.json) gives
// exactly the trees worked out by hand from its events
// (testdata/<cli>/expected.json; README.md beside them says how).
const (
	claudeSession = "3f9c2a71-5b8e-4d0a-9c6f-2e7b14d8a5c3"
	codexSession  = "01a1f866-05a8-7c3e-9b2d-5f4a8e1c7d20"
	geminiSession = "3f6b2c1e-8d4a-4e7b-9c15-2a7e6d0b94f3"
)

func TestClaudeCodeSession(t *testing.T) {
	h := newHarness(t, defaultTestConfig(), nil)
	h.consume(loadFixture(t, "testdata/claude-code/session.json"))
	if got := spanCount(h.sink.AllTraces()); got != 16+3 {
		// Every child at once, and the roots of the three turns a later
		// prompt ended; the last turn waits for the idle timeout.
		t.Errorf("%d spans before the idle timeout, want 19", got)
	}
	h.idle()
	aitracetest.Check(t, aitracetest.Spans(h.sink.AllTraces()), "claude-code", claudeSession,
		aitracetest.LoadExpected(t, "testdata/claude-code/expected.json"))
}

func TestCodexSession(t *testing.T) {
	h := newHarness(t, defaultTestConfig(), nil)
	h.consume(loadFixture(t, "testdata/codex/session.json"))
	h.idle()
	spans := aitracetest.Spans(h.sink.AllTraces())
	aitracetest.Check(t, spans, "codex", codexSession, aitracetest.LoadExpected(t, "testdata/codex/expected.json"))
	// The sender's service.name is kept beside the canonical one.
	if got := attrStr(spans[0].Resource, attrOriginalServiceName); got != "codex_cli_rs" {
		t.Errorf("%s = %q, want codex_cli_rs", attrOriginalServiceName, got)
	}
}

// Gemini CLI exports spans of its own whenever telemetry is on, and its log
// records carry their trace context; its spans are no turn tree (in -p mode
// each model call is a trace of its own, tools under another root). The
// connector makes the same turn trees as without them, and each turn's
// root links to the CLI's own spans of that turn: one tree per turn, the
// CLI's spans a click away.
func TestGeminiCLINativeSpansLinked(t *testing.T) {
	ld := loadFixture(t, "testdata/gemini-cli/session.json")
	h := newHarness(t, defaultTestConfig(), nil)
	h.consume(ld)
	h.idle()
	spans := aitracetest.Spans(h.sink.AllTraces())
	aitracetest.Check(t, spans, "gemini-cli", geminiSession, aitracetest.LoadExpected(t, "testdata/gemini-cli/expected.json"))

	native := map[pcommon.SpanID]bool{}
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, rec := range sl.LogRecords().All() {
				native[rec.SpanID()] = true
			}
		}
	}
	links := 0
	for _, s := range spans {
		if !s.Span.ParentSpanID().IsEmpty() {
			continue
		}
		if s.Span.Links().Len() == 0 {
			t.Errorf("root of turn %d links to none of the CLI's spans", attrInt(s.Span.Attributes(), attrTurnNumber))
		}
		for _, l := range s.Span.Links().All() {
			links++
			if !native[l.SpanID()] {
				t.Errorf("root links to span %s, which no record of the session names", l.SpanID())
			}
		}
	}
	if links == 0 {
		t.Error("no links")
	}
}

// The same session without trace context (a Gemini CLI that does not
// export spans) becomes the turn traces.
func TestGeminiCLISession(t *testing.T) {
	ld := loadFixture(t, "testdata/gemini-cli/session.json")
	withoutTraceContext(ld)
	h := newHarness(t, defaultTestConfig(), nil)
	h.consume(ld)
	h.idle()
	aitracetest.Check(t, aitracetest.Spans(h.sink.AllTraces()), "gemini-cli", geminiSession,
		aitracetest.LoadExpected(t, "testdata/gemini-cli/expected.json"))
}

func withoutTraceContext(ld plog.Logs) {
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, rec := range sl.LogRecords().All() {
				rec.SetTraceID(pcommon.NewTraceIDEmpty())
				rec.SetSpanID(pcommon.NewSpanIDEmpty())
			}
		}
	}
}
