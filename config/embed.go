// Package config holds the collector configurations that ship inside the
// binary. The YAML files in this folder are the documented source: the binary
// embeds them, CI validates each one with the built binary, and users can copy
// them as a starting point for their own --config.
package config

import "embed"

// Files is every configuration compiled into the binary, by file name.
//
//go:embed *.yaml
var Files embed.FS
