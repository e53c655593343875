package aisessiontracesconnector

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Ids are derived from what the events say, never drawn at random, so a
// sender that retries a batch produces the same spans again (backends keep
// one tree) and a restarted collector continues the same traces.

func turnTraceID(cli, sessionID, turnKey string) pcommon.TraceID {
	sum := sha256.Sum256([]byte("ai_session_traces/v1\x00" + cli + "\x00" + sessionID + "\x00" + turnKey))
	var id pcommon.TraceID
	copy(id[:], sum[:16])
	return id
}

func rootSpanID(trace pcommon.TraceID) pcommon.SpanID {
	return spanIDOf(trace, "root")
}

func childSpanID(trace pcommon.TraceID, identity string) pcommon.SpanID {
	return spanIDOf(trace, "child\x00"+identity)
}

func spanIDOf(trace pcommon.TraceID, what string) pcommon.SpanID {
	h := sha256.New()
	h.Write(trace[:])
	h.Write([]byte(what))
	var id pcommon.SpanID
	copy(id[:], h.Sum(nil)[:8])
	if id.IsEmpty() { // all-zero is invalid in OTLP
		id[7] = 1
	}
	return id
}

func spanIDKey(id pcommon.SpanID) uint64 { return binary.BigEndian.Uint64(id[:]) }

// eventIdentity names one event within its session: its name, its exact
// time and whatever the CLI numbers it by. Two records that agree on all of
// these are the same event sent twice.
func eventIdentity(e *event) string {
	id := e.name + "\x00" + strconv.FormatInt(e.time.UnixNano(), 10) + "\x00" + e.callID + "\x00" + e.identity
	if e.sequence != 0 {
		id += "\x00" + strconv.FormatInt(e.sequence, 10)
	}
	return id
}

// sessionWide are event attributes that are the same on every event of a
// session (or restate the span's own time, name and session), kept on the
// root span only.
var sessionWide = map[string]bool{
	"session.id": true, "conversation.id": true, "event.name": true, "event.timestamp": true, "event.sequence": true,
	"user.id": true, "user.email": true, "user.account_uuid": true, "user.account_id": true, "organization.id": true,
	"terminal.type": true, "app.version": true, "originator": true, "auth_mode": true, "slug": true,
	// Claude Code 2.1.3xx: the API provider and base URL, on every event.
	"anthropic.provider": true, "anthropic.custom_base_url": true,
}

// Attribute keys. GenAI semantic conventions where they define one; the
// ai_session.* names are this connector's own, for what they do not cover.
const (
	attrOperation       = "gen_ai.operation.name"
	attrProvider        = "gen_ai.provider.name"
	attrAgentName       = "gen_ai.agent.name"
	attrConversationID  = "gen_ai.conversation.id"
	attrRequestModel    = "gen_ai.request.model"
	attrInputTokens     = "gen_ai.usage.input_tokens"
	attrOutputTokens    = "gen_ai.usage.output_tokens"
	attrCacheRead       = "gen_ai.usage.cache_read.input_tokens"
	attrCacheCreation   = "gen_ai.usage.cache_creation.input_tokens"
	attrReasoningTokens = "gen_ai.usage.reasoning.output_tokens"
	attrToolName        = "gen_ai.tool.name"
	attrToolCallID      = "gen_ai.tool.call.id"
	attrErrorType       = "error.type"
	attrSessionID       = "session.id"
	attrOpenInference   = "openinference.span.kind"
	attrCost            = "ai_session.cost_usd"
	attrTurnNumber      = "ai_session.turn.number"
	attrTurnEnd         = "ai_session.turn.end_reason"
	attrTurnImplicit    = "ai_session.turn.prompt_missing"
	attrPromptID        = "ai_session.prompt.id"
	attrModelCalls      = "ai_session.model_calls"
	attrToolCalls       = "ai_session.tool_calls"
	attrErrors          = "ai_session.errors"
	attrRejected        = "ai_session.tool_calls.rejected"
	attrDecision        = "ai_session.tool.decision"
	attrDecisionSource  = "ai_session.tool.decision.source"
	attrEventName       = "ai_session.event.name"
	attrAttempts        = "ai_session.model_call.attempts"
	attrCallPurpose     = "ai_session.call.purpose"
	attrSideCalls       = "ai_session.side_calls"
	attrAfterRoot       = "ai_session.after_root"
	attrLateSpans       = "ai_session.late_spans"
	attrTurnCommand     = "ai_session.turn.command"
	attrReviewerOf      = "ai_session.turn.reviewer_of"
)

