# Evaluates nixos/module.nix with nixpkgs' real module system
# (lib.evalModules), the way a NixOS system would, with only what NixOS and
# nixpkgs would add stubbed:
#   - NixOS's own option declarations the module defines or reads
#     (assertions, warnings, systemd, networking.firewall, users,
#     environment, boot.kernelPackages, meta): declared here with the types
#     NixOS gives them, freeform where the module only writes into them;
#   - pkgs: formats.yaml writes its value as JSON (JSON is YAML) with
#     builtins.toFile, so the unit's configuration file is a real store file
#     (with --read-write-mode, which writes it); runCommand cannot build
#     here, so its output path is its build script's store path with ".out"
#     appended: the test runs that script with $out
#     at a path of its own and substitutes it for the output path;
#     the package is `packageDir` (holding bin/otel-ai-collector).
# Failed assertions fail evaluation with NixOS's wording ("Failed
# assertions:"); warnings are returned.
#
#   nix-instantiate --read-write-mode --eval --strict --json nixos/tests/module-eval.nix \
#     --arg lib '(import <nixpkgs lib>)' --argstr packageDir DIR --argstr case NAME
# `case` names an option set of nixos/tests/module-cases.nix; `configJSON`
# (a JSON string) gives one directly instead.
{ lib, packageDir, case ? null, configJSON ? null, kernelVersion ? "6.6.0" }:
let
  inherit (lib) mkOption types;

  cases = import ./module-cases.nix;
  hostConfig = if configJSON != null then builtins.fromJSON configJSON else cases.${case};

  # pkgs.formats.json's value type in nixpkgs: any JSON value, attribute
  # sets merged recursively, lists concatenated.
  jsonValue = types.nullOr (types.oneOf [
    types.bool
    types.int
    types.float
    types.str
    types.path
    (types.attrsOf jsonValue)
    (types.listOf jsonValue)
  ]) // { description = "JSON value"; };

  package = {
    type = "derivation";
    name = "otel-ai-collector";
    outPath = packageDir;
    meta.mainProgram = "otel-ai-collector";
  };

  pkgs = {
    formats.yaml = { }: {
      type = jsonValue;
      generate = name: value: builtins.toFile name (builtins.toJSON value);
    };
    runCommand = name: env: buildCommand: {
      type = "derivation";
      inherit name buildCommand;
      outPath = "${builtins.toFile "${name}.build.sh" buildCommand}.out";
    };
    otel-ai-collector = package;
    callPackage = _: _: package;
    coreutils = "/usr";
  };

  freeform = types.submodule { freeformType = types.attrsOf types.anything; };

  nixosStubs = {
    options = {
      assertions = mkOption { type = types.listOf types.unspecified; default = [ ]; };
      warnings = mkOption { type = types.listOf types.str; default = [ ]; };
      meta = mkOption { type = types.attrsOf types.anything; default = { }; };
      systemd = {
        services = mkOption { type = types.attrsOf freeform; default = { }; };
        package = mkOption { type = types.unspecified; default = "/run/current-system/systemd"; };
      };
      networking.firewall = {
        allowedTCPPorts = mkOption { type = types.listOf types.port; default = [ ]; };
        allowedUDPPorts = mkOption { type = types.listOf types.port; default = [ ]; };
      };
      users = mkOption { type = freeform; default = { }; };
      environment = mkOption { type = freeform; default = { }; };
      boot.kernelPackages = mkOption { type = types.unspecified; default = { kernel.version = kernelVersion; }; };
    };
  };

  eval = lib.evalModules {
    modules = [
      ../module.nix
      nixosStubs
      { _module.args = { inherit pkgs; }; }
      {
        # What NixOS shows as the defining file in errors.
        _file = if configJSON != null then "host configuration (configJSON)" else "host configuration (module-cases.nix, ${case})";
        services.otel-ai-collector = hostConfig;
      }
    ];
  };
  inherit (eval) config;

  failed = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
  unit = config.systemd.services.otel-ai-collector or null;
in
if failed != [ ] then
  throw "\nFailed assertions:\n${lib.concatStringsSep "\n" (map (m: "- ${m}") failed)}"
else
  {
    inherit (config) warnings;
    firewall = config.networking.firewall;
    maintainers = config.meta.maintainers or [ ];
    unit = if unit == null then null else {
      inherit (unit) environment serviceConfig;
      path = map toString (unit.path or [ ]);
      wantedBy = unit.wantedBy or [ ];
    };
    settings = config.services.otel-ai-collector.settings;
  }
