package resilientfilestorageextension

import (
	"errors"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
)

// Config is file_storage's own configuration, unchanged (same keys, same
// defaults), so a file_storage block can be renamed to this extension as it
// is.
type Config struct {
	filestorage.Config `mapstructure:",squash"`
}

// Validate checks file_storage's settings and refuses recreate: this
// extension moves damaged files aside itself, for every error and not only
// a panic, and recreate's own renaming (to *.backup) would keep doctor from
// finding them.
func (c *Config) Validate() error {
	if c.Recreate {
		return errors.New("recreate: resilient_file_storage always moves a damaged file aside and starts a fresh one; remove the option")
	}
	return c.Config.Validate()
}
