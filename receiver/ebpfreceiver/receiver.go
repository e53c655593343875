//go:build linux && amd64

package ebpfreceiver

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/otel-ai-collector/otel-ai-collector/receiver/ebpfreceiver/internal/metadata"
)

// SDKName marks the receiver's spans (resource telemetry.sdk.name), so
// pipelines can keep them off the local AI path.
const SDKName = "otel-ai-collector-ebpf"

// transport names where the receiver's spans come from in its
// accepted/refused metrics (the transport label).
const transport = "ebpf"

// attrHeadTruncated marks a span whose request head was longer than the
// bytes captured, with no traceparent in them.
const attrHeadTruncated = "ebpf.http.request.head_truncated"

type ebpfReceiver struct {
	cfg      *Config
	set      receiver.Settings
	next     consumer.Traces
	table    *processTable
	hostname string

	objs bpfObjects
	// ioHooks, when set, overrides the kernel's choice (tests).
	ioHooks    ioHooks
	links      []link.Link
	reader     *ringbuf.Reader // closed connections
	dataReader *ringbuf.Reader // socket reads and writes of selected processes
	http       *httpAssembler
	batch      *spanBatcher
	// tlsLibraries are the libssl files whose SSL_read/SSL_write carry uprobes.
	tlsLibraries map[string]bool
	warnedDenied bool
	// selectionGen is the last value written to selection_gen_user.
	selectionGen uint64
	// bootWall converts CLOCK_MONOTONIC (bpf_ktime_get_ns) to wall time.
	bootWall time.Time

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Traces) (receiver.Traces, error) {
	hostname, _ := os.Hostname()
	r := &ebpfReceiver{cfg: cfg, set: set, next: next, hostname: hostname,
		table: newProcessTable("/proc", newSelector(cfg)), tlsLibraries: map[string]bool{}}
	// The standard receiver observability: otelcol_receiver_accepted_spans
	// and otelcol_receiver_refused_spans (e.g. spans the memory limiter
	// turns away), as stock receivers report them.
	obsrecv, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID: set.ID, Transport: transport, ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	r.batch = newSpanBatcher(metadata.ScopeName, 1024, func(td ptrace.Traces) {
		ctx := obsrecv.StartTracesOp(context.Background())
		n := td.SpanCount() // before the pipeline may take the spans over
		err := r.next.ConsumeTraces(ctx, td)
		obsrecv.EndTracesOp(ctx, transport, n, err)
		if err != nil {
			r.set.Logger.Debug("Next consumer refused spans", zap.Int("spans", n), zap.Error(err))
		}
	})
	r.http = newHTTPAssembler(cfg, r.emitHTTP)
	r.http.emitGRPC = r.emitGRPC
	return r, nil
}

