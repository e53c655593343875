package aisessiontracesconnector

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

const geminiSession = "3f6b2c1e-8d4a-4e7b-9c15-2a7e6d0b94f3"

// geminiWant is testdata/gemini-cli/session.json's traces, worked out by
// hand from the events (testdata/gemini-cli/README.md).
var geminiWant = []wantTurn{
	{
		start: "2026-11-20T10:00:00.118Z", end: "2026-11-20T10:00:27.655Z",
		attrs: map[string]any{attrPromptID: geminiSession + "########0", attrErrors: int64(1), attrModelCalls: int64(4), attrToolCalls: int64(2), attrCost: nil},
		children: []wantChild{
			{name: "chat gemini-2.5-pro", start: "2026-11-20T10:00:00.135Z", end: "2026-11-20T10:00:01.377Z", failed: true, attrs: map[string]any{
				attrErrorType: "429", attrProvider: "gcp.gemini", attrInputTokens: nil}},
			{name: "chat gemini-2.5-pro", start: "2026-11-20T10:00:06.214Z", end: "2026-11-20T10:00:09.590Z", attrs: map[string]any{
				attrInputTokens: int64(8431), attrOutputTokens: int64(38), attrReasoningTokens: int64(187), attrCacheRead: nil}},
			// Includes the wait for approval: the log does not separate it.
			{name: "execute_tool run_shell_command", start: "2026-11-20T10:00:09.604Z", end: "2026-11-20T10:00:16.731Z", attrs: map[string]any{attrDecision: "accept"}},
			{name: "chat gemini-2.5-pro", start: "2026-11-20T10:00:16.760Z", end: "2026-11-20T10:00:19.944Z", attrs: map[string]any{
				attrInputTokens: int64(9874), attrCacheRead: int64(7869)}},
			{name: "execute_tool read_file", start: "2026-11-20T10:00:19.958Z", end: "2026-11-20T10:00:19.989Z"},
			{name: "chat gemini-2.5-pro", start: "2026-11-20T10:00:20.010Z", end: "2026-11-20T10:00:27.655Z"},
		},
	},
	{
		start: "2026-11-20T10:01:05.220Z", end: "2026-11-20T10:01:24.930Z",
		attrs: map[string]any{attrRejected: int64(1), attrErrors: int64(1)},
		children: []wantChild{
			{name: "chat gemini-2.5-pro", start: "2026-11-20T10:01:05.240Z", end: "2026-11-20T10:01:11.802Z"},
			{name: "execute_tool read_file", start: "2026-11-20T10:01:11.818Z", end: "2026-11-20T10:01:11.836Z", failed: true, attrs: map[string]any{attrErrorType: "file_not_found"}},
			{name: "chat gemini-2.5-pro", start: "2026-11-20T10:01:11.860Z", end: "2026-11-20T10:01:16.410Z"},
			{name: "execute_tool replace", start: "2026-11-20T10:01:24.930Z", end: "2026-11-20T10:01:24.930Z", failed: true, attrs: map[string]any{
				attrDecision: "reject", attrErrorType: "rejected"}},
		},
	},
	{
		start: "2026-11-20T10:02:02.515Z", end: "2026-11-20T10:02:23.988Z",
		attrs: map[string]any{attrTurnEnd: "idle", attrRequestModel: "gemini-2.5-pro"},
		children: []wantChild{
			{name: "chat gemini-2.5-pro", start: "2026-11-20T10:02:02.533Z", end: "2026-11-20T10:02:08.071Z"},
			{name: "execute_tool replace", start: "2026-11-20T10:02:08.090Z", end: "2026-11-20T10:02:12.640Z"},
			{name: "chat gemini-2.5-pro", start: "2026-11-20T10:02:12.668Z", end: "2026-11-20T10:02:15.120Z"},
			{name: "execute_tool run_shell_command", start: "2026-11-20T10:02:15.135Z", end: "2026-11-20T10:02:20.377Z"},
			{name: "chat gemini-2.5-pro", start: "2026-11-20T10:02:20.405Z", end: "2026-11-20T10:02:23.988Z"},
		},
	},
}

// Gemini CLI exports spans of its own whenever telemetry is on, and its log
// records carry their trace context: the connector passes those spans on
// and synthesizes nothing for the session.
func TestGeminiCLINativeSpans(t *testing.T) {
	h := newHarness(t, defaultTestConfig(), nil)
	h.consume(loadFixture(t, "testdata/gemini-cli/session.json"))
	h.idle()
	if n := spanCount(h.sink.AllTraces()); n != 0 {
		t.Fatalf("synthesized %d spans for a session the CLI traces itself:\n%s", n, dump(spansOf(h.sink.AllTraces())))
	}
}

// The same session without trace context (a Gemini CLI that does not
// export spans, or whose spans go elsewhere) becomes the turn traces.
func TestGeminiCLISession(t *testing.T) {
	ld := loadFixture(t, "testdata/gemini-cli/session.json")
	withoutTraceContext(ld)
	h := newHarness(t, defaultTestConfig(), nil)
	h.consume(ld)
	h.idle()
	checkTrees(t, spansOf(h.sink.AllTraces()), "gemini-cli", geminiSession, geminiWant)
}

func withoutTraceContext(ld plog.Logs) {
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		sls := ld.ResourceLogs().At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			recs := sls.At(j).LogRecords()
			for k := 0; k < recs.Len(); k++ {
				recs.At(k).SetTraceID(pcommon.NewTraceIDEmpty())
				recs.At(k).SetSpanID(pcommon.NewSpanIDEmpty())
			}
		}
	}
}
