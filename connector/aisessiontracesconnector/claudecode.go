package aisessiontracesconnector

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
	sessionKeys:       []string{"session.id"},
	parse:             parseClaudeCode,
}

func parseClaudeCode(e *event, a attrs) string {
	e.promptID = a.str("prompt.id")
	if seq, ok, _ := a.int("event.sequence"); ok {
		e.sequence = seq
	}
	switch e.name {
	case "claude_code.user_prompt":
		e.kind = kindPrompt
	case "claude_code.api_request":
		e.kind = kindModelCall
		e.model = a.str("model")
		e.identity = a.str("request_id")
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
		return readDuration(e, a, "duration_ms")
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
