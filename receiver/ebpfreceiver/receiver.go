//go:build linux

package ebpfreceiver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/otel-ai-collector/otel-ai-collector/receiver/ebpfreceiver/internal/metadata"
)

// SDKName marks the receiver's spans (resource telemetry.sdk.name), so
// pipelines can keep them off the local AI path.
const SDKName = "otel-ai-collector-ebpf"

const (
	roleClient = 1
	roleServer = 2
)

type ebpfReceiver struct {
	cfg      *Config
	set      receiver.Settings
	next     consumer.Traces
	table    *processTable
	hostname string

	objs   tcpObjects
	link   link.Link
	reader *ringbuf.Reader
	// bootWall converts CLOCK_MONOTONIC (bpf_ktime_get_ns) to wall time.
	bootWall time.Time

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Traces) (receiver.Traces, error) {
	hostname, _ := os.Hostname()
	return &ebpfReceiver{cfg: cfg, set: set, next: next, hostname: hostname,
		table: newProcessTable("/proc", newSelector(cfg))}, nil
}

func (r *ebpfReceiver) Start(_ context.Context, _ component.Host) error {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return fmt.Errorf("ebpf_network needs kernel BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF=y): %w", err)
	}
	spec, err := loadTcp()
	if err != nil {
		return fmt.Errorf("ebpf_network: reading the embedded BPF object: %w", err)
	}
	spec.Maps["conns"].MaxEntries = uint32(r.cfg.MaxTrackedConnections)
	if err := spec.LoadAndAssign(&r.objs, nil); err != nil {
		var verr *ebpf.VerifierError
		switch {
		case errors.Is(err, unix.EPERM):
			return fmt.Errorf("ebpf_network: loading BPF programs was refused (%w); run as root or grant CAP_BPF and CAP_PERFMON "+
				"(NixOS: services.otel-ai-collector.ebpf.enable adds them)", err)
		case errors.As(err, &verr):
			return fmt.Errorf("ebpf_network: the kernel's verifier rejected the program: %+v", verr)
		}
		return fmt.Errorf("ebpf_network: loading BPF programs: %w", err)
	}
	r.link, err = link.AttachTracing(link.TracingOptions{Program: r.objs.InetSockSetState, AttachType: ebpf.AttachTraceRawTp})
	if err != nil {
		_ = r.objs.Close()
		return fmt.Errorf("ebpf_network: attaching to the sock:inet_sock_set_state tracepoint (tp_btf): %w", err)
	}
	if r.reader, err = ringbuf.NewReader(r.objs.Events); err != nil {
		_ = r.link.Close()
		_ = r.objs.Close()
		return fmt.Errorf("ebpf_network: opening the ring buffer: %w", err)
	}
	if err := r.registerMetrics(); err != nil {
		return err
	}
	var mono unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono); err != nil {
		return err
	}
	r.bootWall = time.Now().Add(-time.Duration(mono.Nano()))

	if err := r.table.refresh(); err != nil {
		r.set.Logger.Warn("Reading the process table failed; retrying every refresh_interval", zap.Error(err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(2)
	go r.refreshLoop(ctx)
	go r.readLoop(ctx)
	r.set.Logger.Info("ebpf_network: tracking TCP connections of the selected processes",
		zap.Ints("ports", r.cfg.Ports), zap.Ints("pids", r.cfg.PIDs),
		zap.String("executable_regex", r.cfg.ExecutableRegex), zap.Strings("systemd_units", r.cfg.SystemdUnits))
	return nil
}

func (r *ebpfReceiver) Shutdown(context.Context) error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	err := r.reader.Close() // unblocks readLoop
	r.wg.Wait()
	return errors.Join(err, r.link.Close(), r.objs.Close())
}

func (r *ebpfReceiver) refreshLoop(ctx context.Context) {
	defer r.wg.Done()
	ticker := time.NewTicker(r.cfg.RefreshInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if err := r.table.refresh(); err != nil {
				r.set.Logger.Warn("Reading the process table failed", zap.Error(err))
			}
		}
	}
}

func (r *ebpfReceiver) readLoop(ctx context.Context) {
	defer r.wg.Done()
	for {
		record, err := r.reader.Read()
		if errors.Is(err, ringbuf.ErrClosed) {
			return
		}
		if err != nil {
			r.set.Logger.Warn("Reading a connection event failed", zap.Error(err))
			continue
		}
		var ev tcpTcpEvent
		if err := binary.Read(bytes.NewReader(record.RawSample), binary.NativeEndian, &ev); err != nil {
			r.set.Logger.Warn("Undecodable connection event", zap.Error(err))
			continue
		}
		if traces, ok := r.connectionSpan(&ev); ok {
			if err := r.next.ConsumeTraces(ctx, traces); err != nil {
				r.set.Logger.Debug("Next consumer refused a connection span", zap.Error(err))
			}
		}
	}
}

