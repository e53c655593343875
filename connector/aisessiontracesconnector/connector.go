package aisessiontracesconnector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otel-ai-collector/otel-ai-collector/connector/aisessiontracesconnector/internal/metadata"
)

// Sessions without an open turn are forgotten after this long without an
// event; a later event of such a session starts its turn numbering anew.
const sessionRetention = 12 * time.Hour

// attrOriginalServiceName keeps the sender's own service.name on the
// resource of the synthesized spans, whose service.name is the canonical one.
const attrOriginalServiceName = "ai_session.original_service_name"

type aiConnector struct {
	cfg    *Config
	id     component.ID
	logger *zap.Logger
	next   consumer.Traces
	tel    *telemetry
	now    func() time.Time

	mu       sync.Mutex
	sessions map[string]*sessionState
	pending  []*pendingRoot // closed turns whose root is not yet emitted
	store    *stateStore

	lastFlushWarning time.Time
	alsoChanged      []*sessionState // sessions a batch changed besides its own (a reviewer linked)

	stop chan struct{}
	done chan struct{}
}

// pendingRoot is a closed turn waiting for its root span to be emitted. It
// is stored until then, so a crash between closing and emitting loses
// nothing.
type pendingRoot struct {
	CLI       string    `json:"cli"`
	SessionID string    `json:"session_id"`
	Resource  attrMap   `json:"resource"`
	Turn      turnState `json:"turn"`
	stored    bool
}

func (r *pendingRoot) storageKey() string {
	id := turnTraceID(r.CLI, r.SessionID, r.Turn.Key)
	return "r/" + id.String()
}

func sessionKey(cli, id string) string { return cli + "\x00" + id }

func newConnector(set connector.Settings, cfg *Config, next consumer.Traces) (*aiConnector, error) {
	tel, err := newTelemetry(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	c := &aiConnector{
		cfg: cfg, id: set.ID, logger: set.Logger, next: next, tel: tel, now: time.Now,
		sessions: map[string]*sessionState{},
	}
	tel.observeSessions(func() int64 {
		c.mu.Lock()
		defer c.mu.Unlock()
		return int64(len(c.sessions))
	})
	return c, nil
}

func (*aiConnector) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

func (c *aiConnector) Start(ctx context.Context, host component.Host) error {
	store, err := openStateStore(ctx, host, c.cfg.Storage, c.id)
	if err != nil {
		return err
	}
	c.store = store
	sessions, roots, err := store.load(ctx)
	if err != nil {
		return fmt.Errorf("ai_session_traces: reading the stored open turns: %w", err)
	}
	for _, s := range sessions {
		c.sessions[sessionKey(s.CLI, s.ID)] = s
	}
	c.pending = roots
	if len(sessions)+len(roots) > 0 {
		c.logger.Info("Resumed AI sessions from storage", zap.Int("sessions", len(sessions)), zap.Int("turns_to_emit", len(roots)))
	}
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	go c.closeIdleTurns()
	return nil
}

func (c *aiConnector) Shutdown(ctx context.Context) error {
	if c.stop != nil {
		close(c.stop)
		<-c.done
		c.stop = nil
	}
	if c.store == nil {
		return nil
	}
	defer func() { c.store = nil }()
	if !c.store.durable() {
		// Open turns cannot outlive the process: emit their roots now
		// rather than never.
		c.mu.Lock()
		for _, s := range c.sessions {
			s.closeOpen("shutdown", c.closeTurn)
		}
		c.mu.Unlock()
		c.flushPending(ctx)
	}
	return c.store.close(ctx)
}

// closeIdleTurns ends turns whose session went quiet, and retries roots
// that could not be emitted.
func (c *aiConnector) closeIdleTurns() {
	defer close(c.done)
	interval := min(max(c.cfg.TurnIdleTimeout/10, 100*time.Millisecond), 5*time.Second)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-ticker.C:
			c.expire()
			c.flushPending(context.Background())
		}
	}
}

