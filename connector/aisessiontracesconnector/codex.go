package aisessiontracesconnector

import (
	"regexp"
	"time"
)

// Codex CLI's log events, as codex-rs/otel writes them through the tracing
// bridge (testdata/codex/README.md): the name is in the event.name
// attribute (the OTLP EventName field holds a source location), the time
// only in observedTimeUnixNano, conversation.id is the session, and there
// is no per-turn id. A model call is spread over records: codex.api_request
// when the response headers arrive (duration_ms = time to headers), one
// codex.sse_event per streamed event, and a codex.sse_event
// response.completed that carries the token counts when the stream ends.
var codex = &cliProfile{
	name:        "codex",
	provider:    "openai",
	prefix:      "codex.",
	sessionKeys: []string{"conversation.id"},
	// codex-rs 0.169: the guardian reviewer's verdict, source AutomatedReviewer.
	reviewerSource: "automatedreviewer",
	// codex-rs: exponential backoff from 200 ms, a few seconds at most
	// over its default 4 request retries, or the server's Retry-After.
	retryGap: 2 * time.Minute,
	parse:    parseCodex,
	// tool_result's duration_ms covers the whole dispatch, including the
	// approval prompt.
	toolWaitInDuration: true,
}

// The tool output lines codex-rs 0.169.0 writes for exec_command.
var (
	codexExitLine = regexp.MustCompile(`(?m)^Process exited with code (-?\d+)$`)
	codexRejected = regexp.MustCompile(`Rejected\(\\?"(.*?)\\?"\)`)
)

// codexExitCode reads the exit code from a tool result's output, where
// Codex logs the output.
func codexExitCode(output string) string {
	if m := codexExitLine.FindStringSubmatch(output); m != nil {
		return m[1]
	}
	return ""
}

// codexRejection reads whether a failed tool result is a command Codex
// refused to run (execpolicy rules, sandbox policy), and why.
func codexRejection(output string) (string, bool) {
	if m := codexRejected.FindStringSubmatch(output); m != nil {
		return m[1], true
	}
	return "", false
}

func parseCodex(e *event, a attrs) string {
	switch e.name {
	case "codex.user_prompt":
		e.kind = kindPrompt
	case "codex.api_request":
		e.model = a.str("model")
		if endpoint := a.str("endpoint"); endpoint != "" && endpoint != "/responses" && endpoint != "unknown" {
			return "" // model listing, compaction: not the turn's model calls
		}
		if bad := readDuration(e, a, "duration_ms"); bad != "" {
			return bad
		}
		status := a.str("http.response.status_code")
		errText := a.str("error.message")
		if errText == "" && (status == "" || status[0] == '2') {
			// The call goes on streaming; its span ends with the
			// response.completed that carries the tokens.
			e.kind = kindModelRequest
			return ""
		}
		// A failed attempt: a span of its own; Codex retries with the
		// next attempt number.
		e.kind = kindModelCall
		e.failed = true
		e.errorText = errText
		e.errorType = nonEmpty(status, "_OTHER")
		e.identity = a.str("attempt")
		if n, ok, _ := a.int("attempt"); ok {
			e.attempts = n + 1 // numbered from 0
		}
	case "codex.sse_event":
		errText := a.str("error.message")
		_, hasTokens, _ := a.float("input_token_count")
		if !hasTokens && errText == "" {
			return "" // one of the stream's progress events
		}
		e.kind = kindModelCall
		e.closesCall = true
		e.model = a.str("model")
		if errText != "" {
			e.failed = true
			e.errorText = errText
			e.errorType = "stream_error"
			return ""
		}
		// input_token_count includes the cached tokens, as the
		// conventions count them.
		return readTokens(e, a, []string{"input_token_count"}, []string{"output_token_count"}, []string{"cached_token_count"}, []string{"cache_write_token_count"}, []string{"reasoning_token_count"})
	case "codex.tool_decision":
		e.kind = kindToolDecision
		e.toolName = a.str("tool_name")
		e.callID = a.str("call_id")
		e.decision = normalizeDecision(a.str("decision"))
		e.source = lowerASCII(a.str("source"))
	case "codex.tool_result":
		// duration_ms includes the wait for the user's approval; the
		// decision's time bounds the span's start (see apply).
		e.kind = kindToolResult
		e.toolName = a.str("tool_name")
		e.callID = a.str("call_id")
		output := a.str("output")
		if ok, present := a.boolean("success"); present && !ok {
			if reason, rejected := codexRejection(output); rejected {
				// 0.169.0: a command the rules or the sandbox policy
				// forbid sends no tool_decision, only this result. It
				// never ran: a rejection.
				e.kind = kindToolDecision
				e.decision = "reject"
				e.source = "policy"
				e.errorText = reason
				return ""
			}
			e.failed = true
			e.errorType = "tool_error"
		} else if code := codexExitCode(output); code != "" && code != "0" {
			// 0.169.0 reports a command that exited non-zero as a
			// success; only its output says otherwise.
			e.failed = true
			e.errorType = "exit_code"
			e.errorText = "exit code " + code
		}
		return readDuration(e, a, "duration_ms")
	}
	return ""
}
