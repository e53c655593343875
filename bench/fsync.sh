#!/usr/bin/env bash
# What fsync on the persistent queues costs, side by side in one run:
# BenchmarkFsync (bench/fsync_test.go) runs the embedded default's layers
# with resilient_file_storage/queue's fsync false (shipped) and true,
# alternated in rounds: AI record to monitor p50/p99 and CPU per 1k spans
# under 10k spans/s with the remote blackholed, and the most spans/s
# accepted with the remote answering.
# Usage: bench/fsync.sh   (BENCH_AI_LOAD_ROUNDS, _RECORDS, _THROUGHPUT tune it)
# The state directories are under TMPDIR: it must be on the disk whose
# fsync is to be measured, not tmpfs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(stat -f -c %T "${TMPDIR:-/tmp}")" = tmpfs ]; then
	echo "TMPDIR (${TMPDIR:-/tmp}) is tmpfs, where fsync costs nothing; set TMPDIR to a directory on disk" >&2
	exit 1
fi
if [ -z "${OTEL_AI_COLLECTOR_BINARY:-}" ]; then
	make --no-print-directory build
	export OTEL_AI_COLLECTOR_BINARY=$PWD/build/otel-ai-collector
fi
mkdir -p build
go test -run '^$' -bench 'BenchmarkFsync' -benchtime 1x -timeout 30m ./bench/ | tee build/bench-fsync.txt
