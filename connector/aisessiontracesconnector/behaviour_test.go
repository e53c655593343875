package aisessiontracesconnector

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-ai-collector/otel-ai-collector/connector/aisessiontracesconnector/aitracetest"
)

// splitAt splits a recording into the records before the first event named
// name and the rest, as two export requests.
func splitAt(t *testing.T, ld plog.Logs, name string) (before, after plog.Logs) {
	t.Helper()
	before, after = plog.NewLogs(), plog.NewLogs()
	seen := false
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, rec := range sl.LogRecords().All() {
				if got, _ := eventName(rec, sl.Scope().Name()); got == name {
					seen = true
				}
				dst := before
				if seen {
					dst = after
				}
				drl := dst.ResourceLogs().AppendEmpty()
				rl.Resource().CopyTo(drl.Resource())
				dsl := drl.ScopeLogs().AppendEmpty()
				sl.Scope().CopyTo(dsl.Scope())
				rec.CopyTo(dsl.LogRecords().AppendEmpty())
			}
		}
	}
	if !seen {
		t.Fatalf("no %s in the recording", name)
	}
	return before, after
}

// Claude Code retries a failing model call silently with its default
// policy (recorded: the prompt, then nothing for 173 s, then api_error and
// api_retries_exhausted). The turn is not ended by the 30 s idle timeout
// while it waits; its error span covers the whole sequence, with the
// attempts, inside the root's range.
func TestTurnWaitsForSilentRetries(t *testing.T) {
	prompt, failure := splitAt(t, loadFixture(t, "testdata/claude-code/real/retry_500.logs.json"), "claude_code.api_error")
	h := newHarness(t, defaultTestConfig(), nil)
	h.consume(prompt)
	for range 5 { // 5 minutes of silence, checked every minute
		h.clock.Advance(time.Minute)
		h.c.expire()
		h.c.flushPending(t.Context())
	}
	if n := spanCount(h.sink.AllTraces()); n != 0 {
		t.Fatalf("%d spans while the model call was still being retried:\n%s", n, aitracetest.Dump(aitracetest.Spans(h.sink.AllTraces())))
	}
	h.consume(failure)
	h.clock.Advance(h.c.cfg.TurnIdleTimeout + time.Second) // Claude Code gave up: the turn is over
	h.c.expire()
	h.c.flushPending(t.Context())
	spans := aitracetest.Spans(h.sink.AllTraces())
	if len(spans) != 2 {
		t.Fatalf("%d spans, want the root and one error span:\n%s", len(spans), aitracetest.Dump(spans))
	}
	root, call := spans[0].Span, spans[1].Span
	if call.Status().Code() != ptrace.StatusCodeError || attrInt(call.Attributes(), attrAttempts) != 11 {
		t.Errorf("error span: status %v, attempts %d; want Error, 11 (total_attempts)", call.Status().Code(), attrInt(call.Attributes(), attrAttempts))
	}
	if d := call.EndTimestamp().AsTime().Sub(call.StartTimestamp().AsTime()); d < 170*time.Second {
		t.Errorf("error span lasts %s, want the whole retry sequence (total_retry_duration_ms)", d)
	}
	if call.StartTimestamp() < root.StartTimestamp() || call.EndTimestamp() > root.EndTimestamp() {
		t.Errorf("error span %s..%s outside its root %s..%s", call.StartTimestamp().AsTime(), call.EndTimestamp().AsTime(), root.StartTimestamp().AsTime(), root.EndTimestamp().AsTime())
	}
	if attrInt(root.Attributes(), attrErrors) != 1 || attrInt(root.Attributes(), attrModelCalls) != 1 || root.Status().Code() != ptrace.StatusCodeError {
		t.Errorf("root: errors %d, model calls %d, status %v; want 1, 1, Error", attrInt(root.Attributes(), attrErrors), attrInt(root.Attributes(), attrModelCalls), root.Status().Code())
	}
}

// Still, a turn whose model call is never answered ends: at
// model_call_timeout.
func TestTurnWaitingForTheModelEndsAtModelCallTimeout(t *testing.T) {
	prompt, _ := splitAt(t, loadFixture(t, "testdata/claude-code/real/retry_500.logs.json"), "claude_code.api_error")
	h := newHarness(t, defaultTestConfig(), nil)
	h.consume(prompt)
	h.clock.Advance(h.c.cfg.ModelCallTimeout + time.Second)
	h.c.expire()
	h.c.flushPending(t.Context())
	if n := spanCount(h.sink.AllTraces()); n != 1 {
		t.Fatalf("%d spans after model_call_timeout, want the root", n)
	}
}

