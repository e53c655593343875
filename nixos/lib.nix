# Helpers in plain Nix builtins, shared by config.nix and the offline tests.
let
  inherit (builtins) attrNames foldl' hasAttr isAttrs;
in
rec {
  # Recursive merge, right wins; lists are replaced, as the collector merges
  # configuration layers (and as the module system fills in defaults).
  recursiveUpdate = lhs: rhs:
    foldl'
      (acc: name:
        acc // {
          ${name} =
            if hasAttr name acc && isAttrs acc.${name} && isAttrs rhs.${name}
            then recursiveUpdate acc.${name} rhs.${name}
            else rhs.${name};
        })
      lhs
      (attrNames rhs);
}
