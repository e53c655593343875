package main

import (
	"fmt"
	"os"

	"github.com/otel-ai-collector/otel-ai-collector/internal/defaultconfig"
	"github.com/otel-ai-collector/otel-ai-collector/internal/doctor"
)

// ocb's generated main.go has no hook for a default configuration, so the
// embedded one is added to the command line before the collector parses it.
func init() {
	if err := defaultconfig.EnableProfiles(); err != nil {
		fmt.Fprintln(os.Stderr, "otel-ai-collector:", err)
		os.Exit(1)
	}
	if err := defaultconfig.EnableSynchronousLogEmitter(); err != nil {
		fmt.Fprintln(os.Stderr, "otel-ai-collector:", err)
		os.Exit(1)
	}
	if len(os.Args) > 1 && os.Args[1] == "doctor" {
		// A subcommand of this distribution: ocb's generated main.go
		// cannot add one to the stock command.
		os.Exit(doctor.Main(os.Args[2:], os.Stdout, os.Stderr))
	}
	if rootHelp(os.Args[1:]) {
		// The stock usage that cobra prints next knows nothing of the
		// embedded default and its environment.
		fmt.Print(defaultconfig.Help())
		return
	}
	args, err := defaultconfig.Apply(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "otel-ai-collector:", err)
		os.Exit(1)
	}
	os.Args = append(os.Args[:1], args...)
}

// rootHelp reports whether the command line asks for the root command's help.
func rootHelp(args []string) bool {
	if len(args) == 1 && args[0] == "help" {
		return true
	}
	for _, arg := range args {
		if arg == "-h" || arg == "--help" {
			return len(args) == 1
		}
	}
	return false
}
