#!/usr/bin/env bash
# Installs the Debian packages the integration tests run as real peers, if
# missing: systemd-journal-remote (writes
# real journal files for journalctl), nix-bin (parses and evaluates the
# NixOS module offline), and nginx, curl, python3 and python3-grpcio (services
# and clients the eBPF receiver observes). Called by `make test` and .ci/run.
#
# Also Prometheus 3 with its OTLP receiver (the metrics tests' stand-in for
# Mimir's /otlp endpoint, which runs the same translation code), built with go
# install at a pinned release (no binary downloads; Debian's prometheus is
# 2.x) and installed as /usr/local/bin/prometheus3.
#
# And the AI coding CLIs (Claude Code, Codex, Gemini CLI) from npm at pinned
# versions, into .tools/ai-clis (install_ai_clis below).
set -euo pipefail

# Prometheus 3.16.0's Go module version; integration/harness.Prometheus3Version.
PROMETHEUS3_VERSION=v0.316.0
need=()
command -v journalctl >/dev/null || need+=(systemd)
command -v unshare >/dev/null || need+=(util-linux)
[ -x /lib/systemd/systemd-journal-remote ] || need+=(systemd-journal-remote)
command -v nix-instantiate >/dev/null || need+=(nix-bin)
command -v nginx >/dev/null || need+=(nginx)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
# gRPC in Python (C-core), a second gRPC implementation for the eBPF tests.
/usr/bin/python3 -c 'import grpc' 2>/dev/null || need+=(python3-grpcio)

# prometheus3 is current if its build info names the pinned module version.
prometheus3_current() {
	local path
	path=$(command -v prometheus3) || return 1
	go version -m "$path" 2>/dev/null | grep -Eq "^[[:space:]]*mod[[:space:]]+github.com/prometheus/prometheus[[:space:]]+${PROMETHEUS3_VERSION}([[:space:]]|$)"
}
need_prometheus3=
prometheus3_current || need_prometheus3=yes

install_ai_clis() {
	# The AI CLIs the real-CLI tests drive (integration/aicli_*_test.go),
	# from npm at pinned versions, each in its own prefix under .tools/ai-clis
	# (integration/harness.AICLIPath). Nothing is fetched when the pinned
	# version is already there. No model API is ever reached: the tests point
	# each CLI at a fake server of its vendor's API on loopback.
	local root
	root="$(cd "$(dirname "$0")/.." && pwd)/.tools/ai-clis"
	local spec dir pkg version installed
	for spec in claude-code=@anthropic-ai/claude-code@2.1.328 codex=@openai/codex@0.169.0 gemini-cli=@google/gemini-cli@0.61.0; do
		dir="$root/${spec%%=*}"
		pkg="${spec#*=}"
		version="${pkg##*@}"
		pkg="${pkg%@*}"
		installed=$(node -p "require('$dir/node_modules/$pkg/package.json').version" 2>/dev/null || true)
		[ "$installed" = "$version" ] && continue
		command -v npm >/dev/null || {
			echo "the real-CLI tests need npm (Node.js 20 or newer) to install $pkg@$version" >&2
			exit 1
		}
		echo "installing $pkg@$version into $dir (npm)"
		mkdir -p "$dir"
		npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$pkg@$version"
	done
}
install_ai_clis

[ ${#need[@]} -eq 0 ] && [ -z "$need_prometheus3" ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || {
		echo "the tests need: ${need[*]} ${need_prometheus3:+prometheus3 ($PROMETHEUS3_VERSION)}; run this script as root" >&2
		exit 1
	}
	sudo=(sudo)
fi
if [ ${#need[@]} -gt 0 ]; then
	echo "installing test dependencies: ${need[*]}"
	"${sudo[@]}" apt-get update -q
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${need[@]}"
fi
if [ -n "$need_prometheus3" ]; then
	echo "building prometheus3 (github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS3_VERSION; takes minutes)"
	gobin=$(mktemp -d)
	trap 'rm -rf "$gobin"' EXIT
	GOBIN="$gobin" go install "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS3_VERSION"
	"${sudo[@]}" install -m 0755 "$gobin/prometheus" /usr/local/bin/prometheus3
	prometheus3_current || {
		echo "prometheus3 on PATH is not $PROMETHEUS3_VERSION (is /usr/local/bin on PATH?)" >&2
		exit 1
	}
fi
