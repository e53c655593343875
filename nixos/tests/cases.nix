# Option sets the tests evaluate (nixos_test.go says what each must produce).
{
  # A host configuration written for the previous module, unchanged.
  previous-module = {
    enable = true;
    receiverPort = 4318;
    forwarderPort = 4320;
    enableDebugExporter = true;
    enableFileExporter = true;
    fileExporterPath = "/var/lib/opentelemetry-collector/traces.json";
    enableK8sExporter = true;
    k8sExporterEndpoint = "http://otel-gateway.example:4318";
    enableZPages = true;
    zpagesPort = 55679;
  };

  gateway = {
    enable = true;
    enableK8sExporter = false;
    remote.gateway = {
      endpoint = "https://gateway.example:4318";
      headers = { X-Scope-OrgID = "workstations"; };
      tls = { caFile = "/etc/ssl/lgtm-ca.pem"; certFile = "/etc/otel/client.pem"; keyFile = "/etc/otel/client-key.pem"; };
      bearerTokenFile = "/run/secrets/lgtm-token";
    };
    remote.queueSizeBytes = 52428800;
  };

  direct = {
    enable = true;
    remote.mode = "direct";
    remote.tempo = { endpoint = "tempo.example:4317"; headers = { X-Scope-OrgID = "ws"; }; };
    remote.mimir = { endpoint = "https://mimir.example/otlp"; headers = { X-Scope-OrgID = "ws"; }; bearerTokenFile = "/run/secrets/mimir"; };
    remote.loki = { endpoint = "https://loki.example/otlp"; headers = { X-Scope-OrgID = "ws"; }; };
  };

  all-on = {
    enable = true;
    listenAddress = "0.0.0.0";
    enableDebugExporter = true;
    aiServices = [ "claude-code" "aider" ];
    remote.gateway.protocol = "grpc";
    remote.gateway.endpoint = "gateway.example:4317";
    hostMetrics = { enable = true; interval = "30s"; };
    journald = { enable = true; units = [ "otel-ai-monitor.service" "ipc-daemon.service" ]; priority = "warning"; };
    settings.processors.memory_limiter.limit_mib = 512;
  };

  ebpf = {
    enable = true;
    ebpf = { enable = true; ports = [ 4320 8080 ]; executableRegex = "^(python3.*|node)$"; units = [ "ipc-daemon.service" ]; };
  };

  profiling = {
    enable = true;
    enableK8sExporter = false;
    profiling = {
      enable = true;
      ingestAddress = "127.0.0.1:4041";
      pyroscope = {
        endpoint = "https://pyroscope.example";
        headers = { X-Scope-OrgID = "workstations"; };
        tls.caFile = "/etc/ssl/lgtm-ca.pem";
        bearerTokenFile = "/run/secrets/pyroscope-token";
      };
      queueSizeBytes = 10485760;
      defaultServiceName = "workstation-app";
    };
  };

  # AI session traces (on by default with remote export): a longer turn
  # idle timeout; switched off; set on without remote export; and an idle
  # timeout the collector would refuse.
  ai-traces-idle = {
    enable = true;
    remote.gateway.endpoint = "https://gateway.example:4318";
    aiTraces.turnIdleTimeout = "2m";
  };

  ai-traces-off = {
    enable = true;
    aiTraces.enable = false;
  };

  ai-traces-without-remote = {
    enable = true;
    remote.mode = "none";
    aiTraces.enable = true;
  };

  ai-traces-bad-idle = {
    enable = true;
    aiTraces.turnIdleTimeout = "500ms";
  };

  all-off = {
    enable = true;
    enableFileExporter = false;
    enableK8sExporter = false;
    enableZPages = false;
    remote.mode = "none";
    hostMetrics.enable = false;
    journald.enable = false;
  };
}
