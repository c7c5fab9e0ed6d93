package status

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
)

// quorumtoolS is corosync-quorumtool -s's output, parsed.
type quorumtoolS struct {
	provider                      string
	nodes                         int
	nodeID                        uint32
	ringID                        string
	quorate                       bool
	expected, highest, total, quo uint32
	flags                         []string
	members                       []toolMember
}

type toolMember struct {
	id, votes uint32
	name      string
	local     bool
}

// cfgtoolS is corosync-cfgtool -s's output, parsed: 3.1's "LINK ID 0 udp"
// blocks with "nodeid:   2:\tconnected" lines, 3.0's "LINK ID 0" blocks
// with "nodeid  2:\tconnected", 2.x's "RING ID 0" blocks with id and status.
type cfgtoolS struct {
	localID   uint32
	transport string // 3.1 only
	links     map[int]toolLink
	rings     []Ring
}

type toolLink struct {
	addr  string
	nodes map[uint32]string // node id -> localhost, connected, disconnected (+ " (not enabled)")
}

var (
	reField     = regexp.MustCompile(`(?m)^([A-Za-z ]+):\s+(.*?)\s*$`)
	reNumber    = regexp.MustCompile(`^\d+$`)
	reLocal     = regexp.MustCompile(`Local node ID (\d+)(?:, transport (\w+))?`)
	reLinkID    = regexp.MustCompile(`^LINK ID (\d+)`)
	reAddr      = regexp.MustCompile(`^\s+addr\s+= (.*)$`)
	reNodeLine  = regexp.MustCompile(`^\s+nodeid:?\s+(\d+):\s+(.*)$`)
	reRingBlock = regexp.MustCompile(`(?m)^RING ID (\d+)\n\s+id\s+= (.*)\n\s+status\s+= (.*)$`)
)

func parseQuorumtool(out string) (quorumtoolS, error) {
	var q quorumtoolS
	num := func(s string) uint32 {
		f := strings.Fields(s)
		if len(f) == 0 {
			return 0
		}
		n, _ := strconv.ParseUint(f[0], 10, 32)
		return uint32(n)
	}
	seen := 0
	head, members, _ := strings.Cut(out, "Membership information")
	for _, m := range reField.FindAllStringSubmatch(head, -1) {
		seen++
		switch m[1] {
		case "Quorum provider":
			q.provider = m[2]
		case "Nodes":
			q.nodes = int(num(m[2]))
		case "Node ID":
			q.nodeID = num(m[2])
		case "Ring ID":
			q.ringID = m[2]
		case "Quorate":
			q.quorate = m[2] == "Yes"
		case "Expected votes":
			q.expected = num(m[2])
		case "Highest expected":
			q.highest = num(m[2])
		case "Total votes":
			q.total = num(m[2])
		case "Quorum":
			q.quo = num(m[2])
		case "Flags":
			q.flags = strings.Fields(m[2])
		default:
			seen--
		}
	}
	// Rows: Nodeid, Votes, [Qdevice,] Name [(local)].
	for _, l := range strings.Split(members, "\n") {
		f := strings.Fields(l)
		local := len(f) > 0 && f[len(f)-1] == "(local)"
		if local {
			f = f[:len(f)-1]
		}
		if len(f) < 3 || !reNumber.MatchString(f[0]) || !reNumber.MatchString(f[1]) {
			continue
		}
		q.members = append(q.members, toolMember{id: num(f[0]), votes: num(f[1]), name: f[len(f)-1], local: local})
	}
	if seen < 5 || len(q.members) == 0 {
		return q, fmt.Errorf("corosync-quorumtool -s not parsed:\n%s", out)
	}
	return q, nil
}

func parseCfgtool(out string) (cfgtoolS, error) {
	c := cfgtoolS{links: map[int]toolLink{}}
	m := reLocal.FindStringSubmatch(out)
	if m == nil {
		return c, fmt.Errorf("corosync-cfgtool -s not parsed:\n%s", out)
	}
	id, _ := strconv.ParseUint(m[1], 10, 32)
	c.localID, c.transport = uint32(id), m[2]
	for _, r := range reRingBlock.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(r[1])
		c.rings = append(c.rings, Ring{Number: n, Address: r[2], Status: r[3], Faulty: strings.Contains(r[3], "FAULTY")})
	}
	link := -1
	for _, l := range strings.Split(out, "\n") {
		if m := reLinkID.FindStringSubmatch(l); m != nil {
			link, _ = strconv.Atoi(m[1])
			c.links[link] = toolLink{nodes: map[uint32]string{}}
		} else if m := reAddr.FindStringSubmatch(l); m != nil && link >= 0 {
			tl := c.links[link]
			tl.addr = m[1]
			c.links[link] = tl
		} else if m := reNodeLine.FindStringSubmatch(l); m != nil && link >= 0 {
			id, _ := strconv.ParseUint(m[1], 10, 32)
			c.links[link].nodes[uint32(id)] = m[2]
		}
	}
	if len(c.links) == 0 && len(c.rings) == 0 {
		return c, fmt.Errorf("corosync-cfgtool -s lists no link nor ring:\n%s", out)
	}
	return c, nil
}

