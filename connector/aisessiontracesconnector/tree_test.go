package aisessiontracesconnector

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// wantTurn is one turn's expected trace, written from the fixture by hand
// (testdata/<cli>/README.md), not from the connector's output.
type wantTurn struct {
	start, end string // root span, RFC 3339
	failed     bool   // root status error
	attrs      map[string]any
	children   []wantChild
}

type wantChild struct {
	name       string
	start, end string
	failed     bool
	attrs      map[string]any
}

// checkTrees compares every trace the connector emitted with the expected
// turns, in order: root, children, parents, timing, status, attributes.
func checkTrees(t *testing.T, spans []gotSpan, cli string, sessionID string, want []wantTurn) {
	t.Helper()
	type tree struct {
		root     *gotSpan
		children []gotSpan
	}
	trees := map[pcommon.TraceID]*tree{}
	var roots []pcommon.TraceID
	for i := range spans {
		s := spans[i]
		tr := trees[s.span.TraceID()]
		if tr == nil {
			tr = &tree{}
			trees[s.span.TraceID()] = tr
		}
		if s.span.ParentSpanID().IsEmpty() {
			if tr.root != nil {
				t.Errorf("trace %s has two roots", s.span.TraceID())
			}
			tr.root = &spans[i]
			roots = append(roots, s.span.TraceID())
		} else {
			tr.children = append(tr.children, s)
		}
	}
	if len(roots) != len(want) || len(trees) != len(want) {
		t.Fatalf("got %d traces with %d roots, want %d turns:\n%s", len(trees), len(roots), len(want), dump(spans))
	}
	for i, w := range want {
		tr := trees[roots[i]]
		root := tr.root.span
		label := fmt.Sprintf("turn %d", i+1)
		if root.Name() != "invoke_agent "+cli {
			t.Errorf("%s: root name %q", label, root.Name())
		}
		checkTiming(t, label+" root", root, w.start, w.end)
		if failed := root.Status().Code() == ptrace.StatusCodeError; failed != w.failed {
			t.Errorf("%s: root failed=%v, want %v", label, failed, w.failed)
		}
		checkAttrs(t, label+" root", root.Attributes(), map[string]any{
			attrOperation: "invoke_agent", attrConversationID: sessionID, attrSessionID: sessionID,
			attrTurnNumber: int64(i + 1), attrAgentName: cli,
		})
		checkAttrs(t, label+" root", root.Attributes(), w.attrs)
		if got := attrStr(tr.root.resource, "service.name"); got != cli {
			t.Errorf("%s: resource service.name %q, want %q", label, got, cli)
		}
		if len(tr.children) != len(w.children) {
			t.Errorf("%s: %d children, want %d:\n%s", label, len(tr.children), len(w.children), dump(append([]gotSpan{*tr.root}, tr.children...)))
			continue
		}
		for j, wc := range w.children {
			c := tr.children[j].span
			clabel := fmt.Sprintf("%s child %d (%s)", label, j+1, wc.name)
			if c.Name() != wc.name {
				t.Errorf("%s: name %q", clabel, c.Name())
			}
			if c.ParentSpanID() != root.SpanID() {
				t.Errorf("%s: parent is not the turn's root", clabel)
			}
			checkTiming(t, clabel, c, wc.start, wc.end)
			if failed := c.Status().Code() == ptrace.StatusCodeError; failed != wc.failed {
				t.Errorf("%s: failed=%v, want %v", clabel, failed, wc.failed)
			}
			if c.StartTimestamp() < root.StartTimestamp() || c.EndTimestamp() > root.EndTimestamp() {
				t.Errorf("%s: outside its root's time span", clabel)
			}
			checkAttrs(t, clabel, c.Attributes(), map[string]any{attrConversationID: sessionID, attrSessionID: sessionID})
			checkAttrs(t, clabel, c.Attributes(), wc.attrs)
		}
	}
}

func checkTiming(t *testing.T, label string, s ptrace.Span, start, end string) {
	t.Helper()
	if got := s.StartTimestamp().AsTime(); !got.Equal(ts(start)) {
		t.Errorf("%s: start %s, want %s", label, got.Format(time.RFC3339Nano), start)
	}
	if got := s.EndTimestamp().AsTime(); !got.Equal(ts(end)) {
		t.Errorf("%s: end %s, want %s", label, got.Format(time.RFC3339Nano), end)
	}
}

// checkAttrs compares attributes; a nil wanted value means "absent".
func checkAttrs(t *testing.T, label string, m pcommon.Map, want map[string]any) {
	t.Helper()
	for k, w := range want {
		v, ok := m.Get(k)
		switch w := w.(type) {
		case nil:
			if ok {
				t.Errorf("%s: %s=%v, want it absent", label, k, v.AsRaw())
			}
		case float64:
			if !ok || v.Type() != pcommon.ValueTypeDouble || fmt.Sprintf("%.7f", v.Double()) != fmt.Sprintf("%.7f", w) {
				t.Errorf("%s: %s=%v, want %v", label, k, rawOf(v, ok), w)
			}
		default:
			if !ok || fmt.Sprint(v.AsRaw()) != fmt.Sprint(w) {
				t.Errorf("%s: %s=%v, want %v", label, k, rawOf(v, ok), w)
			}
		}
	}
}

func rawOf(v pcommon.Value, ok bool) any {
	if !ok {
		return "<absent>"
	}
	return v.AsRaw()
}

func dump(spans []gotSpan) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "  %s %s..%s trace=%s parent=%s status=%v\n", s.span.Name(),
			s.span.StartTimestamp().AsTime().Format("15:04:05.000"), s.span.EndTimestamp().AsTime().Format("15:04:05.000"),
			s.span.TraceID(), s.span.ParentSpanID(), s.span.Status().Code())
	}
	return b.String()
}
