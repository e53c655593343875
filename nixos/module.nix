# services.otel-ai-collector: a drop-in replacement for the previous module
# (same option names, types and defaults), plus options for every capability
# of otel-ai-collector. The option-to-configuration logic is config.nix;
# defaults live in defaults.nix.
{ config, options, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkEnableOption mkIf types literalExpression;
  cfg = config.services.otel-ai-collector;
  opts = options.services.otel-ai-collector;
  defaults = import ./defaults.nix;
  format = pkgs.formats.yaml { };

  # The previous module's client certificate: on when the host names the
  # files, or (impure evaluation only) when both exist.
  definedByHost = opt: opt.highestPrio < (lib.mkOptionDefault null).priority;
  k8sTlsEnable =
    if cfg.k8sExporterTls.enable != null then cfg.k8sExporterTls.enable
    else definedByHost opts.k8sExporterTls.certFile || definedByHost opts.k8sExporterTls.keyFile
      || (!lib.inPureEvalMode && builtins.pathExists cfg.k8sExporterTls.certFile && builtins.pathExists cfg.k8sExporterTls.keyFile);
  generated = import ./config.nix { inherit lib; } (cfg // {
    k8sExporterTls = cfg.k8sExporterTls // { enable = k8sTlsEnable; };
    # config.nix merges `settings` itself for the offline tests; here the
    # module system does (below), so it gets none.
    settings = { };
  });

  # The effective configuration: the binary's embedded layers plus one file
  # written from `settings`, whose every generated value is a mkDefault, so
  # `config.services.otel-ai-collector.settings` shows what runs and a host
  # overrides any value (or mkForce-s a subtree) the nixpkgs way.
  # With configFile, that file alone.
  settingsFile = format.generate "otel-ai-collector.yaml" cfg.settings;
  # A path literal is copied to the store here; a string stays as it is.
  userFile = "${cfg.configFile}";
  userFileInStore = lib.hasPrefix builtins.storeDir userFile;
  layerArgs = map (uri: "--config=${uri}") (if cfg.configFile != null then [ ] else generated.layers);

  environment = generated.environment // { OTEL_AI_COLLECTOR_STATE_DIR = generated.stateDir; };

  # Validated at build time: a bad option fails nixos-rebuild, not the
  # service. The unit runs the validated file itself, so no extra process
  # at start keeps this check a dependency.
  validated = pkgs.runCommand "otel-ai-collector-config.yaml" { } ''
    export HOME=$TMPDIR OTEL_AI_COLLECTOR_STATE_DIR=$TMPDIR/state
    ${lib.concatStringsSep "\n" (lib.mapAttrsToList (k: v: "export ${k}=${lib.escapeShellArg v}") generated.environment)}
    ${lib.getExe cfg.package} validate ${lib.escapeShellArgs layerArgs} --config=file:${if cfg.configFile != null then userFile else settingsFile}
    cp ${if cfg.configFile != null then userFile else settingsFile} $out
  '';
  # A configFile outside the store (a string, e.g. one holding secrets) is
  # not readable at build time: it is used as it is, unvalidated.
  finalFile = if cfg.configFile != null && !userFileInStore then userFile else validated;
  configArgs = layerArgs ++ [ "--config=file:${finalFile}" ];

  fileDirectory = key: lib.optional (generated.fileDirectories ? ${key}) generated.fileDirectories.${key};


  # Headers, TLS and a bearer token for one HTTP(S) or gRPC peer.
  connectionOptions = name: d: {
    headers = mkOption {
      type = types.attrsOf types.str;
      default = d.headers;
      example = { X-Scope-OrgID = "workstations"; };
      description = "Headers sent with every request to ${name}, e.g. the tenant.";
    };
    tls = {
      caFile = mkOption { type = types.nullOr types.path; default = d.tls.caFile; example = literalExpression "./lgtm-ca.pem"; description = "CA certificate that signed ${name}'s certificate (a path literal is copied to the Nix store)."; };
      certFile = mkOption { type = types.nullOr types.path; default = d.tls.certFile; example = "/etc/otel/certs/client.crt"; description = "Client certificate for ${name} (mutual TLS)."; };
      keyFile = mkOption { type = types.nullOr types.str; default = d.tls.keyFile; example = "/run/secrets/${name}-client.key"; description = "Client key for ${name}, a path outside the Nix store; passed to the service with LoadCredential, so it may stay readable by root only."; };
      insecureSkipVerify = mkOption { type = types.bool; default = d.tls.insecureSkipVerify; example = true; description = "Do not verify ${name}'s certificate (testing only)."; };
    };
    bearerTokenFile = mkOption {
      type = types.nullOr types.str;
      default = d.bearerTokenFile;
      example = "/run/secrets/lgtm-token";
      description = "File holding a bearer token for ${name}, passed to the service with LoadCredential (never copied into the Nix store).";
    };
  };

  endpointOptions = name: d: {
    endpoint = mkOption {
      type = types.nullOr types.str;
      default = d.endpoint;
      example = "https://${name}.lgtm.example/otlp";
      description = "Endpoint of ${name}: host:port for gRPC, base URL for OTLP/HTTP (for Mimir and Loki their `/otlp` base).";
    };
    protocol = mkOption {
      type = types.enum [ "http" "grpc" ];
      default = d.protocol;
      example = "grpc";
      description = "OTLP transport to ${name}.";
    };
  } // connectionOptions name d;