func (c *aiConnector) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now().UnixNano()
	var changed []*sessionState
	var removed []string
	for key, s := range c.sessions {
		idle := time.Duration(now - s.LastSeen)
		if open := s.openTurn(); open != nil && idle >= c.idleTimeout(profileByName(s.CLI), open) {
			s.closeOpen("idle", c.closeTurn)
			changed = append(changed, s)
		} else if s.openTurn() == nil && idle >= sessionRetention {
			delete(c.sessions, key)
			removed = append(removed, key)
		}
	}
	if len(changed)+len(removed) > 0 {
		if err := c.store.save(context.Background(), changed, removed, c.pending, nil); err != nil {
			c.logger.Warn("Could not store AI session state; open turns may be lost if the collector stops now", zap.Error(err))
		}
	}
}

// idleTimeout is how long a turn may go quiet before it ends: longer while
// the CLI owes a model call, which it may be retrying silently (Claude
// Code's default policy: 11 attempts over 4 minutes, no event until the
// last fails).
func (c *aiConnector) idleTimeout(cli *cliProfile, t *turnState) time.Duration {
	switch {
	case t.AwaitingRetry && cli != nil && cli.retryGap > 0:
		// The next attempt comes within the CLI's backoff, or never
		// (it gave up and said nothing more: Gemini CLI, codex exec).
		return max(min(cli.retryGap, c.cfg.ModelCallTimeout), c.cfg.TurnIdleTimeout)
	case t.AwaitingModel:
		return max(c.cfg.ModelCallTimeout, c.cfg.TurnIdleTimeout)
	}
	return c.cfg.TurnIdleTimeout
}

// flushPending emits the roots of closed turns that are still waiting.
func (c *aiConnector) flushPending(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 {
		return
	}
	td := ptrace.NewTraces()
	c.appendRoots(td)
	if err := c.next.ConsumeTraces(ctx, td); err != nil {
		// Retried every tick; said once a minute (the traces queue is
		// full: its own metrics say why).
		if time.Since(c.lastFlushWarning) >= time.Minute {
			c.lastFlushWarning = time.Now()
			c.logger.Warn("Could not emit the root spans of ended AI turns; retrying", zap.Int("turns", len(c.pending)), zap.Error(err))
		}
		return
	}
	emitted := c.rootsEmitted()
	if err := c.store.save(ctx, nil, nil, nil, emitted); err != nil {
		c.logger.Warn("Could not remove emitted AI turns from storage; their roots may be emitted again after a restart", zap.Error(err))
	}
}

// closeTurn ends a turn; its root joins the pending ones, emitted with the
// next batch of spans.
func (c *aiConnector) closeTurn(s *sessionState, t *turnState, reason string) {
	if f := t.Failing; f != nil {
		// The retry sequence ended in failure: its error span is
		// emitted with the root.
		t.ModelCalls++
		t.Errors++
		t.LastFailed = true
		t.LastError = f.ErrorType
		t.addModel(f.Model)
		t.extend(timeOf(f.Start), timeOf(f.End))
	}
	t.Open = false
	t.Closed = reason
	if t.Command && t.ModelCalls+t.SideCalls+t.ToolCalls+t.Rejected == 0 {
		// A slash command that made no call (/exit): not a turn of the
		// conversation; its event is in the logs.
		c.tel.turnClosed("command_without_calls")
		t.forgetDetails()
		return
	}
	root := &pendingRoot{CLI: s.CLI, SessionID: s.ID, Resource: s.Resource, Turn: *t}
	root.Turn.Seen, root.Turn.Decisions = nil, nil
	c.pending = append(c.pending, root)
	t.forgetDetails()
}

func (c *aiConnector) appendRoots(td ptrace.Traces) {
	for _, r := range c.pending {
		cli := profileByName(r.CLI)
		if cli == nil {
			continue
		}
		rs := td.ResourceSpans().AppendEmpty()
		r.Resource.copyTo(rs.Resource().Attributes())
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName(metadata.ScopeName)
		s := &sessionState{CLI: r.CLI, ID: r.SessionID}
		fillRoot(ss.Spans().AppendEmpty(), s, &r.Turn, cli)
		if f := r.Turn.Failing; f != nil {
			fillFailedCall(ss.Spans().AppendEmpty(), s, &r.Turn, cli, f)
		}
	}
}

// rootsEmitted clears the pending roots after a successful emission and
// returns the ones that were stored, to delete them from the storage.
func (c *aiConnector) rootsEmitted() []*pendingRoot {
	var stored []*pendingRoot
	for _, r := range c.pending {
		c.tel.turnClosed(r.Turn.Closed)
		c.tel.span("turn")
		if r.Turn.Failing != nil {
			c.tel.span("chat")
		}
		if r.stored {
			stored = append(stored, r)
		}
	}
	c.pending = nil
	return stored
}

