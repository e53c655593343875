package aisessiontracesconnector

import (
	"encoding/binary"
	"encoding/json"
	"sort"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// How much history a session keeps: the turns before the open one are
// remembered (closed) so that a sender's retry or a late event of an earlier
// turn lands under that turn's root instead of starting a new tree.
const (
	closedTurnsKept   = 4
	seenSpansPerTurn  = 4096 // child spans counted into a turn's totals, for de-duplication
	decisionsPerTurn  = 64   // accepted tool decisions waiting for their result
	promptAttrsMaxLen = 64 << 10
)

// sessionState is what the connector remembers of one AI CLI session. It is
// stored as JSON in the storage extension, one key a session.
type sessionState struct {
	CLI      string       `json:"cli"`
	ID       string       `json:"id"`
	Resource attrMap      `json:"resource"`
	LastSeen int64        `json:"last_seen"` // wall clock, unix ns, of the last event received
	Turns    []*turnState `json:"turns"`     // oldest first; only the last may be open
	Turned   int          `json:"turned"`    // turns started so far (numbers the next one)
	Ended    bool         `json:"ended"`     // the CLI reported the session's end
}

// turnState is one turn of a session: from a user prompt to the next one,
// the session's end, or an idle timeout.
type turnState struct {
	Key           string            `json:"key"`              // identity; the trace id derives from it
	PromptKey     string            `json:"prompt_key"`       // the prompt event's key, once seen
	Number        int               `json:"number"`           // 1-based within the session
	Start         int64             `json:"start"`            // unix ns: the prompt's time (or the first child's start)
	End           int64             `json:"end"`              // unix ns: the latest child end
	Open          bool              `json:"open"`             // no root emitted yet, more events may come
	Implicit      bool              `json:"implicit"`         // no prompt event seen: opened by a child
	PromptID      string            `json:"prompt_id"`        // the CLI's per-turn id, where it has one
	Prompt        attrMap           `json:"prompt,omitempty"` // the prompt event's attributes, as sent
	Usage         usage             `json:"usage"`
	ModelCalls    int               `json:"model_calls"`
	ToolCalls     int               `json:"tool_calls"`
	Errors        int               `json:"errors"`
	Rejected      int               `json:"rejected"`
	Models        []string          `json:"models,omitempty"`
	LastFailed    bool              `json:"last_failed"` // the turn's latest model call failed
	LastError     string            `json:"last_error,omitempty"`
	Seen          spanIDSet         `json:"seen,omitempty"` // child span ids already counted
	Decisions     []pendingDecision `json:"decisions,omitempty"`
	Closed        string            `json:"closed,omitempty"`         // why the turn ended
	CallStart     int64             `json:"call_start,omitempty"`     // unix ns: a model call under way began (Codex)
	RejectedCalls []string          `json:"rejected_calls,omitempty"` // tool calls rejected: their results are not spans
	// AwaitingModel: the CLI owes a model call (after the prompt, a tool
	// result or a request seen): a turn that goes quiet now is waiting
	// for the model, possibly retrying it silently, not over.
	AwaitingModel bool `json:"awaiting_model,omitempty"`
	// AwaitingRetry: the last attempt of a model call failed and the CLI
	// reports each attempt: the next one follows within its backoff.
	AwaitingRetry bool `json:"awaiting_retry,omitempty"`
	// Failing is a model call whose attempts failed so far: one span for
	// the whole retry sequence, emitted when a later attempt succeeds (as
	// that call's span) or when the turn ends (as an error span).
	Failing    *failingCall `json:"failing,omitempty"`
	SideCalls  int          `json:"side_calls,omitempty"`  // model calls outside the turn's main thread (Claude Code's title generation, ...)
	Links      []spanLink   `json:"links,omitempty"`       // the CLI's own spans for this turn
	LateSpans  int          `json:"late_spans,omitempty"`  // children that arrived after the root was emitted
	Command    bool         `json:"command,omitempty"`     // the prompt was a slash command
	PromptTime int64        `json:"prompt_time,omitempty"` // unix ns of the prompt event, 0 while implicit
	ReviewerOf string       `json:"reviewer_of,omitempty"` // the session whose tool call this turn reviewed (Codex's approval reviewer)
}

// failingCall is a model call's failed attempts so far.
type failingCall struct {
	Identity  string  `json:"identity"` // the first attempt's event identity: the span's id
	Start     int64   `json:"start"`
	End       int64   `json:"end"`
	Attempts  int     `json:"attempts"`
	Model     string  `json:"model,omitempty"`
	ErrorType string  `json:"error_type,omitempty"`
	ErrorText string  `json:"error_text,omitempty"`
	Attrs     attrMap `json:"attrs,omitempty"` // the last attempt's event attributes
	EventName string  `json:"event_name"`
}

// fail adds a failed attempt, or the CLI's account of the whole retry
// sequence, to the turn's failing model call. e.attempts, where the CLI
// numbers its attempts, is how many there were up to this event.
func (t *turnState) fail(e *event) {
	f := t.Failing
	if f == nil {
		f = &failingCall{Identity: eventIdentity(e), Start: e.start().UnixNano(), EventName: e.name}
		t.Failing = f
	}
	if e.kind == kindRetriesExhausted || e.cli.failedCallIsFinal && e.attempts > 0 {
		// The CLI's own count of the whole sequence (Claude Code).
		f.Attempts = max(f.Attempts, int(e.attempts))
	} else {
		// One record per attempt (Codex numbers them, but anew at
		// each of its reconnects: counted, not read).
		f.Attempts++
	}
	f.End = max(f.End, e.time.UnixNano())
	f.Start = min(f.Start, e.start().UnixNano())
	f.Model = nonEmpty(e.model, f.Model)
	f.ErrorText = nonEmpty(e.errorText, f.ErrorText)
	if e.kind == kindModelCall || f.Attrs == nil {
		// The attempt's own record describes the call best.
		f.EventName = e.name
		f.ErrorType = nonEmpty(e.errorType, nonEmpty(f.ErrorType, "_OTHER"))
		f.Attrs = newAttrMap(e.record.Attributes())
	}
}

// spanLink is a span of the CLI's own, linked from the turn's root.
type spanLink struct {
	TraceID pcommon.TraceID `json:"t"`
	SpanID  pcommon.SpanID  `json:"s"`
}

const linksPerTurn = 32

func (t *turnState) link(trace pcommon.TraceID, span pcommon.SpanID) {
	if trace.IsEmpty() || len(t.Links) >= linksPerTurn {
		return
	}
	for _, l := range t.Links {
		if l.TraceID == trace && l.SpanID == span {
			return
		}
	}
	t.Links = append(t.Links, spanLink{TraceID: trace, SpanID: span})
}

// spanIDSet is the span ids a turn has counted, stored as bytes (8 a span
// id) rather than as JSON numbers: a third of the size, written with every
// batch of the session.
type spanIDSet []uint64

func (s spanIDSet) MarshalJSON() ([]byte, error) {
	raw := make([]byte, 8*len(s))
	for i, id := range s {
		binary.BigEndian.PutUint64(raw[8*i:], id)
	}
	return json.Marshal(raw)
}

func (s *spanIDSet) UnmarshalJSON(data []byte) error {
	var raw []byte
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*s = make(spanIDSet, len(raw)/8)
	for i := range *s {
		(*s)[i] = binary.BigEndian.Uint64(raw[8*i:])
	}
	return nil
}

// pendingDecision is an accepted tool call whose result has not arrived yet.
type pendingDecision struct {
	CallID   string `json:"call_id,omitempty"`
	Tool     string `json:"tool"`
	Decision string `json:"decision"`
	Source   string `json:"source,omitempty"`
	Time     int64  `json:"time"`
}

func (t *turnState) startTime() time.Time { return time.Unix(0, t.Start) }

func (t *turnState) endTime() time.Time {
	if t.End < t.Start {
		return time.Unix(0, t.Start)
	}
	return time.Unix(0, t.End)
}

func (t *turnState) extend(start, end time.Time) {
	if t.Implicit && start.UnixNano() < t.Start {
		t.Start = start.UnixNano()
	}
	if end.UnixNano() > t.End {
		t.End = end.UnixNano()
	}
}

// seen reports whether the turn already emitted (and counted) the span:
// a sender's retry of the same events makes no second copy and does not
// double the totals.
func (t *turnState) seen(spanID uint64) bool {
	for _, seen := range t.Seen {
		if seen == spanID {
			return true
		}
	}
	return false
}

func (t *turnState) markSeen(spanID uint64) {
	if len(t.Seen) < seenSpansPerTurn {
		t.Seen = append(t.Seen, spanID)
	}
}

func (t *turnState) addModel(model string) {
	if model == "" {
		return
	}
	for _, m := range t.Models {
		if m == model {
			return
		}
	}
	if len(t.Models) < 8 {
		t.Models = append(t.Models, model)
	}
}

// takeDecision finds the accepted decision for a tool result: by call id
// where the CLI links them, else the oldest decision for the same tool.
func (t *turnState) takeDecision(callID, tool string) (pendingDecision, bool) {
	for i, d := range t.Decisions {
		linked := callID != "" && d.CallID == callID
		unlinked := (callID == "" || d.CallID == "") && d.Tool == tool
		if linked || unlinked {
			t.Decisions = append(t.Decisions[:i], t.Decisions[i+1:]...)
			return d, true
		}
	}
	return pendingDecision{}, false
}

// rejected remembers a rejected call, so the result some CLIs still send
// for it (Codex: "rejected by user") does not become a second span.
func (t *turnState) rejected(callID string) {
	if callID == "" {
		return
	}
	if len(t.RejectedCalls) >= decisionsPerTurn {
		t.RejectedCalls = t.RejectedCalls[1:]
	}
	t.RejectedCalls = append(t.RejectedCalls, callID)
}

func (t *turnState) wasRejected(callID string) bool {
	for _, id := range t.RejectedCalls {
		if callID != "" && id == callID {
			return true
		}
	}
	return false
}

func (t *turnState) keepDecision(d pendingDecision) {
	if len(t.Decisions) >= decisionsPerTurn {
		t.Decisions = t.Decisions[1:]
	}
	t.Decisions = append(t.Decisions, d)
}

// forgetDetails drops what only an open turn needs once its root is
// emitted: a closed turn is kept to place late events and retries, for which
// its key, number, times and the span ids it emitted suffice. It keeps the
// stored session small.
func (t *turnState) forgetDetails() {
	t.Prompt, t.Decisions, t.Models, t.Links, t.Failing = nil, nil, nil, nil, nil
}

// openTurn is the session's open turn, if any.
func (s *sessionState) openTurn() *turnState {
	if n := len(s.Turns); n > 0 && s.Turns[n-1].Open {
		return s.Turns[n-1]
	}
	return nil
}

// promptKey identifies a prompt event: by its time, and the CLI's prompt id
// where it has one. The id alone is not enough: Gemini CLI in -p mode sends
// its session id as the prompt id of every turn. A sender's retry repeats
// both, so it is still recognised.
func promptKey(e *event) string {
	key := "t:" + strconv.FormatInt(e.time.UnixNano(), 10)
	if e.promptID != "" {
		key = "p:" + e.promptID + "\x00" + key
	}
	return key
}

func (s *sessionState) findTurn(key string) *turnState {
	for i := len(s.Turns) - 1; i >= 0; i-- {
		if t := s.Turns[i]; t.Key == key || t.PromptKey == key {
			return t
		}
	}
	return nil
}

// closer receives the turns a session closes, to emit their roots.
type closer func(s *sessionState, t *turnState, reason string)

// onPrompt handles a user prompt: the start of a turn. It returns the turn,
// and whether the prompt was already known (a retry).
func (s *sessionState) onPrompt(e *event, closeTurn closer) (*turnState, bool) {
	key := promptKey(e)
	at := e.time.UnixNano()
	if t := s.findTurn(key); t != nil {
		return t, true
	}
	// Children that carry the prompt id came first and opened the turn.
	if t := s.implicitTurn(e.promptID); t != nil && e.promptID != "" {
		s.adopt(t, e, key)
		return t, true
	}
	// Children without a prompt id that arrived before their prompt opened
	// an implicit turn; the prompt, older than they are, takes it over.
	if open := s.openTurn(); open != nil && open.Implicit && e.promptID == "" && open.Start >= at {
		s.adopt(open, e, key)
		return open, true
	}
	s.Turned++
	t := &turnState{Key: key, PromptKey: key, Number: s.Turned, Start: at, End: at, Open: true, PromptID: e.promptID, PromptTime: at, AwaitingModel: true}
	t.Prompt = promptAttributes(e)
	if open := s.openTurn(); open != nil {
		if open.Start <= at {
			closeTurn(s, open, "next_prompt")
		} else {
			// A prompt older than the open turn: an earlier turn whose
			// prompt arrives late. It cannot be open any more.
			s.insertClosed(t, closeTurn)
			return t, false
		}
	}
	s.appendTurn(t)
	return t, false
}

// implicitTurn is the turn that children with this prompt id opened before
// their prompt arrived.
func (s *sessionState) implicitTurn(promptID string) *turnState {
	for i := len(s.Turns) - 1; i >= 0; i-- {
		if t := s.Turns[i]; t.Implicit && t.PromptID == promptID {
			return t
		}
	}
	return nil
}

func (s *sessionState) adopt(t *turnState, e *event, key string) {
	t.PromptKey = key
	t.PromptTime = e.time.UnixNano()
	t.Implicit = false
	t.PromptID = e.promptID
	if at := e.time.UnixNano(); at < t.Start {
		t.Start = at
	}
	t.Prompt = promptAttributes(e)
}

// turnFor finds the turn an event belongs to, opening an implicit one when
// the session has none that fits (the prompt was never seen, e.g. the
// collector started mid-session, or it has not arrived yet).
func (s *sessionState) turnFor(e *event, closeTurn closer) *turnState {
	if e.promptID != "" {
		// The latest turn of this prompt id that began before the event
		// ended (one id may span several turns: Gemini CLI), else the
		// earliest of them.
		var earliest *turnState
		for i := len(s.Turns) - 1; i >= 0; i-- {
			t := s.Turns[i]
			if t.PromptID != e.promptID {
				continue
			}
			if t.Start <= e.time.UnixNano() {
				return t
			}
			earliest = t
		}
		if earliest != nil {
			return earliest
		}
		return s.openImplicit(e, "p:"+e.promptID+"\x00i:"+strconv.FormatInt(e.start().UnixNano(), 10), closeTurn)
	}
	at := e.time.UnixNano()
	for i := len(s.Turns) - 1; i >= 0; i-- {
		if s.Turns[i].Start <= at {
			return s.Turns[i]
		}
	}
	if len(s.Turns) > 0 && len(s.Turns) > closedTurnsKept {
		return s.Turns[0]
	}
	if open := s.openTurn(); open != nil && open.Implicit {
		return open // an even earlier child of the same implicit turn
	}
	return s.openImplicit(e, "t:"+strconv.FormatInt(e.start().UnixNano(), 10), closeTurn)
}

func (s *sessionState) openImplicit(e *event, key string, closeTurn closer) *turnState {
	at := e.start().UnixNano()
	s.Turned++
	t := &turnState{Key: key, Number: s.Turned, Start: at, End: at, Open: true, Implicit: true, PromptID: e.promptID}
	if open := s.openTurn(); open != nil {
		if open.Start <= at {
			closeTurn(s, open, "next_prompt")
		} else {
			s.insertClosed(t, closeTurn)
			return t
		}
	}
	s.appendTurn(t)
	return t
}

// insertClosed records a turn that is older than the open one: it is closed
// at once (its root emitted), and kept in order for the events that follow.
func (s *sessionState) insertClosed(t *turnState, closeTurn closer) {
	t.Open = false
	s.Turns = append(s.Turns, t)
	sort.SliceStable(s.Turns, func(i, j int) bool { return s.Turns[i].Start < s.Turns[j].Start })
	closeTurn(s, t, "late")
	s.trim()
}

func (s *sessionState) appendTurn(t *turnState) {
	s.Turns = append(s.Turns, t)
	s.trim()
}

// trim forgets the oldest closed turns beyond what is kept.
func (s *sessionState) trim() {
	for len(s.Turns) > closedTurnsKept+1 && !s.Turns[0].Open {
		s.Turns = s.Turns[1:]
	}
}

// closeOpen ends the open turn, if any.
func (s *sessionState) closeOpen(reason string, closeTurn closer) {
	if t := s.openTurn(); t != nil {
		closeTurn(s, t, reason)
	}
}

// promptAttributes keeps the prompt event's attributes for the root span,
// exactly as the CLI sent them (prompt text only where the CLI sent it). A
// prompt larger than the bound keeps its other attributes and says how many
// bytes of which attribute were left out.
func promptAttributes(e *event) attrMap {
	am := newAttrMap(e.record.Attributes())
	if am.size() <= promptAttrsMaxLen {
		return am
	}
	for i, a := range am {
		if a.Str != nil && len(*a.Str) > 1024 {
			omitted := int64(len(*a.Str))
			am[i] = typedAttr{Key: a.Key + ".omitted_bytes", Int: &omitted}
		}
	}
	return am
}
