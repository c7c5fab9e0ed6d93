package main

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/corosync-go/corosync/cfg"
)

// ringSeries runs ringMetrics and returns its samples rendered.
func ringSeries(t *testing.T, rings []cfg.RingInterface, local uint32, ringID string, nodes map[uint32]nodelistNode) ([]string, map[uint32][]int, error) {
	t.Helper()
	ch := make(chan prometheus.Metric, 100)
	name := func(id uint32) string {
		if n := nodes[id].name; n != "" {
			return n
		}
		return strconv.FormatUint(uint64(id), 10)
	}
	links, err := ringMetrics(ch, rings, local, ringID, nodes, name)
	close(ch)
	names := map[string][]series{}
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		s := series{labels: map[string]string{}, value: value(&pb)}
		for _, l := range pb.Label {
			s.labels[l.GetName()] = l.GetValue()
		}
		fq := m.Desc().String()
		names[fq] = append(names[fq], s)
	}
	var lines []string
	for fq, ss := range names {
		for _, l := range render(ss) {
			lines = append(lines, fqName(fq)+l)
		}
	}
	slices.Sort(lines)
	return lines, links, err
}

// fqName is the metric name in a Desc's String.
func fqName(desc string) string {
	const p = `fqName: "`
	i := strings.Index(desc, p) + len(p)
	return desc[i : i+strings.IndexByte(desc[i:], '"')]
}

// corosync 2.x, two redundant rings with ring 0 marked faulty, as
// corosync-cfgtool -s prints it there:
//
//	RING ID 0
//		id	= 10.0.0.1
//		status	= Marking ringid 0 interface 10.0.0.1 FAULTY
//	RING ID 1
//		id	= 172.16.0.1
//		status	= ring 1 active with no faults
//
// ha_cluster_exporter makes of it one series per ring, labelled with the
// local node id (quorumtool's Node ID) and quorumtool's Ring ID, 0 for the
// faulty one, and ring_errors 1. So does ringMetrics.
func TestRingMetrics2x(t *testing.T) {
	rings := []cfg.RingInterface{
		{Name: "10.0.0.1", Status: "Marking ringid 0 interface 10.0.0.1 FAULTY"},
		{Name: "172.16.0.1", Status: "ring 1 active with no faults"},
	}
	got, _, err := ringSeries(t, rings, 16777226, "16777226/44", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`ha_cluster_corosync_ring_errors{} 1`,
		`ha_cluster_corosync_rings{address="10.0.0.1",node_id="16777226",number="0",ring_id="16777226/44"} 0`,
		`ha_cluster_corosync_rings{address="172.16.0.1",node_id="16777226",number="1",ring_id="16777226/44"} 1`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

// corosync 3.0, knet: each link's status has one character per host in
// node id order of the nodelist; 'd' is a host without that link, '?' one
// knet cannot tell about.
func TestRingMetricsKnet30(t *testing.T) {
	nodes := map[uint32]nodelistNode{
		1: {name: "a", addrs: map[int]string{0: "192.0.2.1", 1: "198.51.100.1"}},
		2: {name: "b", addrs: map[int]string{0: "192.0.2.2", 1: "198.51.100.2"}},
		4: {name: "c", addrs: map[int]string{0: "192.0.2.4"}},
	}
	rings := []cfg.RingInterface{
		{Name: "0 192.0.2.1", Status: "n31"},
		{Name: "1 198.51.100.1", Status: "n?d"},
	}
	got, links, err := ringSeries(t, rings, 1, "1.10", nodes)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`corosync_link_connected{link="0",node="a",node_id="1"} 1`,
		`corosync_link_connected{link="0",node="b",node_id="2"} 1`,
		`corosync_link_connected{link="0",node="c",node_id="4"} 0`,
		`corosync_link_connected{link="1",node="a",node_id="1"} 1`,
		`corosync_link_enabled{link="0",node="a",node_id="1"} 1`,
		`corosync_link_enabled{link="0",node="b",node_id="2"} 1`,
		`corosync_link_enabled{link="0",node="c",node_id="4"} 1`,
		`corosync_link_enabled{link="1",node="a",node_id="1"} 1`,
		`ha_cluster_corosync_ring_errors{} 2`,
		`ha_cluster_corosync_rings{address="192.0.2.1",node_id="1",number="0",ring_id="1.10"} 1`,
		`ha_cluster_corosync_rings{address="192.0.2.2",node_id="2",number="0",ring_id="1.10"} 1`,
		`ha_cluster_corosync_rings{address="192.0.2.4",node_id="4",number="0",ring_id="1.10"} 0`,
		`ha_cluster_corosync_rings{address="198.51.100.1",node_id="1",number="1",ring_id="1.10"} 1`,
		`ha_cluster_corosync_rings{address="198.51.100.2",node_id="2",number="1",ring_id="1.10"} 0`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", join(got), join(want))
	}
	if !slices.Equal(links[1], []int{0, 1}) || !slices.Equal(links[2], []int{0}) || !slices.Equal(links[4], []int{0}) {
		t.Fatalf("links %v", links)
	}
	// More hosts than the nodelist has: the mapping is unknown.
	if _, _, err := ringSeries(t, []cfg.RingInterface{{Name: "0 192.0.2.1", Status: "n333"}}, 1, "1.10", nodes); err == nil {
		t.Fatal("status of 4 hosts with 3 nodes accepted")
	}
}

func join(l []string) string { return strings.Join(l, "\n") }

func TestRingLabel(t *testing.T) {
	for _, c := range []struct {
		v2   bool
		rep  uint32
		seq  uint64
		want string
	}{
		{true, 1, 12, "1/12"}, {false, 1, 12, "1.c"},
		{true, 3232235777, 8, "-1062731519/8"}, // 2.x prints the node id with %d
		{false, 3232235777, 8, "c0a80101.8"},
	} {
		if got := ringLabel(c.v2, c.rep, c.seq); got != c.want {
			t.Errorf("ringLabel(%v, %d, %d) = %q, want %q", c.v2, c.rep, c.seq, got, c.want)
		}
	}
}
