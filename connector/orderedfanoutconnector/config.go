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

// ResourceSelect matches resources by their attributes.
type ResourceSelect struct {
	// Include: a resource matches when this attribute's value matches.
	Include AttributeRegex `mapstructure:"include"`
	// Exclude: ... unless one of these matches too.
	Exclude []AttributeRegex `mapstructure:"exclude"`
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
	include attributeMatcher
	exclude []attributeMatcher
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
	return m, nil
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
