# Evaluates nixos/config.nix for a named option set from cases.nix, with the
# option defaults of defaults.nix filled in as the module system would.
#   nix-instantiate --eval --strict --json nixos/tests/eval.nix --argstr case gateway
{ case }:
let
  inherit (builtins) attrNames foldl' hasAttr isAttrs;
  recursiveUpdate = lhs: rhs:
    foldl'
      (acc: name:
        acc // {
          ${name} =
            if hasAttr name acc && isAttrs acc.${name} && isAttrs rhs.${name}
            && name != "settings" && name != "headers"
            then recursiveUpdate acc.${name} rhs.${name}
            else rhs.${name};
        })
      lhs
      (attrNames rhs);
  cases = import ./cases.nix;
  cfg = recursiveUpdate (import ../defaults.nix) cases.${case};
in
import ../config.nix cfg
