package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/corosync-go/corosync/internal/testkit/corotest"
)

// alertsForTest returns monitoring/alerts.yml with every "for" shortened to
// d, so that a test sees in seconds what production sees in minutes; the
// expressions are unchanged.
func alertsForTest(t *testing.T, d string) string {
	b, err := os.ReadFile("monitoring/alerts.yml")
	must(t, err)
	re := regexp.MustCompile(`(?m)^(\s+for:) \S+$`)
	if n := len(re.FindAll(b, -1)); n != 7 {
		t.Fatalf("alerts.yml: %d for clauses, want 7", n)
	}
	return re.ReplaceAllString(string(b), "$1 "+d)
}

// promAPI queries a Prometheus server's HTTP API.
type promAPI struct {
	c    *http.Client
	base string
}

func (p promAPI) get(path string, out any) error {
	resp, err := p.c.Get(p.base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("%s: %d: %v", path, resp.StatusCode, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s", path, env.Error)
	}
	return json.Unmarshal(env.Data, out)
}

// query runs an instant query and returns its series' labels.
func (p promAPI) query(expr string) ([]map[string]string, error) {
	var data struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
		} `json:"result"`
	}
	if err := p.get("/api/v1/query?query="+url.QueryEscape(expr), &data); err != nil {
		return nil, err
	}
	var out []map[string]string
	for _, r := range data.Result {
		out = append(out, r.Metric)
	}
	return out, nil
}

