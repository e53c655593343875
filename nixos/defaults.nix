# Default values of every services.otel-ai-collector option, in plain Nix (no
# nixpkgs), so module.nix, config.nix and the offline tests share them.
# The first block is the previous module's options: same names, same defaults.
{
  enable = false;
  receiverPort = 4318;
  forwarderPort = 4320;
  enableDebugExporter = false;
  enableFileExporter = true;
  fileExporterPath = "/var/lib/opentelemetry-collector/traces.json";
  enableK8sExporter = true;
  # The previous default: the exporter's traces URL; metrics and logs go to
  # /v1/metrics and /v1/logs beside it.
  k8sExporterEndpoint = "https://otel-collector.cnoe.localtest.me:8443/v1/traces";
  enableZPages = true;
  zpagesPort = 55679;

  # New options.
  # What the previous module's K8s exporter did implicitly: OTLP/JSON, and a
  # client certificate for gateways that ask for one (mutual TLS). enable =
  # null: on when the host configuration sets certFile or keyFile, or when
  # both files exist at (impure) evaluation.
  k8sExporterEncoding = "json";
  k8sExporterTls = {
    enable = null;
    certFile = "/etc/otel/certs/client.crt";
    keyFile = "/etc/otel/certs/client.key";
    caFile = null;
  };
  openFirewall = false;
  listenAddress = "127.0.0.1";
  grpcPort = 4317;
  healthCheckPort = 13133;
  metricsPort = 8888;
  # null: AI CLIs recognised by what they send (service.name pattern, scope
  # and event names); a list is an exact set of service.name values.
  aiServices = null;
  remote = {
    # "gateway": one OTLP endpoint for everything (k8sExporterEndpoint when
    # enableK8sExporter is set, else remote.gateway.endpoint); "direct": one
    # endpoint per backend; "none": no remote export.
    mode = "gateway";
    gateway = {
      endpoint = null;
      protocol = "http";
      headers = { };
      tls = { caFile = null; certFile = null; keyFile = null; insecureSkipVerify = false; };
      bearerTokenFile = null;
    };
    tempo = { endpoint = null; protocol = "grpc"; headers = { }; tls = { caFile = null; certFile = null; keyFile = null; insecureSkipVerify = false; }; bearerTokenFile = null; };
    mimir = { endpoint = null; protocol = "http"; headers = { }; tls = { caFile = null; certFile = null; keyFile = null; insecureSkipVerify = false; }; bearerTokenFile = null; };
    loki = { endpoint = null; protocol = "http"; headers = { }; tls = { caFile = null; certFile = null; keyFile = null; insecureSkipVerify = false; }; bearerTokenFile = null; };
    queueSizeBytes = 104857600;
    maxRetryTime = "24h";
  };
  aiTraces = {
    # One trace per AI CLI turn, built from the CLIs' log events on the
    # remote path; a turn ends after turnIdleTimeout without events.
    enable = true;
    turnIdleTimeout = "30s";
    # ... but this long while the CLI owes a model call (silent retries).
    modelCallTimeout = "10m";
  };
  hostMetrics = {
    enable = true;
    interval = "15s";
  };
  journald = {
    enable = true;
    units = [ "otel-ai-collector.service" "otel-ai-monitor.service" ];
    priority = "info";
  };
  ebpf = {
    enable = false;
    ports = [ ];
    executableRegex = null;
    units = [ ];
  };
  profiling = {
    # Pyroscope SDK pushes on ingestAddress and OTLP profiles on the OTLP
    # receivers, forwarded to pyroscope.endpoint (Pyroscope's base URL).
    enable = false;
    ingestAddress = "127.0.0.1:4040";
    pyroscope = {
      endpoint = null;
      headers = { };
      tls = { caFile = null; certFile = null; keyFile = null; insecureSkipVerify = false; };
      bearerTokenFile = null;
    };
    queueSizeBytes = 104857600;
    defaultServiceName = "unknown_service";
    # Whole-host CPU profiling with eBPF (docs/profiling.md); every process
    # unless executableRegex or units select some.
    ebpf = {
      enable = false;
      executableRegex = null;
      units = [ ];
    };
  };
  memoryMax = "512M";
  settings = { };
  configFile = null;
}
