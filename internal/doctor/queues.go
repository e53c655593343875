package doctor

import (
	"bufio"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/internal/defaultconfig"
)

var queueLine = regexp.MustCompile(`^otelcol_exporter_queue_(size|capacity)\{data_type="([a-z]+)",exporter="([^"]+)"\} (\S+)$`)

// checkQueues reads the backlog of each exporter queue from the running
// collector's own metrics (bytes for the persistent queues, requests for
// the monitor's); the queue files themselves are held open by it.
func checkQueues() Check {
	c := Check{Name: "queues"}
	url := "http://127.0.0.1:" + defaultconfig.Value("OTEL_AI_COLLECTOR_METRICS_PORT") + "/metrics"
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		c.Status, c.Detail = Skip, "no running collector answers on "+url
		return c
	}
	defer resp.Body.Close()
	type queue struct{ size, capacity float64 }
	queues := map[string]*queue{}
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		m := queueLine.FindStringSubmatch(s.Text())
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[4], 64)
		if err != nil {
			continue
		}
		key := m[3] + " " + m[2]
		if queues[key] == nil {
			queues[key] = &queue{}
		}
		if m[1] == "size" {
			queues[key].size = v
		} else {
			queues[key].capacity = v
		}
	}
	if len(queues) == 0 {
		c.Status, c.Detail = Warn, url+" has no otelcol_exporter_queue_* metrics"
		return c
	}
	keys := make([]string, 0, len(queues))
	for k := range queues {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	c.Status = OK
	var parts, full []string
	for _, k := range keys {
		q := queues[k]
		parts = append(parts, fmt.Sprintf("%s %.0f/%.0f", k, q.size, q.capacity))
		if q.capacity > 0 && q.size > q.capacity/2 {
			full = append(full, k)
		}
	}
	c.Detail = "backlog/capacity (bytes; requests for otlp_http/monitor): " + strings.Join(parts, ", ")
	if len(full) > 0 {
		c.Status = Warn
		c.Fix = "more than half full: " + strings.Join(full, ", ") + "; its destination is not taking data (see the checks above); a full queue refuses new data"
	}
	return c
}
