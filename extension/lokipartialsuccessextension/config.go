package lokipartialsuccessextension

// Config of the loki_partial_success extension. It has no settings: what it
// translates is fixed by Loki's answer and the OTLP specification.
type Config struct{}

// Validate checks the configuration.
func (*Config) Validate() error { return nil }
