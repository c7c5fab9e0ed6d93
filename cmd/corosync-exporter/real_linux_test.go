package main

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corosync-go/corosync/internal/testkit/corotest"
)

// toolState is what corosync-quorumtool -p and corosync-cfgtool -s print on
// one node, parsed.
type toolState struct {
	quorate bool
	nodeID  string             // Node ID
	ringID  string             // Ring ID, as that release prints it
	votes   map[string]float64 // expected_votes, highest_expected, total_votes, quorum
	members map[string]float64 // node id -> votes
	names   map[string]string  // node id -> name
	local   string
	// knet (3.x): "node/link" -> 1 connected or localhost, 0 otherwise.
	links map[string]float64
	// udpu (2.x): cfgtool's RING ID entries, all of the local node.
	rings    []toolRing
	linkErrs float64
}

type toolRing struct {
	number, address string
	faulty          bool
}

var (
	reVote   = regexp.MustCompile(`(?m)^(Expected votes|Highest expected|Total votes|Quorum):\s+(\d+)`)
	reNodeID = regexp.MustCompile(`(?m)^Node ID:\s+(\d+)$`)
	reRingID = regexp.MustCompile(`(?m)^Ring ID:\s+(\S+)$`)
	reMember = regexp.MustCompile(`(?m)^\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)(\s+\(local\))?\s*$`)
	reLink   = regexp.MustCompile(`^LINK ID (\d+)`)
	// 3.1 prints "nodeid:          2:\tconnected", 3.0 "nodeid  2:\tconnected".
	reStatus = regexp.MustCompile(`nodeid:?\s+(\d+):\s+(\w+)`)
	// 2.x: "RING ID 0", "\tid\t= 192.0.2.1", "\tstatus\t= ring 0 active with no faults".
	reRing = regexp.MustCompile(`(?m)^RING ID (\d+)\n\s+id\s+= (.*)\n\s+status\s+= (.*)$`)
)

func readTools(t *testing.T, n *corotest.Node) toolState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q, _ := n.Exec(ctx, "corosync-quorumtool", "-p")
	c, _ := n.Exec(ctx, "corosync-cfgtool", "-s")
	return parseTools(string(q), string(c))
}

func parseTools(q, c string) toolState {
	st := toolState{votes: map[string]float64{}, members: map[string]float64{}, names: map[string]string{}, links: map[string]float64{}}
	st.quorate = strings.Contains(q, "Quorate:          Yes")
	if m := reNodeID.FindStringSubmatch(q); m != nil {
		st.nodeID = m[1]
	}
	if m := reRingID.FindStringSubmatch(q); m != nil {
		st.ringID = m[1]
	}
	names := map[string]string{"Expected votes": "expected_votes", "Highest expected": "highest_expected", "Total votes": "total_votes", "Quorum": "quorum"}
	for _, m := range reVote.FindAllStringSubmatch(q, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		st.votes[names[m[1]]] = v
	}
	if i := strings.Index(q, "Membership information"); i >= 0 {
		for _, m := range reMember.FindAllStringSubmatch(q[i:], -1) {
			v, _ := strconv.ParseFloat(m[2], 64)
			st.members[m[1]] = v
			st.names[m[1]] = m[4]
			if m[5] != "" {
				st.local = m[1]
			}
		}
	}
	for _, m := range reRing.FindAllStringSubmatch(c, -1) {
		r := toolRing{number: m[1], address: m[2], faulty: strings.Contains(m[3], "FAULTY")}
		if r.faulty {
			st.linkErrs++
		}
		st.rings = append(st.rings, r)
	}
	link := ""
	for _, line := range strings.Split(c, "\n") {
		if m := reLink.FindStringSubmatch(line); m != nil {
			link = m[1]
		}
		if m := reStatus.FindStringSubmatch(line); m != nil && link != "" {
			v := 0.0
			if m[2] == "connected" || m[2] == "localhost" {
				v = 1
			} else {
				st.linkErrs++
			}
			st.links[m[1]+"/"+link] = v
		}
	}
	return st
}

