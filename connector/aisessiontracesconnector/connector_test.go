package aisessiontracesconnector

import (
	"context"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"

	"github.com/otel-ai-collector/otel-ai-collector/connector/aisessiontracesconnector/aitracetest"
)

// oneRecordBatches splits a fixture into batches of one record each, with
// the record's resource and scope.
func oneRecordBatches(ld plog.Logs) []plog.Logs {
	var out []plog.Logs
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, rec := range sl.LogRecords().All() {
				one := plog.NewLogs()
				orl := one.ResourceLogs().AppendEmpty()
				rl.Resource().CopyTo(orl.Resource())
				osl := orl.ScopeLogs().AppendEmpty()
				sl.Scope().CopyTo(osl.Scope())
				rec.CopyTo(osl.LogRecords().AppendEmpty())
				out = append(out, one)
			}
		}
	}
	return out
}

func claudeExpected(t *testing.T) []aitracetest.Turn {
	return aitracetest.LoadExpected(t, "testdata/claude-code/expected.json")
}

// A sender that retries a batch (its first answer was lost) makes no second
// copy of any span: nothing downstream (the traces, the span metrics derived
// from them) counts it twice, and the turn totals count each event once.
func TestRetriedBatchYieldsTheSameSpans(t *testing.T) {
	once := newHarness(t, defaultTestConfig(), nil)
	once.consume(loadFixture(t, "testdata/claude-code/session.json"))
	once.idle()

	twice := newHarness(t, defaultTestConfig(), nil)
	for _, batch := range oneRecordBatches(loadFixture(t, "testdata/claude-code/session.json")) {
		twice.consume(batch)
		twice.consume(batch) // the retry
	}
	twice.idle()

	ids := func(h *harness) map[pcommon.SpanID]bool {
		m := map[pcommon.SpanID]bool{}
		for _, s := range aitracetest.Spans(h.sink.AllTraces()) {
			m[s.Span.SpanID()] = true
		}
		return m
	}
	a, b := ids(once), ids(twice)
	if len(a) != 20 || len(a) != len(b) {
		t.Fatalf("%d distinct spans sent once, %d sent twice; want 20 both", len(a), len(b))
	}
	for id := range a {
		if !b[id] {
			t.Errorf("span %s of the single send is missing from the retried one", id)
		}
	}
	if got := spanCount(twice.sink.AllTraces()); got != 16+4 {
		t.Errorf("%d spans emitted with retries, want %d: each once", got, 16+4)
	}
	aitracetest.Check(t, aitracetest.Spans(twice.sink.AllTraces()), "claude-code", claudeSession, claudeExpected(t))
	if got := twice.counter("otelcol_connector_ai_session_traces_events", "outcome", "repeated"); got != 4+16 {
		t.Errorf("%d repeated events counted, want 20 (4 prompts, 16 children)", got)
	}
}

// A batch the traces pipeline refuses (its queue is full) is sent again by
// the sender: the spans are made again then, none lost and none twice.
func TestRefusedBatchIsMadeAgainOnRetry(t *testing.T) {
	h := newHarness(t, defaultTestConfig(), nil)
	batches := oneRecordBatches(loadFixture(t, "testdata/claude-code/session.json"))
	refusing := &refusingSink{}
	h.c.next = refusing
	// The first half of the session is refused wherever it makes spans
	// (a prompt or a decision alone makes none, and is acknowledged).
	half := len(batches) / 2
	refused := 0
	for _, b := range batches[:half] {
		if err := h.c.ConsumeLogs(context.Background(), b); err != nil {
			refused++
		}
	}
	if refused < 3 {
		t.Fatalf("%d batches refused, want several", refused)
	}
	h.c.next = h.sink
	for _, b := range batches {
		h.consume(b)
	}
	h.idle()
	aitracetest.Check(t, aitracetest.Spans(h.sink.AllTraces()), "claude-code", claudeSession, claudeExpected(t))
	if got := spanCount(h.sink.AllTraces()); got != 16+4 {
		t.Errorf("%d spans emitted, want 20: each once", got)
	}
}

// Events of a turn that arrive in reverse order, one batch each, still land
// under their turn's root (Claude Code: by prompt.id).
func TestOutOfOrderAcrossBatches(t *testing.T) {
	batches := oneRecordBatches(loadFixture(t, "testdata/claude-code/session.json"))
	// Reverse the events of each turn, keeping the turns in order.
	var reordered []plog.Logs
	var turn []plog.Logs
	flush := func() {
		for i := len(turn) - 1; i >= 0; i-- {
			reordered = append(reordered, turn[i])
		}
		turn = nil
	}
	for _, b := range batches {
		if eventBody(b) == "claude_code.user_prompt" {
			flush()
		}
		turn = append(turn, b)
	}
	flush()
	h := newHarness(t, defaultTestConfig(), nil)
	for _, b := range reordered {
		h.consume(b)
	}
	h.idle()
	aitracetest.Check(t, aitracetest.Spans(h.sink.AllTraces()), "claude-code", claudeSession, claudeExpected(t))
}

