# Host configurations the real-module-system tests evaluate
# (integration/nixos_module_test.go says what each must produce): those of
# cases.nix, and the previous module's option sets.
let
  # Each previous option changed from its default, one at a time.
  previousChanged = {
    receiverPort = 14318;
    forwarderPort = 14320;
    enableDebugExporter = true;
    enableFileExporter = false;
    fileExporterPath = "/var/log/otel/telemetry.json";
    enableK8sExporter = false;
    k8sExporterEndpoint = "https://otel-gateway.example:4318";
    enableZPages = false;
    zpagesPort = 15679;
  };
in
import ./cases.nix
// {
  # All defaults: `enable` alone.
  previous-defaults = { enable = true; };

  # The previous module's settings as a real host last used them.
  previous-host = {
    enable = true;
    enableDebugExporter = false;
    enableFileExporter = true;
    enableK8sExporter = true;
    k8sExporterEndpoint = "https://otel-collector-myhost.tailnet.ts.net";
  };

  # The host above with the client certificate it presented named
  # explicitly, and protobuf chosen.
  previous-host-mtls = {
    enable = true;
    k8sExporterEndpoint = "https://otel-collector-myhost.tailnet.ts.net";
    k8sExporterTls = { certFile = "/etc/otel/certs/client.crt"; keyFile = "/etc/otel/certs/client.key"; };
    k8sExporterEncoding = "proto";
  };

  # A configuration file of the host's own, as a path literal.
  config-file = { enable = true; configFile = ./config-file.yaml; };

  # settings overriding generated values, a list and a whole subtree.
  settings-override = {
    enable = true;
    settings = {
      exporters."otlp_http/remote".timeout = "30s";
      # lib.mkForce (written out: cases have no lib): the generated subtree
      # replaced as a whole.
      exporters.file.rotation = { _type = "override"; priority = 50; content = { max_megabytes = 500; }; };
      service.extensions = [ "health_check" "resilient_file_storage/queue" ];
    };
  };

  # Every feature at once: all-on, eBPF and profiling.
  every-feature = let c = import ./cases.nix; in
    c.all-on // { inherit (c.ebpf) ebpf; inherit (c.profiling) profiling; };

  # Whole-host eBPF profiling, without remote export.
  profiling-ebpf = let c = import ./cases.nix; in
    c.profiling // { profiling = c.profiling.profiling // { ebpf = { enable = true; units = [ "indexer.service" "worker" ]; }; }; };

  ebpf-without-remote = {
    enable = true;
    remote.mode = "none";
    ebpf = { enable = true; ports = [ 8080 ]; };
  };
  gateway-without-endpoint = { enable = true; enableK8sExporter = false; };
  # The file exporter in the state directory, and somewhere systemd does
  # not manage.
  file-in-state-dir = { enable = true; fileExporterPath = "/var/lib/otel-ai-collector/traces.json"; };
  file-elsewhere = { enable = true; fileExporterPath = "/srv/telemetry/traces.json"; };
  firewall = { enable = true; listenAddress = "0.0.0.0"; openFirewall = true; };
  firewall-loopback = { enable = true; openFirewall = true; };

  # Assertions.
  assert-settings-and-config-file = { enable = true; configFile = ./config-file.yaml; settings.exporters.debug = { }; };
  assert-ebpf-selects-nothing = { enable = true; ebpf.enable = true; };
  assert-ebpf-old-kernel = { enable = true; ebpf = { enable = true; ports = [ 8080 ]; }; };
  assert-profiling-no-endpoint = { enable = true; profiling.enable = true; };
  assert-direct-missing-endpoint = { enable = true; remote.mode = "direct"; remote.tempo.endpoint = "tempo.example:4317"; };
}
// builtins.listToAttrs (map
  (name: { name = "previous-changed-${name}"; value = { enable = true; ${name} = previousChanged.${name}; }; })
  (builtins.attrNames previousChanged))