func (r *ebpfReceiver) Start(_ context.Context, _ component.Host) error {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return fmt.Errorf("ebpf_network needs kernel BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF=y): %w", err)
	}
	spec, err := loadNetwork()
	if err != nil {
		return fmt.Errorf("ebpf_network: reading the embedded BPF object: %w", err)
	}
	spec.Maps["conns"].MaxEntries = uint32(r.cfg.MaxTrackedConnections)
	if len(literalNames(r.cfg.ExecutableRegex)) > 0 {
		if err := spec.Variables["any_comms"].Set(uint8(1)); err != nil {
			return fmt.Errorf("ebpf_network: %w", err)
		}
	}
	hooks := r.ioHooks
	if hooks == "" {
		hooks = kernelIOHooks()
	}
	if err := r.objs.load(spec, hooks); err != nil {
		var verr *ebpf.VerifierError
		switch {
		case errors.Is(err, unix.EPERM):
			// Not wrapped: cilium/ebpf appends "MEMLOCK may be too low,
			// consider rlimit.RemoveMemlock" to any EPERM, but on kernels
			// with memcg accounting of BPF memory (5.11+, which the BTF
			// programs here need anyway) the refusal is a missing
			// capability.
			return fmt.Errorf("ebpf_network: loading BPF programs was refused (%w): run as root or grant CAP_BPF and CAP_PERFMON "+
				"(NixOS: services.otel-ai-collector.ebpf.enable adds them)", unix.EPERM)
		case errors.As(err, &verr):
			return fmt.Errorf("ebpf_network: the kernel's verifier rejected the program: %+v", verr)
		}
		return fmt.Errorf("ebpf_network: loading BPF programs: %w", err)
	}
	for _, prog := range r.objs.tracingPrograms() {
		l, err := link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ebpf.AttachTraceRawTp})
		if err != nil {
			r.closeBPF()
			return fmt.Errorf("ebpf_network: attaching %s (tp_btf): %w", prog, err)
		}
		r.links = append(r.links, l)
	}
	if r.reader, err = ringbuf.NewReader(r.objs.Events); err == nil {
		r.dataReader, err = ringbuf.NewReader(r.objs.DataEvents)
	}
	if err != nil {
		r.closeBPF()
		return fmt.Errorf("ebpf_network: opening the ring buffers: %w", err)
	}
	// A process that starts listening on a selected port is selected by
	// the kernel at once.
	for _, port := range r.cfg.Ports {
		if err := r.objs.SelectedPorts.Put(uint16(port), uint8(1)); err != nil {
			r.closeBPF()
			return fmt.Errorf("ebpf_network: selecting port %d: %w", port, err)
		}
	}
	// Literal executable names are selected in the kernel from a process's
	// first socket read or write; other selectors take effect at the next
	// process scan.
	for _, name := range literalNames(r.cfg.ExecutableRegex) {
		if err := r.objs.SelectedComms.Put(commKey(name), uint8(1)); err != nil {
			r.closeBPF()
			return fmt.Errorf("ebpf_network: selecting executable %q: %w", name, err)
		}
	}
	if err := r.registerMetrics(); err != nil {
		r.closeBPF()
		return err
	}
	r.bootWall = time.Now().Add(-time.Duration(monotonicNs()))

	if r.cfg.HTTP.Enabled {
		r.attachSystemTLS()
	}
	r.refresh()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(3)
	go r.refreshLoop(ctx)
	go readRecords(r, r.reader, "connection event", decodeTCPEvent, r.handleClose, 0)
	go readRecords(r, r.dataReader, "socket data event", new(dataDecoder).decode, r.handleData, dataPollInterval)
	r.set.Logger.Info("ebpf_network: observing the selected processes", zap.String("io_hooks", string(hooks)), zap.Bool("http", r.cfg.HTTP.Enabled),
		zap.Bool("tcp_connections", r.cfg.TCPConnections),
		zap.Ints("ports", r.cfg.Ports), zap.Ints("pids", r.cfg.PIDs),
		zap.String("executable_regex", r.cfg.ExecutableRegex), zap.Strings("systemd_units", r.cfg.SystemdUnits))
	return nil
}

func (r *ebpfReceiver) Shutdown(context.Context) error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	err := errors.Join(r.reader.Close(), r.dataReader.Close()) // unblocks the read loops
	r.wg.Wait()
	r.http.flushAll()
	r.batch.flush()
	return errors.Join(err, r.closeBPF())
}

func (r *ebpfReceiver) closeBPF() error {
	var errs []error
	for _, l := range r.links {
		errs = append(errs, l.Close())
	}
	return errors.Join(append(errs, r.objs.Close())...)
}

// refresh rescans processes and tells the kernel which pids to capture.
func (r *ebpfReceiver) refresh() {
	scanStart := monotonicNs()
	if err := r.table.refresh(); err != nil {
		r.set.Logger.Warn("Reading the process table failed; retrying every refresh_interval", zap.Error(err))
		return
	}
	if r.table.denied > 0 && !r.warnedDenied {
		r.warnedDenied = true
		r.set.Logger.Warn("Cannot read the sockets of some processes, so ports they listen on select nothing; "+
			"grant CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (or run as root)", zap.Int("processes", r.table.denied))
	}
	selected := r.table.selectedPIDs()
	var stale []uint32
	inKernel := map[uint32]bool{}
	var pid uint32
	var since uint64 // 0, or when the kernel selected it (a listen on a selected port)
	iter := r.objs.SelectedPids.Iterate()
	for iter.Next(&pid, &since) {
		inKernel[pid] = true
		// What the kernel selected after this scan began, the scan may
		// not have seen yet: the next one decides.
		if !selected[int(pid)] && since < scanStart {
			stale = append(stale, pid)
		}
	}
	changed := len(stale) > 0
	for _, p := range stale {
		_ = r.objs.SelectedPids.Delete(p)
	}
	for p := range selected {
		changed = changed || !inKernel[uint32(p)]
		if err := r.objs.SelectedPids.Put(uint32(p), uint64(0)); err != nil {
			r.set.Logger.Warn("Selecting a process for capture failed", zap.Int("pid", p), zap.Error(err))
		}
		if r.cfg.HTTP.Enabled {
			r.attachTLS(p)
		}
	}
	if changed {
		r.invalidateSelectionCache()
	}
}

