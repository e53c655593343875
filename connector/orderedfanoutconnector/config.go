package orderedfanoutconnector

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/pipeline"
)

// Config of the ordered_fanout connector.
type Config struct {
	// Order lists the pipelines to call first, in this order; pipelines of
	// every signal may be listed, each signal's instance uses its own. The
	// connector's other pipelines are called after them, sorted by name.
	Order []pipeline.ID `mapstructure:"order"`
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
	return nil
}
