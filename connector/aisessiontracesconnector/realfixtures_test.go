package aisessiontracesconnector

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-ai-collector/otel-ai-collector/connector/aisessiontracesconnector/aitracetest"
)

// modelCall is one request the fake model server of a real-CLI run
// answered (integration/harness.ModelCall, as the runs record it).
type modelCall struct {
	Model                                                                            string
	Status                                                                           int
	Purpose                                                                          string
	InputTokens, OutputTokens, CacheReadTokens, CacheCreationTokens, ReasoningTokens int64
	ToolCalls                                                                        []string
	UserText                                                                         string
}

func loadModelLog(t *testing.T, path string) []modelCall {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var calls []modelCall
	if err := json.Unmarshal(raw, &calls); err != nil {
		var wrapped struct{ Calls []modelCall }
		if err2 := json.Unmarshal(raw, &wrapped); err2 != nil {
			t.Fatalf("%s: %v", path, err)
		}
		calls = wrapped.Calls
	}
	return calls
}

// oracle is what a real CLI run's fake model server says the turn trees
// must hold.
type oracle struct {
	mainCalls, sideCalls, toolCalls int
	inputTokens, outputTokens       int64
	failedSequences                 int // runs of failed main calls no success followed
}

func oracleOf(cli *cliProfile, calls []modelCall) oracle {
	var o oracle
	failing := false
	for i, c := range calls {
		if c.Purpose == "guardian" {
			// Codex's automatic approval reviewer runs as a session of
			// its own (its own conversation.id, nothing naming the
			// session it reviews): its calls are that session's.
			c.Purpose = "main"
		}
		if c.Purpose != "" && c.Purpose != "main" {
			o.sideCalls++
			continue
		}
		o.toolCalls += len(c.ToolCalls)
		if c.Status/100 != 2 {
			failing = true
			last := true
			for _, next := range calls[i+1:] {
				if next.Purpose == "" || next.Purpose == "main" || next.Purpose == "guardian" {
					last = next.UserText != c.UserText
					break
				}
			}
			if last {
				o.failedSequences++
				o.mainCalls++
				failing = false
			}
			continue
		}
		failing = false
		o.mainCalls++
		in := c.InputTokens
		if cli.cacheOutsideInput {
			in += c.CacheReadTokens + c.CacheCreationTokens
		}
		o.inputTokens += in
		o.outputTokens += c.OutputTokens
	}
	_ = failing
	return o
}

// Every session recorded from the real CLIs (testdata/<cli>/real, by the
// integration tests with AICLI_RECORD=1) gives, checked against the fake
// model server's log of the same run: one root per user prompt, one chat
// span per model call answered with its exact tokens (a failed retry
// sequence: one error span), side calls marked and kept out of the totals,
// one tool span per tool call the model asked for; and the same records
// sent again add nothing.
func TestRealCLIRecordings(t *testing.T) {
	logsFiles, _ := filepath.Glob("testdata/*/real/*.logs.json")
	if len(logsFiles) == 0 {
		t.Fatal("no recordings under testdata/*/real")
	}
	for _, logsFile := range logsFiles {
		name := strings.TrimSuffix(logsFile, ".logs.json")
		cli := profileByName(strings.Split(filepath.ToSlash(logsFile), "/")[1])
		t.Run(strings.TrimPrefix(name, "testdata/"), func(t *testing.T) {
			calls := loadModelLog(t, name+".modellog.json")
			ld := loadFixture(t, logsFile)
			if ld.LogRecordCount() == 0 {
				t.Fatalf("%s holds no records: record it again (AICLI_RECORD=1)", logsFile)
			}
			want := oracleOf(cli, calls)
			if want.failedSequences > 0 && failedCallEvents(cli, ld) == 0 {
				// codex exec exits 1 without flushing its log exporter:
				// the failed attempts of a run that fails never arrive
				// (testdata/codex/real/README.md). Nothing can make a
				// span of them; the root is still there.
				t.Logf("the recording holds none of the %d failed call sequences the fake server answered: lost by the CLI", want.failedSequences)
				want.mainCalls -= want.failedSequences
				want.failedSequences = 0
			}
			h := newHarness(t, defaultTestConfig(), nil)
			h.consume(ld)
			h.consume(ld) // the sender's retry
			h.idle()
			emitted := spanCount(h.sink.AllTraces())
			spans := aitracetest.Spans(h.sink.AllTraces())
			if emitted != len(spans) {
				t.Errorf("%d spans emitted for %d distinct ids: the re-sent records made copies", emitted, len(spans))
			}
			got := tally(spans)
			if prompts := countEvents(ld, cli.prefix+"user_prompt"); got.roots != prompts {
				t.Errorf("%d roots, want one per user prompt (slash commands that made no call excepted): %d", got.roots, prompts)
			}
			if got.main != want.mainCalls || got.failed != want.failedSequences {
				t.Errorf("%d chat spans (%d failed), want %d (%d failed sequences) as the fake server answered", got.main, got.failed, want.mainCalls, want.failedSequences)
			}
			if got.side != want.sideCalls {
				t.Errorf("%d side-call spans, want %d", got.side, want.sideCalls)
			}
			if got.input != want.inputTokens || got.output != want.outputTokens {
				t.Errorf("chat spans' tokens in %d out %d, want %d and %d as the fake server reported", got.input, got.output, want.inputTokens, want.outputTokens)
			}
			if got.rootInput != got.input || got.rootOutput != got.output || got.rootCalls != got.main {
				t.Errorf("roots' totals: %d calls, tokens in %d out %d; their chat spans: %d, %d, %d", got.rootCalls, got.rootInput, got.rootOutput, got.main, got.input, got.output)
			}
			if got.tools != want.toolCalls {
				t.Errorf("%d tool spans, want %d: the tool calls the model asked for", got.tools, want.toolCalls)
			}
			for _, problem := range got.problems {
				t.Error(problem)
			}
			if t.Failed() {
				t.Log(aitracetest.Dump(spans))
			}
		})
	}
}

