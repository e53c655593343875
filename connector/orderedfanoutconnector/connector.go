package orderedfanoutconnector

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pipeline"
)

// callOrder is the order in which the connector calls the pipelines of one
// signal it feeds: those cfg.Order lists, in its order, then the others
// sorted by name (the collector hands them over in no defined order).
func callOrder(id component.ID, cfg *Config, signal pipeline.Signal, fed []pipeline.ID) ([]pipeline.ID, error) {
	var order, rest []pipeline.ID
	for _, p := range cfg.Order {
		if p.Signal() != signal {
			continue
		}
		if !slices.Contains(fed, p) {
			return nil, fmt.Errorf("connector %q: order lists pipeline %q, which does not receive from this connector; "+
				"add %q to that pipeline's receivers or remove the pipeline from order", id, p, id)
		}
		order = append(order, p)
	}
	for _, p := range fed {
		if !slices.Contains(order, p) {
			rest = append(rest, p)
		}
	}
	slices.SortFunc(rest, func(a, b pipeline.ID) int { return strings.Compare(a.String(), b.String()) })
	return append(order, rest...), nil
}

// target is one pipeline the connector feeds.
type target[D any] struct {
	pipeline pipeline.ID
	consume  func(context.Context, D) error
	mutates  bool // the pipeline changes the data it is given
}

// targetsFor looks up the consumer of each pipeline, in order.
func targetsFor[D any, C consumerWithCapabilities](order []pipeline.ID, lookup func(pipeline.ID) (C, error),
	consume func(C, context.Context, D) error,
) ([]target[D], error) {
	targets := make([]target[D], 0, len(order))
	for _, p := range order {
		c, err := lookup(p)
		if err != nil {
			return nil, err
		}
		targets = append(targets, target[D]{
			pipeline: p,
			consume:  func(ctx context.Context, d D) error { return consume(c, ctx, d) },
			mutates:  c.Capabilities().MutatesData,
		})
	}
	return targets, nil
}

type consumerWithCapabilities interface {
	Capabilities() consumer.Capabilities
}

// dataOps are the pdata operations the fan-out needs for one signal.
type dataOps[D any] struct {
	clone        func(D) D
	isReadOnly   func(D) bool
	markReadOnly func(D)
	// selectResources returns a new D holding copies of the resources keep
	// matches, and whether there was any.
	selectResources func(D, func(held) bool) (D, bool)
}

// fanout calls its targets one after the other, in order, and returns all
// their errors joined (so the receiver answers as it would without the
// connector).
//
// Without a selection all targets share the data as the collector's own
// fan-out shares it: a pipeline that changes the data gets its own copy,
// unless it is the last one called and no other pipeline sees the original;
// pipelines that only read share the original, marked read-only when more
// than one does. With a selection, the first targets share, the same way, a
// new copy of just the selected resources (nothing is copied, and they are
// not called, when none is selected), and the others share the original.
type fanout[D any] struct {
	first, rest []target[D]
	selected    *resourceMatcher // nil: no selection
	reporter    *reporter        // for what selected reports; nil when it reports nothing
	ops         dataOps[D]
}

func newFanout[D any](targets []target[D], listed int, selected *resourceMatcher, reporter *reporter, ops dataOps[D]) *fanout[D] {
	f := &fanout[D]{ops: ops, selected: selected, reporter: reporter}
	if selected == nil {
		f.rest = targets
	} else {
		f.first, f.rest = targets[:listed], targets[listed:]
	}
	return f
}

func (f *fanout[D]) consume(ctx context.Context, data D) error {
	var errs []error
	if len(f.first) > 0 {
		if part, found := f.ops.selectResources(data, f.keep); found {
			errs = f.deliver(ctx, part, f.first, errs)
			if len(f.rest) > 0 {
				// What the listed pipelines started in the background
				// (an exporter's queue consumer they just woke, waiting
				// on this P) runs now, before this goroutine goes on to
				// the other pipelines' work; otherwise it would wait for
				// that work, or for another P to steal it.
				runtime.Gosched()
			}
		}
	}
	errs = f.deliver(ctx, data, f.rest, errs)
	return errors.Join(errs...)
}

// keep selects a resource for the listed pipelines, and reports one that
// the selection leaves out but the report matches.
func (f *fanout[D]) keep(h held) bool {
	selected, reported := f.selected.selects(h)
	if reported && f.reporter != nil {
		f.reporter.unselected(h.resource())
	}
	return selected
}

