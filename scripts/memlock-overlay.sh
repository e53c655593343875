#!/usr/bin/env bash
# Prints the `go build` flags that put internal/memlockoverlay/rlimit.go (our
# own MaximizeMemlock) in place of go.opentelemetry.io/ebpf-profiler's
# rlimit/rlimit.go. The Makefile, nixos/package.nix and integration/harness
# all build with them, so the shipped and the tested binary are the same code.
# Why: docs/profiling.md, "RLIMIT_MEMLOCK".
#
# Usage: go build $(scripts/memlock-overlay.sh WORKDIR) ...
#
# `go build -overlay` refuses to replace files under GOMODCACHE. So:
# - vendor mode (nixos/package.nix: buildGoModule builds from vendor/), the
#   overlay replaces vendor/go.opentelemetry.io/ebpf-profiler/rlimit/rlimit.go;
# - module mode (Makefile, tests), WORKDIR gets an unmodified read-only copy
#   of the module from the module cache (the build's own input, like Nix's
#   vendor/, never committed), a go.mod (-modfile) that replaces the module
#   with that copy, and the overlay for the copy's rlimit.go.
set -euo pipefail
work=${1:?usage: $0 WORKDIR}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p "$work"
work=$(cd "$work" && pwd)
module=go.opentelemetry.io/ebpf-profiler
ours=$root/internal/memlockoverlay/rlimit.go

# The overlay replaces one file of one release; another release may have
# changed that file's contract, so it has to be looked at again.
want=v0.0.202633
have=$(sed -n "s|^[[:space:]]*$module \(v[^ ]*\).*|\1|p" go.mod | head -1)
if [ "$have" != "$want" ]; then
	echo "memlock-overlay: go.mod has $module ${have:-(none)}, the overlay is written for $want:" >&2
	echo "compare its rlimit/rlimit.go with internal/memlockoverlay/rlimit.go, then update this script" >&2
	exit 1
fi

check() {
	if ! grep -q '^func MaximizeMemlock() (func(), error)' "$1/rlimit/rlimit.go" 2>/dev/null; then
		echo "memlock-overlay: $1/rlimit/rlimit.go does not define MaximizeMemlock() (func(), error)" >&2
		exit 1
	fi
}

if [ -f vendor/modules.txt ]; then
	check "vendor/$module"
	printf '{"Replace":{"%s":"%s"}}\n' "$root/vendor/$module/rlimit/rlimit.go" "$ours" >"$work/memlock-overlay.json"
	echo "-overlay=$work/memlock-overlay.json"
	exit 0
fi

src=$(go mod download -json "$module@$want" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
copy=$work/ebpf-profiler@$want
if [ ! -f "$copy/go.mod" ]; then
	rm -rf "$copy.tmp"
	cp -r "$src" "$copy.tmp"
	mv "$copy.tmp" "$copy"
fi
check "$copy"
cp go.mod "$work/go.mod"
cp go.sum "$work/go.sum"
echo "replace $module $want => $copy" >>"$work/go.mod"
printf '{"Replace":{"%s":"%s"}}\n' "$copy/rlimit/rlimit.go" "$ours" >"$work/memlock-overlay.json"
echo "-modfile=$work/go.mod -overlay=$work/memlock-overlay.json"
