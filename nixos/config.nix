# The option-to-configuration logic of services.otel-ai-collector, apart
# from the module so the tests can evaluate it for an option set directly
# (nixos/tests/eval.nix) as well as through the module system. Given
# nixpkgs' lib and the module's `cfg`, it returns what the service runs
# with:
#   layers       --config URIs, in order (the binary's embedded layers)
#   overlay      an attrset written as the last layer (mode layer, previous
#                module's exporters, then `settings` merged over it)
#   environment  OTEL_AI_COLLECTOR_* variables for the embedded layers
#   credentials  systemd LoadCredential= entries (bearer tokens, client
#                certificates and keys)
#   supplementaryGroups, readWritePaths, fileDirectories
#   capabilities Linux capabilities the enabled features need (eBPF only)
#   assertions   { assertion, message } the module adds to NixOS's assertions
#   noEffect     { option, message } for options set on that do nothing here;
#                the module warns about those the host configuration defines
{ lib }:
cfg:
let
  inherit (lib) attrNames attrValues concatLists concatMap concatStringsSep filter foldl' hasPrefix hasSuffix
    listToAttrs optional optionalAttrs recursiveUpdate removePrefix removeSuffix;

  # Go's time.ParseDuration, which nixpkgs' lib has no equivalent of.
  inherit (import ./lib.nix) isIdleTimeout;

  onOff = b: if b then "on" else "off";
  remote = cfg.remote;

  # The previous module's K8s exporter is the gateway unless
  # remote.gateway.endpoint names another one.
  fromK8s = remote.gateway.endpoint == null && cfg.enableK8sExporter;
  gatewayEndpoint =
    if remote.gateway.endpoint != null then remote.gateway.endpoint
    else if cfg.enableK8sExporter then cfg.k8sExporterEndpoint
    else null;
  # The previous module's default endpoint ended in /v1/traces, the
  # exporter's traces URL: traces still go exactly there, and metrics and
  # logs to /v1/metrics and /v1/logs beside it.
  hasTracesSuffix = e: e != null && hasSuffix "/v1/traces" e;
  gatewayBase = if hasTracesSuffix gatewayEndpoint then removeSuffix "/v1/traces" gatewayEndpoint else gatewayEndpoint;
  # The K8s exporter's client certificate (the previous module's mTLS),
  # unless remote.gateway.tls names one.
  gatewayTls =
    if fromK8s && cfg.k8sExporterTls.enable == true && remote.gateway.tls.certFile == null && remote.gateway.tls.keyFile == null
    then remote.gateway.tls // {
      certFile = cfg.k8sExporterTls.certFile;
      keyFile = cfg.k8sExporterTls.keyFile;
      caFile = if remote.gateway.tls.caFile != null then remote.gateway.tls.caFile else cfg.k8sExporterTls.caFile;
    }
    else remote.gateway.tls;
  remoteOn =
    (remote.mode == "gateway" && gatewayEndpoint != null) || remote.mode == "direct";
  profilingOn = cfg.profiling.enable;
  ebpfProfilingOn = profilingOn && cfg.profiling.ebpf.enable;
  ebpfCapabilities = [ "CAP_BPF" "CAP_PERFMON" "CAP_SYS_PTRACE" "CAP_DAC_READ_SEARCH" ];

  # One persistent queue per exporter and signal, in the state directory.
  queue = {
    enabled = true;
    storage = "resilient_file_storage/queue";
    sizer = "bytes";
    queue_size = cfg.remote.queueSizeBytes;
    num_consumers = 2;
    block_on_overflow = false;
    batch = { flush_timeout = "2s"; sizer = "items"; min_size = 2048; max_size = 8192; };
  };
  retry = { enabled = true; initial_interval = "5s"; max_interval = "60s"; max_elapsed_time = cfg.remote.maxRetryTime; };

  credentialDir = "/run/credentials/otel-ai-collector.service";

  # The client certificate and key are read from the service's credentials
  # directory (LoadCredential), like the bearer tokens, so they may stay
  # root-only on the host (the dynamic user could not read them in place)
  # and the key never enters the Nix store.
  tlsSettings = name: tls:
    (optionalAttrs (tls.caFile != null) { ca_file = "${tls.caFile}"; })
    // (optionalAttrs (tls.certFile != null) { cert_file = "${credentialDir}/${name}-tls-cert"; })
    // (optionalAttrs (tls.keyFile != null) { key_file = "${credentialDir}/${name}-tls-key"; })
    // (optionalAttrs tls.insecureSkipVerify { insecure_skip_verify = true; });
  tlsCredential = name: tls:
    optional (tls.certFile != null) "${name}-tls-cert:${tls.certFile}"
    ++ optional (tls.keyFile != null) "${name}-tls-key:${tls.keyFile}";

  # A bearer token file as a bearertokenauth extension reading it from the
  # service's credentials directory.
  authFor = name: ep: optional (ep.bearerTokenFile != null) {
    id = "bearertokenauth/${name}";
    credential = "${name}-token:${ep.bearerTokenFile}";
    settings.filename = "${credentialDir}/${name}-token";
  };

  # HTTP client settings shared by the exporters and profile_forwarding.
  connectionSettings = name: ep:
    let tls = tlsSettings name ep.tls; in
    optionalAttrs (ep.headers != { }) { headers = ep.headers; }
    // optionalAttrs (tls != { }) { inherit tls; }
    // optionalAttrs (ep.bearerTokenFile != null) { auth.authenticator = "bearertokenauth/${name}"; };

  # An exporter for one endpoint.
  exporterFor = name: ep:
    let type = if ep.protocol == "grpc" then "otlp_grpc" else "otlp_http";
    in {
      id = "${type}/${name}";
      auth = authFor name ep;
      credentials = tlsCredential name ep.tls;
      settings =
        { endpoint = ep.endpoint; sending_queue = queue; retry_on_failure = retry; timeout = "10s"; }
        // optionalAttrs (type == "otlp_http") { compression = "gzip"; compression_params.level = 1; } # fastest gzip, as remote-gateway.yaml
        // optionalAttrs (ep ? tracesEndpoint) { traces_endpoint = ep.tracesEndpoint; }
        // optionalAttrs (ep ? encoding) { inherit (ep) encoding; }
        // connectionSettings name ep;
    };

  # Loki stores the valid entries of a push and answers 400 for the whole
  # request; loki_partial_success, a middleware of the OTLP/HTTP exporter,
  # turns that into the OTLP partial success it is, so only the refused
  # records are reported as dropped (extension/lokipartialsuccessextension).
  lokiPartialSuccess = remoteOn && remote.mode == "direct" && remote.loki.protocol != "grpc";
  lokiExporter =
    let e = exporterFor "loki" remote.loki;
    in if lokiPartialSuccess then e // { settings = e.settings // { middlewares = [ { id = "loki_partial_success"; } ]; }; } else e;

  # Which exporter each remote signal goes to.
  routes =
    if remote.mode == "direct" then {
      traces = exporterFor "tempo" remote.tempo;
      metrics = exporterFor "mimir" remote.mimir;
      logs = lokiExporter;
    } else
      let gw = exporterFor "remote" (remote.gateway // { endpoint = gatewayBase; tls = gatewayTls; }
        // optionalAttrs (hasTracesSuffix gatewayEndpoint) { tracesEndpoint = gatewayEndpoint; }
        # The previous module's K8s exporter sent OTLP/JSON.
        // optionalAttrs (fromK8s && remote.gateway.protocol == "http") { encoding = cfg.k8sExporterEncoding; });
      in { traces = gw; metrics = gw; logs = gw; };
  remoteExporters = map (signal: routes.${signal}) [ "traces" "metrics" "logs" ];
  pyroscopeAuth = if profilingOn then authFor "pyroscope" cfg.profiling.pyroscope else [ ];
  # Gateway mode routes all signals to one exporter: keep each auth once.
  byId = xs: attrValues (listToAttrs (map (x: { name = x.id; value = x; }) xs));
  authExtensions = byId ((if remoteOn then concatMap (e: e.auth) remoteExporters else [ ]) ++ pyroscopeAuth);

  modeLayer = optionalAttrs remoteOn {
    exporters = listToAttrs (map (e: { name = e.id; value = e.settings; }) remoteExporters);
    service.pipelines = listToAttrs (map
      (signal: {
        name = "${signal}/export";
        value = { receivers = [ "forward/remote_${signal}" ]; exporters = [ routes.${signal}.id ]; };
      }) [ "traces" "metrics" "logs" ]);
  };

  # profile_forwarding's connection to Pyroscope; the rest is in the
  # embedded profiling layer.
  profilingLayer = optionalAttrs profilingOn {
    processors.profile_forwarding =
      { default_service_name = cfg.profiling.defaultServiceName; }
      // connectionSettings "pyroscope" cfg.profiling.pyroscope;
  };

  # The previous module's optional exporters, on every signal from the OTLP
  # receiver, in pipelines of their own (fed after the AI pipelines by the
  # embedded config's ordered_fanout/otlp connector).
  debugLayer = optionalAttrs cfg.enableDebugExporter {
    exporters.debug.verbosity = "basic";
    service.pipelines = listToAttrs (map
      (signal: { name = "${signal}/debug"; value = { receivers = [ "ordered_fanout/otlp" ]; exporters = [ "debug" ]; }; })
      [ "traces" "metrics" "logs" ]);
  };
  fileLayer = optionalAttrs cfg.enableFileExporter {
    exporters.file = { path = cfg.fileExporterPath; rotation = { max_megabytes = 100; max_backups = 3; }; };
    service.pipelines = listToAttrs (map
      (signal: { name = "${signal}/file"; value = { receivers = [ "ordered_fanout/otlp" ]; exporters = [ "file" ]; }; })
      [ "traces" "metrics" "logs" ]);
  };

  extensionsLayer.extensions = listToAttrs (map (a: { name = a.id; value = a.settings; }) authExtensions)
    // optionalAttrs lokiPartialSuccess { loki_partial_success = { }; };
  extensionsLayer.service.extensions =
    [ "health_check" ]
    ++ optional cfg.enableZPages "zpages"
    ++ optional (remoteOn || profilingOn) "resilient_file_storage/queue"
    ++ map (a: a.id) authExtensions
    ++ optional lokiPartialSuccess "loki_partial_success";

  generated = foldl' recursiveUpdate { } [ modeLayer profilingLayer debugLayer fileLayer extensionsLayer ];

  stateDir = "/var/lib/otel-ai-collector";
  isLoopback = hasPrefix "127." cfg.listenAddress || cfg.listenAddress == "::1" || cfg.listenAddress == "localhost";

  fileDir = dirOf cfg.fileExporterPath;
  underDir = prefix: if hasPrefix "${prefix}/" fileDir then removePrefix "${prefix}/" fileDir else null;
  fileDirectories =
    let
      kinds = filter (k: k.dir != null) [
        { key = "StateDirectory"; dir = underDir "/var/lib"; }
        { key = "LogsDirectory"; dir = underDir "/var/log"; }
        { key = "CacheDirectory"; dir = underDir "/var/cache"; }
      ];
    in
    if !cfg.enableFileExporter || fileDir == stateDir || kinds == [ ] then { }
    else { ${(lib.head kinds).key} = (lib.head kinds).dir; };
in
{
  inherit remoteOn isLoopback;

  layers =
    if cfg.configFile != null then [ "file:${toString cfg.configFile}" ]
    else
      [ "embedded:default.yaml" ]
      ++ optional remoteOn "embedded:remote.yaml"
      ++ optional (remoteOn && cfg.aiTraces.enable) "embedded:ai-traces.yaml"
      ++ optional (remoteOn && cfg.hostMetrics.enable) "embedded:host-metrics.yaml"
      ++ optional (remoteOn && cfg.journald.enable) "embedded:journald.yaml"
      ++ optional (remoteOn && cfg.ebpf.enable) "embedded:ebpf.yaml"
      ++ optional profilingOn "embedded:profiling.yaml"
      ++ optional ebpfProfilingOn "embedded:profiling-ebpf.yaml";

  overlay = if cfg.configFile != null then null else recursiveUpdate generated cfg.settings;

  environment = {
    OTEL_AI_COLLECTOR_OTLP_HTTP_ENDPOINT = "${cfg.listenAddress}:${toString cfg.receiverPort}";
    OTEL_AI_COLLECTOR_OTLP_GRPC_ENDPOINT = "${cfg.listenAddress}:${toString cfg.grpcPort}";
    OTEL_AI_COLLECTOR_MONITOR_ENDPOINT = "http://127.0.0.1:${toString cfg.forwarderPort}";
    OTEL_AI_COLLECTOR_HEALTH_ENDPOINT = "127.0.0.1:${toString cfg.healthCheckPort}";
    OTEL_AI_COLLECTOR_METRICS_PORT = toString cfg.metricsPort;
    OTEL_AI_COLLECTOR_ZPAGES_ENDPOINT = "127.0.0.1:${toString cfg.zpagesPort}";
    OTEL_AI_COLLECTOR_REMOTE_QUEUE_BYTES = toString cfg.remote.queueSizeBytes;
    OTEL_AI_COLLECTOR_REMOTE_MAX_RETRY_TIME = cfg.remote.maxRetryTime;
    OTEL_AI_COLLECTOR_AI_TRACES = onOff cfg.aiTraces.enable;
    OTEL_AI_COLLECTOR_AI_TRACES_IDLE = cfg.aiTraces.turnIdleTimeout;
    OTEL_AI_COLLECTOR_AI_TRACES_MODEL_CALL_TIMEOUT = cfg.aiTraces.modelCallTimeout;
    OTEL_AI_COLLECTOR_HOST_METRICS = onOff cfg.hostMetrics.enable;
    OTEL_AI_COLLECTOR_HOST_METRICS_INTERVAL = cfg.hostMetrics.interval;
    OTEL_AI_COLLECTOR_JOURNALD = onOff cfg.journald.enable;
    OTEL_AI_COLLECTOR_JOURNALD_UNITS = concatStringsSep "," cfg.journald.units;
    OTEL_AI_COLLECTOR_JOURNALD_PRIORITY = cfg.journald.priority;
  } // optionalAttrs (cfg.aiServices != null) {
    OTEL_AI_COLLECTOR_AI_SERVICES = concatStringsSep "," cfg.aiServices;
  } // optionalAttrs cfg.ebpf.enable {
    OTEL_AI_COLLECTOR_EBPF_PORTS = concatStringsSep "," (map toString cfg.ebpf.ports);
    OTEL_AI_COLLECTOR_EBPF_UNITS = concatStringsSep "," cfg.ebpf.units;
  } // optionalAttrs (cfg.ebpf.enable && cfg.ebpf.executableRegex != null) {
    OTEL_AI_COLLECTOR_EBPF_EXECUTABLE_REGEX = cfg.ebpf.executableRegex;
  } // optionalAttrs profilingOn {
    OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT = cfg.profiling.pyroscope.endpoint;
    OTEL_AI_COLLECTOR_PYROSCOPE_INGEST_ENDPOINT = cfg.profiling.ingestAddress;
    OTEL_AI_COLLECTOR_PYROSCOPE_QUEUE_BYTES = toString cfg.profiling.queueSizeBytes;
    OTEL_AI_COLLECTOR_PYROSCOPE_MAX_RETRY_TIME = remote.maxRetryTime;
  } // optionalAttrs ebpfProfilingOn {
    OTEL_AI_COLLECTOR_PROFILING = "ebpf";
  } // optionalAttrs (ebpfProfilingOn && cfg.profiling.ebpf.executableRegex != null) {
    OTEL_AI_COLLECTOR_PROFILING_EXECUTABLE_REGEX = cfg.profiling.ebpf.executableRegex;
  } // optionalAttrs (ebpfProfilingOn && cfg.profiling.ebpf.units != [ ]) {
    OTEL_AI_COLLECTOR_PROFILING_UNITS = concatStringsSep "," cfg.profiling.ebpf.units;
  } // optionalAttrs (remoteOn && remote.mode == "gateway") {
    OTEL_AI_COLLECTOR_REMOTE_ENDPOINT = gatewayEndpoint;
  };

  credentials = map (a: a.credential) authExtensions
    ++ (if remoteOn then concatMap (e: e.credentials) (byId remoteExporters) else [ ])
    ++ (if profilingOn then tlsCredential "pyroscope" cfg.profiling.pyroscope.tls else [ ]);
  supplementaryGroups = optional (remoteOn && cfg.journald.enable) "systemd-journal";
  # Loading BPF programs and uprobes (CAP_BPF, CAP_PERFMON), and finding which
  # process listens on a selected port in other users' /proc/PID/fd
  # (CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: measured, receiver README).
  # The eBPF profiler needs two more (docs/profiling.md): CAP_SYSLOG for
  # /proc/kallsyms addresses (NixOS sets kernel.kptr_restrict = 1) and
  # CAP_CHECKPOINT_RESTORE for /proc/PID/map_files (other processes'
  # executables, to unwind and symbolize their frames).
  capabilities = (if (remoteOn && cfg.ebpf.enable) || ebpfProfilingOn then ebpfCapabilities else [ ])
    ++ optional ebpfProfilingOn "CAP_SYSLOG" ++ optional ebpfProfilingOn "CAP_CHECKPOINT_RESTORE";
  inherit ebpfProfilingOn;
  # The file exporter's directory: under /var/lib, /var/log or /var/cache,
  # systemd creates it and gives it to the dynamic user (StateDirectory=,
  # LogsDirectory=, CacheDirectory=; an existing directory, such as the
  # previous module's /var/lib/opentelemetry-collector, is taken over);
  # elsewhere it is only made writable (ReadWritePaths=) and must exist.
  inherit fileDirectories;
  readWritePaths = optional (cfg.enableFileExporter && fileDirectories == { } && fileDir != stateDir) fileDir;
  inherit stateDir;
  needsOtherProcesses = (remoteOn && (cfg.hostMetrics.enable || cfg.ebpf.enable)) || profilingOn;

  # Checked always, like an option type: the collector refuses the value
  # whether or not the ai-traces layer is on (internal/defaultconfig names
  # OTEL_AI_COLLECTOR_AI_TRACES_IDLE; the connector's Validate).
  assertions = [
    {
      assertion = isIdleTimeout cfg.aiTraces.turnIdleTimeout;
      message = "services.otel-ai-collector: aiTraces.turnIdleTimeout = \"${cfg.aiTraces.turnIdleTimeout}\" is not a Go duration of at least 1s (e.g. 30s, 2m, 1h30m); the collector would refuse it.";
    }
    {
      assertion = isIdleTimeout cfg.aiTraces.modelCallTimeout;
      message = "services.otel-ai-collector: aiTraces.modelCallTimeout = \"${cfg.aiTraces.modelCallTimeout}\" is not a Go duration of at least 1s (e.g. 10m); the collector would refuse it.";
    }
  ];

  noEffect = optional (cfg.profiling.ebpf.enable && !profilingOn) {
    option = [ "profiling" "ebpf" "enable" ];
    message = "services.otel-ai-collector: profiling.ebpf.enable has no effect without profiling.enable: eBPF profiles go to Pyroscope only.";
  } ++ optional (cfg.aiTraces.enable && !remoteOn) {
    option = [ "aiTraces" "enable" ];
    message = "services.otel-ai-collector: aiTraces.enable has no effect without remote export (remote.mode = \"none\", or gateway mode with neither remote.gateway.endpoint nor enableK8sExporter); AI session traces are built on the remote path only.";
  } ++ optional (cfg.ebpf.enable && !remoteOn) {
    option = [ "ebpf" "enable" ];
    message = "services.otel-ai-collector: ebpf.enable has no effect without remote export (remote.mode = \"none\", or gateway mode with neither remote.gateway.endpoint nor enableK8sExporter): the eBPF receiver runs on the remote path only, so no program is loaded.";
  } ++ optional (remote.mode == "gateway" && gatewayEndpoint == null) {
    # Reached only by setting enableK8sExporter = false: warn then.
    option = [ "enableK8sExporter" ];
    message = "services.otel-ai-collector: enableK8sExporter = false in gateway mode without remote.gateway.endpoint turns remote export off, and with it host metrics, journald logs and AI session traces; set remote.gateway.endpoint to export elsewhere, or remote.mode = \"none\" to say that nothing leaves the machine.";
  } ++ optional (cfg.openFirewall && isLoopback) {
    option = [ "openFirewall" ];
    message = "services.otel-ai-collector: openFirewall has no effect with listenAddress = \"${cfg.listenAddress}\" (loopback): the receivers are not reachable from the network.";
  };
}