// A child that arrives after its root was emitted (a sender far behind)
// is marked and counted, never silently outside its root's range.
func TestChildAfterRootIsMarkedAndCounted(t *testing.T) {
	ld := loadFixture(t, "testdata/claude-code/real/tool_ok.logs.json")
	first, last := splitAt(t, ld, "claude_code.tool_result")
	h := newHarness(t, defaultTestConfig(), nil)
	h.consume(first)
	h.clock.Advance(h.c.cfg.ModelCallTimeout + time.Second)
	h.c.expire()
	h.c.flushPending(t.Context())
	h.consume(last)
	late := 0
	for _, s := range aitracetest.Spans(h.sink.AllTraces()) {
		if v, ok := s.Span.Attributes().Get(attrAfterRoot); ok && v.Bool() {
			late++
		}
	}
	if late != 2 { // the tool result and the model call after it
		t.Errorf("%d spans marked %s, want 2", late, attrAfterRoot)
	}
	if got := h.counter("otelcol_connector_ai_session_traces_late_spans"); got != 2 {
		t.Errorf("late spans counted %d, want 2", got)
	}
}

// The CLIs send the same attribute with different types; the spans give
// each one type: Claude Code's success "true" and duration_ms "120" are a
// bool and an int, as Gemini CLI sends them.
func TestAttributeTypesAcrossCLIs(t *testing.T) {
	h := newHarness(t, defaultTestConfig(), nil)
	h.consume(loadFixture(t, "testdata/claude-code/real/tool_ok.logs.json"))
	h.consume(loadFixture(t, "testdata/gemini-cli/real/tool_success.logs.json"))
	h.idle()
	tools := 0
	for _, s := range aitracetest.Spans(h.sink.AllTraces()) {
		a := s.Span.Attributes()
		if attrStr(a, attrOperation) != "execute_tool" {
			continue
		}
		tools++
		if v, ok := a.Get("success"); !ok || v.Type() != pcommon.ValueTypeBool || !v.Bool() {
			t.Errorf("%s (%s): success %v", s.Span.Name(), attrStr(s.Resource, "service.name"), v.AsRaw())
		}
		if v, ok := a.Get("duration_ms"); !ok || v.Type() != pcommon.ValueTypeInt {
			t.Errorf("%s (%s): duration_ms %v", s.Span.Name(), attrStr(s.Resource, "service.name"), v.AsRaw())
		}
	}
	if tools < 2 {
		t.Fatalf("%d tool spans, want Claude Code's and Gemini CLI's", tools)
	}
}

// Claude Code's /exit is a prompt that owes no model call and makes none:
// no empty turn (no root; it is in the logs), ended at the idle timeout,
// not the model call timeout. The session-title side call of the first
// prompt is marked and kept out of that turn's model and totals.
func TestClaudeCodeInteractiveCommandAndSideCall(t *testing.T) {
	h := newHarness(t, defaultTestConfig(), nil)
	h.consume(loadFixture(t, "testdata/claude-code/real/interactive.logs.json"))
	h.clock.Advance(h.c.cfg.TurnIdleTimeout + time.Second)
	h.c.expire()
	h.c.flushPending(t.Context())
	var roots []ptrace.Span
	side := 0
	for _, s := range aitracetest.Spans(h.sink.AllTraces()) {
		if s.Span.ParentSpanID().IsEmpty() {
			roots = append(roots, s.Span)
		} else if attrStr(s.Span.Attributes(), attrCallPurpose) == "generate_session_title" {
			side++
		}
	}
	if len(roots) != 1 || side != 1 {
		t.Fatalf("%d roots and %d title calls, want 1 and 1 (no turn for /exit):\n%s", len(roots), side, aitracetest.Dump(aitracetest.Spans(h.sink.AllTraces())))
	}
	first := roots[0].Attributes()
	if attrInt(first, attrModelCalls) != 1 || attrInt(first, attrSideCalls) != 1 || attrStr(first, attrRequestModel) != "claude-opus-5-5" {
		t.Errorf("first turn: model calls %d, side calls %d, model %q; want 1, 1, claude-opus-5-5", attrInt(first, attrModelCalls), attrInt(first, attrSideCalls), attrStr(first, attrRequestModel))
	}
	if got := h.counter("otelcol_connector_ai_session_traces_turns_closed", "reason", "command_without_calls"); got != 1 {
		t.Errorf("command turns without calls counted %d, want 1", got)
	}
}

