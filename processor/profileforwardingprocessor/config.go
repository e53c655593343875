package profileforwardingprocessor

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
)

// Config of the profile_forwarding processor.
type Config struct {
	// ClientConfig is the HTTP client for Pyroscope. Endpoint is Pyroscope's
	// base URL (e.g. http://pyroscope:4040); pushes go to <endpoint>/ingest.
	// Headers (X-Scope-OrgID), TLS and auth extensions work as in otlp_http.
	confighttp.ClientConfig `mapstructure:",squash"`

	// QueueConfig is the sending queue between the pipeline and Pyroscope.
	// Give it a storage extension (file_storage) to keep profiles across
	// restarts and outages; the default is in memory.
	QueueConfig configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`

	// RetryConfig says how long a push that Pyroscope refused for a
	// transient reason (5xx, 429, connection error) is retried.
	RetryConfig configretry.BackOffConfig `mapstructure:"retry_on_failure"`

	// DefaultServiceName names profiles whose service no source could tell
	// (no service.name, no systemd unit, no executable name).
	DefaultServiceName string `mapstructure:"default_service_name"`

	// HostName is the host.name label for profiles that lack the
	// host.name resource attribute. Empty means this machine's hostname.
	HostName string `mapstructure:"host_name"`

	// ExcludeResourceAttributes are resource attributes that do not become
	// Pyroscope labels. Every other resource attribute with a string, int or
	// bool value does; these defaults are per-process values that would make
	// each process run its own series.
	ExcludeResourceAttributes []string `mapstructure:"exclude_resource_attributes"`

	// ProfilerSelection narrows what the whole-host eBPF profiler (the
	// `profiling` receiver) sends on to the processes it selects, with the
	// eBPF receiver's executable and unit selectors. Profiles from SDKs and
	// OTLP senders are never filtered. Empty selects every process.
	ProfilerSelection ProfilerSelection `mapstructure:"profiler_selection"`
}

// ProfilerSelection selects processes as ebpf_network does: the executable
// file's base name matches ExecutableRegex, or the process runs in one of
// SystemdUnits (system or user; a name without a suffix is a .service).
type ProfilerSelection struct {
	ExecutableRegex string   `mapstructure:"executable_regex"`
	SystemdUnits    []string `mapstructure:"systemd_units"`
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Endpoint == "" {
		return errors.New("endpoint must be set to Pyroscope's base URL, e.g. http://pyroscope:4040")
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("endpoint %q must be an http:// or https:// URL, e.g. http://pyroscope:4040", c.Endpoint)
	}
	if c.ProfilerSelection.ExecutableRegex != "" {
		if _, err := regexp.Compile(c.ProfilerSelection.ExecutableRegex); err != nil {
			return fmt.Errorf("profiler_selection::executable_regex: %w", err)
		}
	}
	if c.DefaultServiceName == "" {
		return errors.New("default_service_name must not be empty")
	}
	return nil
}
