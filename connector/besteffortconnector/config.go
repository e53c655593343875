package besteffortconnector

import (
	"errors"
	"time"
)

// Config of the best_effort connector.
type Config struct {
	// LogInterval is the least time between two log lines about dropped
	// data; each line carries the count dropped since the previous one.
	LogInterval time.Duration `mapstructure:"log_interval"`
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.LogInterval <= 0 {
		return errors.New("log_interval must be positive, e.g. 10s")
	}
	return nil
}