func putUsage(m pcommon.Map, u usage) {
	if u.HasTokens {
		// The conventions count cached input in input_tokens; Anthropic
		// reports it apart (the profile says whether to add it).
		m.PutInt(attrInputTokens, u.InputTokens)
		m.PutInt(attrOutputTokens, u.OutputTokens)
		if u.CacheReadTokens > 0 {
			m.PutInt(attrCacheRead, u.CacheReadTokens)
		}
		if u.CacheCreationTokens > 0 {
			m.PutInt(attrCacheCreation, u.CacheCreationTokens)
		}
		if u.ReasoningTokens > 0 {
			m.PutInt(attrReasoningTokens, u.ReasoningTokens)
		}
	}
	if u.HasCost {
		m.PutDouble(attrCost, u.CostUSD)
	}
}

// fillChild writes the span for one model call, tool run or rejected tool
// call into span.
func fillChild(span ptrace.Span, s *sessionState, t *turnState, e *event, d *pendingDecision) {
	trace := turnTraceID(s.CLI, s.ID, t.Key)
	span.SetTraceID(trace)
	span.SetParentSpanID(rootSpanID(trace))
	span.SetSpanID(childSpanID(trace, eventIdentity(e)))
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(e.start()))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(e.time))

	attrs := span.Attributes()
	// The event's own attributes, as sent: nothing the CLI withheld (prompt
	// text, tool parameters) can appear, and users keep the CLI's names.
	// What every event of the session repeats (who, which terminal, the
	// event's own bookkeeping) stays on the turn's root, which has the
	// prompt event's attributes: each span stored is that much smaller.
	attrs.EnsureCapacity(e.record.Attributes().Len() + 12)
	for k, v := range e.record.Attributes().All() {
		if !sessionWide[k] {
			putTyped(attrs, k, v)
		}
	}
	attrs.PutStr(attrEventName, e.name)
	attrs.PutStr(attrConversationID, s.ID)
	attrs.PutStr(attrSessionID, s.ID)
	attrs.PutInt(attrTurnNumber, int64(t.Number))
	if e.cli.provider != "" {
		attrs.PutStr(attrProvider, e.cli.provider)
	}

	switch e.kind {
	case kindModelCall:
		span.SetName("chat " + nonEmpty(e.model, "unknown"))
		span.SetKind(ptrace.SpanKindClient)
		attrs.PutStr(attrOperation, "chat")
		attrs.PutStr(attrOpenInference, "LLM")
		if e.model != "" {
			attrs.PutStr(attrRequestModel, e.model)
		}
		if e.sideCall {
			attrs.PutStr(attrCallPurpose, e.purpose)
		}
		if e.attempts > 0 {
			attrs.PutInt(attrAttempts, e.attempts)
		}
		u := e.usage
		if e.cli.cacheOutsideInput && u.HasTokens {
			u.InputTokens += u.CacheReadTokens + u.CacheCreationTokens
		}
		putUsage(attrs, u)
	case kindToolResult, kindToolDecision:
		span.SetName("execute_tool " + nonEmpty(e.toolName, "unknown"))
		span.SetKind(ptrace.SpanKindInternal)
		attrs.PutStr(attrOperation, "execute_tool")
		attrs.PutStr(attrOpenInference, "TOOL")
		attrs.PutStr(attrToolName, nonEmpty(e.toolName, "unknown"))
		if e.callID != "" {
			attrs.PutStr(attrToolCallID, e.callID)
		}
		decision, source := e.decision, e.source
		if d != nil {
			if decision == "" {
				decision, source = d.Decision, d.Source
			}
			ev := span.Events().AppendEmpty()
			ev.SetName("tool_decision")
			ev.SetTimestamp(pcommon.Timestamp(d.Time))
			ev.Attributes().PutStr(attrDecision, d.Decision)
			if d.Source != "" {
				ev.Attributes().PutStr(attrDecisionSource, d.Source)
			}
		}
		if decision != "" {
			attrs.PutStr(attrDecision, decision)
		}
		if source != "" {
			attrs.PutStr(attrDecisionSource, source)
		}
	}
	if e.failed {
		span.Status().SetCode(ptrace.StatusCodeError)
		span.Status().SetMessage(e.errorText)
		attrs.PutStr(attrErrorType, nonEmpty(e.errorType, "_OTHER"))
	}
}