// deliver gives data to each of targets in turn, sharing or copying it.
func (f *fanout[D]) deliver(ctx context.Context, data D, targets []target[D], errs []error) []error {
	readOnly := 0
	for _, t := range targets {
		if !t.mutates {
			readOnly++
		}
	}
	shared := readOnly > 0 || f.ops.isReadOnly(data)
	if readOnly > 1 && !f.ops.isReadOnly(data) {
		f.ops.markReadOnly(data)
	}
	for i, t := range targets {
		given := data
		if t.mutates && (shared || i != len(targets)-1) {
			given = f.ops.clone(data)
		}
		if err := t.consume(ctx, given); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// held is one resource of a request with what it holds, as a matcher
// reads it.
type held interface {
	resource() pcommon.Resource
	// scopeNames and itemNames call yield with each name until it returns
	// false.
	scopeNames(yield func(string) bool)
	itemNames(yield func(string) bool)
}

// selects reports whether the resource is selected; when it is not but
// matches the report, reported is true.
func (m *resourceMatcher) selects(h held) (selected, reported bool) {
	if m.include.matches(h) && !m.excluded(h.resource()) {
		return true, false
	}
	return false, m.report != nil && m.report.matches(h) && !m.excluded(h.resource())
}

func (m *resourceMatcher) excluded(res pcommon.Resource) bool {
	for _, e := range m.exclude {
		if e.matches(res) {
			return true
		}
	}
	return false
}

// matches tries the cheap ways first: the attribute, the scopes, then the
// items.
func (c *contentMatcher) matches(h held) bool {
	if c.attribute != nil && c.attribute.matches(h.resource()) {
		return true
	}
	return c.scope != nil && anyName(h.scopeNames, c.scope) || c.item != nil && anyName(h.itemNames, c.item)
}

func anyName(names func(yield func(string) bool), re *regexp.Regexp) bool {
	found := false
	names(func(name string) bool {
		found = name != "" && re.MatchString(name)
		return !found
	})
	return found
}

func (a attributeMatcher) matches(res pcommon.Resource) bool {
	v, ok := res.Attributes().Get(a.attribute)
	return ok && a.regex.MatchString(v.AsString())
}

// Each signal's resources as held.
type (
	heldSpans   ptrace.ResourceSpans
	heldMetrics pmetric.ResourceMetrics
	heldLogs    plog.ResourceLogs
)

func (h heldSpans) resource() pcommon.Resource { return ptrace.ResourceSpans(h).Resource() }

func (h heldSpans) scopeNames(yield func(string) bool) {
	for _, ss := range ptrace.ResourceSpans(h).ScopeSpans().All() {
		if !yield(ss.Scope().Name()) {
			return
		}
	}
}

func (heldSpans) itemNames(func(string) bool) {}

func (h heldMetrics) resource() pcommon.Resource { return pmetric.ResourceMetrics(h).Resource() }

func (h heldMetrics) scopeNames(yield func(string) bool) {
	for _, sm := range pmetric.ResourceMetrics(h).ScopeMetrics().All() {
		if !yield(sm.Scope().Name()) {
			return
		}
	}
}

func (h heldMetrics) itemNames(yield func(string) bool) {
	for _, sm := range pmetric.ResourceMetrics(h).ScopeMetrics().All() {
		for _, m := range sm.Metrics().All() {
			if !yield(m.Name()) {
				return
			}
		}
	}
}

func (h heldLogs) resource() pcommon.Resource { return plog.ResourceLogs(h).Resource() }

func (h heldLogs) scopeNames(yield func(string) bool) {
	for _, sl := range plog.ResourceLogs(h).ScopeLogs().All() {
		if !yield(sl.Scope().Name()) {
			return
		}
	}
}

func (h heldLogs) itemNames(yield func(string) bool) {
	for _, sl := range plog.ResourceLogs(h).ScopeLogs().All() {
		for _, rec := range sl.LogRecords().All() {
			if !yield(logEventName(rec)) {
				return
			}
		}
	}
}

// logEventName is a record's event name where senders put it: the OTLP
// field, the event.name attribute (OpenTelemetry's older convention, which
// most AI CLIs still use), else a string body (Claude Code's
// "claude_code.api_request").
func logEventName(rec plog.LogRecord) string {
	if name := rec.EventName(); name != "" {
		return name
	}
	if v, ok := rec.Attributes().Get("event.name"); ok && v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	if rec.Body().Type() == pcommon.ValueTypeStr {
		return rec.Body().Str()
	}
	return ""
}

type tracesConnector struct {
	component.StartFunc
	component.ShutdownFunc
	fanout *fanout[ptrace.Traces]
}

// Capabilities: the connector never changes data itself; a pipeline behind
// it that does gets a copy whenever the original is shared (data marked
// read-only upstream, or read by other pipelines here).
func (c *tracesConnector) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

func (c *tracesConnector) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	return c.fanout.consume(ctx, td)
}

type metricsConnector struct {
	component.StartFunc
	component.ShutdownFunc
	fanout *fanout[pmetric.Metrics]
}

func (c *metricsConnector) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

func (c *metricsConnector) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	return c.fanout.consume(ctx, md)
}

type logsConnector struct {
	component.StartFunc
	component.ShutdownFunc
	fanout *fanout[plog.Logs]
}

func (c *logsConnector) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

func (c *logsConnector) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	return c.fanout.consume(ctx, ld)
}
