package aisessiontracesconnector

import (
	"math"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// kind is what an AI CLI's log event means for the trace of its session.
type kind int

const (
	kindIgnored          kind = iota // an event that is not a span (configuration, metrics-like, streaming chunks)
	kindPrompt                       // the user submitted a prompt: a turn starts
	kindModelRequest                 // a model call's request was answered; the call ends with a later event
	kindModelCall                    // a model call ended (successfully or not)
	kindToolResult                   // a tool ran
	kindToolDecision                 // a tool call was accepted or rejected
	kindRetriesExhausted             // the CLI gave up retrying a model call: the whole sequence's figures
	kindTurnEnd                      // the CLI says the turn is over
	kindSessionEnd                   // the CLI ended the session
)

// event is one AI CLI log event, normalized across CLIs. Only what the CLI
// sent is set; zero values mean "not reported".
type event struct {
	cli    *cliProfile
	name   string // the CLI's event name, e.g. claude_code.api_request
	kind   kind
	record plog.LogRecord

	time       time.Time     // when the CLI emitted it: the end of what it reports
	duration   time.Duration // how long the reported operation took, if reported
	sessionID  string
	promptID   string // per-turn id, where the CLI has one
	identity   string // distinguishes events of one session that share a timestamp
	model      string
	callID     string // tool call id, linking a decision to its result
	toolName   string
	decision   string // accept or reject (normalized)
	source     string // who decided: config, user, ...
	failed     bool   // the operation failed
	errorType  string
	errorText  string
	usage      usage
	sequence   int64 // the CLI's per-session sequence number, if any
	native     bool  // the record carries a trace context: the CLI traces itself
	closesCall bool  // ends the model call a kindModelRequest started: the span starts there
	sideCall   bool  // a model call outside the turn's main thread (purpose says which)
	purpose    string
	attempts   int64 // attempts of a model call, where the CLI reports them
	command    bool  // the prompt is a command to the CLI (a slash command), not to the model
}

// usage is token and cost accounting, as reported by the CLI.
type usage struct {
	InputTokens         int64   `json:"in,omitempty"`
	OutputTokens        int64   `json:"out,omitempty"`
	CacheReadTokens     int64   `json:"cr,omitempty"`
	CacheCreationTokens int64   `json:"cc,omitempty"`
	ReasoningTokens     int64   `json:"rs,omitempty"`
	CostUSD             float64 `json:"cost,omitempty"`
	HasTokens           bool    `json:"ht,omitempty"`
	HasCost             bool    `json:"hc,omitempty"`
}

func (u *usage) add(o usage) {
	u.InputTokens += o.InputTokens
	u.OutputTokens += o.OutputTokens
	u.CacheReadTokens += o.CacheReadTokens
	u.CacheCreationTokens += o.CacheCreationTokens
	u.ReasoningTokens += o.ReasoningTokens
	u.CostUSD += o.CostUSD
	u.HasTokens = u.HasTokens || o.HasTokens
	u.HasCost = u.HasCost || o.HasCost
}

// start is when the reported operation began: the event's time minus the
// duration the CLI reported (nothing is invented: without a duration the
// span has none).
func (e *event) start() time.Time { return e.time.Add(-e.duration) }

// eventName finds an event's full name (with the CLI's prefix) where the
// CLIs put it: the OTLP EventName field, a string body (Claude Code:
// "claude_code.api_request") or the event.name attribute (Codex and Gemini
// CLI: the full name; Claude Code: the short "api_request", which its scope
// name completes).
func eventName(rec plog.LogRecord, scope string) (string, *cliProfile) {
	candidates := [3]string{rec.EventName(), "", ""}
	if rec.Body().Type() == pcommon.ValueTypeStr {
		candidates[1] = rec.Body().Str()
	}
	if v, ok := rec.Attributes().Get("event.name"); ok && v.Type() == pcommon.ValueTypeStr {
		candidates[2] = v.Str()
	}
	for _, name := range candidates {
		if p := profileFor(name); p != nil {
			return name, p
		}
	}
	if p := scopeProfiles[scope]; p != nil && candidates[2] != "" {
		return p.prefix + candidates[2], p
	}
	return "", nil
}

// eventTime is the record's timestamp, else when it was observed.
func eventTime(rec plog.LogRecord) time.Time {
	if ts := rec.Timestamp(); ts != 0 {
		return ts.AsTime()
	}
	if ts := rec.ObservedTimestamp(); ts != 0 {
		return ts.AsTime()
	}
	return time.Time{}
}

// attrs reads event attributes the way the CLIs encode them: numbers arrive
// as ints, doubles or decimal strings depending on the CLI and its version.
type attrs struct{ m pcommon.Map }

func (a attrs) str(keys ...string) string {
	for _, k := range keys {
		if v, ok := a.m.Get(k); ok {
			if s := v.AsString(); s != "" {
				return s
			}
		}
	}
	return ""
}

// float returns the first of keys that is present; ok is false if none is,
// bad is true if one is present but not a number.
func (a attrs) float(keys ...string) (f float64, ok, bad bool) {
	for _, k := range keys {
		v, present := a.m.Get(k)
		if !present {
			continue
		}
		switch v.Type() {
		case pcommon.ValueTypeInt:
			return float64(v.Int()), true, false
		case pcommon.ValueTypeDouble:
			if math.IsNaN(v.Double()) || math.IsInf(v.Double(), 0) {
				return 0, false, true
			}
			return v.Double(), true, false
		case pcommon.ValueTypeStr:
			parsed, err := strconv.ParseFloat(strings.TrimSpace(v.Str()), 64)
			if err != nil || math.IsNaN(parsed) || math.IsInf(parsed, 0) {
				return 0, false, true
			}
			return parsed, true, false
		default:
			return 0, false, true
		}
	}
	return 0, false, false
}

// int reads a count; a negative or non-numeric one is bad.
func (a attrs) int(keys ...string) (n int64, ok, bad bool) {
	f, ok, bad := a.float(keys...)
	if !ok {
		return 0, false, bad
	}
	if f < 0 || f > math.MaxInt64/2 {
		return 0, false, true
	}
	return int64(f), true, false
}

// boolean reads true/false sent as a bool or a string.
func (a attrs) boolean(keys ...string) (b, ok bool) {
	for _, k := range keys {
		v, present := a.m.Get(k)
		if !present {
			continue
		}
		if b, ok := a.valueBool(v); ok {
			return b, true
		}
	}
	return false, false
}

// valueBool reads a bool sent as a bool or a string.
func (attrs) valueBool(v pcommon.Value) (b, ok bool) {
	if v.Type() == pcommon.ValueTypeBool {
		return v.Bool(), true
	}
	switch strings.ToLower(strings.TrimSpace(v.AsString())) {
	case "true", "1", "yes":
		return true, true
	case "false", "0", "no":
		return false, true
	}
	return false, false
}

// durationMs reads a duration in milliseconds. It reports bad for a
// duration that is present but not a non-negative number, or longer than a
// day (no model call or tool run of a CLI takes that long; such a value
// would stretch the turn's trace absurdly).
func (a attrs) durationMs(keys ...string) (d time.Duration, ok, bad bool) {
	f, ok, bad := a.float(keys...)
	if !ok {
		return 0, false, bad
	}
	if f < 0 || f > float64(24*time.Hour/time.Millisecond) {
		return 0, false, true
	}
	return time.Duration(f * float64(time.Millisecond)), true, false
}

// normalizeDecision maps the CLIs' words for a permission decision onto
// accept and reject: Claude Code accept/reject; Codex approved,
// approvedforsession, approvedexecpolicyamendment, networkpolicyamendment,
// denied, abort, timedout; Gemini CLI proceed_once, proceed_always*,
// modify_with_editor, modify, auto_accept, cancel.
func normalizeDecision(d string) string {
	switch d = lowerASCII(strings.TrimSpace(d)); d {
	case "":
		return ""
	case "accept", "approved", "approvedforsession", "approvedexecpolicyamendment", "networkpolicyamendment",
		"proceed_once", "proceed_always", "proceed_always_server", "proceed_always_tool", "modify_with_editor", "modify", "auto_accept":
		return "accept"
	case "reject", "denied", "abort", "timedout", "cancel":
		return "reject"
	default:
		return d
	}
}

func lowerASCII(s string) string { return strings.ToLower(s) }