// Gemini CLI's resource holds its whole command line, prompt included
// (process.command_args): it stays off the synthesized spans.
func TestCommandLineStaysOffTheSpans(t *testing.T) {
	ld := loadFixture(t, "testdata/gemini-cli/real/tool_success.logs.json")
	if _, ok := ld.ResourceLogs().At(0).Resource().Attributes().Get("process.command_args"); !ok {
		t.Fatal("the recording has no process.command_args: the test would prove nothing")
	}
	h := newHarness(t, defaultTestConfig(), nil)
	h.consume(ld)
	h.idle()
	for _, s := range aitracetest.Spans(h.sink.AllTraces()) {
		if _, ok := s.Resource.Get("process.command_args"); ok {
			t.Fatalf("span %s carries process.command_args", s.Span.Name())
		}
	}
}

// A child of a turn whose root is closed but not yet emitted (the traces
// queue refused it) joins the root: range and totals, with the prompt's
// attributes kept.
func TestChildJoinsAWaitingRoot(t *testing.T) {
	ld := loadFixture(t, "testdata/claude-code/real/tool_ok.logs.json")
	first, last := splitAt(t, ld, "claude_code.tool_result")
	h := newHarness(t, defaultTestConfig(), nil)
	h.consume(first)
	h.c.next = &refusingSink{}
	h.clock.Advance(h.c.cfg.ModelCallTimeout + time.Second)
	h.c.expire()
	h.c.flushPending(t.Context()) // refused: the root waits
	h.c.next = h.sink
	h.consume(last)
	var root ptrace.Span
	roots := 0
	for _, s := range aitracetest.Spans(h.sink.AllTraces()) {
		if s.Span.ParentSpanID().IsEmpty() {
			root = s.Span
			roots++
		}
		if _, late := s.Span.Attributes().Get(attrAfterRoot); late {
			t.Errorf("%s marked late although its root was not emitted yet", s.Span.Name())
		}
	}
	if roots != 1 {
		t.Fatalf("%d roots, want 1", roots)
	}
	if attrInt(root.Attributes(), attrModelCalls) != 2 || attrInt(root.Attributes(), attrToolCalls) != 1 || attrStr(root.Attributes(), "prompt.id") == "" {
		t.Errorf("root: model calls %d, tool calls %d, prompt.id %q; want 2, 1 and the prompt's attributes",
			attrInt(root.Attributes(), attrModelCalls), attrInt(root.Attributes(), attrToolCalls), attrStr(root.Attributes(), "prompt.id"))
	}
}

// Gemini CLI reports every attempt (recorded: 10 x 503 over about 220 s,
// then the CLI exits 1 and says nothing more). After a failed attempt the
// turn waits for the next one within the CLI's backoff, not the whole
// model_call_timeout; then one error span covers the ten attempts.
func TestGeminiRetriesExhausted(t *testing.T) {
	ld := loadFixture(t, "testdata/gemini-cli/real/retry_exhausted.logs.json")
	h := newHarness(t, defaultTestConfig(), nil)
	h.consume(ld)
	h.clock.Advance(h.c.cfg.TurnIdleTimeout + time.Second)
	h.c.expire()
	h.c.flushPending(t.Context())
	for _, s := range aitracetest.Spans(h.sink.AllTraces()) {
		if s.Span.ParentSpanID().IsEmpty() || s.Span.Status().Code() == ptrace.StatusCodeError {
			t.Fatalf("%s emitted %s after the last failed attempt: the next attempt may still come", s.Span.Name(), h.c.cfg.TurnIdleTimeout)
		}
	}
	h.clock.Advance(geminiCLI.retryGap)
	h.c.expire()
	h.c.flushPending(t.Context())
	var errorSpans []ptrace.Span
	roots := 0
	for _, s := range aitracetest.Spans(h.sink.AllTraces()) {
		if s.Span.ParentSpanID().IsEmpty() {
			roots++
		} else if attrStr(s.Span.Attributes(), attrOperation) == "chat" && s.Span.Status().Code() == ptrace.StatusCodeError {
			errorSpans = append(errorSpans, s.Span)
		}
	}
	if roots != 1 || len(errorSpans) != 1 {
		t.Fatalf("%d roots and %d error chat spans after the CLI's backoff, want 1 and 1:\n%s", roots, len(errorSpans), aitracetest.Dump(aitracetest.Spans(h.sink.AllTraces())))
	}
	if got := attrInt(errorSpans[0].Attributes(), attrAttempts); got != 10 {
		t.Errorf("attempts %d, want the 10 the fake server refused", got)
	}
}
