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

// theirMemberVotes returns the ha_cluster_corosync_member_votes series
// ha_cluster_exporter makes of `corosync-quorumtool -p` output q, by the
// rules of its parser (collector/corosync/parser.go:210-255 at a50025a,
// read, not copied): the lines after the "Nodeid Votes Qdevice Name"
// header; on each, the node id and votes, then an optional qdevice column
// of word characters and commas taken greedily whenever a name can follow
// it, then the name, then "(local)" (corosync.go:109-117 makes the
// series: node_id, node, local "true"/"false", value the votes). On the
// quorum device's line of a device that does not vote here, "0 0 Qdevice
// (votes 1)", those rules take "Qdevice" for the qdevice column and
// "(votes" for the name.
func theirMemberVotes(t *testing.T, q string) []series {
	t.Helper()
	i := regexp.MustCompile(`(?m)^\s*Nodeid\s+Votes\s+Qdevice\s+Name\n`).FindStringIndex(q)
	if i == nil {
		t.Fatalf("no membership header in quorumtool output:\n%s", q)
	}
	qcol := regexp.MustCompile(`^(\w,?)+$`)
	var out []series
	for _, line := range strings.Split(q[i[1]:], "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		if _, err := strconv.ParseUint(f[1], 10, 64); err != nil {
			continue
		}
		rest := f[2:]
		if len(rest) >= 2 && qcol.MatchString(rest[0]) {
			rest = rest[1:]
		}
		local := len(rest) >= 2 && rest[1] == "(local)"
		v, _ := strconv.ParseFloat(f[1], 64)
		out = append(out, sample(v, "node_id", f[0], "node", rest[0], "local", strconv.FormatBool(local)))
	}
	return out
}

// TestRealQdevice: with a real quorum device (corosync-qnetd, and
// corosync-qdevice on both nodes of a 2-node cluster), member_votes has
// the device's row exactly as ha_cluster_exporter makes it of
// quorumtool's "0 1 Qdevice" line (its test/corosync.metrics has the same
// row: {local="false",node="Qdevice",node_id="0"} 1), and every other row
// equal to theirs. With qnetd killed the device stops voting and
// quorumtool prints "0 0 Qdevice (votes 1)": theirs then misreads the name
// as "(votes"; ours keeps node="Qdevice" at 0.
func TestRealQdevice(t *testing.T) {
	cl := corotest.Start(t, 2, corotest.Options{Votequorum: corotest.Votequorum{Device: &corotest.Device{
		Votes: 1, Net: &corotest.DeviceNet{Host: corotest.QnetdAddr}}}})
	q := corotest.StartQnetd(t, cl)
	ctx := context.Background()
	must(t, q.WaitReady(ctx))
	for _, n := range cl.Nodes {
		must(t, q.StartQdevice(n))
	}
	n := cl.Node(1)
	coll := NewCollector(n.Dialer(), 2*time.Second, nil)
	defer coll.Close()
	waitUp(t, coll, 1)

	check := func(step, wantTool string, fix func([]series) []series) {
		t.Helper()
		var last string
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			out, _ := n.Exec(ctx, "corosync-quorumtool", "-p")
			if !strings.Contains(string(out), wantTool) {
				last = "quorumtool:\n" + string(out)
				continue
			}
			want := fix(theirMemberVotes(t, string(out)))
			got := gather(t, coll)["ha_cluster_corosync_member_votes"]
			if g, w := render(got), render(want); !slices.Equal(g, w) {
				last = fmt.Sprintf("member_votes:\n%s\ntheirs of quorumtool:\n%s\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"), out)
				continue
			}
			return
		}
		t.Fatalf("%s: %s\n%s", step, last, q.Log())
	}
	same := func(s []series) []series { return s }
	check("device voting", "         0          1            Qdevice\n", same)
	got := gather(t, coll)
	if v, ok := find(got, "ha_cluster_corosync_member_votes", map[string]string{"node_id": "0", "node": "Qdevice", "local": "false"}); !ok || v != 1 {
		t.Fatalf("Qdevice row %v (present %v): %v", v, ok, got["ha_cluster_corosync_member_votes"])
	}
	if v, _ := find(got, "ha_cluster_corosync_quorum_votes", map[string]string{"type": "total_votes"}); v != 3 {
		t.Fatalf("total_votes %v with the device voting", v)
	}

	must(t, q.Kill())
	check("qnetd killed", "Qdevice (votes 1)", func(s []series) []series {
		for i := range s {
			if s[i].labels["node_id"] == "0" {
				if s[i].labels["node"] != "(votes" {
					t.Fatalf("their parser's reading of the non-voting device line changed: %v", s[i])
				}
				s[i].labels["node"] = "Qdevice"
			}
		}
		return s
	})
	if v, ok := find(gather(t, coll), "ha_cluster_corosync_member_votes", map[string]string{"node_id": "0", "node": "Qdevice"}); !ok || v != 0 {
		t.Fatalf("non-voting Qdevice row %v (present %v)", v, ok)
	}
}

