// Package aitracetest checks the traces the ai_session_traces connector
// emits against a hand-written expectation (testdata/<cli>/expected.json),
// for the connector's unit tests and the integration tests alike, so that
// both hold the output to the same trees.
package aitracetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Turn is one turn's expected trace: its root span and children in order of
// start time (then name).
type Turn struct {
	Start    string         `json:"start"`
	End      string         `json:"end"`
	Failed   bool           `json:"failed,omitempty"`
	Attrs    map[string]any `json:"attributes,omitempty"`
	Children []Child        `json:"children"`
}

// Child is an expected model call or tool span.
type Child struct {
	Name   string         `json:"name"`
	Start  string         `json:"start"`
	End    string         `json:"end"`
	Failed bool           `json:"failed,omitempty"`
	Attrs  map[string]any `json:"attributes,omitempty"` // null: the attribute is absent
}

// LoadExpected reads an expected.json.
func LoadExpected(t testing.TB, path string) []Turn {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var turns []Turn
	if err := dec.Decode(&turns); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return turns
}

// Span is a received span with its resource.
type Span struct {
	Resource pcommon.Map
	Span     ptrace.Span
}

// Spans lists every span in the batches once per span id (a sender's retry
// yields the same ids; the last copy wins), sorted by start time, then name.
func Spans(batches []ptrace.Traces) []Span {
	byID := map[pcommon.SpanID]Span{}
	var order []pcommon.SpanID
	for _, td := range batches {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					if _, seen := byID[s.SpanID()]; !seen {
						order = append(order, s.SpanID())
					}
					byID[s.SpanID()] = Span{Resource: rs.Resource().Attributes(), Span: s}
				}
			}
		}
	}
	out := make([]Span, 0, len(order))
	for _, id := range order {
		out = append(out, byID[id])
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Span, out[j].Span
		if a.StartTimestamp() != b.StartTimestamp() {
			return a.StartTimestamp() < b.StartTimestamp()
		}
		return a.Name() < b.Name()
	})
	return out
}

// Check compares the traces of one session with the expected turns, in
// order: one root per trace, its children and their parent, timing, status
// and attributes. It reports every difference.
func Check(t testing.TB, spans []Span, cli, sessionID string, want []Turn) {
	t.Helper()
	type tree struct {
		root     *Span
		children []Span
	}
	trees := map[pcommon.TraceID]*tree{}
	var roots []pcommon.TraceID
	for i := range spans {
		s := spans[i]
		tr := trees[s.Span.TraceID()]
		if tr == nil {
			tr = &tree{}
			trees[s.Span.TraceID()] = tr
		}
		if s.Span.ParentSpanID().IsEmpty() {
			if tr.root != nil {
				t.Errorf("trace %s has two roots", s.Span.TraceID())
			}
			tr.root = &spans[i]
			roots = append(roots, s.Span.TraceID())
		} else {
			tr.children = append(tr.children, s)
		}
	}
	if len(roots) != len(want) || len(trees) != len(want) {
		t.Fatalf("got %d traces with %d roots, want %d turns:\n%s", len(trees), len(roots), len(want), Dump(spans))
	}
	for i, w := range want {
		tr := trees[roots[i]]
		root := tr.root.Span
		label := fmt.Sprintf("turn %d", i+1)
		if root.Name() != "invoke_agent "+cli {
			t.Errorf("%s: root name %q", label, root.Name())
		}
		checkTiming(t, label+" root", root, w.Start, w.End)
		if failed := root.Status().Code() == ptrace.StatusCodeError; failed != w.Failed {
			t.Errorf("%s: root failed=%v, want %v", label, failed, w.Failed)
		}
		checkAttrs(t, label+" root", root.Attributes(), map[string]any{
			"gen_ai.operation.name": "invoke_agent", "gen_ai.conversation.id": sessionID, "session.id": sessionID,
			"ai_session.turn.number": json.Number(strconv.Itoa(i + 1)), "gen_ai.agent.name": cli,
		})
		checkAttrs(t, label+" root", root.Attributes(), w.Attrs)
		if got, _ := tr.root.Resource.Get("service.name"); got.AsString() != cli {
			t.Errorf("%s: resource service.name %q, want %q", label, got.AsString(), cli)
		}
		if len(tr.children) != len(w.Children) {
			t.Errorf("%s: %d children, want %d:\n%s", label, len(tr.children), len(w.Children), Dump(append([]Span{*tr.root}, tr.children...)))
			continue
		}
		for j, wc := range w.Children {
			c := tr.children[j].Span
			clabel := fmt.Sprintf("%s child %d (%s)", label, j+1, wc.Name)
			if c.Name() != wc.Name {
				t.Errorf("%s: name %q", clabel, c.Name())
			}
			if c.ParentSpanID() != root.SpanID() {
				t.Errorf("%s: parent is not the turn's root", clabel)
			}
			checkTiming(t, clabel, c, wc.Start, wc.End)
			if failed := c.Status().Code() == ptrace.StatusCodeError; failed != wc.Failed {
				t.Errorf("%s: failed=%v, want %v", clabel, failed, wc.Failed)
			}
			if c.StartTimestamp() < root.StartTimestamp() || c.EndTimestamp() > root.EndTimestamp() {
				t.Errorf("%s: outside its root's time span", clabel)
			}
			checkAttrs(t, clabel, c.Attributes(), map[string]any{"gen_ai.conversation.id": sessionID, "session.id": sessionID})
			checkAttrs(t, clabel, c.Attributes(), wc.Attrs)
		}
	}
}

