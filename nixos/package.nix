# otel-ai-collector built from this repository with buildGoModule.
# vendorHash pins the Go module graph. nixos/vendor-hash.sh computes it offline
# (CI fails when it is stale); a real `nix build` reports it too.
{ lib, buildGoModule }:
buildGoModule {
  pname = "otel-ai-collector";
  version = "0.1.0";
  src = lib.cleanSource ./..;
  vendorHash = "sha256-42b0+NxUjzBqTWtwwgqoOMqjTFaWrN8q42OYA/xHAzc=";
  subPackages = [ "cmd/otel-ai-collector" ];
  env.CGO_ENABLED = 0;
  ldflags = [ "-s" "-w" ];
  # As the Makefile builds: without gRPC's x/net/trace request tracing.
  tags = [ "grpcnotrace" ];
  # As the Makefile builds: the eBPF profiler's rlimit.MaximizeMemlock
  # replaced by ours (internal/memlockoverlay, docs/profiling.md); in the
  # vendor tree here (scripts/memlock-overlay.sh, vendor mode).
  preBuild = ''
    overlay=$(bash scripts/memlock-overlay.sh "$TMPDIR/memlock-overlay")
    export GOFLAGS="$GOFLAGS $overlay"
  '';
  # The integration tests start processes and servers; `make test` runs them.
  doCheck = false;
  meta = {
    description = "OpenTelemetry Collector distribution for AI-coding workstations";
    license = lib.licenses.asl20;
    platforms = lib.platforms.linux;
    mainProgram = "otel-ai-collector";
  };
}
