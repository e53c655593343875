#!/usr/bin/env bash
# Where the collector binary's bytes go.
# Usage: bench/binary-size.sh [N]
#   Builds ./cmd/otel-ai-collector as `make build` does but keeps the symbol
#   table (no -s -w; the layout of code and data is the same), then prints the
#   ELF section sizes and the N (default 25) modules and packages with the most
#   code and data by symbol size. Type descriptors and .gopclntab (function
#   tables, roughly proportional to code) have no per-symbol sizes and are not
#   attributed; "std" is the Go standard library.
# Usage: bench/binary-size.sh components
#   For each factory in components/components.go, the stripped `make build`
#   binary's size without that one component (a build with the factory's lines
#   left out through -overlay; the tree is not changed): what dropping it would
#   save, shared dependencies excluded. About 10 s a component.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build() { CGO_ENABLED=0 go build -trimpath -tags grpcnotrace "$@" ./cmd/otel-ai-collector; }

if [ "${1:-}" = components ]; then
	build -ldflags="-s -w" -o "$work/all"
	all=$(stat -c %s "$work/all")
	echo "all components: $all bytes"
	src=$PWD/components/components.go
	for alias in $(sed -n 's|^\s*\([a-z0-9]*\) "[^"]*"$|\1|p' "$src"); do
		grep -q "\b$alias\.NewFactory()" "$src" || continue
		sed "/^\s*$alias \"/d; /\b$alias\./d" "$src" >"$work/components.go"
		printf '{"Replace":{"%s":"%s"}}' "$src" "$work/components.go" >"$work/overlay.json"
		build -overlay "$work/overlay.json" -ldflags="-s -w" -o "$work/without"
		echo "$((all - $(stat -c %s "$work/without"))) $alias"
	done | sort -rn | awk '{ printf "  %5.2f MB  %s\n", $1 / 1e6, $2 }'
	exit 0
fi

top=${1:-25}
build -o "$work/bin"
go version -m "$work/bin" | awk '$1 == "dep" || $1 == "=>" || $1 == "mod" { print $2 }' >"$work/modules"
go tool nm -size "$work/bin" >"$work/symbols"
readelf -S -W "$work/bin" >"$work/sections"
python3 - "$work" "$top" <<'PY'
import collections, re, sys
work, top = sys.argv[1], int(sys.argv[2])
print("loaded sections (MB):")
nobits = []  # address ranges that take no file space (.bss, .noptrbss)
for line in open(f"{work}/sections"):
    m = re.match(r"\s*\[\s*\d+\]\s+(\.\S+)\s+(\S+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\S+\s+(\S*A\S*)\s", line)
    if not m:
        continue  # not loaded (symbol table, DWARF)
    name, kind, addr, size = m.group(1), m.group(2), int(m.group(3), 16), int(m.group(4), 16)
    if kind == "NOBITS":
        nobits.append((addr, addr + size))
    elif size > 10000:
        print(f"  {name:12} {size / 1e6:6.2f}")
modules = sorted((l.strip() for l in open(f"{work}/modules")), key=len, reverse=True)

def package(symbol):
    for prefix in ("type:.eq.", "type:.hash.", "type:", "go:itab.", "go:string.", "go:"):
        if symbol.startswith(prefix):
            symbol = symbol[len(prefix):]
            break
    # A package path ends at the first dot after its last slash; receivers
    # and generic instantiations start with '(' or '['.
    path = re.split(r"[\[(]", symbol.lstrip("*[]"), maxsplit=1)[0]
    dot = path.find(".", path.rfind("/") + 1)
    return path[:dot] if dot > 0 else path

def module(pkg):
    for m in modules:
        if pkg == m or pkg.startswith(m + "/"):
            return m
    return "std" if "." not in pkg.split("/")[0] else pkg

by_module, by_package = collections.Counter(), collections.Counter()
for line in open(f"{work}/symbols"):
    fields = line.split()
    if len(fields) < 4 or fields[3] == "go:func.*":
        continue  # go:func.* is every function's funcdata in one symbol
    if any(lo <= int(fields[0], 16) < hi for lo, hi in nobits):
        continue
    size, pkg = int(fields[1]), package(" ".join(fields[3:]))
    by_module[module(pkg)] += size
    by_package[pkg] += size
print(f"symbols attributed: {sum(by_module.values()) / 1e6:.2f} MB")
for title, counter in (("modules", by_module), ("packages", by_package)):
    print(f"top {top} {title} (MB):")
    for name, size in counter.most_common(top):
        print(f"  {size / 1e6:6.2f}  {name}")
PY
