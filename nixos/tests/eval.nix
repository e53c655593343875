# Evaluates nixos/config.nix for a named option set from cases.nix, with the
# option defaults of defaults.nix filled in as the module system would.
#   nix-instantiate --eval --strict --json nixos/tests/eval.nix --argstr case gateway
{ case }:
let
  inherit (import ../lib.nix) recursiveUpdate;
  cases = import ./cases.nix;
in
import ../config.nix (recursiveUpdate (import ../defaults.nix) cases.${case})
