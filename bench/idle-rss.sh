#!/usr/bin/env bash
# Idle resident memory of the collector on its embedded default configuration.
# Usage: bench/idle-rss.sh [seconds] [VAR=value ...]
#   Starts build/otel-ai-collector on free loopback ports with the given extra
#   environment, waits (default 30 s), prints VmRSS and VmHWM in MiB.
#   IDLE_RSS_SECTIONS=1 (as root) also splits the binary's resident pages by
#   ELF section (bench/resident-sections.py).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
binary=${OTEL_AI_COLLECTOR_BINARY:-build/otel-ai-collector}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
state=$(mktemp -d)
env OTEL_AI_COLLECTOR_OTLP_GRPC_ENDPOINT=127.0.0.1:$(free_port) \
	OTEL_AI_COLLECTOR_OTLP_HTTP_ENDPOINT=127.0.0.1:$(free_port) \
	OTEL_AI_COLLECTOR_HEALTH_ENDPOINT=127.0.0.1:$(free_port) \
	OTEL_AI_COLLECTOR_METRICS_PORT=$(free_port) \
	OTEL_AI_COLLECTOR_ZPAGES_ENDPOINT=127.0.0.1:$(free_port) \
	OTEL_AI_COLLECTOR_STATE_DIR="$state" \
	"$@" "$binary" >"$state/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$state"' EXIT
sleep "$seconds"
if ! kill -0 $pid 2>/dev/null; then cat "$state/log" >&2; exit 1; fi
awk -v label="$*" '/VmRSS|VmHWM|RssAnon|RssFile/ { printf "%s %.1f MiB  ", $1, $2/1024 } END { print "  " label }' /proc/$pid/status
if [ -n "${IDLE_RSS_SECTIONS:-}" ]; then bench/resident-sections.py $pid; fi