// compareQuorumtool says how s differs from quorumtool -s's view, "" if not.
func compareQuorumtool(s Snapshot, q quorumtoolS) string {
	var diffs []string
	diff := func(what string, got, want any) {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			diffs = append(diffs, fmt.Sprintf("%s: snapshot %v, quorumtool %v", what, got, want))
		}
	}
	diff("provider", s.Provider, q.provider)
	diff("nodes", len(s.Members), q.nodes)
	diff("node id", s.LocalNodeID, q.nodeID)
	diff("ring id", s.RingIDText(), q.ringID)
	diff("quorate", s.Quorate, q.quorate)
	if s.Votes == nil {
		diffs = append(diffs, "no votes")
	} else {
		diff("expected votes", s.Votes.ExpectedVotes, q.expected)
		diff("highest expected", s.Votes.HighestExpected, q.highest)
		diff("total votes", s.Votes.TotalVotes, q.total)
		diff("quorum", s.Votes.Quorum, q.quo)
		diff("flags", s.Votes.FlagNames(), q.flags)
	}
	var got []toolMember
	for _, id := range s.Members {
		n, _ := s.Node(id)
		got = append(got, toolMember{id: id, votes: n.Votes, name: n.Name, local: n.Local})
		if !n.Member {
			diffs = append(diffs, fmt.Sprintf("member %d not marked a member", id))
		}
	}
	diff("membership", got, q.members)
	return strings.Join(diffs, "\n")
}

// compareCfgtool says how s differs from cfgtool -s's view, "" if not.
func compareCfgtool(s Snapshot, c cfgtoolS) string {
	var diffs []string
	diff := func(what string, got, want any) {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			diffs = append(diffs, fmt.Sprintf("%s: snapshot %v, cfgtool %v", what, got, want))
		}
	}
	diff("local node id", s.LocalNodeID, c.localID)
	if c.transport != "" {
		diff("transport", s.Transport, c.transport)
	}
	if c.rings != nil {
		diff("links from", s.Links, LinksFromRings)
		diff("rings", s.Rings, c.rings)
		return strings.Join(diffs, "\n")
	}
	// The links cfgtool lists: those of the nodes other than this one
	// (the local node has only its loopback).
	want := map[int]toolLink{}
	for _, n := range s.Nodes {
		if n.Local || !n.HasLinks {
			continue
		}
		for _, l := range n.Links {
			if !l.Enabled && !l.Unknown && s.Links == LinksFromNodeStatus {
				continue
			}
			tl, ok := want[l.Number]
			if !ok {
				tl = toolLink{addr: l.Src, nodes: map[uint32]string{}}
			}
			want[l.Number] = tl
		}
	}
	for num, tl := range want {
		for _, n := range s.Nodes {
			var l *Link
			for i := range n.Links {
				if n.Links[i].Number == num {
					l = &n.Links[i]
				}
			}
			switch {
			case n.Local:
				tl.nodes[n.ID] = "localhost"
			case l == nil && s.Links == LinksFromNodeStatus && n.Configured:
				tl.nodes[n.ID] = "disconnected" // cfgtool 3.1 lists every node of the nodelist
			case l == nil:
			case l.Connected:
				tl.nodes[n.ID] = "connected"
			default:
				tl.nodes[n.ID] = "disconnected"
			}
			if l != nil && !n.Local && s.Links == LinksFromRingStatus && !l.Enabled {
				tl.nodes[n.ID] += " (not enabled)"
			}
		}
	}
	render := func(m map[int]toolLink) string {
		var b strings.Builder
		for _, num := range slices.Sorted(maps.Keys(m)) {
			fmt.Fprintf(&b, "link %d addr %s:", num, m[num].addr)
			for _, id := range slices.Sorted(maps.Keys(m[num].nodes)) {
				fmt.Fprintf(&b, " %d=%s", id, m[num].nodes[id])
			}
			b.WriteString("; ")
		}
		return b.String()
	}
	diff("links", render(want), render(c.links))
	return strings.Join(diffs, "\n")
}