// Within one batch, events are applied in the order they happened, so a
// shuffled Codex batch (no per-turn id: turns are told apart by time) gives
// the same trees.
func TestShuffledBatch(t *testing.T) {
	ld := loadFixture(t, "testdata/codex/session.json")
	recs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	shuffled := plog.NewLogRecordSlice()
	order := rand.New(rand.NewSource(1)).Perm(recs.Len())
	for _, i := range order {
		recs.At(i).CopyTo(shuffled.AppendEmpty())
	}
	shuffled.CopyTo(recs)
	h := newHarness(t, defaultTestConfig(), nil)
	h.consume(ld)
	h.idle()
	aitracetest.Check(t, aitracetest.Spans(h.sink.AllTraces()), "codex", codexSession, aitracetest.LoadExpected(t, "testdata/codex/expected.json"))
}

func eventBody(ld plog.Logs) string {
	return ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().AsString()
}

// A session idle past the timeout gets its turn's root; when the user comes
// back, the next prompt starts turn 2 in a new trace, and the first root is
// not emitted again.
func TestIdleThenContinued(t *testing.T) {
	batches := oneRecordBatches(loadFixture(t, "testdata/claude-code/session.json"))
	h := newHarness(t, defaultTestConfig(), nil)
	for _, b := range batches[:19] { // turn 1
		h.consume(b)
	}
	if roots := rootsOf(h.sink.AllTraces()); len(roots) != 0 {
		t.Fatalf("a root before the turn ended: %v", roots)
	}
	h.idle()
	roots := rootsOf(h.sink.AllTraces())
	if len(roots) != 1 || attrStr(roots[0].Attributes(), attrTurnEnd) != "idle" {
		t.Fatalf("after the idle timeout: roots %v, want turn 1 ended by idle", roots)
	}
	h.idle()                           // nothing new: nothing more
	for _, b := range batches[19:23] { // turn 2
		h.consume(b)
	}
	h.idle()
	roots = rootsOf(h.sink.AllTraces())
	if len(roots) != 2 {
		t.Fatalf("%d roots, want 2", len(roots))
	}
	if n := attrInt(roots[1].Attributes(), attrTurnNumber); n != 2 || roots[1].TraceID() == roots[0].TraceID() {
		t.Errorf("continued session: turn number %d in trace %s, want 2 in a new trace", n, roots[1].TraceID())
	}
}

func rootsOf(batches []ptrace.Traces) []ptrace.Span {
	var roots []ptrace.Span
	for _, s := range aitracetest.Spans(batches) {
		if s.Span.ParentSpanID().IsEmpty() {
			roots = append(roots, s.Span)
		}
	}
	return roots
}

// storageHost is a host with one file_storage extension.
type storageHost struct {
	component.Host
	id  component.ID
	ext extension.Extension
}

func (h storageHost) GetExtensions() map[component.ID]component.Component {
	return map[component.ID]component.Component{h.id: h.ext}
}

func startFileStorage(t *testing.T, dir string) storageHost { return startFileStorageB(t, dir) }

func startFileStorageB(t testing.TB, dir string) storageHost {
	t.Helper()
	f := filestorage.NewFactory()
	cfg := f.CreateDefaultConfig().(*filestorage.Config)
	cfg.Directory = dir
	id := component.MustNewID("file_storage")
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := ext.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return storageHost{id: id, ext: ext}
}

// A turn open when the collector stops is continued by the next process:
// one root, with the prompt's start and the totals of both halves.
func TestOpenTurnSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	batches := oneRecordBatches(loadFixture(t, "testdata/claude-code/session.json"))
	cfg := defaultTestConfig()
	id := component.MustNewID("file_storage")
	cfg.Storage = &id

	first := startFileStorage(t, dir)
	before := newHarness(t, cfg, first)
	for _, b := range batches[:10] { // turn 1, half way
		before.consume(b)
	}
	if err := before.c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := first.ext.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if roots := rootsOf(before.sink.AllTraces()); len(roots) != 0 {
		t.Fatalf("stopping emitted %d roots of open turns; they belong to the next process", len(roots))
	}

	second := startFileStorage(t, dir)
	t.Cleanup(func() { _ = second.ext.Shutdown(context.Background()) })
	after := newHarness(t, cfg, second)
	for _, b := range batches[10:] {
		after.consume(b)
	}
	after.idle()
	all := append(before.sink.AllTraces(), after.sink.AllTraces()...)
	aitracetest.Check(t, aitracetest.Spans(all), "claude-code", claudeSession, claudeExpected(t))
}

// Without storage, stopping emits the roots of open turns rather than
// losing them.
func TestShutdownWithoutStorageEmitsOpenTurns(t *testing.T) {
	h := newHarness(t, defaultTestConfig(), nil)
	for _, b := range oneRecordBatches(loadFixture(t, "testdata/claude-code/session.json"))[:5] {
		h.consume(b)
	}
	if err := h.c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	roots := rootsOf(h.sink.AllTraces())
	if len(roots) != 1 || attrStr(roots[0].Attributes(), attrTurnEnd) != "shutdown" {
		t.Fatalf("roots after shutdown: %d, want 1 ended by shutdown", len(roots))
	}
}

