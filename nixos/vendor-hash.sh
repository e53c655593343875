#!/usr/bin/env bash
# Prints the vendorHash of nixos/package.nix: the NAR hash of what
# `go mod vendor` produces for this module, which is what buildGoModule's
# vendor derivation hashes. Needs go and nix (Debian's nix-bin is enough).
# The nixos integration test fails when package.nix disagrees with it.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git ls-files -z | xargs -0 cp --parents -t "$work"
(cd "$work" && GOFLAGS=-mod=mod go mod vendor)
NIX_CONFIG=$'build-users-group =\nexperimental-features = nix-command' nix hash path --type sha256 "$work/vendor"
