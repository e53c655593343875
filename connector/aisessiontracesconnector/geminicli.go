package aisessiontracesconnector

import (
	"encoding/json"
	"time"
)

// Gemini CLI's log events, from packages/core/src/telemetry
// (testdata/gemini-cli/README.md): the name is in the event.name attribute,
// prompt_id ("<session>########<n>") marks the turn, api_response and
// api_error are the model calls (api_request only announces one), and one
// tool_call record holds both the permission decision and the result. Its
// duration_ms runs from scheduling, so it includes the wait for approval,
// which the log does not separate.
var geminiCLI = &cliProfile{
	name:        "gemini-cli",
	provider:    "gcp.gemini",
	prefix:      "gemini_cli.",
	sessionKeys: []string{"session.id"},
	parse:       parseGeminiCLI,
	// packages/core/src/utils/retry.ts: 5 s doubling to 30 s, jitter
	// +-30%: at most 39 s between attempts.
	retryGap: 2 * time.Minute,
}

// geminiShellFailure reads a tool call's metadata ({"exitCode": 3,
// "isError": true} for a shell command that failed).
func geminiShellFailure(metadata string) (exitCode string, isError bool) {
	if metadata == "" {
		return "", false
	}
	var m struct {
		ExitCode *json.Number `json:"exitCode"`
		IsError  bool         `json:"isError"`
	}
	if json.Unmarshal([]byte(metadata), &m) != nil || !m.IsError {
		return "", false
	}
	if m.ExitCode != nil {
		exitCode = m.ExitCode.String()
	}
	return nonEmpty(exitCode, "unknown"), true
}

// geminiRole reads which of Gemini CLI's model calls this is: the turn's
// own ("main") or one of its helpers, such as the router that picks the
// model for the turn ("utility_router"), which is not the turn's work.
func geminiRole(e *event, a attrs) {
	e.purpose = a.str("role")
	e.sideCall = e.purpose != "" && e.purpose != "main"
}

func parseGeminiCLI(e *event, a attrs) string {
	e.promptID = a.str("prompt_id")
	switch e.name {
	case "gemini_cli.user_prompt":
		e.kind = kindPrompt
	case "gemini_cli.api_request":
		// Announces a call (the response or error ends it); its record
		// names the CLI's llm_call span, which the turn links to.
		e.kind = kindModelRequest
		e.model = a.str("model")
		geminiRole(e, a)
	case "gemini_cli.api_response":
		e.kind = kindModelCall
		e.model = a.str("model")
		geminiRole(e, a)
		if status := a.str("status_code"); status != "" && status[0] != '2' {
			e.failed = true
			e.errorType = status
			e.errorText = a.str("error")
		}
		// input_token_count includes the cached tokens; thoughts are
		// apart from the output.
		return firstBad(
			readDuration(e, a, "duration_ms"),
			readTokens(e, a, []string{"input_token_count"}, []string{"output_token_count"}, []string{"cached_content_token_count"}, nil, []string{"thoughts_token_count"}),
		)
	case "gemini_cli.api_error":
		e.kind = kindModelCall
		e.model = a.str("model")
		geminiRole(e, a)
		e.failed = true
		e.errorText = a.str("error", "error.message")
		e.errorType = nonEmpty(a.str("status_code"), nonEmpty(a.str("error_type", "error.type"), "_OTHER"))
		return readDuration(e, a, "duration_ms")
	case "gemini_cli.tool_call":
		e.toolName = a.str("function_name")
		e.decision = normalizeDecision(a.str("decision"))
		if e.decision == "reject" {
			// Cancelled by the user: it never ran.
			e.kind = kindToolDecision
			e.source = "user"
			return ""
		}
		if e.decision == "" && a.str("error_type", "error.type") == "policy_violation" {
			// Denied by a policy rule (0.61.0: no decision,
			// success=false, error_type=policy_violation): it never ran.
			e.kind = kindToolDecision
			e.decision = "reject"
			e.source = "policy"
			return ""
		}
		e.kind = kindToolResult
		if ok, present := a.boolean("success"); present && !ok {
			e.failed = true
			e.errorText = a.str("error", "error.message")
			e.errorType = nonEmpty(a.str("error_type", "error.type"), "tool_error")
		} else if exitCode, isError := geminiShellFailure(a.str("metadata")); isError {
			// 0.61.0 reports a shell command that exited non-zero as a
			// success; only its metadata says otherwise.
			e.failed = true
			e.errorType = "exit_code"
			e.errorText = "exit code " + exitCode
		}
		return readDuration(e, a, "duration_ms")
	case "gemini_cli.conversation_finished":
		// Sent when the CLI goes idle after a turn (in YOLO mode only).
		e.kind = kindTurnEnd
	}
	return ""
}