// waitSeries waits until expr has n series.
func (p promAPI) waitSeries(t *testing.T, expr string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, err := p.query(expr)
		if err == nil && len(got) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d series, want %d (%v): %v", expr, len(got), n, err, got)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

type alert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

func (p promAPI) alerts() ([]alert, error) {
	var data struct {
		Alerts []alert `json:"alerts"`
	}
	err := p.get("/api/v1/alerts", &data)
	return data.Alerts, err
}

func (a alert) String() string {
	var ls []string
	for k, v := range a.Labels {
		if k != "severity" && k != "job" {
			ls = append(ls, k+"="+v)
		}
	}
	sort.Strings(ls)
	return a.State + " " + strings.Join(ls, ",")
}

// matches reports whether a has every label of want.
func (a alert) matches(want map[string]string) bool {
	for k, v := range want {
		if a.Labels[k] != v {
			return false
		}
	}
	return true
}

// waitFiring waits until every alert of want is firing, and fails if an
// alert matching one of never fires meanwhile (pending is allowed: a
// membership change passes through states that "for" is there to ignore).
func (p promAPI) waitFiring(t *testing.T, step string, timeout time.Duration, never []map[string]string, want ...map[string]string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		as, err := p.alerts()
		missing := 0
		if err == nil {
			for _, w := range want {
				found := false
				for _, a := range as {
					found = found || (a.State == "firing" && a.matches(w))
				}
				if !found {
					missing++
				}
			}
			for _, a := range as {
				for _, n := range never {
					if a.State == "firing" && a.matches(n) {
						t.Fatalf("%s: %v: %v", step, a, as)
					}
				}
			}
		}
		if err == nil && missing == 0 {
			t.Logf("%s: %v", step, as)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d expected alerts not firing after %v (%v): %v", step, missing, timeout, err, as)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestPrometheusAlerts runs a real Prometheus server (Debian's package)
// with monitoring/alerts.yml ("for" shortened to 2 s; 1 s scrape and
// evaluation intervals), scraping one exporter per node of a real 3-node
// knet cluster with two links and a quorum device (qnetd). Exporters and
// Prometheus share a network namespace of their own on loopback, each
// exporter reading its node's corosync through --corosync.netns, so
// partitions of the cluster do not cut the monitoring. Through a link cut,
// a node kill, a partition, an exporter stop and qnetd's death, the alerts
// meant for each fire (queried from /api/v1/alerts); and every query of
// monitoring/dashboard.json returns data.
func TestPrometheusAlerts(t *testing.T) {
	prom := requireTool(t, "prometheus", "prometheus")
	// A 3-node two-link cluster, qnetd, three exporters and Prometheus,
	// with a quorum device that must re-vote within the alerts' windows: on
	// 2 cores beside other clusters, the device once left a partition's
	// majority inquorate long enough to fire CorosyncQuorumLost.
	corotest.Exclusive(t)
	start := time.Now()
	cl := corotest.Start(t, 3, corotest.Options{Links: 2, Votequorum: corotest.Votequorum{Device: &corotest.Device{
		Votes: 1, Net: &corotest.DeviceNet{Host: corotest.QnetdAddr}}}})
	q := corotest.StartQnetd(t, cl)
	ctx := context.Background()
	must(t, q.WaitReady(ctx))
	for _, n := range cl.Nodes {
		must(t, q.StartQdevice(n))
	}

	b := make([]byte, 3)
	rand.Read(b)
	mon := "cgmon" + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", mon).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", mon).Run() })
	if out, err := exec.Command("ip", "-n", mon, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v: %s", err, out)
	}

	bin := buildExporter(t)
	dir := t.TempDir()
	exporters := map[uint32]*process{}
	var targets strings.Builder
	for _, n := range cl.Nodes {
		addr := fmt.Sprintf("127.0.0.1:%d", 9660+n.ID)
		// The corosync reads' deadline stays below the scrape timeout, as
		// the defaults do (1 s against Prometheus's 10 s).
		exporters[n.ID] = startProcess(t, "ip", "netns", "exec", mon, bin, "--web.listen-address="+addr,
			"--corosync.netns="+n.NetNSPath(), "--web.config.file=", "--corosync.timeout=400ms")
		fmt.Fprintf(&targets, "      - targets: ['%s']\n        labels: {instance: node%d}\n", addr, n.ID)
	}
	writeFile(t, filepath.Join(dir, "alerts.yml"), alertsForTest(t, "2s"))
	writeFile(t, filepath.Join(dir, "prometheus.yml"), `global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files: [alerts.yml]
scrape_configs:
  - job_name: corosync
    static_configs:
`+targets.String())
	pp := startProcess(t, "ip", "netns", "exec", mon, prom, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address=127.0.0.1:9090", "--log.level=warn")
	api := promAPI{c: nsClient("/var/run/netns/"+mon, nil), base: "http://127.0.0.1:9090"}

	// Healthy: every target up, the device voting everywhere, nothing
	// firing; then every dashboard query has data.
	healthy := func() error {
		for expr, want := range map[string]int{
			`up{job="corosync"} == 1`:                     3,
			`ha_cluster_corosync_quorate == 1`:            3,
			`corosync_qdevice{property="cast_vote"} == 1`: 3,
			`ha_cluster_corosync_rings == 1`:              18,
		} {
			got, err := api.query(expr)
			if err != nil {
				return err
			}
			if len(got) != want {
				return fmt.Errorf("%s: %d series, want %d", expr, len(got), want)
			}
		}
		return nil
	}
	var err error
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		if err = healthy(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never healthy: %v\nprometheus:\n%s\nexporter 1:\n%s\n%s", err, pp.Log(), exporters[1].Log(), q.Log())
		}
	}
	exprs, vars := dashboardQueries(t, "5s")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		var empty []string
		for title, e := range exprs {
			if got, err := api.query(e); err != nil || len(got) == 0 {
				empty = append(empty, fmt.Sprintf("%s: %s: %v", title, e, err))
			}
		}
		for _, v := range vars {
			if got, err := api.query(v); err != nil || len(got) == 0 {
				empty = append(empty, fmt.Sprintf("variable: %s: %v", v, err))
			}
		}
		if len(empty) == 0 {
			break
		}
		if time.Now().After(deadline) {
			sort.Strings(empty)
			t.Fatalf("dashboard queries without data:\n%s", strings.Join(empty, "\n"))
		}
	}
	t.Logf("healthy, %d dashboard queries with data, after %v", len(exprs), time.Since(start).Round(time.Millisecond))
	if as, err := api.alerts(); err != nil || len(as) != 0 {
		t.Fatalf("alerts on a healthy cluster: %v %v", as, err)
	}

	// One link of two cut on node 3: link down seen from every node, no
	// node missing, quorum kept.
	must(t, cl.Node(3).CutLink(1))
	api.waitFiring(t, "node 3's link 1 cut", 30*time.Second, []map[string]string{{"alertname": "CorosyncQuorumLost"}, {"alertname": "CorosyncNodeMissing"}, {"alertname": "CorosyncDown"}},
		map[string]string{"alertname": "CorosyncLinkDown", "instance": "node1", "node_id": "3", "number": "1"},
		map[string]string{"alertname": "CorosyncLinkDown", "instance": "node2", "node_id": "3", "number": "1"},
		map[string]string{"alertname": "CorosyncLinkDown", "instance": "node3", "node_id": "1", "number": "1"})
	must(t, cl.Node(3).RestoreLink(1))

	// Node 3 killed: corosync down there, node 3 missing from the others;
	// the device keeps nodes 1 and 2 quorate.
	must(t, cl.Node(3).Kill())
	api.waitFiring(t, "node 3 killed", 30*time.Second, []map[string]string{{"alertname": "CorosyncQuorumLost"}},
		map[string]string{"alertname": "CorosyncDown", "instance": "node3"},
		map[string]string{"alertname": "CorosyncNodeMissing", "instance": "node1", "node_id": "3", "state": "dead"},
		map[string]string{"alertname": "CorosyncNodeMissing", "instance": "node2", "node_id": "3", "state": "dead"})
	must(t, cl.Node(3).Start())
	must(t, cl.WaitFormed(60*time.Second))
	q.StopQdevice(3) // it died with its corosync
	must(t, q.StartQdevice(cl.Node(3)))
	api.waitSeries(t, `corosync_qdevice{property="cast_vote"} == 1`, 3, 30*time.Second)

	// Node 1 cut off: it loses quorum and misses the others; they miss it
	// and keep quorum (the device votes for them).
	must(t, cl.Node(1).Unplug())
	api.waitFiring(t, "node 1 partitioned", 30*time.Second,
		[]map[string]string{{"alertname": "CorosyncQuorumLost", "instance": "node2"}, {"alertname": "CorosyncQuorumLost", "instance": "node3"}},
		map[string]string{"alertname": "CorosyncQuorumLost", "instance": "node1"},
		map[string]string{"alertname": "CorosyncNodeMissing", "instance": "node1", "node_id": "2"},
		map[string]string{"alertname": "CorosyncNodeMissing", "instance": "node2", "node_id": "1"})
	must(t, cl.Heal())
	must(t, cl.WaitFormed(60*time.Second))

	// Node 2's exporter stopped: its scrape fails.
	exporters[2].stop()
	api.waitFiring(t, "node 2's exporter stopped", 30*time.Second, nil,
		map[string]string{"alertname": "CorosyncExporterDown", "instance": "node2"})

	// qnetd killed: the device stops voting.
	must(t, q.Kill())
	api.waitFiring(t, "qnetd killed", 30*time.Second, nil,
		map[string]string{"alertname": "CorosyncQdeviceLost", "instance": "node1", "property": "cast_vote"})
	t.Logf("wall time %v", time.Since(start).Round(time.Millisecond))
}