// TestRealTwoLinks: on knet with two links per node, rings has one series
// per node and link (number the link, address the node's address on that
// link), as corosync-cfgtool -s lists them; cutting one link of node 3
// turns exactly that series to 0 (ring_errors 1) while the membership and
// quorum stay whole, and restoring it clears the error.
func TestRealTwoLinks(t *testing.T) {
	cl := corotest.Start(t, 3, corotest.Options{Links: 2})
	n := cl.Node(1)
	coll := NewCollector(n.Dialer(), 2*time.Second, nil)
	defer coll.Close()
	waitUp(t, coll, 1)

	rings := func(want map[string]float64) func(map[string][]series) error {
		return func(got map[string][]series) error {
			rs := got["ha_cluster_corosync_rings"]
			if len(rs) != 6 {
				return fmt.Errorf("%d rings series, want 6 (3 nodes, 2 links): %v", len(rs), render(rs))
			}
			for _, s := range rs {
				id, link := s.labels["node_id"], s.labels["number"]
				nd := cl.Node(uint32(must1(strconv.Atoi(id))))
				addr := nd.Addr
				if link == "1" {
					addr = nd.Addr1
				}
				if s.labels["address"] != addr {
					return fmt.Errorf("rings{node_id=%s,number=%s} address %q, want %q", id, link, s.labels["address"], addr)
				}
				w, ok := want[id+"/"+link]
				if !ok {
					w = 1
				}
				if s.value != w {
					return fmt.Errorf("rings{node_id=%s,number=%s} %v, want %v", id, link, s.value, w)
				}
			}
			return nil
		}
	}
	settle(t, coll, n, "two links up", rings(nil), ringErrors(0))

	must(t, cl.Node(3).CutLink(1))
	got := settle(t, coll, n, "node 3's link 1 cut", rings(map[string]float64{"3/1": 0}), ringErrors(1))
	if v, _ := find(got, "ha_cluster_corosync_quorate", nil); v != 1 {
		t.Fatal("one cut link of two cost quorum")
	}
	if len(got["ha_cluster_corosync_member_votes"]) != 3 {
		t.Fatalf("one cut link of two changed the membership: %v", render(got["ha_cluster_corosync_member_votes"]))
	}
	if v, _ := find(got, "corosync_link_connected", map[string]string{"node_id": "3", "link": "1"}); v != 0 {
		t.Fatalf("corosync_link_connected of node 3 link 1: %v", v)
	}
	if v, _ := find(got, "corosync_link_connected", map[string]string{"node_id": "3", "link": "0"}); v != 1 {
		t.Fatalf("corosync_link_connected of node 3 link 0: %v", v)
	}

	must(t, cl.Node(3).RestoreLink(1))
	settle(t, coll, n, "link restored", rings(nil), ringErrors(0))
}

func must1[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
