package orderedfanoutconnector

import (
	"errors"
	"fmt"
	"regexp"

	"go.opentelemetry.io/collector/pipeline"
)

// Config of the ordered_fanout connector.
type Config struct {
	// Order lists the pipelines to call first, in this order; pipelines of
	// every signal may be listed, each signal's instance uses its own. The
	// connector's other pipelines are called after them, sorted by name.
	Order []pipeline.ID `mapstructure:"order"`

	// Select, when set, gives the pipelines in Order a copy of only the
	// resources (with all their spans, metrics or logs) it matches, and
	// does not call them when none matches. The other pipelines get
	// everything.
	Select *ResourceSelect `mapstructure:"select"`
}

// ResourceSelect matches resources by their attributes, or by what they
// hold.
type ResourceSelect struct {
	// Include: a resource matches when this matches.
	Include Match `mapstructure:"include"`
	// Exclude: ... unless one of these matches too.
	Exclude []AttributeRegex `mapstructure:"exclude"`
	// ReportUnselected: a resource that matches this but not the selection
	// is counted (otelcol_connector_ordered_fanout_unselected_resources)
	// and the first one is logged, with Hint. It tells an operator whose
	// narrower selection leaves out telemetry that looks like what the
	// listed pipelines are for. With regex, scope_name and item_name all
	// empty it reports nothing (a configuration can turn it off through
	// variables).
	ReportUnselected *Report `mapstructure:"report_unselected"`
}

// Match matches a resource by a resource attribute, or by what it holds:
// any of the ways given is enough.
type Match struct {
	AttributeRegex `mapstructure:",squash"`
	// ScopeName matches the name of one of the resource's instrumentation
	// scopes (regular expression, Go syntax, unanchored).
	ScopeName string `mapstructure:"scope_name"`
	// ItemName matches the name of one of the resource's log events (the
	// record's event name, else its event.name attribute, else a string
	// body) or metrics. Span names are not read: a span's scope says
	// whose it is.
	ItemName string `mapstructure:"item_name"`
}

// Report is what a resource left out of the selection is reported for.
type Report struct {
	Match `mapstructure:",squash"`
	// Hint is logged with the first such resource: what to change to
	// select it.
	Hint string `mapstructure:"hint"`
}

// AttributeRegex matches a resource attribute's value (as a string) with a
// regular expression (Go syntax, unanchored: anchor it with ^...$ to match
// the whole value). A resource without the attribute does not match.
type AttributeRegex struct {
	Attribute string `mapstructure:"attribute"`
	Regex     string `mapstructure:"regex"`
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if len(c.Order) == 0 {
		return errors.New("order must list the pipelines to call first, e.g. [logs/ai_sessions]")
	}
	seen := map[pipeline.ID]bool{}
	for _, id := range c.Order {
		if seen[id] {
			return fmt.Errorf("order lists pipeline %q twice", id)
		}
		seen[id] = true
	}
	if c.Select != nil {
		_, err := c.Select.matcher()
		return err
	}
	return nil
}

// resourceMatcher is a compiled ResourceSelect.
type resourceMatcher struct {
	include contentMatcher
	exclude []attributeMatcher
	report  *contentMatcher // nil: nothing reported
	hint    string
}

// contentMatcher is a compiled Match; nil fields are not used.
type contentMatcher struct {
	attribute *attributeMatcher
	scope     *regexp.Regexp
	item      *regexp.Regexp
}

type attributeMatcher struct {
	attribute string
	regex     *regexp.Regexp
}

func (s *ResourceSelect) matcher() (*resourceMatcher, error) {
	include, err := s.Include.matcher("select.include")
	if err != nil {
		return nil, err
	}
	m := &resourceMatcher{include: include}
	for i, e := range s.Exclude {
		exclude, err := e.matcher(fmt.Sprintf("select.exclude[%d]", i))
		if err != nil {
			return nil, err
		}
		m.exclude = append(m.exclude, exclude)
	}
	if r := s.ReportUnselected; r != nil && (r.Regex != "" || r.ScopeName != "" || r.ItemName != "") {
		report, err := s.ReportUnselected.matcher("select.report_unselected")
		if err != nil {
			return nil, err
		}
		m.report, m.hint = &report, s.ReportUnselected.Hint
	}
	return m, nil
}

func (c Match) matcher(where string) (contentMatcher, error) {
	var m contentMatcher
	if c.Attribute == "" && c.Regex == "" && c.ScopeName == "" && c.ItemName == "" {
		return m, fmt.Errorf("%s: give attribute and regex, scope_name or item_name, e.g. { attribute: service.name, regex: ^my-service$ }", where)
	}
	if c.Attribute != "" || c.Regex != "" {
		a, err := c.AttributeRegex.matcher(where)
		if err != nil {
			return m, err
		}
		m.attribute = &a
	}
	var err error
	if m.scope, err = optionalRegex(where+".scope_name", c.ScopeName); err != nil {
		return m, err
	}
	if m.item, err = optionalRegex(where+".item_name", c.ItemName); err != nil {
		return m, err
	}
	return m, nil
}

func optionalRegex(where, expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("%s: regex %q: %w", where, expr, err)
	}
	return re, nil
}

func (a AttributeRegex) matcher(where string) (attributeMatcher, error) {
	if a.Attribute == "" {
		return attributeMatcher{}, fmt.Errorf("%s: attribute must name a resource attribute, e.g. service.name", where)
	}
	re, err := regexp.Compile(a.Regex)
	if err != nil {
		return attributeMatcher{}, fmt.Errorf("%s: regex %q: %w", where, a.Regex, err)
	}
	return attributeMatcher{attribute: a.Attribute, regex: re}, nil
}