// settleTools reads the tools and a snapshot until they agree (both see
// the same daemon, but a change reaches them a moment apart, and knet
// notices a dead link a moment after totem), or fails.
func settleTools(t *testing.T, c *Client, n *corotest.Node, step string, also func(Snapshot) error) Snapshot {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, qout, qerr := n.QuorumTool(ctx)
		cout, _ := n.Exec(ctx, "corosync-cfgtool", "-s") // exit 1 when a link is down
		s, serr := c.Snapshot(ctx)
		cancel()
		q, perr := parseQuorumtool(qout)
		ct, cerr := parseCfgtool(string(cout))
		var problem string
		switch {
		case qerr != nil || perr != nil || cerr != nil:
			problem = fmt.Sprint(qerr, perr, cerr)
		case serr != nil:
			problem = serr.Error()
		default:
			problem = compareQuorumtool(s, q)
			if d := compareCfgtool(s, ct); d != "" {
				problem += "\n" + d
			}
			if problem == "" && also != nil {
				if err := also(s); err != nil {
					problem = err.Error()
				}
			}
		}
		if problem == "" || strings.TrimSpace(problem) == "" {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: node %d:\n%s\n--- corosync-quorumtool -s:\n%s\n--- corosync-cfgtool -s:\n%s", step, n.ID, problem, qout, cout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRealMatchesTools runs a 3-node cluster of every daemon of the matrix
// (or of the one COROSYNC_GO_DAEMON names) through a node kill, a partition
// and the heal; after each step a snapshot of node 1 equals what
// corosync-quorumtool -s and corosync-cfgtool -s of that release print
// there, and the watch delivers it.
func TestRealMatchesTools(t *testing.T) {
	corotest.Matrix(t, testRealMatchesTools)
}

func testRealMatchesTools(t *testing.T, d corotest.Daemon) {
	start := time.Now()
	cl := corotest.Start(t, 3, corotest.Options{Daemon: &d})
	n1 := cl.Node(1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Dial(ctx, client.WithDialer(n1.Dialer()), WithPollInterval(100*time.Millisecond), WithStats())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sub, err := c.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	// watched waits until the watch delivered the state of s.
	watched := func(step string, s Snapshot) {
		t.Helper()
		for {
			ev, err := sub.Next(ctx)
			if err != nil {
				t.Fatalf("%s: watch: %v", step, err)
			}
			if ev.Quorate == s.Quorate && slices.Equal(ev.Members, s.Members) && ev.Ring == s.Ring {
				return
			}
		}
	}
	s := settleTools(t, c, n1, "all up", nil)
	if !s.Complete() || s.ClusterName != cl.Name() || len(s.Nodes) != 3 {
		t.Fatalf("all up: %+v", s)
	}
	if want := map[bool]LinkSource{true: LinksFromRings, false: LinksFromRingStatus}[!d.Knet()]; d.Knet() && s.Links != LinksFromNodeStatus && s.Links != want || !d.Knet() && s.Links != want {
		t.Fatalf("links from %v on %s", s.Links, d)
	}
	if d.Knet() && (s.Stats == nil || len(s.Stats.Links) != 2 || s.Stats.Links[0].LatencyAvg <= 0) {
		t.Fatalf("knet statistics %+v", s.Stats)
	}
	watched("all up", s)

	if err := cl.Node(3).Kill(); err != nil {
		t.Fatal(err)
	}
	if err := n1.WaitMembers(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	dead := func(s Snapshot) error {
		if n, _ := s.Node(3); n.Member || n.Votes != 1 || !n.Seen || n.State.String() != "dead" {
			return fmt.Errorf("node 3 killed: %+v", n)
		}
		return nil
	}
	watched("node 3 killed", settleTools(t, c, n1, "node 3 killed", dead))

	if err := cl.Split([]uint32{1}, []uint32{2}); err != nil {
		t.Fatal(err)
	}
	if err := n1.WaitMembers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	s = settleTools(t, c, n1, "node 1 partitioned", nil)
	if s.Quorate {
		t.Fatal("a partition of one of three is quorate")
	}
	watched("node 1 partitioned", s)

	if err := cl.Heal(); err != nil {
		t.Fatal(err)
	}
	if err := n1.WaitMembers(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	s = settleTools(t, c, n1, "healed", func(s Snapshot) error {
		if err := dead(s); err != nil {
			return err
		}
		if !s.Quorate || s.Changes.Quorum < 2 || s.Changes.Membership < 3 {
			return fmt.Errorf("healed: quorate %v, changes %+v", s.Quorate, s.Changes)
		}
		return nil
	})
	watched("healed", s)
	t.Logf("%s: %v", d, time.Since(start).Round(time.Millisecond))
}
