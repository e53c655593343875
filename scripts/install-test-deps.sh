#!/usr/bin/env bash
# Installs the Debian packages the integration tests run as real peers, if
# missing: Prometheus (remote-write target), systemd-journal-remote (writes
# real journal files for journalctl), nix-bin (parses and evaluates the
# NixOS module offline), and nginx, curl and python3 (services and clients the
# eBPF receiver observes). Called by `make test` and .ci/run.
set -euo pipefail
need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v journalctl >/dev/null || need+=(systemd)
command -v unshare >/dev/null || need+=(util-linux)
[ -x /lib/systemd/systemd-journal-remote ] || need+=(systemd-journal-remote)
command -v nix-instantiate >/dev/null || need+=(nix-bin)
command -v nginx >/dev/null || need+=(nginx)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
[ ${#need[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || {
		echo "the tests need: ${need[*]}; run as root: apt-get install ${need[*]}" >&2
		exit 1
	}
	sudo=(sudo)
fi
echo "installing test dependencies: ${need[*]}"
"${sudo[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${need[@]}"
