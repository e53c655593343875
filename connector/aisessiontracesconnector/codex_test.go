package aisessiontracesconnector

import "testing"

const codexSession = "01a1f866-05a8-7c3e-9b2d-5f4a8e1c7d20"

// codexWant is testdata/codex/session.json's traces, worked out by hand
// from the events (testdata/codex/README.md). Codex sends its times only as
// observedTimeUnixNano.
var codexWant = []wantTurn{
	{
		start: "2026-11-20T10:00:00.000037Z", end: "2026-11-20T10:00:11.634037Z",
		attrs: map[string]any{
			attrTurnEnd: "next_prompt", attrRequestModel: "gpt-5.1-codex", attrPromptID: nil,
			attrInputTokens: int64(8123 + 8921 + 9530), attrOutputTokens: int64(212 + 486 + 301),
			attrCacheRead: int64(7936 + 8832), attrCost: nil, // Codex reports no cost
			attrModelCalls: int64(3), attrToolCalls: int64(2), attrErrors: int64(1),
			"prompt": "[REDACTED]",
		},
		children: []wantChild{
			// From the api_request (minus its time to headers) to the
			// response.completed that carries the tokens.
			{name: "chat gpt-5.1-codex", start: "2026-11-20T10:00:00.043037Z", end: "2026-11-20T10:00:02.994037Z", attrs: map[string]any{
				attrProvider: "openai", attrInputTokens: int64(8123), attrOutputTokens: int64(212), attrReasoningTokens: int64(128), attrCacheRead: nil}},
			{name: "execute_tool shell", start: "2026-11-20T10:00:02.962037Z", end: "2026-11-20T10:00:04.851037Z", failed: true, attrs: map[string]any{
				attrToolCallID: "call_Yt7pQmS2kD9eVbX1aR4nL0cF", attrDecision: "accept", attrDecisionSource: "config", attrErrorType: "tool_error"}},
			{name: "chat gpt-5.1-codex", start: "2026-11-20T10:00:04.861037Z", end: "2026-11-20T10:00:09.132037Z", attrs: map[string]any{
				attrInputTokens: int64(8921), attrCacheRead: int64(7936)}},
			{name: "execute_tool apply_patch", start: "2026-11-20T10:00:09.103037Z", end: "2026-11-20T10:00:09.149037Z", attrs: map[string]any{attrDecision: "accept"}},
			{name: "chat gpt-5.1-codex", start: "2026-11-20T10:00:09.161037Z", end: "2026-11-20T10:00:11.634037Z"},
		},
	},
	{
		start: "2026-11-20T10:00:42.000037Z", end: "2026-11-20T10:00:53.591037Z",
		attrs: map[string]any{attrRejected: int64(1), attrToolCalls: int64(0)},
		children: []wantChild{
			{name: "chat gpt-5.1-codex", start: "2026-11-20T10:00:42.025037Z", end: "2026-11-20T10:00:44.520037Z"},
			// Denied by the user: one zero-length span at the decision; the
			// "rejected by user" tool_result that follows is not a second.
			{name: "execute_tool shell", start: "2026-11-20T10:00:51.831037Z", end: "2026-11-20T10:00:51.831037Z", failed: true, attrs: map[string]any{
				attrDecision: "reject", attrDecisionSource: "user", attrErrorType: "rejected", attrToolCallID: "call_Lm2Vx8Rk4TqW9sNd1bJ6Hy0Z"}},
			{name: "chat gpt-5.1-codex", start: "2026-11-20T10:00:51.842037Z", end: "2026-11-20T10:00:53.591037Z"},
		},
	},
	{
		// The first attempt failed with a 500; the retry succeeded, so the
		// turn did not fail.
		start: "2026-11-20T10:01:35.000037Z", end: "2026-11-20T10:01:42.264037Z",
		attrs: map[string]any{attrTurnEnd: "idle", attrErrors: int64(1), attrModelCalls: int64(3)},
		children: []wantChild{
			{name: "chat gpt-5.1-codex", start: "2026-11-20T10:01:35.044037Z", end: "2026-11-20T10:01:36.245037Z", failed: true, attrs: map[string]any{
				attrErrorType: "500", "attempt": "0"}},
			{name: "chat gpt-5.1-codex", start: "2026-11-20T10:01:36.463037Z", end: "2026-11-20T10:01:38.702437Z", attrs: map[string]any{attrInputTokens: int64(10530)}},
			{name: "execute_tool shell", start: "2026-11-20T10:01:38.672037Z", end: "2026-11-20T10:01:40.633037Z"},
			{name: "chat gpt-5.1-codex", start: "2026-11-20T10:01:40.642037Z", end: "2026-11-20T10:01:42.264037Z"},
		},
	},
}

func TestCodexSession(t *testing.T) {
	h := newHarness(t, defaultTestConfig(), nil)
	h.consume(loadFixture(t, "testdata/codex/session.json"))
	h.idle()
	spans := spansOf(h.sink.AllTraces())
	checkTrees(t, spans, "codex", codexSession, codexWant)
	// The sender's service.name is kept beside the canonical one.
	if got := attrStr(spans[0].resource, attrOriginalServiceName); got != "codex_cli_rs" {
		t.Errorf("%s = %q, want codex_cli_rs", attrOriginalServiceName, got)
	}
}
