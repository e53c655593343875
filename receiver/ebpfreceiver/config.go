package ebpfreceiver

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Config of the ebpf_network receiver. Processes are selected by any of
// ports (those listening on them), pids, executable name or systemd unit;
// nothing is selected by default.
type Config struct {
	// Ports selects the processes listening on these TCP ports, and every
	// connection accepted on them.
	Ports []int `mapstructure:"ports"`
	// PIDs selects processes by id.
	PIDs []int `mapstructure:"pids"`
	// ExecutableRegex selects processes whose executable's file name matches.
	ExecutableRegex string `mapstructure:"executable_regex"`
	// SystemdUnits selects processes running in these units (system or
	// user), e.g. "nginx.service".
	SystemdUnits []string `mapstructure:"systemd_units"`

	// ServiceNames overrides service.name per selector: keys are a port
	// ("8080"), a pid ("1234"), an executable name ("python3.11") or a
	// systemd unit ("ipc-daemon.service"), tried in that order.
	ServiceNames map[string]string `mapstructure:"service_names"`

	// HTTP configures HTTP/1.x request spans (on by default).
	HTTP HTTPConfig `mapstructure:"http"`

	// TCPConnections emits one span per TCP connection of the selected
	// processes, from connect or accept to close (off by default: one span
	// per connection is a lot for busy processes).
	TCPConnections bool `mapstructure:"tcp_connections"`

	// RefreshInterval is how often the process table is rescanned, so
	// processes that start later are picked up.
	RefreshInterval time.Duration `mapstructure:"refresh_interval"`
	// MaxTrackedConnections bounds the kernel's table of open connections;
	// connections beyond it are counted, not tracked.
	MaxTrackedConnections int `mapstructure:"max_tracked_connections"`
}

// HTTPConfig configures HTTP/1.x request spans.
type HTTPConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// MaxTargetLength truncates url.path and url.query together to this
	// many bytes (the BPF side captures the first 4 KiB of a request).
	MaxTargetLength int `mapstructure:"max_target_length"`
	// DropQueryString leaves url.query out, e.g. when it carries secrets.
	DropQueryString bool `mapstructure:"drop_query_string"`
	// IdleTimeout ends a response that gave no length (no Content-Length)
	// when its connection has been quiet this long.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
}

func (c *Config) Validate() error {
	var errs []error
	if len(c.Ports) == 0 && len(c.PIDs) == 0 && c.ExecutableRegex == "" && len(c.SystemdUnits) == 0 {
		errs = append(errs, errors.New("no process selected: set ports, pids, executable_regex or systemd_units (nothing is selected by default)"))
	}
	for _, p := range c.Ports {
		if p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("ports: %d is not a TCP port", p))
		}
	}
	if c.ExecutableRegex != "" {
		if _, err := regexp.Compile(c.ExecutableRegex); err != nil {
			errs = append(errs, fmt.Errorf("executable_regex: %w", err))
		}
	}
	if !c.TCPConnections && !c.HTTP.Enabled {
		errs = append(errs, errors.New("both http and tcp_connections are off: nothing to emit"))
	}
	if c.HTTP.Enabled && c.HTTP.MaxTargetLength < 1 {
		errs = append(errs, errors.New("http::max_target_length must be positive"))
	}
	if c.HTTP.Enabled && c.HTTP.IdleTimeout <= 0 {
		errs = append(errs, errors.New("http::idle_timeout must be positive"))
	}
	if c.RefreshInterval <= 0 {
		errs = append(errs, errors.New("refresh_interval must be positive"))
	}
	if c.MaxTrackedConnections < 1 {
		errs = append(errs, errors.New("max_tracked_connections must be positive"))
	}
	return errors.Join(errs...)
}
