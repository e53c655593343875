package defaultconfig

import (
	"fmt"
	"regexp"
	"strings"
)

// Layers are the embedded configuration layers in the order the collector
// merges them, and when each is used.
var Layers = []struct{ URI, When string }{
	{LocalURI, "always: OTLP in, AI CLIs' telemetry to otel-ai-monitor"},
	{RemoteURI, "remote export on (" + envRemoteEndpoint + " or " + envRemoteConfig + ")"},
	{AITracesURI, "remote export on, unless " + envAITraces + "=off"},
	{HostMetricsURI, "remote export on, unless " + envHostMetrics + "=off"},
	{JournaldURI, "remote export on and the journal readable, unless " + envJournald + "=off"},
	{EBPFURI, "remote export on and an eBPF selector set"},
	{ProfilingURI, envPyroscope + " set"},
	{ProfilingEBPFURI, envPyroscope + " set and " + envProfiling + "=ebpf"},
	{RemoteGatewayURI, "remote export on, unless " + envRemoteConfig + " names another mode layer (then file:<that path>)"},
}

var (
	mdLink = regexp.MustCompile(`\[([^\]]*)\]\(([^)]*)\)`)
	mdCode = strings.NewReplacer("`", "")
)

// plain turns README Markdown into terminal text.
func plain(md string) string {
	return mdCode.Replace(mdLink.ReplaceAllString(md, "$1"))
}

// Help is printed before the stock usage by --help: the embedded default,
// its layers and the environment variables, from the same Variables as
// README.md's table.
func Help() string {
	var b strings.Builder
	b.WriteString("otel-ai-collector: OpenTelemetry Collector distribution for AI-coding workstations.\n\n")
	b.WriteString("Without --config it runs its embedded default configuration (config/default.yaml in the\n")
	b.WriteString("source), made of these layers, chosen by the environment; validate prints the choice:\n")
	for _, l := range Layers {
		fmt.Fprintf(&b, "  %-30s %s\n", l.URI, l.When)
	}
	b.WriteString("\notel-ai-collector doctor [--json] checks the variables and layers, the state directory,\n")
	b.WriteString("otel-ai-monitor, the remote, Pyroscope, the journal, eBPF privileges, queue backlogs and\n")
	b.WriteString("the listen ports, and says how to fix what fails (exit 1).\n")
	b.WriteString("\nEnvironment variables (each value is checked at start and by validate):\n")
	for _, v := range Variables {
		fmt.Fprintf(&b, "  %s (default: %s)\n      %s\n", v.Name, plain(v.Default), plain(v.Description))
	}
	b.WriteString("\n")
	return b.String()
}

// READMETable is README.md's table of variables.
func READMETable() string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, v := range Variables {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.Name, v.Default, v.Description)
	}
	return b.String()
}