// connectionSpan turns a closed connection into a span, if its process is
// selected.
func (r *ebpfReceiver) connectionSpan(ev *tcpTcpEvent) (ptrace.Traces, bool) {
	var (
		proc     process
		selected bool
		kind     ptrace.SpanKind
	)
	if ev.Role == roleServer {
		proc, selected = r.table.serverOwner(ev.Tuple.LocalPort)
		kind = ptrace.SpanKindServer
	} else {
		proc, selected = r.table.clientProcess(int(ev.Pid))
		kind = ptrace.SpanKindClient
	}
	if !selected {
		r.set.Logger.Debug("Connection of an unselected process", zap.Uint8("role", ev.Role),
			zap.Uint32("pid", ev.Pid), zap.Uint16("local_port", ev.Tuple.LocalPort), zap.Uint16("remote_port", ev.Tuple.RemotePort))
		return ptrace.Traces{}, false
	}

	traces := ptrace.NewTraces()
	rs := traces.ResourceSpans().AppendEmpty()
	res := rs.Resource().Attributes()
	name := proc.serviceName()
	if name == "" {
		name = fmt.Sprintf("port-%d", ev.Tuple.LocalPort) // listener not seen yet
	}
	res.PutStr("service.name", name)
	if proc.pid != 0 {
		res.PutInt("process.pid", int64(proc.pid))
		res.PutStr("process.executable.name", proc.exe)
		res.PutStr("process.command_line", proc.command)
	}
	if proc.unit != "" {
		res.PutStr("systemd.unit", proc.unit)
	}
	if r.hostname != "" {
		res.PutStr("host.name", r.hostname)
	}
	res.PutStr("telemetry.sdk.name", SDKName)
	res.PutStr("telemetry.sdk.language", "go")

	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName(metadata.ScopeName)
	span := ss.Spans().AppendEmpty()
	span.SetName("tcp.connection")
	span.SetKind(kind)
	span.SetTraceID(randomTraceID())
	span.SetSpanID(randomSpanID())
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(r.bootWall.Add(time.Duration(ev.StartNs))))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(r.bootWall.Add(time.Duration(ev.EndNs))))

	attrs := span.Attributes()
	attrs.PutStr("network.transport", "tcp")
	local, remote := addr(ev.Tuple.Family, ev.Tuple.LocalAddr), addr(ev.Tuple.Family, ev.Tuple.RemoteAddr)
	if ev.Tuple.Family == unix.AF_INET6 {
		attrs.PutStr("network.type", "ipv6")
	} else {
		attrs.PutStr("network.type", "ipv4")
	}
	attrs.PutStr("network.local.address", local.String())
	attrs.PutInt("network.local.port", int64(ev.Tuple.LocalPort))
	attrs.PutStr("network.peer.address", remote.String())
	attrs.PutInt("network.peer.port", int64(ev.Tuple.RemotePort))
	attrs.PutInt("tcp.bytes_sent", int64(ev.BytesSent))
	attrs.PutInt("tcp.bytes_received", int64(ev.BytesReceived))
	attrs.PutStr("tcp.close_state", tcpStateName(ev.CloseFrom))
	if ev.Established == 0 {
		span.Status().SetCode(ptrace.StatusCodeError)
		span.Status().SetMessage("connection never established (closed from " + tcpStateName(ev.CloseFrom) + ")")
	}
	return traces, true
}

func addr(family uint16, raw [16]uint8) netip.Addr {
	if family == unix.AF_INET {
		return netip.AddrFrom4([4]byte(raw[:4]))
	}
	return netip.AddrFrom16(raw).Unmap()
}

// tcpStateName names the kernel's TCP states (include/net/tcp_states.h).
func tcpStateName(state uint8) string {
	names := [...]string{"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
		"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"}
	if int(state) < len(names) && names[state] != "" {
		return names[state]
	}
	return fmt.Sprintf("state-%d", state)
}

func randomTraceID() (id pcommon.TraceID) { _, _ = rand.Read(id[:]); return id }
func randomSpanID() (id pcommon.SpanID)   { _, _ = rand.Read(id[:]); return id }

// registerMetrics exposes the BPF counters as the collector's own metrics.
func (r *ebpfReceiver) registerMetrics() error {
	meter := r.set.TelemetrySettings.MeterProvider.Meter(metadata.ScopeName)
	for _, c := range []struct {
		name, unit, description string
		index                   uint32
	}{
		{"otelcol_receiver_ebpf_network_events_lost", "{event}", "Connection events lost because the BPF ring buffer was full.", 0},
		{"otelcol_receiver_ebpf_network_connections_untracked", "{connection}", "Connections not tracked because the connection map was full.", 1},
	} {
		index := c.index
		_, err := meter.Int64ObservableCounter(c.name, metric.WithUnit(c.unit), metric.WithDescription(c.description),
			metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
				var perCPU []uint64
				if err := r.objs.Counters.Lookup(index, &perCPU); err != nil {
					return err
				}
				var total uint64
				for _, v := range perCPU {
					total += v
				}
				o.Observe(int64(total))
				return nil
			}))
		if err != nil {
			return err
		}
	}
	return nil
}
