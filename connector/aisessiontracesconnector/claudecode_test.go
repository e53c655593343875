package aisessiontracesconnector

import (
	"testing"
)

const claudeSession = "3f9c2a71-5b8e-4d0a-9c6f-2e7b14d8a5c3"

// claudeWant is testdata/claude-code/session.json's traces, worked out by
// hand from the events (testdata/claude-code/README.md).
var claudeWant = []wantTurn{
	{
		start: "2026-11-20T10:00:05.120Z", end: "2026-11-20T10:00:49.210Z",
		attrs: map[string]any{
			attrPromptID: "8d2f6b1e-4c7a-4e39-b5d0-1a9e3f7c2b64", attrTurnEnd: "next_prompt",
			// 348 uncached + 101860 cache reads + 28830 cache writes.
			attrInputTokens: int64(131038), attrOutputTokens: int64(1651),
			attrCacheRead: int64(101860), attrCacheCreation: int64(28830), attrCost: 0.1637155,
			attrModelCalls: int64(6), attrToolCalls: int64(4), attrErrors: int64(1),
			attrRequestModel: nil, // two models in this turn
			"prompt":         "<REDACTED>", "prompt_length": "58",
		},
		children: []wantChild{
			{name: "chat claude-haiku-4-5-20251001", start: "2026-11-20T10:00:05.142Z", end: "2026-11-20T10:00:06.012Z", attrs: map[string]any{
				attrOperation: "chat", attrProvider: "anthropic", attrRequestModel: "claude-haiku-4-5-20251001",
				attrInputTokens: int64(312), attrOutputTokens: int64(14), attrCost: 0.000382, "query_source": "generate_session_title"}},
			{name: "chat claude-sonnet-5", start: "2026-11-20T10:00:05.270Z", end: "2026-11-20T10:00:09.480Z", attrs: map[string]any{
				attrInputTokens: int64(6 + 21540), attrOutputTokens: int64(212), attrCacheCreation: int64(21540), attrCacheRead: nil, attrCost: 0.083973}},
			{name: "execute_tool Read", start: "2026-11-20T10:00:09.497Z", end: "2026-11-20T10:00:09.509Z", attrs: map[string]any{
				attrOperation: "execute_tool", attrToolName: "Read", attrToolCallID: "toolu_01Ab3CdE5fGh7JkL9mNp1QrS",
				attrDecision: "accept", attrDecisionSource: "config"}},
			{name: "chat claude-sonnet-5", start: "2026-11-20T10:00:09.522Z", end: "2026-11-20T10:00:13.902Z", attrs: map[string]any{
				attrInputTokens: int64(8 + 21540 + 3120), attrCacheRead: int64(21540), attrCacheCreation: int64(3120)}},
			{name: "execute_tool Bash", start: "2026-11-20T10:00:21.345Z", end: "2026-11-20T10:00:25.215Z", failed: true, attrs: map[string]any{
				attrErrorType: "ShellError", attrDecision: "accept", attrDecisionSource: "user_temporary"}},
			{name: "chat claude-sonnet-5", start: "2026-11-20T10:00:25.240Z", end: "2026-11-20T10:00:31.660Z"},
			{name: "execute_tool Edit", start: "2026-11-20T10:00:36.053Z", end: "2026-11-20T10:00:36.101Z", attrs: map[string]any{attrDecisionSource: "user_temporary"}},
			{name: "chat claude-sonnet-5", start: "2026-11-20T10:00:36.130Z", end: "2026-11-20T10:00:38.930Z"},
			{name: "execute_tool Bash", start: "2026-11-20T10:00:41.715Z", end: "2026-11-20T10:00:45.125Z", attrs: map[string]any{attrDecisionSource: "user_permanent"}},
			{name: "chat claude-sonnet-5", start: "2026-11-20T10:00:45.160Z", end: "2026-11-20T10:00:49.210Z"},
		},
	},
	{
		start: "2026-11-20T10:01:30.402Z", end: "2026-11-20T10:01:42.315Z",
		attrs: map[string]any{attrRequestModel: "claude-sonnet-5", attrRejected: int64(1), attrToolCalls: int64(0), attrErrors: int64(0)},
		children: []wantChild{
			{name: "chat claude-sonnet-5", start: "2026-11-20T10:01:30.460Z", end: "2026-11-20T10:01:34.880Z"},
			// Rejected by the user: never ran, a zero-length span at the decision.
			{name: "execute_tool Bash", start: "2026-11-20T10:01:42.315Z", end: "2026-11-20T10:01:42.315Z", failed: true, attrs: map[string]any{
				attrDecision: "reject", attrDecisionSource: "user_reject", attrErrorType: "rejected", attrToolCallID: "toolu_01Wx3YzA5bCd7EfG9hJk1LmN"}},
		},
	},
	{
		// Claude Code gave up after 11 attempts: the turn failed.
		start: "2026-11-20T10:02:10.050Z", end: "2026-11-20T10:04:54.912Z", failed: true,
		attrs: map[string]any{attrErrorType: "529", attrErrors: int64(1)},
		children: []wantChild{
			{name: "chat claude-sonnet-5", start: "2026-11-20T10:04:53.728Z", end: "2026-11-20T10:04:54.912Z", failed: true, attrs: map[string]any{
				attrErrorType: "529", "attempt": "11"}},
		},
	},
	{
		start: "2026-11-20T10:05:20.300Z", end: "2026-11-20T10:05:34.700Z",
		attrs: map[string]any{attrTurnEnd: "idle", attrInputTokens: int64(3120 + 28830 + 6 + 31950 + 360), attrOutputTokens: int64(175 + 142)},
		children: []wantChild{
			{name: "chat claude-sonnet-5", start: "2026-11-20T10:05:20.360Z", end: "2026-11-20T10:05:26.610Z"},
			{name: "execute_tool Bash", start: "2026-11-20T10:05:31.023Z", end: "2026-11-20T10:05:31.118Z"},
			{name: "chat claude-sonnet-5", start: "2026-11-20T10:05:31.150Z", end: "2026-11-20T10:05:34.700Z"},
		},
	},
}

func TestClaudeCodeSession(t *testing.T) {
	h := newHarness(t, defaultTestConfig(), nil)
	h.consume(loadFixture(t, "testdata/claude-code/session.json"))
	if got := spanCount(h.sink.AllTraces()); got != 16+3 {
		// Every child at once, and the roots of the three turns a later
		// prompt ended; the last turn waits for the idle timeout.
		t.Errorf("%d spans before the idle timeout, want 19", got)
	}
	h.idle()
	checkTrees(t, spansOf(h.sink.AllTraces()), "claude-code", claudeSession, claudeWant)
}
