package doctor

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/internal/defaultconfig"
)

// listenAddrs are the addresses the embedded default listens on, by the
// variable that sets each.
func listenAddrs() [][2]string {
	addrs := [][2]string{
		{"OTEL_AI_COLLECTOR_OTLP_GRPC_ENDPOINT", defaultconfig.Value("OTEL_AI_COLLECTOR_OTLP_GRPC_ENDPOINT")},
		{"OTEL_AI_COLLECTOR_OTLP_HTTP_ENDPOINT", defaultconfig.Value("OTEL_AI_COLLECTOR_OTLP_HTTP_ENDPOINT")},
		{"OTEL_AI_COLLECTOR_HEALTH_ENDPOINT", defaultconfig.Value("OTEL_AI_COLLECTOR_HEALTH_ENDPOINT")},
		{"OTEL_AI_COLLECTOR_ZPAGES_ENDPOINT", defaultconfig.Value("OTEL_AI_COLLECTOR_ZPAGES_ENDPOINT")},
		{"OTEL_AI_COLLECTOR_METRICS_PORT", "127.0.0.1:" + defaultconfig.Value("OTEL_AI_COLLECTOR_METRICS_PORT")},
	}
	if os.Getenv("OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT") != "" {
		addrs = append(addrs, [2]string{"OTEL_AI_COLLECTOR_PYROSCOPE_INGEST_ENDPOINT", defaultconfig.Value("OTEL_AI_COLLECTOR_PYROSCOPE_INGEST_ENDPOINT")})
	}
	return addrs
}

// collectorRunning reports whether a collector answers on the health check
// address: then the ports being taken is expected (by that collector).
func collectorRunning() bool {
	client := &http.Client{Timeout: time.Second}
	resp, err := client.Get("http://" + defaultconfig.Value("OTEL_AI_COLLECTOR_HEALTH_ENDPOINT") + "/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// checkPorts tries to listen where the collector would; a taken address is
// a failure unless a collector runs there already.
func checkPorts() []Check {
	running := collectorRunning()
	// The running collector is whoever holds the health check's port.
	collectorPid, _ := portOwner(defaultconfig.Value("OTEL_AI_COLLECTOR_HEALTH_ENDPOINT"))
	var free []string
	var checks []Check
	for _, a := range listenAddrs() {
		name, addr := a[0], a[1]
		l, err := net.Listen("tcp", addr)
		if err == nil {
			l.Close()
			free = append(free, addr)
			continue
		}
		pid, owner := portOwner(addr)
		c := Check{Name: "port " + addr}
		switch {
		// Without privileges another user's sockets have no visible owner;
		// with a collector answering health checks, assume it is that one.
		case running && (pid == "" || pid == collectorPid):
			c.Status, c.Detail = OK, "in use by the running collector"+ownerText(owner)
		default:
			c.Status = Fail
			c.Detail = "taken" + ownerText(owner) + ": " + err.Error()
			c.Fix = "stop what listens there, or set " + name + " to a free address"
		}
		checks = append(checks, c)
	}
	if len(free) > 0 {
		checks = append([]Check{{Name: "ports", Status: OK, Detail: "free: " + strings.Join(free, ", ")}}, checks...)
	}
	return checks
}

func ownerText(owner string) string {
	if owner == "" {
		return ""
	}
	return " (" + owner + ")"
}

// portOwner names the process listening on addr's port, when /proc lets us
// see it (other users' processes are hidden without privileges).
func portOwner(addr string) (pid, owner string) {
	_, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", ""
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return "", ""
	}
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		s := bufio.NewScanner(f)
		for s.Scan() {
			fields := strings.Fields(s.Text())
			// sl local_address rem_address st ... inode (10th field); 0A is LISTEN.
			if len(fields) < 10 || fields[3] != "0A" {
				continue
			}
			_, hexPort, _ := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); err == nil && int(p) == port {
				inodes["socket:["+fields[9]+"]"] = true
			}
		}
		f.Close()
	}
	if len(inodes) == 0 {
		return "", ""
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && inodes[target] {
			pid := strings.Split(fd, "/")[2]
			comm, _ := os.ReadFile("/proc/" + pid + "/comm")
			return pid, fmt.Sprintf("%s, pid %s", strings.TrimSpace(string(comm)), pid)
		}
	}
	return "", ""
}
