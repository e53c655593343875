#!/usr/bin/env bash
# eBPF receiver overhead on an instrumented HTTP server (a Go net/http
# server), with the ebpf_network receiver attached vs not, alternated side by
# side in one run:
#   1. at a fixed 10k requests/s (bench/httpload): the server's CPU and the
#      request latency, spans produced vs requests served;
#   2. saturated with wrk: the server's maximum throughput.
# Also the collector's CPU and RSS while attached, data events it lost,
# and, in a third section of its own, the CPU time its BPF programs ran (all
# processes' socket I/O they fire on) per request served. That section alone
# turns kernel.bpf_stats_enabled on: the statistics take the clock twice per
# program run, a cost users do not pay, so it stays out of the first two.
# Needs root (BPF) and wrk (apt-get install wrk).
# Usage: bench/ebpf-overhead.sh [seconds per run] [rounds]
# With EBPF_OVERHEAD_BASELINE=path/to/another/otel-ai-collector, each round
# also runs that binary attached ("baseline"), beside this tree's build
# ("attached"): a change to the receiver measured against the one before.
# With EBPF_OVERHEAD_CONTROLS=1, each fixed-rate round also runs two
# controls: "unselected", the collector attached with a port nothing listens
# on (every BPF program loaded, every event an early exit, nothing to
# assemble), and "burner", no collector but bench/cpuburner busy
# EBPF_OVERHEAD_BURNER_BUSY (default 800us) every 10 ms, about the
# collector's mean CPU at this rate: what any co-runner of that CPU does to
# the server, told apart from what the collector does.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
rounds=${2:-2}
make --no-print-directory build >/dev/null
CGO_ENABLED=0 go build -o build/bench-httpserver ./bench/httpserver
CGO_ENABLED=0 go build -o build/bench-httpload ./bench/httpload
CGO_ENABLED=0 go build -o build/bench-cpuburner ./bench/cpuburner
work=$(mktemp -d)
port=18090
metrics=18891
build/bench-httpserver -addr 127.0.0.1:$port &
server=$!
collector=
burner=
cleanup() { kill $server ${collector:-} ${burner:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
stats_before=$(sysctl -n kernel.bpf_stats_enabled)
trap 'cleanup; sysctl -qw kernel.bpf_stats_enabled=$stats_before' EXIT
sysctl -qw kernel.bpf_stats_enabled=0
sleep 1

cat >"$work/config.yaml" <<YAML
receivers:
  ebpf_network:
    ports: [$port]
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
sed "s/ports: \[$port\]/ports: [1]/" "$work/config.yaml" >"$work/unselected.yaml"

run_wrk() { wrk -t2 -c32 -d"${seconds}s" "http://127.0.0.1:$port/" | awk '/requests in/ {print $1} /Requests\/sec/ {print $2}' | paste -sd' '; }
run_fixed() { build/bench-httpload -url "http://127.0.0.1:$port/" -rate 10000 -conns 32 -duration "${1:-${seconds}s}"; }
spans() { curl -s "127.0.0.1:$metrics/metrics" | awk '/^otelcol_exporter_sent_spans(_total)?\{/ {s+=$2} END {print s+0}'; }
lost() { curl -s "127.0.0.1:$metrics/metrics" | awk '/^otelcol_receiver_ebpf_network_data_lost/ {print $2}'; }
# CPU time the collector's BPF programs ran, in ns, all CPUs and processes
# (counted only while kernel.bpf_stats_enabled is on).
bpf_ns() { cat /proc/$1/fdinfo/* 2>/dev/null | awk '/^run_time_ns:/ {s+=$2} END {printf "%d", s}'; }
cpu_ticks() { awk '{print $14+$15}' /proc/$1/stat; }
cores() { awk -v t="$1" -v s="$seconds" 'BEGIN {printf "%.3f", t/100/s}'; }

baseline=${EBPF_OVERHEAD_BASELINE:-}
all_modes=(detached attached ${baseline:+baseline})
# The modes of a round, rotated by one each round so a trend in the
# machine's load weighs on all alike.
modes_of() { local r=$(( ($1 - 1) % ${#all_modes[@]} )); echo "${all_modes[@]:r}" "${all_modes[@]:0:r}"; }
start_collector() { # [binary] [config]
	"${1:-build/otel-ai-collector}" --config "${2:-$work/config.yaml}" >"$work/collector.log" 2>&1 &
	collector=$!
	sleep 3
}
stop_collector() { kill $collector; wait $collector 2>/dev/null || true; collector=; }
# start_mode starts the collector a mode runs (none for detached and burner).
start_mode() {
	case $1 in
	attached) start_collector ;;
	baseline) start_collector "$baseline" ;;
	unselected) start_collector "" "$work/unselected.yaml" ;;
	esac
}

echo "== fixed rate: 10k requests/s, ${seconds}s per run"
# col-cpu: the collector's CPU, or the burner's.
printf '%-6s %-10s %9s %9s %9s %8s %8s %11s %9s %10s %9s %9s\n' round mode sent ok "req/s" "p50-ms" "p99-ms" "server-cpu" spans "data-lost" "col-cpu" "col-MiB"
fixed_modes=("${all_modes[@]}")
[ "${EBPF_OVERHEAD_CONTROLS:-}" = 1 ] && all_modes+=(unselected burner)
for round in $(seq 1 "$rounds"); do
	for mode in $(modes_of "$round"); do
		start_mode $mode
		if [ $mode = burner ]; then
			build/bench-cpuburner -busy "${EBPF_OVERHEAD_BURNER_BUSY:-800us}" &
			burner=$!
			sleep 1
		fi
		[ -n "$collector" ] && { s0=$(spans); c0=$(cpu_ticks $collector); }
		[ -n "$burner" ] && c0=$(cpu_ticks $burner)
		v0=$(cpu_ticks $server)
		read -r sent ok rps p50 p99 < <(run_fixed)
		v1=$(cpu_ticks $server)
		if [ -n "$burner" ]; then
			col=$(cores $(( $(cpu_ticks $burner) - c0 ))); got=-; l=-; rss=-
			kill $burner; wait $burner 2>/dev/null || true; burner=
		elif [ -n "$collector" ]; then
			sleep 2 # responses end at the idle timeout at the latest
			c1=$(cpu_ticks $collector)
			got=$(( $(spans) - s0 )); l=$(lost); col=$(cores $((c1 - c0)))
			rss=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$collector/status)
			stop_collector
		else
			got=-; l=-; col=-; rss=-
		fi
		printf '%-6s %-10s %9s %9s %9s %8s %8s %11s %9s %10s %9s %9s\n' "$round" $mode "$sent" "$ok" "$rps" "$p50" "$p99" "$(cores $((v1 - v0)))" "$got" "$l" "$col" "$rss"
	done
done

all_modes=("${fixed_modes[@]}")
echo "== saturated: wrk -t2 -c32, ${seconds}s per run"
printf '%-6s %-9s %12s %12s %10s %10s\n' round mode requests "req/s" spans "data-lost"
for round in $(seq 1 "$rounds"); do
	for mode in $(modes_of "$round"); do
		start_mode $mode
		[ -n "$collector" ] && s0=$(spans)
		read -r requests rps < <(run_wrk)
		if [ $mode != detached ]; then
			sleep 2
			got=$(( $(spans) - s0 )); l=$(lost)
			stop_collector
		else
			got=-; l=-
		fi
		printf '%-6s %-9s %12s %12s %10s %10s\n' "$round" $mode "$requests" "$rps" "$got" "$l"
	done
done

echo "== BPF time per request: 10k requests/s, 5s per run, kernel.bpf_stats_enabled on"
printf '%-6s %-10s %9s %11s\n' round mode sent "bpf-us/req"
# With the controls, "unselected" gives what the early exits cost: half of it
# is the load generator's (its socket I/O fires the programs as often as the
# server's), the rest of "attached" is the server's.
[ "${EBPF_OVERHEAD_CONTROLS:-}" = 1 ] && all_modes+=(unselected)
sysctl -qw kernel.bpf_stats_enabled=1
for round in $(seq 1 "$rounds"); do
	for mode in $(modes_of "$round"); do
		[ $mode = detached ] && continue
		start_mode $mode
		b0=$(bpf_ns $collector)
		read -r sent ok rps p50 p99 < <(run_fixed 5s)
		b1=$(bpf_ns $collector)
		stop_collector
		printf '%-6s %-10s %9s %11s\n' "$round" $mode "$sent" "$(awk -v n=$((b1 - b0)) -v r="$sent" 'BEGIN {printf "%.2f", n/1e3/r}')"
	done
done
sysctl -qw kernel.bpf_stats_enabled=0