func profileByName(name string) *cliProfile {
	for _, p := range profiles {
		if p.name == name {
			return p
		}
	}
	return nil
}

// batchSession is one session's events within a batch.
type batchSession struct {
	cli      *cliProfile
	id       string
	resource pcommon.Resource
	events   []*event
}

// ConsumeLogs turns AI CLI events into spans. Every other log record is
// ignored; the logs themselves go on unchanged in their own pipelines.
func (c *aiConnector) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	batch := c.collect(ctx, ld)
	if len(batch) == 0 {
		c.mu.Lock()
		waiting := len(c.pending)
		c.mu.Unlock()
		if waiting == 0 {
			return nil
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	undo := c.snapshot(batch)
	td := ptrace.NewTraces()
	changed := make([]*sessionState, 0, len(batch))
	var removed []string
	var childSpans []string
	// Events are applied in the order they happened across the batch's
	// sessions, not session after session: one session's event may concern
	// another (Codex's reviewer decides a call of the session it reviews).
	type sessionEvent struct {
		s  *sessionState
		ss ptrace.ScopeSpans
		e  *event
	}
	var events []sessionEvent
	for _, b := range batch {
		s, evicted := c.session(b)
		removed = append(removed, evicted...)
		changed = append(changed, s)
		rs := td.ResourceSpans().AppendEmpty()
		s.Resource.copyTo(rs.Resource().Attributes())
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName(metadata.ScopeName)
		for _, e := range b.events {
			events = append(events, sessionEvent{s, ss, e})
		}
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].e.time.Before(events[j].e.time) })
	for _, se := range events {
		if kind := c.apply(se.s, se.e, se.ss); kind != "" {
			childSpans = append(childSpans, kind)
		}
	}
	changed = append(changed, c.alsoChanged...)
	c.alsoChanged = c.alsoChanged[:0]
	// Sessions whose events made no span this time (a prompt alone).
	td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool { return rs.ScopeSpans().At(0).Spans().Len() == 0 })
	c.appendRoots(td)

	var err error
	if td.SpanCount() > 0 {
		err = c.next.ConsumeTraces(ctx, td)
	}
	var emitted []*pendingRoot
	if err == nil {
		for _, kind := range childSpans {
			c.tel.span(kind)
		}
		emitted = c.rootsEmitted()
	} else {
		// Nothing was emitted and the sender will send the batch again:
		// the sessions go back to what they were, so the retry makes
		// the spans anew (they were marked as emitted).
		changed = undo()
	}
	if storeErr := c.store.save(ctx, changed, removed, c.pending, emitted); storeErr != nil {
		c.logger.Warn("Could not store AI session state; asking the sender to retry", zap.Error(storeErr))
		if err == nil {
			err = storeErr
		}
	}
	return err
}

// snapshot keeps the state of a batch's sessions before it is applied, and
// returns the function that restores it. That function returns the
// sessions to store: the restored ones, whose stored state is unchanged,
// are not among them.
func (c *aiConnector) snapshot(batch []*batchSession) (undo func() []*sessionState) {
	saved := make(map[string][]byte, len(batch))
	for _, b := range batch {
		key := sessionKey(b.cli.name, b.id)
		if s := c.sessions[key]; s != nil {
			saved[key], _ = json.Marshal(s)
		} else {
			saved[key] = nil
		}
	}
	pendingBefore := len(c.pending)
	return func() []*sessionState {
		for key, raw := range saved {
			if raw == nil {
				delete(c.sessions, key)
				continue
			}
			s := &sessionState{}
			if json.Unmarshal(raw, s) == nil {
				c.sessions[key] = s
			}
		}
		// Roots closed by this batch are closed again by its retry,
		// except those of sessions it evicted.
		kept := c.pending[:pendingBefore]
		for _, r := range c.pending[pendingBefore:] {
			if _, restored := saved[sessionKey(r.CLI, r.SessionID)]; !restored {
				kept = append(kept, r)
			}
		}
		c.pending = kept
		return nil
	}
}