func checkTiming(t testing.TB, label string, s ptrace.Span, start, end string) {
	t.Helper()
	if got := s.StartTimestamp().AsTime(); !got.Equal(parseTime(t, start)) {
		t.Errorf("%s: start %s, want %s", label, got.Format(time.RFC3339Nano), start)
	}
	if got := s.EndTimestamp().AsTime(); !got.Equal(parseTime(t, end)) {
		t.Errorf("%s: end %s, want %s", label, got.Format(time.RFC3339Nano), end)
	}
}

func parseTime(t testing.TB, s string) time.Time {
	parsed, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("expected time %q: %v", s, err)
	}
	return parsed
}

// checkAttrs compares attributes: nil means absent, numbers compare by
// value (doubles to 1e-9), everything else by its string form.
func checkAttrs(t testing.TB, label string, m pcommon.Map, want map[string]any) {
	t.Helper()
	for k, w := range want {
		v, ok := m.Get(k)
		if w == nil {
			if ok {
				t.Errorf("%s: %s=%v, want it absent", label, k, v.AsRaw())
			}
			continue
		}
		if !ok {
			t.Errorf("%s: %s absent, want %v", label, k, w)
			continue
		}
		if n, isNumber := w.(json.Number); isNumber {
			if !numberEquals(v, n) {
				t.Errorf("%s: %s=%v (%s), want %s", label, k, v.AsRaw(), v.Type(), n)
			}
			continue
		}
		if fmt.Sprint(v.AsRaw()) != fmt.Sprint(w) {
			t.Errorf("%s: %s=%v, want %v", label, k, v.AsRaw(), w)
		}
	}
}

func numberEquals(v pcommon.Value, n json.Number) bool {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		want, err := n.Int64()
		return err == nil && v.Int() == want
	case pcommon.ValueTypeDouble:
		want, err := n.Float64()
		return err == nil && math.Abs(v.Double()-want) < 1e-9
	default:
		return false
	}
}

// Dump lists spans one a line, for failure messages.
func Dump(spans []Span) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "  %s %s..%s trace=%s parent=%s status=%v\n", s.Span.Name(),
			s.Span.StartTimestamp().AsTime().Format("15:04:05.000"), s.Span.EndTimestamp().AsTime().Format("15:04:05.000"),
			s.Span.TraceID(), s.Span.ParentSpanID(), s.Span.Status().Code())
	}
	return b.String()
}
