// Package defaultconfig decides, before the collector parses its command
// line, whether the embedded default configuration is used, and exports the
// environment that configuration (and users' own configurations) rely on.
package defaultconfig

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Environment interface of the embedded default configuration (README.md).
const (
	envStateDir       = "OTEL_AI_COLLECTOR_STATE_DIR"
	envRemoteEndpoint = "OTEL_AI_COLLECTOR_REMOTE_ENDPOINT"
)

// URI is the configuration used when no --config flag is given.
const URI = "embedded:default.yaml"

// Apply returns the command-line arguments (without the program name) with
// --config=embedded:default.yaml added when the command takes a configuration
// and none was given, and exports OTEL_AI_COLLECTOR_STATE_DIR.
func Apply(args []string) ([]string, error) {
	if usesDefaultConfig(args) {
		args = append(args, "--config="+URI)
	}
	return args, exportStateDir()
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
