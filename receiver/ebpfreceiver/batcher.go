package ebpfreceiver

import (
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// spanBatcher collects spans, grouped by process, and hands them on in one
// ConsumeTraces per flush: at thousands of requests a second, a pipeline
// call per span costs more than the span. Flushed every few hundred
// milliseconds and when maxSpans are waiting. (The receiver acknowledges
// nothing to anyone, so a crash loses at most one flush interval of spans.)
type spanBatcher struct {
	scope    string
	maxSpans int
	consume  func(ptrace.Traces)

	mu     sync.Mutex
	traces ptrace.Traces
	spans  map[resourceKey]ptrace.SpanSlice
	count  int
}

// resourceKey identifies the resource of a span: the observed process and
// its local port.
type resourceKey struct{ pid, port int }

func newSpanBatcher(scope string, maxSpans int, consume func(ptrace.Traces)) *spanBatcher {
	b := &spanBatcher{scope: scope, maxSpans: maxSpans, consume: consume}
	b.reset()
	return b
}

func (b *spanBatcher) reset() {
	b.traces = ptrace.NewTraces()
	b.spans = map[resourceKey]ptrace.SpanSlice{}
	b.count = 0
}

// add appends a span under the resource identified by key, filling the
// resource the first time the key is seen in this batch.
func (b *spanBatcher) add(key resourceKey, fillResource func(pcommon.Map), fillSpan func(ptrace.Span)) {
	b.mu.Lock()
	spans, ok := b.spans[key]
	if !ok {
		rs := b.traces.ResourceSpans().AppendEmpty()
		fillResource(rs.Resource().Attributes())
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName(b.scope)
		spans = ss.Spans()
		b.spans[key] = spans
	}
	fillSpan(spans.AppendEmpty())
	b.count++
	var full ptrace.Traces
	if b.count >= b.maxSpans {
		full = b.traces
		b.reset()
	}
	b.mu.Unlock()
	if full != (ptrace.Traces{}) {
		b.consume(full)
	}
}

// flush hands on whatever is waiting.
func (b *spanBatcher) flush() {
	b.mu.Lock()
	if b.count == 0 {
		b.mu.Unlock()
		return
	}
	full := b.traces
	b.reset()
	b.mu.Unlock()
	b.consume(full)
}
