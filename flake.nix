{
  description = "otel-ai-collector: OpenTelemetry Collector distribution for AI-coding workstations";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs: {
        default = pkgs.callPackage ./nixos/package.nix { };
        otel-ai-collector = self.packages.${pkgs.system}.default;
      });

      # What `make`, `make generate-bpf` and `make test` need on NixOS: the
      # same tools scripts/install-test-deps.sh and .ci/run install on Debian
      # (README, "Tests").
      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = with pkgs; [
            go
            gnumake
            git
            # BPF objects (bpf2go): clang and llvm, libbpf's headers.
            clang
            llvm
            libbpf
            # Real peers of the integration tests.
            prometheus # 3.x, found by the tests when there is no prometheus3 (Debian: a pinned go install)
            nginx
            systemd # journalctl, systemd-journal-remote, systemd-analyze
            nix
            curl
            (python3.withPackages (ps: [ ps.grpcio ])) # python3-grpcio: a gRPC peer of the eBPF tests
            util-linux # unshare
          ];
          # The cc wrapper's hardening flags are not valid for -target bpf.
          hardeningDisable = [ "all" ];
        };
      });

      overlays.default = final: prev: {
        otel-ai-collector = final.callPackage ./nixos/package.nix { };
      };

      nixosModules.default = { pkgs, ... }: {
        imports = [ ./nixos/module.nix ];
        services.otel-ai-collector.package = nixpkgs.lib.mkDefault self.packages.${pkgs.system}.default;
      };

      # Evaluates the module in a minimal NixOS system (previous module's
      # options only, and every feature on), including the build-time
      # validation derivation.
      checks = forAllSystems (pkgs:
        let
          evalWith = settings: (nixpkgs.lib.nixosSystem {
            inherit (pkgs) system;
            modules = [
              self.nixosModules.default
              { boot.isContainer = true; system.stateVersion = "24.11"; services.otel-ai-collector = settings; }
            ];
          }).config.systemd.units."otel-ai-collector.service".unit;
        in
        {
          previous-module = evalWith { enable = true; };
          all-on = evalWith (import ./nixos/tests/cases.nix).all-on;
        });
    };
}
