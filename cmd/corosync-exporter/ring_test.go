package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/corosync-go/corosync/status"
)

// ringSeries runs links on s and returns its samples rendered.
func ringSeries(t *testing.T, s status.Snapshot, ringID string) []string {
	t.Helper()
	ch := make(chan prometheus.Metric, 100)
	links(ch, s, ringID)
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
	return lines
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
// faulty one, and ring_errors 1. So does links, from the snapshot package
// status reads of it (its TestRingStatus2x).
func TestRingMetrics2x(t *testing.T) {
	s := status.Snapshot{LocalNodeID: 16777226, Links: status.LinksFromRings, Rings: []status.Ring{
		{Number: 0, Address: "10.0.0.1", Status: "Marking ringid 0 interface 10.0.0.1 FAULTY", Faulty: true},
		{Number: 1, Address: "172.16.0.1", Status: "ring 1 active with no faults"},
	}}
	got := ringSeries(t, s, "16777226/44")
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
// knet cannot tell about. The snapshot is what package status reads of
// the ring status "0 192.0.2.1" = "n31", "1 198.51.100.1" = "n?d" (its
// TestRingStatusKnet30).
func TestRingMetricsKnet30(t *testing.T) {
	s := status.Snapshot{LocalNodeID: 1, Links: status.LinksFromRingStatus, Nodes: []status.Node{
		{ID: 1, Name: "a", NameFrom: status.NameNodelist, Local: true, HasLinks: true, Links: []status.Link{
			{Number: 0, Enabled: true, Connected: true, Src: "192.0.2.1", Dst: "192.0.2.1"},
			{Number: 1, Enabled: true, Connected: true, Src: "198.51.100.1", Dst: "198.51.100.1"}}},
		{ID: 2, Name: "b", NameFrom: status.NameNodelist, HasLinks: true, Links: []status.Link{
			{Number: 0, Enabled: true, Connected: true, Src: "192.0.2.1", Dst: "192.0.2.2"},
			{Number: 1, Unknown: true, Src: "198.51.100.1", Dst: "198.51.100.2"}}},
		{ID: 4, Name: "c", NameFrom: status.NameNodelist, HasLinks: true, Links: []status.Link{
			{Number: 0, Enabled: true, Src: "192.0.2.1", Dst: "192.0.2.4"}}},
	}}
	got := ringSeries(t, s, "1.10")
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
}

func join(l []string) string { return strings.Join(l, "\n") }
