package ebpfreceiver

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/otel-ai-collector/otel-ai-collector/internal/procinfo"
)

// process is what the receiver knows of a local process.
type process struct {
	pid     int
	exe     string // executable file name
	command string // command line
	unit    string // systemd unit, system or user, if any
}

// serviceName names a process's service: its systemd unit without the
// suffix, else its executable.
func (p process) serviceName() string {
	if p.unit != "" {
		return strings.TrimSuffix(strings.TrimSuffix(p.unit, ".service"), ".scope")
	}
	return p.exe
}

// readProcess reads a process's executable, command line and unit from proc.
func readProcess(proc string, pid int) (process, error) {
	dir := filepath.Join(proc, strconv.Itoa(pid))
	p := process{pid: pid}
	exe, err := procinfo.Executable(dir)
	if err != nil {
		return p, err
	}
	p.exe = exe
	if cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		p.command = strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	p.unit = procinfo.Unit(dir)
	return p, nil
}

// selector decides which processes are selected by the configuration.
type selector struct {
	ports map[uint16]bool
	pids  map[int]bool
	exe   *regexp.Regexp
	units map[string]bool
}

func newSelector(cfg *Config) *selector {
	s := &selector{ports: map[uint16]bool{}, pids: map[int]bool{}, units: map[string]bool{}}
	for _, p := range cfg.Ports {
		s.ports[uint16(p)] = true
	}
	for _, pid := range cfg.PIDs {
		s.pids[pid] = true
	}
	if cfg.ExecutableRegex != "" {
		s.exe = regexp.MustCompile(cfg.ExecutableRegex) // checked by Validate
	}
	for _, u := range cfg.SystemdUnits {
		if !strings.Contains(u, ".") {
			u += ".service"
		}
		s.units[u] = true
	}
	return s
}

// selectsProcess applies the pid, executable and unit selectors.
func (s *selector) selectsProcess(p process) bool {
	return s.pids[p.pid] || (s.exe != nil && s.exe.MatchString(p.exe)) || (p.unit != "" && s.units[p.unit])
}

// processTable maps listening ports to the processes that own them and
// caches process details, rescanned every refresh interval.
type processTable struct {
	proc     string
	selector *selector

	// denied counts processes whose sockets the last scan could not read.
	denied int

	mu        sync.RWMutex
	listeners map[uint16][]process // listening port -> the processes holding it (e.g. nginx's master and workers)
	processes map[int]process
}

func newProcessTable(proc string, s *selector) *processTable {
	return &processTable{proc: proc, selector: s, listeners: map[uint16][]process{}, processes: map[int]process{}}
}

// refresh rescans the listening sockets and their owners, and every
// process's executable and unit.
func (t *processTable) refresh() error {
	inodes := map[string]uint16{} // socket inode -> listening port
	if listeningInodes(inodes) != nil {
		// No sock_diag here (inet_diag is a module some kernels leave
		// out): the same from the text tables, at more cost.
		clear(inodes)
		for _, name := range []string{"net/tcp", "net/tcp6"} {
			if err := listeningSockets(filepath.Join(t.proc, name), inodes); err != nil {
				return err
			}
		}
	}
	listeners := map[uint16][]process{}
	processes := map[int]process{}
	denied := 0
	entries, err := os.ReadDir(t.proc)
	if err != nil {
		return err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, err := readProcess(t.proc, pid)
		if err != nil {
			continue // gone
		}
		processes[pid] = p
		fds, err := os.ReadDir(filepath.Join(t.proc, e.Name(), "fd"))
		if os.IsPermission(err) {
			denied++
		}
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(t.proc, e.Name(), "fd", fd.Name()))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			if port, ok := inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")]; ok {
				if n := len(listeners[port]); n == 0 || listeners[port][n-1].pid != pid {
					listeners[port] = append(listeners[port], p)
				}
			}
		}
	}
	t.mu.Lock()
	t.listeners = listeners
	t.processes = processes
	t.mu.Unlock()
	t.denied = denied
	return nil
}

// selectedPIDs is every known process the configuration selects.
func (t *processTable) selectedPIDs() map[int]bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	selected := map[int]bool{}
	for pid, p := range t.processes {
		if t.selector.selectsProcess(p) {
			selected[pid] = true
		}
	}
	for port, holders := range t.listeners {
		if t.selector.ports[port] {
			for _, p := range holders {
				selected[p.pid] = true
			}
		}
	}
	return selected
}

// listeningSockets adds the inode -> port of every socket in LISTEN state in
// a /proc/net/tcp{,6} table.
func listeningSockets(path string, out map[string]uint16) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil // no IPv6
	}
	if err != nil {
		return err
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	scanner.Scan() // header
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) < 10 || fields[3] != "0A" { // 0A: TCP_LISTEN
			continue
		}
		_, portHex, ok := strings.Cut(fields[1], ":")
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(portHex, 16, 16)
		if err != nil {
			return fmt.Errorf("%s: local address %q", path, fields[1])
		}
		out[fields[9]] = uint16(port)
	}
	return scanner.Err()
}

// serverOwner returns a process listening on a local port (the first
// found), and whether connections accepted on it are selected.
func (t *processTable) serverOwner(port uint16) (process, bool) {
	t.mu.RLock()
	holders := t.listeners[port]
	t.mu.RUnlock()
	if len(holders) == 0 {
		return process{}, t.selector.ports[port]
	}
	return holders[0], t.selector.ports[port] || t.isSelected(holders[0])
}

// processByPID returns a process (looked up now if the last scan missed it)
// and whether it is selected. comm, the kernel's name for it, stands in for
// the executable of a process that has already exited (curl).
func (t *processTable) processByPID(pid int, comm string) (process, bool) {
	t.mu.RLock()
	p, ok := t.processes[pid]
	t.mu.RUnlock()
	if !ok {
		var err error
		if p, err = readProcess(t.proc, pid); err != nil {
			gone := process{pid: pid, exe: comm}
			return gone, t.selector.selectsProcess(gone)
		}
		t.mu.Lock()
		t.processes[pid] = p
		t.mu.Unlock()
	}
	return p, t.isSelected(p)
}

// isSelected: by pid, executable or unit, or as the owner of a selected port.
func (t *processTable) isSelected(p process) bool {
	if t.selector.selectsProcess(p) {
		return true
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	for port, holders := range t.listeners {
		for _, h := range holders {
			if h.pid == p.pid && t.selector.ports[port] {
				return true
			}
		}
	}
	return false
}
