package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corosync-go/corosync/internal/corotest"
)

// toolState is what corosync-quorumtool -p and corosync-cfgtool -s print on
// one node, parsed.
type toolState struct {
	quorate  bool
	votes    map[string]float64 // expected_votes, highest_expected, total_votes, quorum
	members  map[string]float64 // node id -> votes
	names    map[string]string  // node id -> name
	local    string
	links    map[string]float64 // "node/link" -> 1 connected or localhost, 0 disconnected
	linkErrs float64
}

var (
	reVote   = regexp.MustCompile(`(?m)^(Expected votes|Highest expected|Total votes|Quorum):\s+(\d+)`)
	reMember = regexp.MustCompile(`(?m)^\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)(\s+\(local\))?\s*$`)
	reLink   = regexp.MustCompile(`^LINK ID (\d+)`)
	reStatus = regexp.MustCompile(`nodeid:\s+(\d+):\s+(\w+)`)
)

func readTools(t *testing.T, n *corotest.Node) toolState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q, _ := n.Exec(ctx, "corosync-quorumtool", "-p")
	c, _ := n.Exec(ctx, "corosync-cfgtool", "-s")
	st := toolState{votes: map[string]float64{}, members: map[string]float64{}, names: map[string]string{}, links: map[string]float64{}}
	st.quorate = strings.Contains(string(q), "Quorate:          Yes")
	names := map[string]string{"Expected votes": "expected_votes", "Highest expected": "highest_expected", "Total votes": "total_votes", "Quorum": "quorum"}
	for _, m := range reVote.FindAllStringSubmatch(string(q), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		st.votes[names[m[1]]] = v
	}
	if i := strings.Index(string(q), "Membership information"); i >= 0 {
		for _, m := range reMember.FindAllStringSubmatch(string(q)[i:], -1) {
			v, _ := strconv.ParseFloat(m[2], 64)
			st.members[m[1]] = v
			st.names[m[1]] = m[4]
			if m[5] != "" {
				st.local = m[1]
			}
		}
	}
	link := ""
	for _, line := range strings.Split(string(c), "\n") {
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

// compare checks the scraped compatible metrics against the tools' output
// on the same node at the same time.
func compare(t *testing.T, step string, got map[string][]series, want toolState) error {
	if v, ok := find(got, "ha_cluster_corosync_quorate", nil); !ok || v != b2f(want.quorate) {
		return fmt.Errorf("%s: quorate %v (present %v), quorumtool %v", step, v, ok, want.quorate)
	}
	for typ, w := range want.votes {
		if v, ok := find(got, "ha_cluster_corosync_quorum_votes", map[string]string{"type": typ}); !ok || v != w {
			return fmt.Errorf("%s: quorum_votes{type=%s} %v, quorumtool %v", step, typ, v, w)
		}
	}
	if len(got["ha_cluster_corosync_member_votes"]) != len(want.members) {
		return fmt.Errorf("%s: %d member_votes rows, quorumtool lists %d: %v", step, len(got["ha_cluster_corosync_member_votes"]), len(want.members), want.members)
	}
	for id, w := range want.members {
		local := strconv.FormatBool(id == want.local)
		if v, ok := find(got, "ha_cluster_corosync_member_votes", map[string]string{"node_id": id, "local": local, "node": want.names[id]}); !ok || v != w {
			return fmt.Errorf("%s: member_votes{node_id=%s,node=%s,local=%s} %v (present %v), quorumtool %v", step, id, want.names[id], local, v, ok, w)
		}
	}
	for key, w := range want.links {
		node, link, _ := strings.Cut(key, "/")
		if v, ok := find(got, "ha_cluster_corosync_rings", map[string]string{"node_id": node, "number": link}); !ok || v != w {
			return fmt.Errorf("%s: rings{node_id=%s,number=%s} %v (present %v), cfgtool %v", step, node, link, v, ok, w)
		}
	}
	if v, _ := find(got, "ha_cluster_corosync_ring_errors", nil); v != want.linkErrs {
		return fmt.Errorf("%s: ring_errors %v, cfgtool shows %v disconnected", step, v, want.linkErrs)
	}
	return nil
}

// settle scrapes until the scrape agrees with the tools (both see the same
// daemon, but a membership change reaches them a moment apart), or fails.
func settle(t *testing.T, coll *Collector, n *corotest.Node, step string) map[string][]series {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		want := readTools(t, n)
		checkParsed(t, want)
		got := gather(t, coll)
		err := compare(t, step, got, want)
		if err == nil {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestRealCluster(t *testing.T) {
	cl := corotest.Start(t, 3, corotest.Options{})
	n := cl.Node(1)
	coll := NewCollector(n.Dialer(), 2*time.Second, nil)
	defer coll.Close()
	waitUp(t, coll, 1)

	got := settle(t, coll, n, "all up")
	if v, _ := find(got, "ha_cluster_corosync_ring_errors", nil); v != 0 {
		t.Fatalf("healthy cluster reports %v ring errors", v)
	}
	// knet statistics of the links to the other nodes, from the stats map.
	for _, id := range []string{"2", "3"} {
		want := map[string]string{"node_id": id, "node": "node" + id, "link": "0"}
		if v, ok := find(got, "corosync_knet_link_latency_average_seconds", want); !ok || v <= 0 || v > 1 {
			t.Fatalf("latency of link 0 to node %s: %v (present %v)", id, v, ok)
		}
		if v, ok := find(got, "corosync_knet_link_rx_data_packets_total", want); !ok || v <= 0 {
			t.Fatalf("rx packets of link 0 to node %s: %v (present %v)", id, v, ok)
		}
	}
	if v, ok := find(got, "corosync_ipc_connections", nil); !ok || v < 5 {
		t.Fatalf("ipc connections %v (present %v); the exporter alone holds 5", v, ok)
	}
	ctx := context.Background()
	if err := cl.Node(3).Kill(); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitMembers(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	got = settle(t, coll, n, "node 3 killed")
	if v, _ := find(got, "ha_cluster_corosync_ring_errors", nil); v != 1 {
		t.Fatalf("node 3 dead: ring_errors %v, want 1", v)
	}
	if v, _ := find(got, "corosync_node_state", map[string]string{"node_id": "3", "state": "dead"}); v != 1 {
		t.Fatalf("node 3 dead: node_state %v", got["corosync_node_state"])
	}
	must(t, cl.Node(3).Start())
	must(t, cl.WaitFormed(60*time.Second))
	settle(t, coll, n, "node 3 back")

	must(t, n.Unplug())
	if err := n.WaitMembers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	got = settle(t, coll, n, "node 1 partitioned")
	if v, _ := find(got, "ha_cluster_corosync_quorate", nil); v != 0 {
		t.Fatal("a partition of one is quorate")
	}
	if v, _ := find(got, "ha_cluster_corosync_ring_errors", nil); v != 2 {
		t.Fatalf("cut link: ring_errors %v, want 2", v)
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
}

// The tool parsers must see what they compare; an empty parse would make
// the comparison vacuous.
func checkParsed(t *testing.T, st toolState) {
	t.Helper()
	if len(st.votes) != 4 || len(st.members) == 0 || len(st.links) == 0 || st.local == "" {
		t.Fatalf("tool output not parsed: %+v", st)
	}
}