// collect reads the AI CLI events of a batch, grouped by session and sorted
// by time within each, so events that arrive out of order within a batch
// are applied in the order they happened.
func (c *aiConnector) collect(ctx context.Context, ld plog.Logs) []*batchSession {
	var batch []*batchSession
	index := map[string]*batchSession{}
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			sl := rl.ScopeLogs().At(j)
			records := sl.LogRecords()
			for k := 0; k < records.Len(); k++ {
				rec := records.At(k)
				name, cli := eventName(rec, sl.Scope().Name())
				if cli == nil {
					continue
				}
				e, reason := readEvent(cli, name, rec, rl.Resource())
				if reason != "" {
					c.tel.event(ctx, cli.name, "malformed_"+reason)
					continue
				}
				if e.kind == kindIgnored {
					c.tel.event(ctx, cli.name, "ignored")
					continue
				}
				key := sessionKey(cli.name, e.sessionID)
				b := index[key]
				if b == nil {
					b = &batchSession{cli: cli, id: e.sessionID, resource: rl.Resource()}
					index[key] = b
					batch = append(batch, b)
				}
				b.events = append(b.events, e)
			}
		}
	}
	for _, b := range batch {
		sort.SliceStable(b.events, func(i, j int) bool {
			ti, tj := b.events[i].time, b.events[j].time
			if !ti.Equal(tj) {
				return ti.Before(tj)
			}
			// A prompt logged in the same instant as its first child
			// comes first, so the child does not open a turn of its own.
			return b.events[i].kind == kindPrompt && b.events[j].kind != kindPrompt
		})
	}
	return batch
}

func readEvent(cli *cliProfile, name string, rec plog.LogRecord, resource pcommon.Resource) (*event, string) {
	e := &event{cli: cli, name: name, record: rec, time: eventTime(rec)}
	if e.time.IsZero() {
		return nil, "no_timestamp"
	}
	e.native = !rec.TraceID().IsEmpty() && !rec.SpanID().IsEmpty()
	a := attrs{rec.Attributes()}
	e.sessionID = a.str(cli.sessionKeys...)
	if e.sessionID == "" {
		e.sessionID = attrs{resource.Attributes()}.str(cli.sessionKeys...)
	}
	if e.sessionID == "" {
		return nil, "no_session_id"
	}
	if reason := cli.parse(e, a); reason != "" {
		return nil, reason
	}
	return e, ""
}

// session returns the state of a batch's session, creating it (and
// evicting the least recently active session past the bound).
func (c *aiConnector) session(b *batchSession) (*sessionState, []string) {
	key := sessionKey(b.cli.name, b.id)
	s := c.sessions[key]
	var evicted []string
	if s == nil {
		for len(c.sessions) >= c.cfg.MaxSessions {
			evicted = append(evicted, c.evictOldest())
		}
		s = &sessionState{CLI: b.cli.name, ID: b.id}
		c.sessions[key] = s
	}
	s.LastSeen = c.now().UnixNano()
	s.Resource = outputResource(b.resource, b.cli)
	return s, evicted
}

func (c *aiConnector) evictOldest() string {
	var oldestKey string
	var oldest *sessionState
	for key, s := range c.sessions {
		if oldest == nil || s.LastSeen < oldest.LastSeen {
			oldestKey, oldest = key, s
		}
	}
	oldest.closeOpen("evicted", c.closeTurn)
	delete(c.sessions, oldestKey)
	c.tel.evicted()
	return oldestKey
}

// commandLine are resource attributes that hold a process's command line:
// Gemini CLI's holds the whole prompt (gemini -p "..."), which would ride
// on every synthesized span. They stay on the CLI's own records and spans.
var commandLine = map[string]bool{"process.command_args": true, "process.command_line": true, "process.command": true}

// outputResource is the resource of a session's spans: the CLI's own
// without its command line, with the canonical service.name and the
// sender's value kept beside it.
func outputResource(res pcommon.Resource, cli *cliProfile) attrMap {
	m := pcommon.NewMap()
	res.Attributes().CopyTo(m)
	m.RemoveIf(func(k string, _ pcommon.Value) bool { return commandLine[k] })
	if original, ok := m.Get("service.name"); ok && original.AsString() != cli.name {
		m.PutStr(attrOriginalServiceName, original.AsString())
	}
	m.PutStr("service.name", cli.name)
	return newAttrMap(m)
}

