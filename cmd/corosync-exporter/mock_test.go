package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/transport"
)

// mockUp starts a collector on node 1 of cl and waits until it reports up.
func mockUp(t *testing.T, cl *mock.Cluster) *Collector {
	t.Helper()
	coll := NewCollector(cl.Node(1), time.Second, nil)
	t.Cleanup(coll.Close)
	waitUp(t, coll, 1)
	return coll
}

// compare checks the named metrics of coll against the exposition text,
// retrying briefly: mock events reach the collector asynchronously.
func compareMetrics(t *testing.T, coll *Collector, step, want string, names ...string) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err = testutil.CollectAndCompare(coll, strings.NewReader(want), names...); err == nil {
			return
		}
	}
	t.Fatalf("%s: %v", step, err)
}

const compatHelp = `# HELP ha_cluster_corosync_quorate Whether or not the cluster is quorate
# TYPE ha_cluster_corosync_quorate gauge
# HELP ha_cluster_corosync_quorum_votes Cluster quorum votes; one line per type
# TYPE ha_cluster_corosync_quorum_votes gauge
# HELP ha_cluster_corosync_member_votes How many votes each member node has contributed with to the current quorum
# TYPE ha_cluster_corosync_member_votes gauge
# HELP ha_cluster_corosync_rings The status of each Corosync ring; 1 means healthy, 0 means faulty.
# TYPE ha_cluster_corosync_rings gauge
# HELP ha_cluster_corosync_ring_errors The total number of faulty corosync rings
# TYPE ha_cluster_corosync_ring_errors gauge
`

var compatNames = []string{"ha_cluster_corosync_quorate", "ha_cluster_corosync_quorum_votes", "ha_cluster_corosync_member_votes",
	"ha_cluster_corosync_rings", "ha_cluster_corosync_ring_errors"}

