// Package defaultconfig decides, before the collector parses its command
// line, whether the embedded default configuration is used, and exports the
// environment that configuration (and users' own configurations) rely on.
package defaultconfig

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Environment interface of the embedded default configuration (README.md).
const (
	envStateDir       = "OTEL_AI_COLLECTOR_STATE_DIR"
	envRemoteEndpoint = "OTEL_AI_COLLECTOR_REMOTE_ENDPOINT"
	envHostname       = "OTEL_AI_COLLECTOR_HOSTNAME"
	envAIServices     = "OTEL_AI_COLLECTOR_AI_SERVICES"
	envAIServiceRegex = "OTEL_AI_COLLECTOR_AI_SERVICE_REGEX"
)

// DefaultAIServices are the resource service.name values of AI coding CLIs
// whose telemetry goes to otel-ai-monitor (README.md says which CLI sets
// which).
var DefaultAIServices = []string{"claude-code", "codex", "codex-cli", "codex_cli_rs", "gemini", "gemini-cli"}

// The configurations used when no --config flag is given: the local AI path,
// plus remote export through the gateway when OTEL_AI_COLLECTOR_REMOTE_ENDPOINT
// is set. The collector merges them in order.
const (
	LocalURI  = "embedded:default.yaml"
	RemoteURI = "embedded:remote-gateway.yaml"
)

// Apply returns the command-line arguments (without the program name) with
// the embedded default configuration added when the command takes a
// configuration and none was given, and exports the environment the
// configurations rely on: OTEL_AI_COLLECTOR_STATE_DIR and
// OTEL_AI_COLLECTOR_HOSTNAME.
func Apply(args []string) ([]string, error) {
	if usesDefaultConfig(args) {
		args = append(args, "--config="+LocalURI)
		if os.Getenv(envRemoteEndpoint) != "" {
			args = append(args, "--config="+RemoteURI)
		}
	}
	if err := exportHostname(); err != nil {
		return nil, err
	}
	if err := exportAIServiceRegex(); err != nil {
		return nil, err
	}
	return args, exportStateDir()
}

// exportAIServiceRegex turns the comma-separated OTEL_AI_COLLECTOR_AI_SERVICES
// (default DefaultAIServices) into the anchored regular expression the
// configuration's filter uses, OTEL_AI_COLLECTOR_AI_SERVICE_REGEX.
func exportAIServiceRegex() error {
	names := DefaultAIServices
	if list, set := os.LookupEnv(envAIServices); set {
		names = nil
		for _, name := range strings.Split(list, ",") {
			if name = strings.TrimSpace(name); name != "" {
				names = append(names, name)
			}
		}
		if len(names) == 0 {
			return fmt.Errorf("%s is set but names no service; unset it for the defaults (%s)",
				envAIServices, strings.Join(DefaultAIServices, ","))
		}
	}
	quoted := make([]string, len(names))
	for i, name := range names {
		// The regex is embedded in an OTTL string literal, which unquotes
		// like Go: a regex escape needs its backslash doubled.
		if strings.ContainsAny(name, `"\`) {
			return fmt.Errorf("%s: service name %q may not contain quotes or backslashes", envAIServices, name)
		}
		quoted[i] = strings.ReplaceAll(regexp.QuoteMeta(name), `\`, `\\`)
	}
	return os.Setenv(envAIServiceRegex, "^("+strings.Join(quoted, "|")+")$")
}

// exportHostname sets OTEL_AI_COLLECTOR_HOSTNAME to the machine's hostname
// unless the user set it; configurations backfill host.name from it.
func exportHostname() error {
	if os.Getenv(envHostname) != "" {
		return nil
	}
	name, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("cannot read the hostname for host.name: %w; set %s", err, envHostname)
	}
	return os.Setenv(envHostname, name)
}

// Only the root command and `validate` take --config; other subcommands
// (components, help) are left alone.
func usesDefaultConfig(args []string) bool {

	for _, arg := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if strings.HasPrefix(arg, "-") && name == "config" {
			return false
		}
	}
	return len(args) == 0 || strings.HasPrefix(args[0], "-") || args[0] == "validate"
}

// exportStateDir resolves where persistent queues live and exports it as
// OTEL_AI_COLLECTOR_STATE_DIR, so configurations can use
// ${env:OTEL_AI_COLLECTOR_STATE_DIR} whether or not the user set it. The
// directory itself is created by the file_storage extension
// (create_directory); when remote export is on it is checked here first, so
// an unwritable directory fails with a message that names the variable.
func exportStateDir() error {
	dir := os.Getenv(envStateDir)
	if dir == "" {
		dir = defaultStateDir()
		if err := os.Setenv(envStateDir, dir); err != nil {
			return err
		}
	}
	if os.Getenv(envRemoteEndpoint) == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create the state directory for persistent queues: %w; set %s to a writable directory", err, envStateDir)
	}
	probe, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("the state directory for persistent queues is not writable: %w; set %s to a writable directory", err, envStateDir)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// defaultStateDir follows systemd's StateDirectory= first, then the XDG base
// directory specification.
func defaultStateDir() string {
	if dir, _, _ := strings.Cut(os.Getenv("STATE_DIRECTORY"), ":"); dir != "" {
		return dir
	}
	if xdg := os.Getenv("XDG_STATE_HOME"); xdg != "" {
		return filepath.Join(xdg, "otel-ai-collector")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "otel-ai-collector")
	}
	return filepath.Join(os.TempDir(), "otel-ai-collector")
}
