package aisessiontracesconnector

import (
	"errors"
	"time"

	"go.opentelemetry.io/collector/component"
)

// Config of the ai_session_traces connector.
type Config struct {
	// TurnIdleTimeout ends a turn whose session sent nothing for this long;
	// its root span is emitted then. A turn also ends at the session's next
	// prompt and at the CLI's end-of-session event.
	TurnIdleTimeout time.Duration `mapstructure:"turn_idle_timeout"`

	// MaxSessions bounds the sessions whose state is held. Past it, the
	// session that was active least recently is closed first (its open
	// turn's root emitted) and counted as evicted.
	MaxSessions int `mapstructure:"max_sessions"`

	// ModelCallTimeout ends, instead of TurnIdleTimeout, a turn whose CLI
	// owes a model call (its prompt, a tool result or a request was seen,
	// no answer yet): the CLI may be retrying it silently. It covers the
	// CLIs' default retry policies (Claude Code: 11 attempts over about
	// 4 minutes, nothing sent until the last one fails). A value below
	// TurnIdleTimeout means TurnIdleTimeout.
	ModelCallTimeout time.Duration `mapstructure:"model_call_timeout"`

	// Storage is a storage extension (file_storage) where open-turn state is
	// kept, so a turn open across a restart or crash still gets exactly one
	// root span with its real start. Without it the state lives in memory.
	Storage *component.ID `mapstructure:"storage"`
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.TurnIdleTimeout < time.Second {
		return errors.New("turn_idle_timeout must be at least 1s, e.g. 30s")
	}
	if c.ModelCallTimeout < 0 {
		return errors.New("model_call_timeout must not be negative, e.g. 10m (a value below turn_idle_timeout means turn_idle_timeout)")
	}
	if c.MaxSessions < 1 {
		return errors.New("max_sessions must be at least 1, e.g. 1000")
	}
	return nil
}