// invalidateSelectionCache makes the BPF programs look up selected_pids
// again, after the changes to it are made (see selection_gen_user).
func (r *ebpfReceiver) invalidateSelectionCache() {
	r.selectionGen++
	if err := r.objs.SelectionGenUser.Set(r.selectionGen); err != nil {
		r.set.Logger.Error("Updating the process selection in the kernel failed; "+
			"processes selected or dropped since are captured as before until the next change", zap.Error(err))
	}
}

// attachTLS puts uprobes on the OpenSSL libssl files a selected process has
// mapped (see attachTLSLibrary).
func (r *ebpfReceiver) attachTLS(pid int) {
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(maps), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 6 && strings.HasPrefix(filepath.Base(fields[5]), "libssl.so") {
			r.attachTLSLibrary(fields[5], fmt.Sprintf("/proc/%d/root%s", pid, fields[5]))
		}
	}
}

// attachSystemTLS puts uprobes on the system's libssl at start, so that
// processes selected in the kernel by name from their first socket I/O (curl)
// are covered before any scan has seen them.
func (r *ebpfReceiver) attachSystemTLS() {
	for _, pattern := range []string{"/usr/lib/*/libssl.so.*", "/lib/*/libssl.so.*", "/usr/lib64/libssl.so.*", "/usr/lib/libssl.so.*"} {
		paths, _ := filepath.Glob(pattern)
		for _, path := range paths {
			if real, err := filepath.EvalSymlinks(path); err == nil {
				r.attachTLSLibrary(real, real)
			}
		}
	}
}

// attachTLSLibrary puts uprobes on SSL_read/SSL_write (and their _ex
// variants) of one libssl file, once: the probes then fire for every process
// using that file, and the BPF side keeps the selected ones.
func (r *ebpfReceiver) attachTLSLibrary(path, openPath string) {
	if r.tlsLibraries[path] {
		return
	}
	r.tlsLibraries[path] = true
	ex, err := link.OpenExecutable(openPath)
	if err != nil {
		r.set.Logger.Warn("TLS plaintext capture unavailable for a library", zap.String("library", path), zap.Error(err))
		return
	}
	// Before the first uprobe: socket I/O looks for an SSL call in
	// progress only once this is set.
	if err := r.objs.SslProbes.Set(uint8(1)); err != nil {
		r.set.Logger.Warn("TLS plaintext capture unavailable: cannot tell the BPF programs", zap.Error(err))
		return
	}
	attached := 0
	for _, probe := range []struct {
		symbol         string
		enter, returns *ebpf.Program
	}{
		{"SSL_read", r.objs.SslRead, r.objs.SslReadReturn},
		{"SSL_read_ex", r.objs.SslReadEx, r.objs.SslReadReturn},
		{"SSL_write", r.objs.SslWrite, r.objs.SslWriteReturn},
		{"SSL_write_ex", r.objs.SslWriteEx, r.objs.SslWriteReturn},
	} {
		enter, err := ex.Uprobe(probe.symbol, probe.enter, nil)
		if err != nil {
			r.set.Logger.Debug("No uprobe on a TLS function", zap.String("library", path), zap.String("symbol", probe.symbol), zap.Error(err))
			continue
		}
		ret, err := ex.Uretprobe(probe.symbol, probe.returns, nil)
		if err != nil {
			_ = enter.Close()
			r.set.Logger.Warn("No uretprobe on a TLS function", zap.String("library", path), zap.String("symbol", probe.symbol), zap.Error(err))
			continue
		}
		r.links = append(r.links, enter, ret)
		attached++
	}
	r.set.Logger.Info("ebpf_network: capturing TLS plaintext", zap.String("library", path), zap.Int("functions", attached))
}

func (r *ebpfReceiver) refreshLoop(ctx context.Context) {
	defer r.wg.Done()
	ticker := time.NewTicker(r.cfg.RefreshInterval)
	defer ticker.Stop()
	expiry := time.NewTicker(min(r.cfg.HTTP.IdleTimeout/2, closeGrace))
	defer expiry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			r.refresh()
		case now := <-expiry.C:
			r.http.expire(now)
			r.batch.flush()
		}
	}
}

