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
// records carry their trace context: the connector passes those spans on
// and synthesizes nothing for the session.
func TestGeminiCLINativeSpans(t *testing.T) {
	h := newHarness(t, defaultTestConfig(), nil)
	h.consume(loadFixture(t, "testdata/gemini-cli/session.json"))
	h.idle()
	if n := spanCount(h.sink.AllTraces()); n != 0 {
		t.Fatalf("synthesized %d spans for a session the CLI traces itself:\n%s", n, aitracetest.Dump(aitracetest.Spans(h.sink.AllTraces())))
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