// apply updates the session with one event and appends its span, if it
// makes one. It returns the span's kind for the counters.
func (c *aiConnector) apply(s *sessionState, e *event, ss ptrace.ScopeSpans) string {
	ctx := context.Background()
	switch e.kind {
	case kindPrompt:
		s.Ended = false
		t, known := s.onPrompt(e, c.closeTurn)
		c.linkNative(t, e)
		if known {
			c.tel.event(ctx, e.cli.name, "repeated")
		} else {
			// A command to the CLI (/exit, /clear) owes no model call.
			t.Command = e.command
			t.AwaitingModel = !e.command
			c.tel.event(ctx, e.cli.name, "turn_start")
		}
		return ""
	case kindTurnEnd:
		s.closeOpen("turn_end", c.closeTurn)
		c.tel.event(ctx, e.cli.name, "turn_end")
		return ""
	case kindSessionEnd:
		s.closeOpen("session_end", c.closeTurn)
		s.Ended = true
		c.tel.event(ctx, e.cli.name, "session_end")
		return ""
	case kindModelRequest:
		t := s.turnFor(e, c.closeTurn)
		c.linkNative(t, e)
		if !e.sideCall {
			t.CallStart = e.start().UnixNano()
			t.AwaitingModel, t.AwaitingRetry = true, false
		}
		c.tel.event(ctx, e.cli.name, "request")
		return ""
	case kindRetriesExhausted:
		// The whole retry sequence of the call whose last attempt the
		// turn holds as failing (Claude Code: api_error, then this).
		t := s.turnFor(e, c.closeTurn)
		c.linkNative(t, e)
		id := spanIDKey(childSpanID(turnTraceID(s.CLI, s.ID, t.Key), eventIdentity(e)))
		if !t.seen(id) && !e.sideCall {
			t.fail(e)
			t.markSeen(id)
			t.AwaitingModel, t.AwaitingRetry = false, false
		}
		c.tel.event(ctx, e.cli.name, "retries_exhausted")
		return ""
	case kindToolDecision:
		t := s.turnFor(e, c.closeTurn)
		c.linkNative(t, e)
		if e.cli.reviewerSource != "" && e.source == e.cli.reviewerSource {
			c.linkReviewer(s, t, e)
		}
		if e.decision == "reject" && t.wasRejected(e.callID) && !t.seen(spanIDKey(childSpanID(turnTraceID(s.CLI, s.ID, t.Key), eventIdentity(e)))) {
			// The result Codex still sends for a call its reviewer denied
			// (a re-sent decision is counted as repeated below).
			c.tel.event(ctx, e.cli.name, "rejected_result")
			return ""
		}
		if e.decision != "reject" {
			t.keepDecision(pendingDecision{CallID: e.callID, Tool: e.toolName, Decision: e.decision, Source: e.source, Time: e.time.UnixNano()})
			c.tel.event(ctx, e.cli.name, "decision")
			return ""
		}
		// A rejected call never runs: its span is the decision itself.
		e.duration = 0
		e.failed = true
		e.errorType = "rejected"
		e.errorText = "tool call rejected"
		if e.source != "" {
			e.errorText += " (" + e.source + ")"
		}
	}
	t := s.turnFor(e, c.closeTurn)
	c.linkNative(t, e)
	spanID := childSpanID(turnTraceID(s.CLI, s.ID, t.Key), eventIdentity(e))
	if t.seen(spanIDKey(spanID)) {
		// A sender's retry: the span was emitted and counted already.
		c.tel.event(ctx, e.cli.name, "repeated")
		return ""
	}
	var decision *pendingDecision
	var failed *failingCall
	switch e.kind {
	case kindModelCall:
		if e.closesCall && t.CallStart != 0 && t.CallStart <= e.time.UnixNano() {
			e.duration = e.time.Sub(timeOf(t.CallStart))
		}
		if e.sideCall {
			break // not the turn's own call: its sequence and wait are unchanged
		}
		t.CallStart = 0
		t.AwaitingModel = e.failed && !e.cli.failedCallIsFinal
		t.AwaitingRetry = t.AwaitingModel
		if e.failed {
			// One span for the whole retry sequence: held until a
			// later attempt succeeds or the turn ends.
			t.fail(e)
			t.markSeen(spanIDKey(spanID))
			c.tel.event(ctx, e.cli.name, "failed_attempt")
			return ""
		}
		failed, t.Failing = t.Failing, nil
	case kindToolResult:
		t.AwaitingModel, t.AwaitingRetry = true, false
		if t.wasRejected(e.callID) {
			c.tel.event(ctx, e.cli.name, "rejected_result")
			return ""
		}
		if d, ok := t.takeDecision(e.callID, e.toolName); ok {
			decision = &d
			// A duration that includes the wait for the user's
			// approval starts at the approval instead.
			if at := timeOf(d.Time); e.cli.toolWaitInDuration && d.Source != "config" && at.After(e.start()) && !at.After(e.time) {
				e.duration = e.time.Sub(at)
			}
		}
	case kindToolDecision:
		t.rejected(e.callID)
	}
	span := ss.Spans().AppendEmpty()
	fillChild(span, s, t, e, decision)
	if failed != nil {
		// The call succeeded after failed attempts: its span covers them.
		span.Attributes().PutInt(attrAttempts, int64(failed.Attempts+1))
		if begin := pcommon.Timestamp(failed.Start); begin < span.StartTimestamp() {
			span.SetStartTimestamp(begin)
		}
	}
	t.markSeen(spanIDKey(spanID))
	t.extend(e.start(), e.time)
	c.countChild(t, e)
	if !t.Open {
		c.lateChild(s, t, e, span)
	}
	c.tel.event(ctx, e.cli.name, "span")
	if e.kind == kindModelCall {
		return "chat"
	}
	return "tool"
}