// dataPollInterval is how often the data ring buffer is read when the
// kernel has not woken its reader (it does so only once much is waiting).
const dataPollInterval = 10 * time.Millisecond

// readRecords decodes every record of a ring buffer with decode and hands
// it to handle, until the reader is closed. With a poll interval, records
// the kernel submitted without waking the reader are read that often.
func readRecords[T any](r *ebpfReceiver, reader *ringbuf.Reader, what string, decode func([]byte) (T, error), handle func(T), poll time.Duration) {
	defer r.wg.Done()
	if poll > 0 {
		reader.SetDeadline(time.Now().Add(poll))
	}
	var record ringbuf.Record
	for {
		err := reader.ReadInto(&record)
		if errors.Is(err, ringbuf.ErrClosed) {
			return
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			reader.SetDeadline(time.Now().Add(poll))
			continue
		}
		if err != nil {
			r.set.Logger.Warn("Reading a "+what+" failed", zap.Error(err))
			continue
		}
		ev, err := decode(record.RawSample)
		if err != nil {
			r.set.Logger.Warn("Undecodable "+what, zap.Error(err))
			continue
		}
		handle(ev)
	}
}

func decodeTCPEvent(raw []byte) (*networkTcpEvent, error) {
	var ev networkTcpEvent
	return &ev, binary.Read(bytes.NewReader(raw), binary.NativeEndian, &ev)
}

// handleData follows HTTP on a captured socket read or write.
func (r *ebpfReceiver) handleData(ev dataEvent) {
	if r.cfg.HTTP.Enabled {
		r.http.add(ev)
	}
}

// emitHTTP turns a finished HTTP exchange into a span.
func (r *ebpfReceiver) emitHTTP(x *exchange) {
	r.emitFor(x.pid, x.comm, x.tuple.localPort, func(span ptrace.Span) { r.fillHTTPSpan(span, x) })
}

// emitFor adds a span of the process pid to the batch, under the resource
// of that process and its local port.
func (r *ebpfReceiver) emitFor(pid uint32, comm string, localPort int, fill func(ptrace.Span)) {
	proc, _ := r.table.processByPID(int(pid), comm)
	r.batch.add(resourceKey{proc.pid, localPort}, func(res pcommon.Map) {
		r.putResource(res, proc, localPort)
	}, fill)
}

// startSpan gives a span its ids, kind and times: a server span joins the
// caller's trace when the request carried a traceparent.
func (r *ebpfReceiver) startSpan(span ptrace.Span, server bool, traceparent string, startNs, endNs uint64) {
	span.SetSpanID(randomSpanID())
	span.SetTraceID(randomTraceID())
	if server {
		span.SetKind(ptrace.SpanKindServer)
		if traceID, parent, ok := parseTraceparent(traceparent); ok {
			span.SetTraceID(traceID)
			span.SetParentSpanID(parent)
		}
	} else {
		span.SetKind(ptrace.SpanKindClient)
	}
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(r.bootWall.Add(time.Duration(startNs))))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(r.bootWall.Add(time.Duration(endNs))))
}

// putTCPPeer describes both ends of a TCP connection from the observed
// side: the peer, the server and, on the serving side, the client.
func putTCPPeer(attrs pcommon.Map, t endpoints, server bool) {
	attrs.PutStr("network.transport", "tcp")
	attrs.PutStr("network.peer.address", t.remoteAddr)
	attrs.PutInt("network.peer.port", int64(t.remotePort))
	if server {
		attrs.PutStr("server.address", t.localAddr)
		attrs.PutInt("server.port", int64(t.localPort))
		attrs.PutStr("client.address", t.remoteAddr)
		attrs.PutInt("client.port", int64(t.remotePort))
	} else {
		attrs.PutStr("server.address", t.remoteAddr)
		attrs.PutInt("server.port", int64(t.remotePort))
	}
}