// Every compatible metric against the mock cluster, across a node loss, a
// partition of the local node, the heal, and the quorum device.
func TestMockCompatibleMetrics(t *testing.T) {
	cl := mock.NewCluster(3, mock.WithQdevice(1, 0))
	coll := mockUp(t, cl)
	compareMetrics(t, coll, "all up", compatHelp+`
ha_cluster_corosync_quorate 1
ha_cluster_corosync_quorum_votes{type="expected_votes"} 4
ha_cluster_corosync_quorum_votes{type="highest_expected"} 4
ha_cluster_corosync_quorum_votes{type="quorum"} 3
ha_cluster_corosync_quorum_votes{type="total_votes"} 3
ha_cluster_corosync_member_votes{local="true",node="node1",node_id="1"} 1
ha_cluster_corosync_member_votes{local="false",node="node2",node_id="2"} 1
ha_cluster_corosync_member_votes{local="false",node="node3",node_id="3"} 1
ha_cluster_corosync_rings{address="192.0.2.1",node_id="1",number="0",ring_id="1.4"} 1
ha_cluster_corosync_rings{address="192.0.2.2",node_id="2",number="0",ring_id="1.4"} 1
ha_cluster_corosync_rings{address="192.0.2.3",node_id="3",number="0",ring_id="1.4"} 1
ha_cluster_corosync_ring_errors 0
`, compatNames...)

	// The quorum device casts its vote: a member row for it, as quorumtool -p.
	if err := cl.QdeviceVote(1, true); err != nil {
		t.Fatal(err)
	}
	compareMetrics(t, coll, "qdevice voting", compatHelp+`
ha_cluster_corosync_quorate 1
ha_cluster_corosync_quorum_votes{type="expected_votes"} 4
ha_cluster_corosync_quorum_votes{type="highest_expected"} 4
ha_cluster_corosync_quorum_votes{type="quorum"} 3
ha_cluster_corosync_quorum_votes{type="total_votes"} 4
ha_cluster_corosync_member_votes{local="true",node="node1",node_id="1"} 1
ha_cluster_corosync_member_votes{local="false",node="node2",node_id="2"} 1
ha_cluster_corosync_member_votes{local="false",node="node3",node_id="3"} 1
ha_cluster_corosync_member_votes{local="false",node="Qdevice",node_id="0"} 1
ha_cluster_corosync_rings{address="192.0.2.1",node_id="1",number="0",ring_id="1.4"} 1
ha_cluster_corosync_rings{address="192.0.2.2",node_id="2",number="0",ring_id="1.4"} 1
ha_cluster_corosync_rings{address="192.0.2.3",node_id="3",number="0",ring_id="1.4"} 1
ha_cluster_corosync_ring_errors 0
`, compatNames...)
	compareMetrics(t, coll, "qdevice state", `
# HELP corosync_qdevice The quorum device as this node sees it: registered, alive, cast_vote, master_wins (1 or 0).
# TYPE corosync_qdevice gauge
corosync_qdevice{name="Qdevice",property="alive"} 1
corosync_qdevice{name="Qdevice",property="cast_vote"} 1
corosync_qdevice{name="Qdevice",property="master_wins"} 0
corosync_qdevice{name="Qdevice",property="registered"} 1
`, "corosync_qdevice")

	cl.Kill(3)
	compareMetrics(t, coll, "node 3 killed", `
# HELP ha_cluster_corosync_ring_errors The total number of faulty corosync rings
# TYPE ha_cluster_corosync_ring_errors gauge
ha_cluster_corosync_ring_errors 1
# HELP corosync_node_state State of each node the daemon knows: 1 for the state it is in.
# TYPE corosync_node_state gauge
corosync_node_state{node="node1",node_id="1",state="member"} 1
corosync_node_state{node="node2",node_id="2",state="member"} 1
corosync_node_state{node="node3",node_id="3",state="dead"} 1
# HELP corosync_link_connected Whether knet link number link to node_id is connected, as cfg node status reports it.
# TYPE corosync_link_connected gauge
corosync_link_connected{link="0",node="node1",node_id="1"} 1
corosync_link_connected{link="0",node="node2",node_id="2"} 1
corosync_link_connected{link="0",node="node3",node_id="3"} 0
`, "ha_cluster_corosync_ring_errors", "corosync_node_state", "corosync_link_connected")
	if v := testutil.ToFloat64(prometheusUp(coll)); v != 1 {
		t.Fatalf("up %v", v)
	}
}

