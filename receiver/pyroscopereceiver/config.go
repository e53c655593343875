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

	// MaxProfileSize bounds what one pushed pprof may decompress to, in
	// bytes; larger ones are refused with 413 without being decompressed
	// further. The default is Pyroscope's own default limit
	// (validation.max-profile-size-bytes, 4 MiB), above which it refuses
	// the profile anyway.
	MaxProfileSize int64 `mapstructure:"max_profile_size"`

	// PassThroughPprof hands each push on undecoded: no OTLP profiles, but
	// the pprof exactly as the SDK sent it (scope attribute
	// pyroscope.pprof), with the push's service, labels and parameters, for
	// profile_forwarding to send to Pyroscope unchanged. Only for pipelines
	// in which nothing but profile_forwarding reads the profiles: it saves
	// the conversion to OTLP and back. The pprof's size and shape are still
	// checked.
	PassThroughPprof bool `mapstructure:"pass_through_pprof"`
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.NetAddr.Endpoint == "" {
		return errors.New("endpoint must be set, e.g. 127.0.0.1:4040")
	}
	if c.MaxRequestBodySize < 0 {
		return errors.New("max_request_body_size must not be negative")
	}
	if c.MaxProfileSize <= 0 {
		return errors.New("max_profile_size must be positive, e.g. 4194304 (Pyroscope's default limit)")
	}
	return nil
}