// 10,000 concurrent sessions with max_sessions 1,000: the state stays at the
// bound, the least recently active sessions are closed first, each eviction
// is counted and its open turn still gets its root.
func TestSessionsBounded(t *testing.T) {
	cfg := defaultTestConfig()
	h := newHarness(t, cfg, nil)
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	const sessions = 10000
	for i := 0; i < sessions; i++ {
		h.clock.Advance(time.Millisecond)
		h.consume(claudeTurn(fmt.Sprintf("session-%05d", i), start.Add(time.Duration(i)*time.Millisecond)))
	}
	h.c.mu.Lock()
	held := len(h.c.sessions)
	_, oldestKept := h.c.sessions[sessionKey("claude-code", fmt.Sprintf("session-%05d", sessions-cfg.MaxSessions))]
	h.c.mu.Unlock()
	if held != cfg.MaxSessions || !oldestKept {
		t.Errorf("%d sessions held (want %d, the most recent ones)", held, cfg.MaxSessions)
	}
	evicted := h.counter("otelcol_connector_ai_session_traces_evicted_sessions")
	if evicted != sessions-int64(cfg.MaxSessions) {
		t.Errorf("%d evictions counted, want %d", evicted, sessions-cfg.MaxSessions)
	}
	if got := h.counter("otelcol_connector_ai_session_traces_turns_closed", "reason", "evicted"); got != evicted {
		t.Errorf("%d roots of evicted turns emitted, want %d", got, evicted)
	}
}

// claudeTurn is a prompt and a model call of one Claude Code session.
func claudeTurn(session string, at time.Time) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "claude-code")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("com.anthropic.claude_code.events")
	prompt := sl.LogRecords().AppendEmpty()
	prompt.Body().SetStr("claude_code.user_prompt")
	prompt.SetTimestamp(pcommon.NewTimestampFromTime(at))
	prompt.Attributes().PutStr("session.id", session)
	prompt.Attributes().PutStr("prompt.id", session+"-p1")
	call := sl.LogRecords().AppendEmpty()
	call.Body().SetStr("claude_code.api_request")
	call.SetTimestamp(pcommon.NewTimestampFromTime(at.Add(2 * time.Second)))
	call.Attributes().PutStr("session.id", session)
	call.Attributes().PutStr("prompt.id", session+"-p1")
	call.Attributes().PutStr("model", "claude-sonnet-5")
	call.Attributes().PutInt("duration_ms", 1500)
	call.Attributes().PutInt("input_tokens", 10)
	call.Attributes().PutInt("output_tokens", 20)
	return ld
}

// Malformed or partial events never fail the batch: they are counted by
// reason, and the well-formed events beside them still become spans.
func TestMalformedEventsAreCountedNotFatal(t *testing.T) {
	h := newHarness(t, defaultTestConfig(), nil)
	ld := claudeTurn("good", time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	recs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	add := func(body string, at int64, attrs map[string]any) {
		r := recs.AppendEmpty()
		r.Body().SetStr(body)
		r.SetTimestamp(pcommon.Timestamp(at))
		_ = r.Attributes().FromRaw(attrs)
	}
	now := time.Date(2026, 11, 20, 10, 0, 5, 0, time.UTC).UnixNano()
	add("claude_code.api_request", now, map[string]any{"model": "m"})                                              // no session id
	add("claude_code.api_request", now, map[string]any{"session.id": "good", "duration_ms": "fast"})               // non-numeric duration
	add("claude_code.api_request", now, map[string]any{"session.id": "good", "duration_ms": -5})                   // negative duration
	add("claude_code.api_request", now, map[string]any{"session.id": "good", "input_tokens": "many"})              // non-numeric tokens
	add("claude_code.tool_result", 0, map[string]any{"session.id": "good"})                                        // no timestamp at all
	add("claude_code.something_new", now, map[string]any{"session.id": "good"})                                    // unknown event name
	add("claude_code.api_request", now, map[string]any{"session.id": "good", "duration_ms": []any{"1"}})           // wrong type
	add("claude_code.tool_result", now, map[string]any{"session.id": "good", "success": "maybe", "tool_name": ""}) // odd values, still a span
	h.consume(ld)
	h.idle()
	for reason, want := range map[string]int64{
		"malformed_no_session_id": 1, "malformed_invalid_duration": 3, "malformed_invalid_token_count": 1,
		"malformed_no_timestamp": 1, "ignored": 1, "span": 2,
	} {
		if got := h.counter("otelcol_connector_ai_session_traces_events", "outcome", reason); got != want {
			t.Errorf("outcome %s counted %d times, want %d", reason, got, want)
		}
	}
	if n := len(rootsOf(h.sink.AllTraces())); n != 1 {
		t.Errorf("%d roots, want 1", n)
	}
}