func sample(value float64, labels ...string) series {
	s := series{labels: map[string]string{}, value: value}
	for i := 0; i+1 < len(labels); i += 2 {
		s.labels[labels[i]] = labels[i+1]
	}
	return s
}

// compare checks the scraped compatible metrics against the tools' output
// on the same node at the same time. quorate, quorum_votes and
// member_votes are exactly the series ha_cluster_exporter makes of
// quorumtool's output; so are rings and ring_errors on corosync 2.x, made
// of cfgtool's RING ID entries. On knet (3.x), where ha_cluster_exporter
// has none, rings has one series per node and link, as cfgtool lists them.
func compare(t *testing.T, step string, got map[string][]series, want toolState) error {
	exact := func(name string, w []series) error {
		if g, w := render(got[name]), render(w); !slices.Equal(g, w) {
			return fmt.Errorf("%s: %s:\n%s\ntools say:\n%s", step, name, strings.Join(g, "\n"), strings.Join(w, "\n"))
		}
		return nil
	}
	if err := exact("ha_cluster_corosync_quorate", []series{sample(b2f(want.quorate))}); err != nil {
		return err
	}
	var votes, members []series
	for typ, v := range want.votes {
		votes = append(votes, sample(v, "type", typ))
	}
	if err := exact("ha_cluster_corosync_quorum_votes", votes); err != nil {
		return err
	}
	for id, v := range want.members {
		members = append(members, sample(v, "node_id", id, "node", want.names[id], "local", strconv.FormatBool(id == want.local)))
	}
	if err := exact("ha_cluster_corosync_member_votes", members); err != nil {
		return err
	}
	if err := exact("ha_cluster_corosync_ring_errors", []series{sample(want.linkErrs)}); err != nil {
		return err
	}
	if want.rings != nil {
		var rings []series
		for _, r := range want.rings {
			rings = append(rings, sample(b2f(!r.faulty), "ring_id", want.ringID, "node_id", want.nodeID, "number", r.number, "address", r.address))
		}
		return exact("ha_cluster_corosync_rings", rings)
	}
	if len(got["ha_cluster_corosync_rings"]) != len(want.links) {
		return fmt.Errorf("%s: %d rings series, cfgtool lists %d links: %v", step, len(got["ha_cluster_corosync_rings"]), len(want.links), want.links)
	}
	for key, w := range want.links {
		node, link, _ := strings.Cut(key, "/")
		if v, ok := find(got, "ha_cluster_corosync_rings", map[string]string{"node_id": node, "number": link, "ring_id": want.ringID}); !ok || v != w {
			return fmt.Errorf("%s: rings{node_id=%s,number=%s,ring_id=%s} %v (present %v), cfgtool %v: %v", step, node, link, want.ringID, v, ok, w, got["ha_cluster_corosync_rings"])
		}
	}
	return nil
}

