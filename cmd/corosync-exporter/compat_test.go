package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// haClusterExporterMetrics is ClusterLabs ha_cluster_exporter's corosync
// metric list, taken from its source (collector/corosync/corosync.go and
// collector/instrumented_collector.go at a50025a): name, variable labels,
// const labels.
var haClusterExporterMetrics = []struct {
	name   string
	labels []string
	consts string
}{
	{"ha_cluster_corosync_quorate", nil, ""},
	{"ha_cluster_corosync_rings", []string{"ring_id", "node_id", "number", "address"}, ""},
	{"ha_cluster_corosync_ring_errors", nil, ""},
	{"ha_cluster_corosync_member_votes", []string{"node_id", "node", "local"}, ""},
	{"ha_cluster_corosync_quorum_votes", []string{"type"}, ""},
	{"ha_cluster_scrape_duration_seconds", nil, `collector="corosync"`},
	{"ha_cluster_scrape_success", nil, `collector="corosync"`},
}

// Every ha_cluster_exporter corosync metric is described with the same
// name, variable labels (in the same order) and constant labels, so
// dashboards and alerts written for it keep working.
func TestCompatibleMetricNames(t *testing.T) {
	ch := make(chan *prometheus.Desc, 100)
	(&Collector{}).Describe(ch)
	close(ch)
	var descs []string
	for d := range ch {
		descs = append(descs, d.String())
	}
	for _, m := range haClusterExporterMetrics {
		i := slices.IndexFunc(descs, func(s string) bool { return strings.Contains(s, `fqName: "`+m.name+`"`) })
		if i < 0 {
			t.Errorf("%s is not exported", m.name)
			continue
		}
		want := "variableLabels: {" + strings.Join(m.labels, ",") + "}"
		if !strings.Contains(descs[i], want) {
			t.Errorf("%s: %s, want %s", m.name, descs[i], want)
		}
		if m.consts != "" && !strings.Contains(descs[i], m.consts) {
			t.Errorf("%s: %s, want constant labels %s", m.name, descs[i], m.consts)
		}
	}
}
