# Go's time.ParseDuration in plain Nix builtins (nixpkgs' lib has no
# equivalent), for config.nix's check of aiTraces.turnIdleTimeout.
let
  inherit (builtins) all elemAt filter floor foldl' fromJSON genList head isList isString match split stringLength substring;

  maxInt = 9223372036854775807; # 1<<63 - 1, Go's largest time.Duration
  # Nanoseconds per unit, as Go's time.ParseDuration knows them (µs is
  # U+00B5, μs U+03BC).
  unitNs = { ns = 1; us = 1000; "µs" = 1000; "μs" = 1000; ms = 1000000; s = 1000000000; m = 60000000000; h = 3600000000000; };

  # A string of decimal digits as an integer, or null when it is 1<<63 or
  # more (ParseDuration refuses those: overflow, or negative at best).
  leadingInt = digits:
    let d = head (match "0*([0-9]+)" digits); in
    if stringLength d > 19 || (stringLength d == 19 && d > "9223372036854775807") then null
    else fromJSON d;

  # Fraction digits as ParseDuration reads them: digits while the value
  # fits, and the power of ten they scale by.
  leadingFraction = digits:
    foldl'
      (acc: i:
        let c = fromJSON (substring i 1 digits); in
        if acc.overflow || acc.x > (maxInt - c) / 10 then acc // { overflow = true; }
        else { x = acc.x * 10 + c; scale = acc.scale * 10.0; overflow = false; })
      { x = 0; scale = 1.0; overflow = false; }
      (genList (i: i) (stringLength digits));
in
rec {
  # A Go duration (time.ParseDuration) in nanoseconds, or null where Go
  # returns an error. Mirrors its order: optional sign, "0" alone, then
  # number-unit pairs, each number with digits before or after an optional
  # point, the unit being the run of characters up to the next digit or
  # point; overflow past 1<<63-1 ns is an error. No spaces, as the
  # collector's connector configuration takes none.
  parseGoDuration = s:
    let
      signed = match "([-+]?)(.*)" s;
      negative = elemAt signed 0 == "-";
      rest = elemAt signed 1;
      parts = split "([0-9]*)(\\.([0-9]*))?([^0-9.]+)" rest;
      gaps = filter isString parts;
      pairs = filter isList parts;
      # One number-unit pair as nanoseconds, or null.
      pairNs = p:
        let
          int = elemAt p 0;
          frac = elemAt p 2; # null without a point
          unit = elemAt p 3;
          u = unitNs.${unit} or null;
          v = if int == "" then 0 else leadingInt int;
          f = if frac == null || frac == "" then { x = 0; scale = 1.0; } else leadingFraction frac;
          whole = if v == null || u == null || v > maxInt / u then null else v * u;
          # Go: v += uint64(float64(f) * (float64(unit) / scale)), truncated.
          part = if f.x > 0 then floor (f.x * (u / f.scale)) else 0;
        in
        if int == "" && (frac == null || frac == "") then null
        else if whole == null || part > maxInt - whole then null
        else whole + part;
      sum = foldl' (acc: p:
        let n = pairNs p; in
        if acc == null || n == null || n > maxInt - acc then null else acc + n) 0 pairs;
    in
    if rest == "0" then 0
    else if rest == "" || pairs == [ ] || !(all (g: g == "") gaps) then null
    else if sum == null then null
    else if negative then 0 - sum
    else sum;

  # What the collector takes as aiTraces.turnIdleTimeout: a Go duration of
  # at least 1s (the connector's Validate, and OTEL_AI_COLLECTOR_AI_TRACES_IDLE's
  # check in internal/defaultconfig).
  isIdleTimeout = s: let ns = parseGoDuration s; in ns != null && ns >= 1000000000;
}
