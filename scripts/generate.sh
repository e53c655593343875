#!/usr/bin/env bash
# Regenerates the collector's main package and factory list from
# builder-config.yaml with ocb (pinned in the Makefile).
#
# ocb writes main.go, main_others.go, main_windows.go and components.go into
# .ocb. The main files are copied verbatim into cmd/otel-ai-collector; the
# factory list becomes package components (exported Components()) so that tests
# can build the same factory set the binary uses. Generation and compilation are
# separate steps because ocb's own `go mod download` fails on this module mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
ocb=${OCB:?set OCB to the ocb binary}

rm -rf .ocb
mkdir -p .ocb
"$ocb" --config builder-config.yaml --skip-compilation --skip-get-modules >.ocb/ocb.log 2>&1 || {
	cat .ocb/ocb.log >&2
	exit 1
}
cp .ocb/main.go .ocb/main_others.go .ocb/main_windows.go cmd/otel-ai-collector/
sed -e 's/^package main$/package components/' \
	-e 's|^func components() |// Components returns every factory listed in builder-config.yaml.\nfunc Components() |' \
	.ocb/components.go >components/components.go
gofmt -w cmd/otel-ai-collector/main.go cmd/otel-ai-collector/main_others.go \
	cmd/otel-ai-collector/main_windows.go components/components.go
