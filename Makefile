# otel-ai-collector: see README.md. Every target reuses Go's module and build
# caches, so a warm rebuild takes seconds.

OCB_VERSION := v0.158.0
TOOLS       := $(CURDIR)/.tools
OCB         := $(TOOLS)/builder-$(OCB_VERSION)
BINARY      := $(CURDIR)/build/otel-ai-collector
# -s -w drops the symbol table and DWARF: 22 MB smaller, and 15 MiB less
# idle RSS (bench/idle-rss.sh); stack traces and pprof still work.
# grpcnotrace: gRPC-Go's own build tag, leaves out its golang.org/x/net/trace
# request tracing (off unless grpc.EnableTracing is set, which nothing here
# does): 0.12 MB smaller. nixos/package.nix and integration/harness build the
# same way.
GO_BUILD    := CGO_ENABLED=0 go build -trimpath -tags grpcnotrace -ldflags="-s -w"
# The eBPF profiler's rlimit.MaximizeMemlock is replaced by our own
# (internal/memlockoverlay) with -overlay: docs/profiling.md, "RLIMIT_MEMLOCK".
# nixos/package.nix and integration/harness build with the same script.
OVERLAY     := scripts/memlock-overlay.sh $(CURDIR)/build/profiler

.PHONY: all tools test-deps generate generate-bpf check-generated build run test unit-test integration-test lint bench clean

all: build

$(OCB):
	mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) go install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)
	mv $(TOOLS)/builder $(OCB)

## tools: install the pinned ocb into .tools/
tools: $(OCB)

## generate: regenerate cmd/otel-ai-collector and components/ from builder-config.yaml
generate: $(OCB)
	OCB=$(OCB) scripts/generate.sh
	# -e: the pprof translator's own tests import a module the proxy does not
	# serve (sig-profiling/profcheck); tidy would stop there. Builds and our
	# tests do not need it.
	go mod tidy -e

## generate-bpf: recompile the BPF programs into the committed bpf2go objects (needs clang, libbpf-dev)
generate-bpf:
	go generate ./receiver/ebpfreceiver/

## check-generated: fail if committed generated code differs from its sources
check-generated: generate generate-bpf
	@if [ -n "$$(git status --porcelain -- cmd components go.mod go.sum receiver)" ]; then \
		git status --porcelain -- cmd components go.mod go.sum receiver; git diff --stat -- cmd components go.mod go.sum receiver; \
		echo "generated code is out of date: run 'make generate generate-bpf' and commit the result" >&2; \
		exit 1; \
	fi

## build: build the collector binary into build/
build:
	flags=$$($(OVERLAY)) && $(GO_BUILD) $$flags -o $(BINARY) ./cmd/otel-ai-collector

## run: build and run the collector on its embedded default configuration
run: build
	$(BINARY)

## test-deps: what the integration tests run as real peers (scripts/install-test-deps.sh): Debian systemd, util-linux, systemd-journal-remote, nix-bin, nginx, curl, python3, python3-grpcio; prometheus3 (go install)
test-deps:
	scripts/install-test-deps.sh

## test: unit and integration tests (integration runs the built binary)
test: build test-deps
	OTEL_AI_COLLECTOR_BINARY=$(BINARY) go test -count=1 -timeout 60m ./...

unit-test:
	go test -count=1 $$(go list ./... | grep -v /integration)

integration-test: build test-deps
	OTEL_AI_COLLECTOR_BINARY=$(BINARY) go test -count=1 -timeout 60m -v ./integration/...

## lint: formatting and vet
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:" $$unformatted >&2; exit 1; fi
	go vet ./...

## bench: side-by-side benchmarks against the previous setup (bench/README.md)
bench:
	bench/run.sh

clean:
	rm -rf build
