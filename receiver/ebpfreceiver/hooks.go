//go:build linux && amd64

package ebpfreceiver

import (
	"errors"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// ioHooks names the pair of BPF programs that see selected processes'
// socket reads and writes.
type ioHooks string

const (
	// socketHooks: the sock_send_length and sock_recv_length tracepoints
	// (Linux 6.3+). They fire for socket I/O only, so every other syscall
	// of every process stays on the kernel's fast path, and one program
	// per read or write does the work (bench/README.md has the cost of
	// each pair side by side).
	socketHooks ioHooks = "socket tracepoints"
	// syscallHooks: the raw sys_enter and sys_exit tracepoints, on kernels
	// without the socket ones. Attached, they slow every syscall of every
	// process a little.
	syscallHooks ioHooks = "syscall tracepoints"
)

// kernelIOHooks picks the socket tracepoints where the kernel has them.
func kernelIOHooks() ioHooks {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return syscallHooks // the load reports the missing BTF
	}
	if _, err := spec.AnyTypeByName("btf_trace_sock_send_length"); err != nil {
		return syscallHooks
	}
	if _, err := spec.AnyTypeByName("btf_trace_sock_recv_length"); err != nil {
		return syscallHooks
	}
	return socketHooks
}

// bpfObjects are the loaded BPF objects: the maps and variables, the
// programs every kernel gets, and the I/O pair of the hooks in use (bpf2go's
// networkObjects holds both pairs, and a kernel may load only one).
type bpfObjects struct {
	networkMaps
	networkVariables
	InetSockSetState *ebpf.Program `ebpf:"inet_sock_set_state"`
	SchedProcessFork *ebpf.Program `ebpf:"sched_process_fork"`
	SslRead          *ebpf.Program `ebpf:"ssl_read"`
	SslReadEx        *ebpf.Program `ebpf:"ssl_read_ex"`
	SslReadReturn    *ebpf.Program `ebpf:"ssl_read_return"`
	SslWrite         *ebpf.Program `ebpf:"ssl_write"`
	SslWriteEx       *ebpf.Program `ebpf:"ssl_write_ex"`
	SslWriteReturn   *ebpf.Program `ebpf:"ssl_write_return"`

	hooks ioHooks
	io    []*ebpf.Program // attached as tp_btf with the two above
}

type socketHookPrograms struct {
	Send *ebpf.Program `ebpf:"sock_send"`
	Recv *ebpf.Program `ebpf:"sock_recv"`
}

type syscallHookPrograms struct {
	Enter *ebpf.Program `ebpf:"sys_enter"`
	Exit  *ebpf.Program `ebpf:"sys_exit"`
}

// load loads the common objects and the I/O pair of hooks from spec.
func (o *bpfObjects) load(spec *ebpf.CollectionSpec, hooks ioHooks) error {
	o.hooks = hooks
	if hooks == socketHooks {
		var io socketHookPrograms
		err := spec.LoadAndAssign(&struct {
			*bpfObjects
			*socketHookPrograms
		}{o, &io}, nil)
		o.io = []*ebpf.Program{io.Send, io.Recv}
		return err
	}
	var io syscallHookPrograms
	err := spec.LoadAndAssign(&struct {
		*bpfObjects
		*syscallHookPrograms
	}{o, &io}, nil)
	o.io = []*ebpf.Program{io.Enter, io.Exit}
	return err
}

// tracingPrograms are the programs attached as tp_btf.
func (o *bpfObjects) tracingPrograms() []*ebpf.Program {
	return append([]*ebpf.Program{o.InetSockSetState, o.SchedProcessFork}, o.io...)
}

func (o *bpfObjects) Close() error {
	errs := []error{o.networkMaps.Close()}
	for _, p := range append(o.tracingPrograms(), o.SslRead, o.SslReadEx, o.SslReadReturn, o.SslWrite, o.SslWriteEx, o.SslWriteReturn) {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	return errors.Join(errs...)
}