// settle scrapes until the scrape agrees with the tools (both see the same
// daemon, but a membership change reaches them a moment apart), or fails.
// Each of also must hold too: knet notices a dead link a moment after
// totem's membership changed, so a step's final state is awaited.
func settle(t *testing.T, coll *Collector, n *corotest.Node, step string, also ...func(map[string][]series) error) map[string][]series {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		want := readTools(t, n)
		checkParsed(t, want)
		got := gather(t, coll)
		err := compare(t, step, got, want)
		for _, check := range also {
			if err == nil {
				err = check(got)
			}
		}
		if err == nil {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRealCluster runs a 3-node cluster of every daemon of the matrix (or
// of the one COROSYNC_GO_DAEMON names) through a node kill, its return, a
// partition and the heal; after each step the scrape equals the tools.
func TestRealCluster(t *testing.T) {
	corotest.Matrix(t, testRealCluster)
}

func testRealCluster(t *testing.T, d corotest.Daemon) {
	start := time.Now()
	cl := corotest.Start(t, 3, corotest.Options{Daemon: &d})
	n := cl.Node(1)
	coll := NewCollector(n.Dialer(), 2*time.Second, nil)
	defer coll.Close()
	waitUp(t, coll, 1)
	knet := d.Knet()
	// A dead or cut-off node is a ring error on knet (its links are down);
	// a 2.x udpu ring only turns FAULTY by the redundant ring protocol.
	errsPerNode := b2f(knet)

	got := settle(t, coll, n, "all up")
	if v, _ := find(got, "ha_cluster_corosync_ring_errors", nil); v != 0 {
		t.Fatalf("healthy cluster reports %v ring errors", v)
	}
	for _, p := range []string{"cmap", "votequorum", "cfg", "stats"} {
		if v, ok := find(got, "corosync_scrape_part_success", map[string]string{"part": p}); !ok || v != 1 {
			t.Fatalf("part %s: %v (present %v)", p, v, ok)
		}
	}
	if v, _ := find(got, "ha_cluster_scrape_success", nil); v != 1 {
		t.Fatalf("scrape_success %v", v)
	}
	// knet statistics of the links to the other nodes, from the stats map.
	for _, id := range []string{"2", "3"} {
		want := map[string]string{"node_id": id, "node": "node" + id, "link": "0"}
		v, ok := find(got, "corosync_knet_link_latency_average_seconds", want)
		if !knet {
			if ok || len(got["corosync_link_connected"]) > 0 {
				t.Fatal("knet metrics from a corosync without knet")
			}
			continue
		}
		if !ok || v <= 0 || v > 1 {
			t.Fatalf("latency of link 0 to node %s: %v (present %v)", id, v, ok)
		}
		if v, ok := find(got, "corosync_knet_link_rx_data_packets_total", want); !ok || v <= 0 {
			t.Fatalf("rx packets of link 0 to node %s: %v (present %v)", id, v, ok)
		}
	}
	// The exporter alone holds 5 IPC connections (4 on 2.x: no stats map).
	if v, ok := find(got, "corosync_ipc_connections", nil); !ok || v < 4+b2f(knet) {
		t.Fatalf("ipc connections %v (present %v)", v, ok)
	}
	ctx := context.Background()
	if err := cl.Node(3).Kill(); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitMembers(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	settle(t, coll, n, "node 3 killed", ringErrors(errsPerNode), func(got map[string][]series) error {
		if v, _ := find(got, "corosync_node_state", map[string]string{"node_id": "3", "state": "dead"}); v != 1 {
			return fmt.Errorf("node 3 dead: node_state %v", got["corosync_node_state"])
		}
		return nil
	})
	must(t, cl.Node(3).Start())
	must(t, cl.WaitFormed(60*time.Second))
	settle(t, coll, n, "node 3 back")

	must(t, n.Unplug())
	if err := n.WaitMembers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	got = settle(t, coll, n, "node 1 partitioned", ringErrors(2*errsPerNode))
	if v, _ := find(got, "ha_cluster_corosync_quorate", nil); v != 0 {
		t.Fatal("a partition of one is quorate")
	}
	must(t, cl.Heal())
	must(t, cl.WaitFormed(60*time.Second))
	got = settle(t, coll, n, "healed")
	if v, _ := find(got, "corosync_quorum_changes_total", nil); v < 2 {
		t.Fatalf("quorum_changes_total %v after losing and regaining quorum", v)
	}
	if v, _ := find(got, "corosync_membership_changes_total", nil); v < 4 {
		t.Fatalf("membership_changes_total %v after four membership changes", v)
	}
	t.Logf("%s: %v", d, time.Since(start).Round(time.Millisecond))
}

// ringErrors is a settle check: ring_errors is want.
func ringErrors(want float64) func(map[string][]series) error {
	return func(got map[string][]series) error {
		if v, _ := find(got, "ha_cluster_corosync_ring_errors", nil); v != want {
			return fmt.Errorf("ring_errors %v, want %v", v, want)
		}
		return nil
	}
}

// The tool parsers must see what they compare; an empty parse would make
// the comparison vacuous.
func checkParsed(t *testing.T, st toolState) {
	t.Helper()
	if len(st.votes) != 4 || len(st.members) == 0 || len(st.links)+len(st.rings) == 0 || st.local == "" || st.nodeID == "" || st.ringID == "" {
		t.Fatalf("tool output not parsed: %+v", st)
	}
}