type spanTally struct {
	roots, main, failed, side, tools     int
	input, output, rootInput, rootOutput int64
	rootCalls                            int
	problems                             []string
}

func tally(spans []aitracetest.Span) spanTally {
	var got spanTally
	roots := map[pcommon.TraceID]ptrace.Span{}
	for _, s := range spans {
		if s.Span.ParentSpanID().IsEmpty() {
			roots[s.Span.TraceID()] = s.Span
		}
	}
	for _, s := range spans {
		a := s.Span.Attributes()
		if _, ok := s.Resource.Get("process.command_args"); ok {
			got.problems = append(got.problems, "a synthesized span's resource carries process.command_args")
		}
		switch op := attrStr(a, attrOperation); {
		case op == "invoke_agent":
			got.roots++
			got.rootInput += max(attrInt(a, attrInputTokens), 0)
			got.rootOutput += max(attrInt(a, attrOutputTokens), 0)
			got.rootCalls += int(attrInt(a, attrModelCalls))
		case op == "chat" && attrStr(a, attrCallPurpose) != "":
			got.side++
		case op == "chat":
			got.main++
			if s.Span.Status().Code() == ptrace.StatusCodeError {
				got.failed++
			} else {
				got.input += max(attrInt(a, attrInputTokens), 0)
				got.output += max(attrInt(a, attrOutputTokens), 0)
			}
		case op == "execute_tool":
			got.tools++
		}
		if root, ok := roots[s.Span.TraceID()]; !ok {
			got.problems = append(got.problems, "span "+s.Span.Name()+" has no root in its trace")
		} else if s.Span.StartTimestamp() < root.StartTimestamp() || s.Span.EndTimestamp() > root.EndTimestamp() {
			if v, late := a.Get(attrAfterRoot); !late || !v.Bool() {
				got.problems = append(got.problems, "span "+s.Span.Name()+" lies outside its root's time range, unmarked")
			}
		}
		for k, v := range a.All() {
			if want := typeOf(k); want == asBool && v.Type() != pcommon.ValueTypeBool || want == asInt && v.Type() != pcommon.ValueTypeInt {
				got.problems = append(got.problems, "attribute "+k+" of "+s.Span.Name()+" is "+v.Type().String())
			}
		}
	}
	return got
}

func countEvents(ld plog.Logs, name string) int {
	n := 0
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, rec := range sl.LogRecords().All() {
				if got, _ := eventName(rec, sl.Scope().Name()); got == name {
					if _, command := rec.Attributes().Get("command_name"); !command {
						n++
					}
				}
			}
		}
	}
	return n
}

// Codex's automatic approval reviewer is a session of its own; its turn is
// marked as the reviewer of the session whose tool call it decided, and the
// two roots link to each other.
func TestCodexReviewerJoinsTheReviewedTurn(t *testing.T) {
	h := newHarness(t, defaultTestConfig(), nil)
	h.consume(loadFixture(t, "testdata/codex/real/rejected_by_reviewer.logs.json"))
	h.idle()
	var reviewers, others []ptrace.Span
	for _, s := range aitracetest.Spans(h.sink.AllTraces()) {
		if !s.Span.ParentSpanID().IsEmpty() {
			continue
		}
		if attrStr(s.Span.Attributes(), attrReviewerOf) != "" {
			reviewers = append(reviewers, s.Span)
		} else {
			others = append(others, s.Span)
		}
	}
	if len(reviewers) != 1 || len(others) != 1 {
		t.Fatalf("want a reviewer turn and a reviewed one:\n%s", aitracetest.Dump(aitracetest.Spans(h.sink.AllTraces())))
	}
	reviewer, reviewed := reviewers[0], others[0]
	if got, want := attrStr(reviewer.Attributes(), attrReviewerOf), attrStr(reviewed.Attributes(), attrSessionID); got != want {
		t.Errorf("reviewer_of %q, want the reviewed session %q", got, want)
	}
	linked := func(from, to ptrace.Span) bool {
		for _, l := range from.Links().All() {
			if l.SpanID() == to.SpanID() {
				return true
			}
		}
		return false
	}
	if !linked(reviewer, reviewed) || !linked(reviewed, reviewer) {
		t.Error("the two roots do not link to each other")
	}
}

// failedCallEvents counts the records of failed model calls a recording
// holds.
func failedCallEvents(cli *cliProfile, ld plog.Logs) int {
	n := 0
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, rec := range sl.LogRecords().All() {
				name, p := eventName(rec, sl.Scope().Name())
				if p != cli {
					continue
				}
				if e, _ := readEvent(cli, name, rec, rl.Resource()); e != nil && e.kind == kindModelCall && e.failed {
					n++
				}
			}
		}
	}
	return n
}