func (r *ebpfReceiver) fillHTTPSpan(span ptrace.Span, x *exchange) {
	span.SetName(x.method)
	r.startSpan(span, x.server, x.traceparent, x.startNs, x.endNs)

	attrs := span.Attributes()
	attrs.EnsureCapacity(16) // all that follow: one allocation, not one per doubling
	attrs.PutStr("http.request.method", x.method)
	target := x.target
	if len(target) > r.cfg.HTTP.MaxTargetLength {
		target = target[:r.cfg.HTTP.MaxTargetLength]
	}
	path, query, hasQuery := strings.Cut(target, "?")
	attrs.PutStr("url.path", path)
	if hasQuery && !r.cfg.HTTP.DropQueryString {
		attrs.PutStr("url.query", query)
	}
	attrs.PutStr("network.protocol.name", "http")
	attrs.PutStr("network.protocol.version", x.version)
	putTCPPeer(attrs, x.tuple, x.server)
	attrs.PutInt("http.request.size", x.reqBytes)
	if x.headTruncated {
		// The head was longer than what the kernel captured and no
		// traceparent was in the captured part: one may have been lost.
		attrs.PutBool(attrHeadTruncated, true)
	}
	if x.status != 0 {
		attrs.PutInt("http.response.status_code", int64(x.status))
		attrs.PutInt("http.response.size", x.respBytes)
	}
	switch {
	case x.status == 0:
		span.Status().SetCode(ptrace.StatusCodeError)
		span.Status().SetMessage("no response seen")
	case x.status >= 500 || (!x.server && x.status >= 400):
		span.Status().SetCode(ptrace.StatusCodeError)
	}
}

// emitGRPC turns a finished gRPC call into a span.
func (r *ebpfReceiver) emitGRPC(x *grpcCall) {
	r.emitFor(x.pid, x.comm, x.tuple.localPort, func(span ptrace.Span) { r.fillGRPCSpan(span, x) })
}

// fillGRPCSpan follows OpenTelemetry's RPC and gRPC conventions.
func (r *ebpfReceiver) fillGRPCSpan(span ptrace.Span, x *grpcCall) {
	service, method, _ := strings.Cut(strings.TrimPrefix(x.path, "/"), "/")
	span.SetName(strings.TrimPrefix(x.path, "/"))
	r.startSpan(span, x.server, x.traceparent, x.startNs, x.endNs)
	attrs := span.Attributes()
	attrs.EnsureCapacity(13) // all that follow
	attrs.PutStr("rpc.system", "grpc")
	attrs.PutStr("rpc.service", service)
	attrs.PutStr("rpc.method", method)
	attrs.PutStr("network.protocol.name", "http")
	attrs.PutStr("network.protocol.version", "2")
	if x.tuple.unix {
		attrs.PutStr("network.transport", "unix") // no addresses or ports to give
	} else {
		putTCPPeer(attrs, x.tuple, x.server)
	}
	if x.status < 0 {
		span.Status().SetCode(ptrace.StatusCodeError)
		span.Status().SetMessage("no grpc-status seen")
		return
	}
	attrs.PutInt("rpc.grpc.status_code", int64(x.status))
	if (x.server && grpcServerErrors[x.status]) || (!x.server && x.status != 0) {
		span.Status().SetCode(ptrace.StatusCodeError)
		span.Status().SetMessage(x.message)
	}
}

// serviceName is the configured override for the process's port, pid,
// executable or unit, else its unit or executable.
func (r *ebpfReceiver) serviceName(proc process, localPort int) string {
	for _, key := range []string{strconv.Itoa(localPort), strconv.Itoa(proc.pid), proc.exe, proc.unit} {
		if name, ok := r.cfg.ServiceNames[key]; ok && key != "" && key != "0" {
			return name
		}
	}
	return proc.serviceName()
}

