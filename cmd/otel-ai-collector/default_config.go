package main

import (
	"fmt"
	"os"

	"github.com/otel-ai-collector/otel-ai-collector/internal/defaultconfig"
)

// ocb's generated main.go has no hook for a default configuration, so the
// embedded one is added to the command line before the collector parses it.
func init() {
	if err := defaultconfig.EnableProfiles(); err != nil {
		fmt.Fprintln(os.Stderr, "otel-ai-collector:", err)
		os.Exit(1)
	}
	args, err := defaultconfig.Apply(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "otel-ai-collector:", err)
		os.Exit(1)
	}
	os.Args = append(os.Args[:1], args...)
}
