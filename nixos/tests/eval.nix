# Evaluates nixos/config.nix for a named option set from cases.nix, with the
# option defaults of defaults.nix filled in as the module system would, and
# does with its assertions and warnings what module.nix and NixOS do: a
# failed assertion fails evaluation ("Failed assertions:", as NixOS's
# top-level does), and an option in noEffect warns only when the case (the
# host configuration) defines it, which module.nix tells by highestPrio.
#   nix-instantiate --eval --strict --json nixos/tests/eval.nix --argstr case gateway \
#     --arg lib 'import <nixpkgs lib>'
{ case, lib }:
let
  inherit (builtins) concatStringsSep filter foldl' hasAttr isAttrs map;
  inherit (lib) recursiveUpdate;
  cases = import ./cases.nix;
  defined = cases.${case};
  generated = import ../config.nix { inherit lib; } (recursiveUpdate (import ../defaults.nix) defined);

  definedByCase = path:
    (foldl' (set: name: if set != null && isAttrs set && hasAttr name set then set.${name} else null) defined path) != null;
  failed = filter (a: !a.assertion) generated.assertions;
in
if failed != [ ] then
  throw "\nFailed assertions:\n${concatStringsSep "\n" (map (a: "- ${a.message}") failed)}"
else
  generated // { warnings = map (w: w.message) (filter (w: definedByCase w.option) generated.noEffect); }
