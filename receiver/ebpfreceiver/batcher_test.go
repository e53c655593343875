package ebpfreceiver

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestSpanBatcherGroupsByResourceAndFlushesWhenFull(t *testing.T) {
	var batches []ptrace.Traces
	b := newSpanBatcher("scope", 3, func(td ptrace.Traces) { batches = append(batches, td) })
	add := func(key, name string) {
		b.add(resourceKey{pid: int(key[0])}, func(res pcommon.Map) { res.PutStr("service.name", key) }, func(s ptrace.Span) { s.SetName(name) })
	}
	add("a", "1")
	add("b", "2")
	if len(batches) != 0 {
		t.Fatal("flushed before full")
	}
	add("a", "3") // full: one batch of two resources
	if len(batches) != 1 || batches[0].SpanCount() != 3 || batches[0].ResourceSpans().Len() != 2 {
		t.Fatalf("batches %d, first with %d spans", len(batches), batches[0].SpanCount())
	}
	if got := batches[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().Len(); got != 2 {
		t.Errorf("resource a holds %d spans, want 2", got)
	}
	add("c", "4")
	b.flush()
	b.flush() // nothing waiting: no empty batch
	if len(batches) != 2 || batches[1].SpanCount() != 1 {
		t.Fatalf("after flush: %d batches", len(batches))
	}
}