// fillRoot writes a turn's root span: invoke_agent <cli>, spanning the turn.
func fillRoot(span ptrace.Span, s *sessionState, t *turnState, cli *cliProfile) {
	trace := turnTraceID(s.CLI, s.ID, t.Key)
	span.SetTraceID(trace)
	span.SetSpanID(rootSpanID(trace))
	span.SetName("invoke_agent " + cli.name)
	span.SetKind(ptrace.SpanKindInternal)
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(t.startTime()))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(t.endTime()))

	attrs := span.Attributes()
	for k, v := range t.Prompt.toMap().All() {
		putTyped(attrs, k, v)
	}
	attrs.PutStr(attrOperation, "invoke_agent")
	attrs.PutStr(attrOpenInference, "AGENT")
	attrs.PutStr(attrAgentName, cli.name)
	if cli.provider != "" {
		attrs.PutStr(attrProvider, cli.provider)
	}
	attrs.PutStr(attrConversationID, s.ID)
	attrs.PutStr(attrSessionID, s.ID)
	attrs.PutInt(attrTurnNumber, int64(t.Number))
	attrs.PutStr(attrTurnEnd, t.Closed)
	if t.PromptID != "" {
		attrs.PutStr(attrPromptID, t.PromptID)
	}
	if t.Implicit {
		attrs.PutBool(attrTurnImplicit, true)
	}
	if len(t.Models) == 1 {
		attrs.PutStr(attrRequestModel, t.Models[0])
	}
	u := t.Usage
	if cli.cacheOutsideInput && u.HasTokens {
		u.InputTokens += u.CacheReadTokens + u.CacheCreationTokens
	}
	putUsage(attrs, u)
	attrs.PutInt(attrModelCalls, int64(t.ModelCalls))
	attrs.PutInt(attrToolCalls, int64(t.ToolCalls))
	attrs.PutInt(attrErrors, int64(t.Errors))
	attrs.PutInt(attrRejected, int64(t.Rejected))
	if t.SideCalls > 0 {
		attrs.PutInt(attrSideCalls, int64(t.SideCalls))
	}
	if t.LateSpans > 0 {
		attrs.PutInt(attrLateSpans, int64(t.LateSpans))
	}
	if t.Command {
		attrs.PutBool(attrTurnCommand, true)
	}
	if t.ReviewerOf != "" {
		attrs.PutStr(attrReviewerOf, t.ReviewerOf)
	}
	for _, l := range t.Links {
		link := span.Links().AppendEmpty()
		link.SetTraceID(l.TraceID)
		link.SetSpanID(l.SpanID)
	}
	if t.LastFailed {
		span.Status().SetCode(ptrace.StatusCodeError)
		span.Status().SetMessage("the turn's last model call failed")
		attrs.PutStr(attrErrorType, nonEmpty(t.LastError, "_OTHER"))
	}
}

// fillFailedCall writes the error span of a model call whose every attempt
// failed: from the first attempt's start to the last one's end, with the
// number of attempts.
func fillFailedCall(span ptrace.Span, s *sessionState, t *turnState, cli *cliProfile, f *failingCall) {
	trace := turnTraceID(s.CLI, s.ID, t.Key)
	span.SetTraceID(trace)
	span.SetParentSpanID(rootSpanID(trace))
	span.SetSpanID(childSpanID(trace, f.Identity))
	span.SetStartTimestamp(pcommon.Timestamp(f.Start))
	span.SetEndTimestamp(pcommon.Timestamp(f.End))
	span.SetName("chat " + nonEmpty(f.Model, "unknown"))
	span.SetKind(ptrace.SpanKindClient)
	attrs := span.Attributes()
	for k, v := range f.Attrs.toMap().All() {
		if !sessionWide[k] {
			putTyped(attrs, k, v)
		}
	}
	attrs.PutStr(attrEventName, f.EventName)
	attrs.PutStr(attrConversationID, s.ID)
	attrs.PutStr(attrSessionID, s.ID)
	attrs.PutInt(attrTurnNumber, int64(t.Number))
	if cli.provider != "" {
		attrs.PutStr(attrProvider, cli.provider)
	}
	attrs.PutStr(attrOperation, "chat")
	attrs.PutStr(attrOpenInference, "LLM")
	if f.Model != "" {
		attrs.PutStr(attrRequestModel, f.Model)
	}
	attrs.PutInt(attrAttempts, int64(f.Attempts))
	span.Status().SetCode(ptrace.StatusCodeError)
	span.Status().SetMessage(f.ErrorText)
	attrs.PutStr(attrErrorType, f.ErrorType)
}

func nonEmpty(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

func timeOf(ns int64) time.Time { return time.Unix(0, ns) }
