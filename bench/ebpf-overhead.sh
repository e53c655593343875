#!/usr/bin/env bash
# eBPF receiver overhead on an instrumented HTTP server: wrk's throughput with
# the ebpf_network receiver attached vs not, alternated side by side, plus the
# spans the receiver produced vs the requests served, and the collector's
# CPU and RSS while attached. Needs root (BPF) and wrk (apt-get install wrk).
# Usage: bench/ebpf-overhead.sh [seconds per run] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
rounds=${2:-2}
make --no-print-directory build >/dev/null
CGO_ENABLED=0 go build -o build/bench-httpserver ./bench/httpserver
work=$(mktemp -d)
port=18090
metrics=18891
build/bench-httpserver -addr 127.0.0.1:$port &
server=$!
collector=
cleanup() { kill $server ${collector:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
sleep 1

cat >"$work/config.yaml" <<YAML
receivers:
  ebpf_network:
    ports: [$port]
    refresh_interval: 1s
exporters:
  debug: {verbosity: basic, sampling_initial: 1, sampling_thereafter: 1000}
service:
  telemetry:
    logs: {level: warn}
    metrics:
      level: normal
      readers: [{pull: {exporter: {prometheus: {host: 127.0.0.1, port: $metrics}}}}]
  pipelines:
    traces: {receivers: [ebpf_network], exporters: [debug]}
YAML

run_wrk() { wrk -t2 -c32 -d"${seconds}s" "http://127.0.0.1:$port/" | awk '/requests in/ {print $1} /Requests\/sec/ {print $2}' | paste -sd' '; }
spans() { curl -s "127.0.0.1:$metrics/metrics" | awk '/^otelcol_exporter_sent_spans_total\{/ {s+=$2} END {print s+0}'; }
cpu_ticks() { awk '{print $14+$15}' /proc/$1/stat; }

printf '%-10s %-10s %12s %14s %10s %10s %10s\n' round mode requests "req/s" spans "cpu-cores" "rss-MiB"
for round in $(seq 1 "$rounds"); do
	read -r requests rps < <(run_wrk)
	printf '%-10s %-10s %12s %14s\n' "$round" detached "$requests" "$rps"

	build/otel-ai-collector --config "$work/config.yaml" >"$work/collector.log" 2>&1 &
	collector=$!
	sleep 3
	before_spans=$(spans)
	before_cpu=$(cpu_ticks $collector)
	read -r requests rps < <(run_wrk)
	sleep 2 # responses without a length end at the idle timeout
	after_cpu=$(cpu_ticks $collector)
	got=$(( $(spans) - before_spans ))
	rss=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$collector/status)
	cores=$(awk -v t=$((after_cpu - before_cpu)) -v s="$seconds" 'BEGIN {printf "%.2f", t/100/s}')
	printf '%-10s %-10s %12s %14s %10s %10s %10s\n' "$round" attached "$requests" "$rps" "$got" "$cores" "$rss"
	kill $collector; wait $collector 2>/dev/null || true; collector=
done