in
{
  options.services.otel-ai-collector = {
    # The previous module's options.
    enable = mkEnableOption "otel-ai-collector, the OpenTelemetry collector for AI-coding workstations";
    receiverPort = mkOption { type = types.port; default = defaults.receiverPort; example = 14318; description = "OTLP/HTTP receiver port."; };
    forwarderPort = mkOption { type = types.port; default = defaults.forwarderPort; example = 14320; description = "Port of otel-ai-monitor on 127.0.0.1 (OTLP/HTTP JSON), where AI-session telemetry is forwarded."; };
    enableDebugExporter = mkOption { type = types.bool; default = defaults.enableDebugExporter; description = "Log a summary of everything received (debug exporter)."; };
    enableFileExporter = mkOption { type = types.bool; default = defaults.enableFileExporter; description = "Write received traces, metrics and logs as JSON lines to fileExporterPath (rotated at 100 MB, 3 backups)."; };
    fileExporterPath = mkOption {
      type = types.str;
      default = defaults.fileExporterPath;
      example = "/var/log/otel-ai-collector/telemetry.json";
      description = "File for the file exporter. Under /var/lib, /var/log or /var/cache, systemd creates its directory for the service (StateDirectory=, LogsDirectory=, CacheDirectory=; an existing one is taken over); elsewhere the directory must exist and is made writable.";
    };
    enableK8sExporter = mkOption { type = types.bool; default = defaults.enableK8sExporter; description = "Export everything to k8sExporterEndpoint (gateway mode) through the persistent queue."; };
    k8sExporterEndpoint = mkOption {
      type = types.str;
      default = defaults.k8sExporterEndpoint;
      example = "https://otel-collector-myhost.tailnet.ts.net";
      description = "OTLP/HTTP base URL of the in-cluster collector (traces go to /v1/traces under it, metrics and logs beside). A URL ending in /v1/traces, as the previous default, is the traces URL itself.";
    };
    k8sExporterEncoding = mkOption {
      type = types.enum [ "json" "proto" ];
      default = defaults.k8sExporterEncoding;
      description = "Encoding of the K8s exporter's OTLP/HTTP requests: JSON, as the previous module sent, or protobuf (smaller; any OTLP/HTTP receiver takes both).";
    };
    k8sExporterTls = {
      enable = mkOption {
        type = types.nullOr types.bool;
        default = defaults.k8sExporterTls.enable;
        example = true;
        description = "Present k8sExporterTls.certFile and keyFile to the K8s exporter's gateway (mutual TLS), as the previous module did. null: when the host configuration sets certFile or keyFile, or when both files exist at evaluation (impure evaluation only; with flakes set this to true).";
      };
      certFile = mkOption { type = types.str; default = defaults.k8sExporterTls.certFile; example = "/run/secrets/otel-client.crt"; description = "Client certificate for the K8s exporter (passed with LoadCredential)."; };
      keyFile = mkOption { type = types.str; default = defaults.k8sExporterTls.keyFile; example = "/run/secrets/otel-client.key"; description = "Client key for the K8s exporter (passed with LoadCredential, so it may stay readable by root only)."; };
      caFile = mkOption { type = types.nullOr types.path; default = defaults.k8sExporterTls.caFile; example = literalExpression "./cluster-ca.pem"; description = "CA certificate of the gateway, if not in the system's trust store."; };
    };
    enableZPages = mkOption { type = types.bool; default = defaults.enableZPages; description = "Serve zpages on 127.0.0.1:zpagesPort."; };
    zpagesPort = mkOption { type = types.port; default = defaults.zpagesPort; example = 15679; description = "zpages port."; };

    # New options.
    # pkgs.otel-ai-collector when the package is in nixpkgs (or the flake's
    # overlay); built from this repository otherwise.
    package = lib.mkPackageOption
      (pkgs // { otel-ai-collector = pkgs.otel-ai-collector or (pkgs.callPackage ./package.nix { }); })
      "otel-ai-collector"
      { };
    openFirewall = mkOption {
      type = types.bool;
      default = defaults.openFirewall;
      example = true;
      description = "Open receiverPort and grpcPort in the firewall, for a listenAddress other than loopback.";
    };
    listenAddress = mkOption {
      type = types.str;
      default = defaults.listenAddress;
      example = "0.0.0.0";
      description = "Address the OTLP receivers listen on. Loopback by default; anything else exposes the receivers to the network.";
    };
    grpcPort = mkOption { type = types.port; default = defaults.grpcPort; example = 14317; description = "OTLP/gRPC receiver port."; };
    healthCheckPort = mkOption { type = types.port; default = defaults.healthCheckPort; example = 13134; description = "Health check port on 127.0.0.1."; };
    metricsPort = mkOption { type = types.port; default = defaults.metricsPort; example = 8889; description = "The collector's own Prometheus metrics port on 127.0.0.1."; };
    aiServices = mkOption {
      type = types.nullOr (types.listOf types.str);
      default = defaults.aiServices;
      example = [ "claude-code" "aider" ];
      description = "Resource service.name values whose telemetry is forwarded to otel-ai-monitor, exactly. null (the default) recognises the AI CLIs by what they send: a service.name like theirs (claude-code, codex_exec, gemini-cli, ...), their scope names or their event and metric names; a list replaces that, and AI-looking telemetry it leaves out is counted and logged once.";
    };
    remote = {
      mode = mkOption {
        type = types.enum [ "gateway" "direct" "none" ];
        default = defaults.remote.mode;
        example = "direct";
        description = "gateway: one OTLP endpoint for everything (remote.gateway.endpoint, else k8sExporterEndpoint when enableK8sExporter is set); direct: Tempo, Mimir and Loki each at their own endpoint; none: no remote export.";
      };
      gateway = endpointOptions "gateway" defaults.remote.gateway;
      tempo = endpointOptions "tempo" defaults.remote.tempo;
      mimir = endpointOptions "mimir" defaults.remote.mimir;
      loki = endpointOptions "loki" defaults.remote.loki;
      queueSizeBytes = mkOption {
        type = types.ints.positive;
        default = defaults.remote.queueSizeBytes;
        example = 268435456;
        description = "Bound of each persistent queue (per exporter and signal) in bytes; when full, new data is refused with a retryable error.";
      };
      maxRetryTime = mkOption {
        type = types.str;
        default = defaults.remote.maxRetryTime;
        example = "0";
        description = "How long a batch is retried before it is dropped; 0 retries forever.";
      };
    };
    aiTraces = {
      enable = mkOption {
        type = types.bool;
        default = defaults.aiTraces.enable;
        description = "Turn the log events of Claude Code, Codex and Gemini CLI into one trace per turn (an invoke_agent root span with chat and execute_tool children, GenAI semantic conventions) on the remote traces path, with per-model and per-tool RED metrics; open turns are kept in the state directory across restarts. Takes effect only with remote export on (remote.mode \"direct\", or \"gateway\" with an endpoint); otel-ai-monitor gets the raw events either way.";
      };
      turnIdleTimeout = mkOption {
        type = types.str;
        default = defaults.aiTraces.turnIdleTimeout;
        example = "2m";
        description = "A turn whose session sent nothing for this long ends and its root span is emitted (a turn also ends at the session's next prompt or end). A Go duration of at least 1s, such as 30s, 2m or 1h30m.";
      };
      modelCallTimeout = mkOption {
        type = types.str;
        default = defaults.aiTraces.modelCallTimeout;
        example = "15m";
        description = "How long a quiet turn waits instead while its CLI owes a model call (the CLI may be retrying it silently). A Go duration of at least 1s.";
      };
    };
    hostMetrics = {
      enable = mkOption { type = types.bool; default = defaults.hostMetrics.enable; description = "Export host metrics (cpu, memory, load, disk, filesystem, network, paging, processes, uptime) with the remote path."; };
      interval = mkOption { type = types.str; default = defaults.hostMetrics.interval; example = "1m"; description = "Host metrics sampling interval."; };
    };
    journald = {
      enable = mkOption { type = types.bool; default = defaults.journald.enable; description = "Export the journal entries of journald.units with the remote path (adds the systemd-journal group)."; };
      units = mkOption { type = types.listOf types.str; default = defaults.journald.units; example = [ "otel-ai-collector.service" "ipc-daemon.service" ]; description = "Units whose entries are exported, matched as system or user units."; };
      priority = mkOption { type = types.str; default = defaults.journald.priority; example = "warning"; description = "Lowest priority exported, or a range such as err..info."; };
    };
    ebpf = {
      enable = mkOption { type = types.bool; default = defaults.ebpf.enable; description = "Spans for the HTTP requests of selected local processes, observed with eBPF (with the remote path). Adds CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH to the service."; };
      ports = mkOption { type = types.listOf types.port; default = defaults.ebpf.ports; example = [ 4320 8080 ]; description = "Select the processes listening on these ports, and the connections accepted on them."; };
      executableRegex = mkOption { type = types.nullOr types.str; default = defaults.ebpf.executableRegex; example = "^(python3.*|node)$"; description = "Select processes whose executable file name matches."; };
      units = mkOption { type = types.listOf types.str; default = defaults.ebpf.units; example = [ "ipc-daemon.service" ]; description = "Select processes running in these systemd units (system or user)."; };
    };
    profiling = {
      enable = mkOption {
        type = types.bool;
        default = defaults.profiling.enable;
        description = "Continuous profiling: take Pyroscope SDK pushes on profiling.ingestAddress and OTLP profiles on the OTLP receivers, and forward them to profiling.pyroscope.endpoint under their service name with host labels, through a persistent queue in the state directory.";
      };
      ingestAddress = mkOption {
        type = types.str;
        default = defaults.profiling.ingestAddress;
        example = "127.0.0.1:4041";
        description = "Where Pyroscope SDKs push (Pyroscope's /ingest API). 127.0.0.1:4040 is the SDKs' default server address, so applications set up for a local Pyroscope need no change; choose another if a Pyroscope server runs on this machine.";
      };
      pyroscope = {
        endpoint = mkOption {
          type = types.nullOr types.str;
          default = defaults.profiling.pyroscope.endpoint;
          example = "https://pyroscope.lgtm.example";
          description = "Pyroscope's base URL; profiles are pushed to its /ingest API as pprof.";
        };
      } // connectionOptions "Pyroscope" defaults.profiling.pyroscope;
      queueSizeBytes = mkOption {
        type = types.ints.positive;
        default = defaults.profiling.queueSizeBytes;
        example = 268435456;
        description = "Bound of the persistent queue to Pyroscope in bytes; when full, new profiles are refused with a retryable error. Retried as long as remote.maxRetryTime.";
      };
      defaultServiceName = mkOption {
        type = types.str;
        default = defaults.profiling.defaultServiceName;
        example = "workstation-app";
        description = "Service name of profiles that name none and whose process has no systemd unit or executable name.";
      };
      ebpf.executableRegex = mkOption { type = types.nullOr types.str; default = defaults.profiling.ebpf.executableRegex; example = "^(python3.*|node)$"; description = "With profiling.ebpf: send only the processes whose executable file name matches (or that run in profiling.ebpf.units). Default: every process."; };
      ebpf.units = mkOption { type = types.listOf types.str; default = defaults.profiling.ebpf.units; example = [ "indexer.service" ]; description = "With profiling.ebpf: send only the processes of these systemd units, system or user (or that match profiling.ebpf.executableRegex). Default: every process."; };
      ebpf.enable = mkOption {
        type = types.bool;
        default = defaults.profiling.ebpf.enable;
        description = "Also profile every process on this machine on CPU with eBPF (20 Hz, no SDK needed), into the same path to Pyroscope (docs/profiling.md). Adds CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_SYSLOG and CAP_CHECKPOINT_RESTORE to the service, makes /proc/kallsyms readable to it (ProtectKernelTunables off) and orders it after the tracefs mount. Needs Linux 5.11 or newer.";
      };
    };
    memoryMax = mkOption { type = types.str; default = defaults.memoryMax; example = "1G"; description = "systemd MemoryMax of the service."; };
    settings = mkOption {
      type = format.type;
      default = defaults.settings;
      example = literalExpression ''{ processors.memory_limiter.limit_mib = 512; exporters.file.rotation = lib.mkForce { max_megabytes = 500; }; }'';
      description = ''
        The collector configuration layered over the binary's embedded layers
        (see nixos/README.md). The module fills it from the other options,
        each value a `mkDefault`: read the effective value in
        `config.services.otel-ai-collector.settings`, set any key to
        replace it (a list replaces the list), or `lib.mkForce` a subtree.
        The file is validated with `otel-ai-collector validate` at build time.
      '';
    };
    configFile = mkOption {
      type = types.nullOr types.path;
      default = defaults.configFile;
      example = literalExpression "./otel-ai-collector.yaml";
      description = "A complete collector configuration used instead of the generated one (no embedded layers). A path literal is copied to the Nix store and validated at build time; a string naming a file outside the store is used as it is.";
    };
  };

  config = mkIf cfg.enable {
    services.otel-ai-collector.settings = mkIf (cfg.configFile == null)
      (lib.mapAttrsRecursive (_: lib.mkDefault) generated.overlay);

    networking.firewall.allowedTCPPorts = lib.optionals cfg.openFirewall [ cfg.receiverPort cfg.grpcPort ];

    assertions = [
      { assertion = cfg.configFile == null || cfg.settings == { }; message = "services.otel-ai-collector: set either settings or configFile, not both."; }
      {
        assertion = !cfg.ebpf.enable || cfg.ebpf.ports != [ ] || cfg.ebpf.executableRegex != null || cfg.ebpf.units != [ ];
        message = "services.otel-ai-collector: ebpf.enable selects nothing; set ebpf.ports, ebpf.executableRegex or ebpf.units.";
      }
      {
        assertion = !cfg.ebpf.enable || lib.versionAtLeast config.boot.kernelPackages.kernel.version "5.8";
        message = "services.otel-ai-collector: ebpf needs Linux 5.8 or newer (BPF ring buffer, tp_btf) with BTF; this system has ${config.boot.kernelPackages.kernel.version}.";
      }
      {
        # From 5.11 BPF memory is charged to the memory cgroup, so the
        # profiler needs no RLIMIT_MEMLOCK raise (internal/memlockoverlay).
        assertion = !(cfg.profiling.enable && cfg.profiling.ebpf.enable) || lib.versionAtLeast config.boot.kernelPackages.kernel.version "5.11";
        message = "services.otel-ai-collector: profiling.ebpf needs Linux 5.11 or newer (BPF memory accounted to the memory cgroup); this system has ${config.boot.kernelPackages.kernel.version}.";
      }
      {
        assertion = !cfg.profiling.enable || cfg.profiling.pyroscope.endpoint != null;
        message = "services.otel-ai-collector: profiling.enable needs profiling.pyroscope.endpoint (Pyroscope's base URL).";
      }
      {
        assertion = cfg.remote.mode != "direct" || (cfg.remote.tempo.endpoint != null && cfg.remote.mimir.endpoint != null && cfg.remote.loki.endpoint != null);
        message = "services.otel-ai-collector: remote.mode = \"direct\" needs remote.tempo.endpoint, remote.mimir.endpoint and remote.loki.endpoint.";
      }
    ] ++ generated.assertions;

    # Options switched on that do nothing in this configuration, when the
    # host sets them: an option left at its default (on) stays quiet.
    warnings = map (w: w.message) (lib.filter (w: definedByHost (lib.getAttrFromPath w.option opts)) generated.noEffect);

    systemd.services.otel-ai-collector = {
      description = "otel-ai-collector: OpenTelemetry collector for AI-coding workstations";
      wantedBy = [ "multi-user.target" ];
      # The eBPF profiler's tracepoints are found in tracefs: systemd's own
      # mount unit mounts it on the host, and the service's private mount
      # namespace (PrivateMounts) starts as a copy of the host's.
      after = [ "network-online.target" ] ++ lib.optional generated.ebpfProfilingOn "sys-kernel-tracing.mount";
      wants = [ "network-online.target" ] ++ lib.optional generated.ebpfProfilingOn "sys-kernel-tracing.mount";
      inherit environment;
      # The journald receiver runs journalctl.
      path = lib.optional cfg.journald.enable config.systemd.package;
      serviceConfig = {
        ExecStart = "${lib.getExe cfg.package} ${lib.escapeShellArgs configArgs}";
        Restart = "always";
        RestartSec = "2s";
        DynamicUser = true;
        StateDirectory = [ "otel-ai-collector" ] ++ fileDirectory "StateDirectory";
        StateDirectoryMode = "0700";
        SupplementaryGroups = generated.supplementaryGroups;
        LoadCredential = generated.credentials;
        ReadWritePaths = generated.readWritePaths;
        LogsDirectory = fileDirectory "LogsDirectory";
        CacheDirectory = fileDirectory "CacheDirectory";
        MemoryMax = cfg.memoryMax;
        # Only the capabilities the enabled features need: none, or eBPF's.
        CapabilityBoundingSet = if generated.capabilities == [ ] then [ "" ] else generated.capabilities;
        AmbientCapabilities = if generated.capabilities == [ ] then [ "" ] else generated.capabilities;
        NoNewPrivileges = true;
        ProtectSystem = "strict";
        # Read-only rather than hidden, so the filesystem scraper can statfs
        # /home; the dynamic user cannot read users' private files anyway.
        ProtectHome = "read-only";
        PrivateTmp = true;
        PrivateDevices = true;
        # It also hides /proc/kallsyms, whose addresses the eBPF profiler
        # needs to symbolize kernel frames.
        ProtectKernelTunables = !generated.ebpfProfilingOn;
        ProtectKernelModules = true;
        ProtectControlGroups = true;
        ProtectClock = true;
        ProtectKernelLogs = true;
        PrivateMounts = true;
        ProtectHostname = true;
        RestrictNamespaces = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        LockPersonality = true;
        MemoryDenyWriteExecute = true;
        RestrictAddressFamilies = [ "AF_INET" "AF_INET6" "AF_UNIX" "AF_NETLINK" ];
        SystemCallArchitectures = "native";
        # Go raises RLIMIT_NOFILE at start (setrlimit, in @resources), so
        # @resources stays allowed; anything else refused gets EPERM, not a kill.
        # eBPF needs bpf() and perf_event_open(), which @privileged would deny.
        SystemCallFilter = if generated.capabilities == [ ] then [ "@system-service" "~@privileged" ] else [ "@system-service" "bpf" "perf_event_open" ];
        SystemCallErrorNumber = "EPERM";
        UMask = "0077";
      } // lib.optionalAttrs (!generated.needsOtherProcesses) {
        # Host metrics (process counts, /proc/stat, /proc/meminfo), eBPF
        # (other processes' /proc/PID/fd) and profiling (the pushing
        # process's /proc/PID/cgroup) read /proc beyond the service's own.
        ProtectProc = "invisible";
        ProcSubset = "pid";
      } // lib.optionalAttrs (!generated.remoteOn && !cfg.profiling.enable && generated.isLoopback) {
        # Nothing leaves the machine: only loopback (otel-ai-monitor and the
        # local senders). Remote endpoints are host names, which IPAddressAllow=
        # cannot express, so with remote export the network stays open.
        IPAddressDeny = "any";
        IPAddressAllow = "localhost";
      };
    };
  };
}
