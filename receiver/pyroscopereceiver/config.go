package pyroscopereceiver

import (
	"errors"

	"go.opentelemetry.io/collector/config/confighttp"
)

// Config of the pyroscope receiver.
type Config struct {
	// ServerConfig is the HTTP server the Pyroscope SDKs push to. Its
	// endpoint defaults to 127.0.0.1:4040, the address the SDKs use when
	// told to send to a local Pyroscope.
	confighttp.ServerConfig `mapstructure:",squash"`
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.NetAddr.Endpoint == "" {
		return errors.New("endpoint must be set, e.g. 127.0.0.1:4040")
	}
	if c.MaxRequestBodySize < 0 {
		return errors.New("max_request_body_size must not be negative")
	}
	return nil
}