// corosync going away and coming back: up 0 and every other corosync metric
// withdrawn while it is away, the values back after.
func TestMockDaemonAwayAndBack(t *testing.T) {
	start := time.Now()
	cl := mock.NewCluster(3)
	coll := mockUp(t, cl)
	before, err := testutil.GatherAndCount(registryOf(coll))
	if err != nil {
		t.Fatal(err)
	}
	// No change seen yet: no last change time (not 0, the Unix epoch).
	if _, ok := find(gather(t, coll), "corosync_last_change_timestamp_seconds", nil); ok {
		t.Fatal("corosync_last_change_timestamp_seconds before any change")
	}
	cl.Stop(1)
	got := waitUp(t, coll, 0)
	for name := range got {
		if name != "corosync_up" && !strings.HasPrefix(name, "ha_cluster_scrape_") {
			t.Fatalf("%s exported while corosync is away", name)
		}
	}
	cl.Start(1)
	waitUp(t, coll, 1)
	compareMetrics(t, coll, "back", compatHelp+`
ha_cluster_corosync_quorate 1
ha_cluster_corosync_quorum_votes{type="expected_votes"} 3
ha_cluster_corosync_quorum_votes{type="highest_expected"} 3
ha_cluster_corosync_quorum_votes{type="quorum"} 2
ha_cluster_corosync_quorum_votes{type="total_votes"} 3
ha_cluster_corosync_member_votes{local="true",node="node1",node_id="1"} 1
ha_cluster_corosync_member_votes{local="false",node="node2",node_id="2"} 1
ha_cluster_corosync_member_votes{local="false",node="node3",node_id="3"} 1
ha_cluster_corosync_rings{address="192.0.2.1",node_id="1",number="0",ring_id="1.c"} 1
ha_cluster_corosync_rings{address="192.0.2.2",node_id="2",number="0",ring_id="1.c"} 1
ha_cluster_corosync_rings{address="192.0.2.3",node_id="3",number="0",ring_id="1.c"} 1
ha_cluster_corosync_ring_errors 0
`, compatNames...)
	// The same series, and corosync_last_change_timestamp_seconds now that
	// a change (the restart's new ring) is known.
	// Every service's connection comes back on its own: under load the
	// last may follow corosync_up by a moment.
	deadline := time.Now().Add(10 * time.Second)
	for {
		after, err := testutil.GatherAndCount(registryOf(coll))
		if err == nil && after == before+1 {
			break
		}
		if err != nil || after > before+1 || time.Now().After(deadline) {
			t.Fatalf("%d series after the restart, %d before (%v)", after, before, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v, ok := find(gather(t, coll), "corosync_last_change_timestamp_seconds", nil); !ok || v < float64(start.Unix()) {
		t.Fatalf("last change %v (present %v) after a change", v, ok)
	}
	if v, _ := find(gather(t, coll), "corosync_membership_changes_total", nil); v != 1 {
		t.Fatalf("membership changes %v after node 1's daemon restarted (one new ring seen from node 1), want 1", v)
	}
}

// registryOf registers coll in a fresh registry.
func registryOf(coll *Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(coll)
	return reg
}

// prometheusUp is a collector of coll's corosync_up alone.
func prometheusUp(coll *Collector) prometheus.Collector {
	return upOnly{coll}
}

type upOnly struct{ c *Collector }

func (u upOnly) Describe(ch chan<- *prometheus.Desc) { ch <- descUp }
func (u upOnly) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric, 1000)
	u.c.Collect(all)
	close(all)
	for m := range all {
		if m.Desc() == descUp {
			ch <- m
		}
	}
}

// Every metric the collector describes is exported by a scrape of a mock
// cluster with a voting quorum device after a membership change, and the
// scrape is pedantically
// consistent (testutil.CollectAndLint finds no problem).
func TestMockEveryMetric(t *testing.T) {
	cl := mock.NewCluster(3, mock.WithQdevice(1, 0))
	coll := mockUp(t, cl)
	if err := cl.QdeviceVote(1, true); err != nil {
		t.Fatal(err)
	}
	// A membership change, for corosync_last_change_timestamp_seconds.
	cl.Kill(3)
	ch := make(chan *prometheus.Desc, 100)
	coll.Describe(ch)
	close(ch)
	var names []string
	for d := range ch {
		s := d.String()
		i := strings.Index(s, `fqName: "`) + len(`fqName: "`)
		names = append(names, s[i:i+strings.IndexByte(s[i:], '"')])
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := gather(t, coll)
		var missing []string
		for _, n := range names {
			if len(got[n]) == 0 {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not exported against the mock: %v", missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
	problems, err := testutil.CollectAndLint(coll)
	if err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}

// Against daemons of older release lines (the mock answers the release
// probe as corosync 3.0 or 2.4 would): what they do not offer is not
// asked for, nor retried, and does not fail the scrape. On 3.0 (no node
// status) the knet rings come from the old ring status and equal 3.1's.
// The mock's ring status stays 3.1.7's knet form under 2.4 too, so its
// rings are per node there; the real 2.x form (one series per local ring)
// is TestRingMetrics's and TestRealCluster's.
func TestMockOlderDaemons(t *testing.T) {
	for _, v := range []corosync.Version{corosync.Version3_0, corosync.Version2_4} {
		t.Run(v.String(), func(t *testing.T) {
			cl := mock.NewCluster(3, mock.WithDaemonVersion(v))
			coll := mockUp(t, cl)
			got := gather(t, coll)
			if v, _ := find(got, "ha_cluster_scrape_success", nil); v != 1 {
				t.Fatalf("scrape_success %v: %v", v, got["corosync_scrape_part_success"])
			}
			_, withStats := find(got, "corosync_knet_link_rx_data_packets_total", nil)
			if withStats != (v == corosync.Version3_0) {
				t.Fatalf("knet statistics present %v on %v", withStats, v)
			}
			if len(got["corosync_node_reachable"]) != 0 || len(got["corosync_link_mtu_bytes"]) != 0 {
				t.Fatal("node status metrics from a daemon without node status")
			}
			// 2.x's quorumtool prints ring ids in decimal and names nodes
			// by their ring0_addr.
			ring, name := "1.4", "node"
			if v == corosync.Version2_4 {
				ring, name = "1/4", "192.0.2."
			}
			compareMetrics(t, coll, "all up", compatHelp+`
ha_cluster_corosync_quorate 1
ha_cluster_corosync_quorum_votes{type="expected_votes"} 3
ha_cluster_corosync_quorum_votes{type="highest_expected"} 3
ha_cluster_corosync_quorum_votes{type="quorum"} 2
ha_cluster_corosync_quorum_votes{type="total_votes"} 3
ha_cluster_corosync_member_votes{local="true",node="`+name+`1",node_id="1"} 1
ha_cluster_corosync_member_votes{local="false",node="`+name+`2",node_id="2"} 1
ha_cluster_corosync_member_votes{local="false",node="`+name+`3",node_id="3"} 1
ha_cluster_corosync_rings{address="192.0.2.1",node_id="1",number="0",ring_id="`+ring+`"} 1
ha_cluster_corosync_rings{address="192.0.2.2",node_id="2",number="0",ring_id="`+ring+`"} 1
ha_cluster_corosync_rings{address="192.0.2.3",node_id="3",number="0",ring_id="`+ring+`"} 1
ha_cluster_corosync_ring_errors 0
`, compatNames...)
		})
	}
}

// switchDialer dials whichever mock node it was last set to.
type switchDialer struct {
	mu sync.Mutex
	n  *mock.Node
}

func (s *switchDialer) set(n *mock.Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n = n
}

func (s *switchDialer) Dial(ctx context.Context, service string) (transport.Conn, error) {
	s.mu.Lock()
	n := s.n
	s.mu.Unlock()
	return n.Dial(ctx, service)
}

// A corosync 2.4 replaced by a 3.1 under a running exporter (an upgrade):
// the stats map, which 2.4 lacked, is dialed once the daemon offers it,
// and its knet statistics appear.
func TestMockDaemonUpgraded(t *testing.T) {
	old, upgraded := mock.NewCluster(3, mock.WithDaemonVersion(corosync.Version2_4)), mock.NewCluster(3)
	d := &switchDialer{n: old.Node(1)}
	coll := NewCollector(d, time.Second, nil)
	t.Cleanup(coll.Close)
	got := waitUp(t, coll, 1)
	if _, ok := find(got, "corosync_knet_link_rx_data_packets_total", nil); ok {
		t.Fatal("knet statistics from corosync 2.4")
	}
	d.set(upgraded.Node(1))
	old.Stop(1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := gather(t, coll)
		_, stats := find(got, "corosync_knet_link_rx_data_packets_total", nil)
		ring, _ := find(got, "ha_cluster_corosync_rings", map[string]string{"ring_id": "1.4", "node_id": "2"})
		if stats && ring == 1 {
			if v, _ := find(got, "ha_cluster_scrape_success", nil); v != 1 {
				t.Fatalf("scrape_success %v after the upgrade: %v", v, got["corosync_scrape_part_success"])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no knet statistics or 3.x rings after the upgrade: %v %v", got["corosync_up"], got["ha_cluster_corosync_rings"])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