// countChild adds a child's figures to its turn's totals.
func (c *aiConnector) countChild(t *turnState, e *event) {
	switch {
	case e.kind == kindModelCall && e.sideCall:
		t.SideCalls++
	case e.kind == kindModelCall:
		t.ModelCalls++
		t.Usage.add(e.usage)
		t.addModel(e.model)
		t.LastFailed = false
	case e.kind == kindToolResult:
		t.ToolCalls++
		if e.failed {
			t.Errors++
		}
	case e.kind == kindToolDecision:
		t.Rejected++
	}
}

// lateChild handles a child of a closed turn. While the turn's root waits
// to be emitted it takes the child's range and figures; once emitted, the
// child is marked and counted: it is outside its root's range, and never
// silently.
func (c *aiConnector) lateChild(s *sessionState, t *turnState, e *event, span ptrace.Span) {
	for _, r := range c.pending {
		if r.CLI == s.CLI && r.SessionID == s.ID && r.Turn.Key == t.Key {
			r.Turn.extend(e.start(), e.time)
			c.countChild(&r.Turn, e)
			r.stored = false // rewritten with the next save
			return
		}
	}
	t.LateSpans++
	span.Attributes().PutBool(attrAfterRoot, true)
	c.tel.lateSpan(e.cli.name)
}

// linkReviewer joins the session of Codex's automatic approval reviewer to
// the turn whose tool call it decided. The reviewer runs as a session of its
// own (its own conversation.id), and nothing in its events names the session
// it reviews: it is the one-turn session of the same CLI process (the same
// resource) that began during the turn, before the decision. Its turn is
// marked ai_session.reviewer_of and the two roots link to each other.
func (c *aiConnector) linkReviewer(s *sessionState, t *turnState, e *event) {
	for _, r := range c.sessions {
		rt := r.openTurn()
		if r == s || r.CLI != s.CLI || r.Turned != 1 || rt == nil || rt.ReviewerOf != "" ||
			rt.Start < t.Start || rt.Start > e.time.UnixNano() || !reflect.DeepEqual(r.Resource, s.Resource) {
			continue
		}
		rt.ReviewerOf = s.ID
		parent := turnTraceID(s.CLI, s.ID, t.Key)
		rt.link(parent, rootSpanID(parent))
		reviewer := turnTraceID(r.CLI, r.ID, rt.Key)
		t.link(reviewer, rootSpanID(reviewer))
		c.alsoChanged = append(c.alsoChanged, r)
		return
	}
}

// linkNative remembers the CLI's own span an event's record belongs to,
// for the turn's root to link to.
func (c *aiConnector) linkNative(t *turnState, e *event) {
	if e.native {
		t.link(e.record.TraceID(), e.record.SpanID())
	}
}

var errNoStorage = errors.New("not a storage extension")
