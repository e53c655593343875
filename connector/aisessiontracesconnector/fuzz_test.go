package aisessiontracesconnector

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// FuzzEventsToSpans feeds sessions of arbitrary events (any event name of
// the three CLIs, any attribute values, any order and time) through the
// connector twice, then ends every turn. It must never panic or refuse the
// logs, and every span it emits must be well formed: valid ids, end not
// before start, children under a root of their own trace, roots once.
func FuzzEventsToSpans(f *testing.F) {
	f.Add("claude_code.user_prompt|claude_code.api_request|claude_code.tool_decision|claude_code.tool_result", "s1", "p1", "1500", "12", "accept", int64(0), int64(2000))
	f.Add("codex.user_prompt|codex.api_request|codex.sse_event|codex.tool_decision|codex.tool_result", "c1", "", "612", "8123", "denied", int64(5), int64(-3000))
	f.Add("gemini_cli.user_prompt|gemini_cli.api_error|gemini_cli.api_response|gemini_cli.tool_call|gemini_cli.conversation_finished", "g1", "g1########0", "x", "-1", "reject", int64(-1), int64(1))
	f.Add("claude_code.api_request|claude_code.user_prompt", "", "p", "1e300", "NaN", "", int64(1<<62), int64(0))
	f.Fuzz(func(t *testing.T, names, session, prompt, duration, tokens, decision string, base, step int64) {
		events := strings.Split(names, "|")
		if len(events) > 32 {
			events = events[:32]
		}
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", "fuzz")
		recs := rl.ScopeLogs().AppendEmpty().LogRecords()
		at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC).UnixNano() + base%int64(time.Hour)
		for i, name := range events {
			r := recs.AppendEmpty()
			r.Attributes().PutStr("event.name", name)
			r.SetTimestamp(pcommon.Timestamp(at + int64(i)*(step%int64(time.Minute))))
			a := r.Attributes()
			for _, k := range []string{"session.id", "conversation.id"} {
				a.PutStr(k, session)
			}
			a.PutStr("prompt.id", prompt)
			a.PutStr("prompt_id", prompt)
			a.PutStr("duration_ms", duration)
			for _, k := range []string{"input_tokens", "output_tokens", "input_token_count", "cost_usd", "cached_token_count"} {
				a.PutStr(k, tokens)
			}
			a.PutStr("decision", decision)
			a.PutStr("tool_name", prompt)
			a.PutStr("function_name", prompt)
			a.PutStr("tool_use_id", duration)
			a.PutStr("call_id", duration)
			a.PutStr("success", decision)
			a.PutStr("status_code", tokens)
			a.PutStr("http.response.status_code", tokens)
			a.PutStr("event.kind", "response.completed")
		}
		cfg := defaultTestConfig()
		cfg.MaxSessions = 2
		h := newHarness(t, cfg, nil)
		for range 2 {
			if err := h.c.ConsumeLogs(context.Background(), ld); err != nil {
				t.Fatalf("logs refused: %v", err)
			}
		}
		h.idle()
		checkWellFormed(t, h.sink.AllTraces())
	})
}

func checkWellFormed(t *testing.T, batches []ptrace.Traces) {
	roots := map[pcommon.SpanID]pcommon.TraceID{}
	rootCount := map[pcommon.SpanID]int{}
	type child struct {
		trace  pcommon.TraceID
		parent pcommon.SpanID
	}
	var children []child
	for _, td := range batches {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					if s.TraceID().IsEmpty() || s.SpanID().IsEmpty() {
						t.Fatalf("span %q with an empty id", s.Name())
					}
					if s.EndTimestamp() < s.StartTimestamp() {
						t.Fatalf("span %q ends before it starts", s.Name())
					}
					if s.ParentSpanID().IsEmpty() {
						roots[s.SpanID()] = s.TraceID()
						rootCount[s.SpanID()]++
					} else {
						children = append(children, child{s.TraceID(), s.ParentSpanID()})
					}
				}
			}
		}
	}
	for id, n := range rootCount {
		if n != 1 {
			t.Fatalf("root %s emitted %d times", id, n)
		}
	}
	for _, c := range children {
		if trace, ok := roots[c.parent]; !ok || trace != c.trace {
			t.Fatalf("a child's parent %s is not a root of its trace", c.parent)
		}
	}
}
