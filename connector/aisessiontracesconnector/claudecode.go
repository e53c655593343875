package aisessiontracesconnector

import "strings"

// Claude Code's log events, as its monitoring documentation lists them and
// as Claude Code 2.1.x sends them (testdata/claude-code/README.md): the body
// is "claude_code.<name>", every event of a turn carries prompt.id,
// tool_use_id joins a decision to its result. Numbers arrive as ints,
// doubles or strings depending on the event and version.
var claudeCode = &cliProfile{
	name:              "claude-code",
	provider:          "anthropic",
	prefix:            "claude_code.",
	cacheOutsideInput: true,
	failedCallIsFinal: true,
	sessionKeys:       []string{"session.id"},
	parse:             parseClaudeCode,
}

// claudeQuerySource reads why Claude Code made a model call: its main
// thread ("repl_main_thread..." interactively, "sdk" in print mode) or a
// side call of its own, such as the session title it has a small model
// write after the first prompt ("generate_session_title"), which is not
// part of the turn's work.
func claudeQuerySource(e *event, a attrs) {
	e.purpose = a.str("query_source")
	e.sideCall = e.purpose != "" && e.purpose != "sdk" && !strings.HasPrefix(e.purpose, "repl_main_thread")
}

func parseClaudeCode(e *event, a attrs) string {
	e.promptID = a.str("prompt.id")
	if seq, ok, _ := a.int("event.sequence"); ok {
		e.sequence = seq
	}
	switch e.name {
	case "claude_code.user_prompt":
		e.kind = kindPrompt
		// A slash command (/exit) is sent as a prompt with its name.
		e.command = a.str("command_name") != ""
	case "claude_code.api_request":
		e.kind = kindModelCall
		e.model = a.str("model")
		e.identity = a.str("request_id")
		claudeQuerySource(e, a)
		return firstBad(
			readDuration(e, a, "duration_ms"),
			readTokens(e, a, []string{"input_tokens"}, []string{"output_tokens"}, []string{"cache_read_tokens"}, []string{"cache_creation_tokens"}, nil),
			readCost(e, a, "cost_usd"),
		)
	case "claude_code.api_error":
		// Emitted once, after Claude Code gave up retrying; the retries
		// themselves send nothing.
		e.kind = kindModelCall
		e.model = a.str("model")
		e.failed = true
		e.errorText = a.str("error")
		e.errorType = a.str("status_code")
		e.identity = a.str("request_id")
		claudeQuerySource(e, a)
		if n, ok, _ := a.int("attempt"); ok {
			e.attempts = n
		}
		return readDuration(e, a, "duration_ms")
	case "claude_code.api_retries_exhausted":
		// Right after the api_error of the last attempt: the whole
		// sequence (2.1.3xx).
		e.kind = kindRetriesExhausted
		e.model = a.str("model")
		e.errorText = a.str("error")
		claudeQuerySource(e, a)
		if n, ok, _ := a.int("total_attempts"); ok {
			e.attempts = n
		}
		return readDuration(e, a, "total_retry_duration_ms")
	case "claude_code.tool_decision":
		e.kind = kindToolDecision
		e.toolName = a.str("tool_name")
		e.callID = a.str("tool_use_id")
		e.decision = normalizeDecision(a.str("decision"))
		e.source = a.str("source")
	case "claude_code.tool_result":
		// Not sent for rejected calls; repeats the decision.
		e.kind = kindToolResult
		e.toolName = a.str("tool_name")
		e.callID = a.str("tool_use_id")
		e.decision = normalizeDecision(a.str("decision_type", "decision"))
		e.source = a.str("decision_source", "source")
		if ok, present := a.boolean("success"); present && !ok {
			e.failed = true
			e.errorType = a.str("error_type")
			e.errorText = a.str("error")
		}
		return readDuration(e, a, "duration_ms")
	}
	return ""
}