// putResource describes the process a span belongs to.
func (r *ebpfReceiver) putResource(res pcommon.Map, proc process, localPort int) {
	name := r.serviceName(proc, localPort)
	if name == "" {
		name = fmt.Sprintf("port-%d", localPort) // listener not seen yet
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
}

// handleClose ends a closed connection's HTTP exchange and, when enabled,
// emits its connection span.
func (r *ebpfReceiver) handleClose(ev *networkTcpEvent) {
	r.http.connectionClosed(connKey{ev.Sock, ev.StartNs})
	if r.cfg.TCPConnections {
		r.connectionSpan(ev)
	}
}

// connectionSpan turns a closed connection into a span, if its process is
// selected.
func (r *ebpfReceiver) connectionSpan(ev *networkTcpEvent) {
	var (
		proc     process
		selected bool
		kind     ptrace.SpanKind
	)
	if ev.Role == roleServer {
		proc, selected = r.table.serverOwner(ev.Tuple.LocalPort)
		kind = ptrace.SpanKindServer
	} else {
		proc, selected = r.table.processByPID(int(ev.Pid), commString(ev.Comm[:]))
		kind = ptrace.SpanKindClient
	}
	if !selected {
		r.set.Logger.Debug("Connection of an unselected process", zap.Uint8("role", ev.Role),
			zap.Uint32("pid", ev.Pid), zap.Uint16("local_port", ev.Tuple.LocalPort), zap.Uint16("remote_port", ev.Tuple.RemotePort))
		return
	}

	r.batch.add(resourceKey{proc.pid, int(ev.Tuple.LocalPort)}, func(res pcommon.Map) {
		r.putResource(res, proc, int(ev.Tuple.LocalPort))
	}, func(span ptrace.Span) { r.fillConnectionSpan(span, ev, kind) })
}

func (r *ebpfReceiver) fillConnectionSpan(span ptrace.Span, ev *networkTcpEvent, kind ptrace.SpanKind) {
	span.SetName("tcp.connection")
	span.SetKind(kind)
	span.SetTraceID(randomTraceID())
	span.SetSpanID(randomSpanID())
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(r.bootWall.Add(time.Duration(ev.StartNs))))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(r.bootWall.Add(time.Duration(ev.EndNs))))

	attrs := span.Attributes()
	attrs.EnsureCapacity(9) // all that follow
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
}

// monotonicNs is CLOCK_MONOTONIC, bpf_ktime_get_ns's clock (it cannot fail
// on Linux).
func monotonicNs() uint64 {
	var mono unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono)
	return uint64(mono.Nano())
}

// commString reads a NUL-padded kernel task name.
func commString(comm []int8) string {
	b := make([]byte, 0, len(comm))
	for _, c := range comm {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
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

// Random ids from math/rand/v2's per-thread ChaCha8 generator, as the
// OpenTelemetry SDKs make them: ids must be unique and unpredictable enough
// to be random (W3C Trace Context), not secret, and crypto/rand's locked
// DRBG cost 3% of the receiver's CPU time at 10k spans/s.
func randomTraceID() (id pcommon.TraceID) {
	binary.NativeEndian.PutUint64(id[:8], rand.Uint64())
	binary.NativeEndian.PutUint64(id[8:], rand.Uint64())
	return id
}

func randomSpanID() (id pcommon.SpanID) {
	binary.NativeEndian.PutUint64(id[:], rand.Uint64())
	return id
}

// registerMetrics exposes the BPF counters as the collector's own metrics.
func (r *ebpfReceiver) registerMetrics() error {
	meter := r.set.TelemetrySettings.MeterProvider.Meter(metadata.ScopeName)
	if _, err := meter.Int64ObservableCounter("otelcol_receiver_ebpf_network_http_connections_evicted",
		metric.WithUnit("{connection}"),
		metric.WithDescription("Connections whose HTTP exchanges were dropped because max_tracked_connections were followed already."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(r.http.evicted.Load())
			return nil
		})); err != nil {
		return err
	}
	if _, err := meter.Int64ObservableCounter("otelcol_receiver_ebpf_network_http2_connections_lost",
		metric.WithUnit("{connection}"),
		metric.WithDescription("HTTP/2 connections no longer followed: bytes beyond the capture or an undecodable header block (HPACK state lost)."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(r.http.h2Lost.Load())
			return nil
		})); err != nil {
		return err
	}
	if _, err := meter.Int64ObservableCounter("otelcol_receiver_ebpf_network_http_request_heads_truncated",
		metric.WithUnit("{request}"),
		metric.WithDescription("HTTP requests whose head went on beyond the captured bytes without a traceparent in them (spans marked "+attrHeadTruncated+")."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(r.http.truncatedHeads.Load())
			return nil
		})); err != nil {
		return err
	}
	for _, c := range []struct {
		name, unit, description string
		index                   uint32
	}{
		{"otelcol_receiver_ebpf_network_events_lost", "{event}", "Connection events lost because the BPF ring buffer was full.", 0},
		{"otelcol_receiver_ebpf_network_connections_untracked", "{connection}", "Connections not tracked because the connection map was full.", 1},
		{"otelcol_receiver_ebpf_network_data_lost", "{event}", "Socket reads and writes not captured because the data ring buffer was full.", 2},
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
