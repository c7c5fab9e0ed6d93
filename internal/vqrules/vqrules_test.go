package vqrules

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func nodes(n int) []NodeConfig {
	var l []NodeConfig
	for i := 1; i <= n; i++ {
		l = append(l, NodeConfig{ID: uint32(i)})
	}
	return l
}

// want is the part of a Result a case checks.
type want struct {
	quorum, total, expected uint32
	quorate                 bool
}

func check(t *testing.T, c *Cluster, step string, ids []uint32, w want) {
	t.Helper()
	for _, id := range ids {
		r, err := c.Info(id, 0)
		if err != nil {
			t.Fatalf("%s: node %d: %v", step, id, err)
		}
		if r.Quorum != w.quorum || r.TotalVotes != w.total || r.Quorate != w.quorate || (w.expected != 0 && r.Expected != w.expected) {
			t.Errorf("%s: node %d: %v; want quorum %d total %d expected %d quorate %v", step, id, r, w.quorum, w.total, w.expected, w.quorate)
		}
		if r.Quorate != (r.Flags&FlagQuorate != 0) {
			t.Errorf("%s: node %d: quorate %v but flags %#x", step, id, r.Quorate, r.Flags)
		}
	}
}

func newCluster(t *testing.T, cfg Config) *Cluster {
	t.Helper()
	c, err := NewCluster(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(c.IDs()...); err != nil {
		t.Fatal(err)
	}
	return c
}

func ids(l ...uint32) []uint32 { return l }

// The plain OpenVMS arithmetic: quorum = expected/2 + 1, and it does not
// fall when nodes leave.
func TestNodeLossAndReturn(t *testing.T) {
	c := newCluster(t, Config{Nodes: nodes(3)})
	check(t, c, "all up", ids(1, 2, 3), want{2, 3, 3, true})
	c.Kill(3)
	check(t, c, "node 3 down", ids(1, 2), want{2, 2, 3, true})
	c.Kill(2)
	check(t, c, "node 1 alone", ids(1), want{2, 1, 3, false})
	c.Start(2, 3)
	check(t, c, "back", ids(1, 2, 3), want{2, 3, 3, true})
	if r, _ := c.Info(1, 3); r.State != Member {
		t.Errorf("node 3 on node 1: %v", r)
	}
	c.Partition(ids(1), ids(2, 3))
	check(t, c, "minority", ids(1), want{2, 1, 3, false})
	check(t, c, "majority", ids(2, 3), want{2, 2, 3, true})
	if r, _ := c.Info(1, 2); r.State != Dead {
		t.Errorf("node 2 on node 1 after the split: %v", r)
	}
	c.Heal()
	check(t, c, "healed", ids(1, 2, 3), want{2, 3, 3, true})
}

// Weighted votes: expected votes are the sum of the nodelist's votes.
func TestWeightedVotes(t *testing.T) {
	c := newCluster(t, Config{Nodes: []NodeConfig{{ID: 1, Votes: 3}, {ID: 2}, {ID: 3}}})
	check(t, c, "all up", ids(1, 2, 3), want{3, 5, 5, true})
	c.Partition(ids(1), ids(2, 3))
	check(t, c, "node 1 alone", ids(1), want{3, 3, 5, true})
	check(t, c, "2 and 3", ids(2, 3), want{3, 2, 5, false})
}

// setexpected's checks (message_handler_req_lib_votequorum_setexpected) and
// the 8-bit quorum.
func TestSetExpected(t *testing.T) {
	c := newCluster(t, Config{Nodes: nodes(3)})
	for _, n := range []uint32{2, 6} { // below total; would lose quorum
		if err := c.SetExpected(1, n); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetExpected(%d): %v", n, err)
		}
	}
	if err := c.SetExpected(1, 4); err != nil {
		t.Fatal(err)
	}
	check(t, c, "expected 4", ids(1, 2, 3), want{3, 3, 4, true})
	if err := c.SetExpected(2, 3); err != nil {
		t.Fatal(err)
	}
	check(t, c, "expected 3 again (quorum may fall)", ids(1, 2, 3), want{2, 3, 3, true})
	// (0xffffffff+2)/2 wraps to 0: quorum comes from the total votes.
	if err := c.SetExpected(1, 0xffffffff); err != nil {
		t.Fatal(err)
	}
	check(t, c, "expected 2^32-1", ids(1, 2, 3), want{2, 3, 0xffffffff, true})

	// A lone inquorate node: 510 expected votes make quorum 256, kept
	// in 8 bits as 0, and the node quorate alone (vqwire refuses it).
	s := newCluster(t, Config{Nodes: nodes(1), ExpectedVotes: 2})
	check(t, s, "single node, 2 expected", ids(1), want{2, 1, 2, false})
	if err := s.SetExpected(1, 510); err != nil {
		t.Fatal(err)
	}
	check(t, s, "510 expected", ids(1), want{0, 1, 510, true})
}

// setvotes: the total rises over the expected votes, which follow it up
// and do not come down.
func TestSetVotes(t *testing.T) {
	c := newCluster(t, Config{Nodes: nodes(3)})
	if err := c.SetVotes(2, 1, 3); err != nil {
		t.Fatal(err)
	}
	check(t, c, "node 1 has 3 votes", ids(1, 2, 3), want{3, 5, 0, true})
	if r, _ := c.Info(1, 0); r.Expected != 5 || r.Votes != 3 {
		t.Errorf("node 1: %v", r)
	}
	if err := c.SetVotes(1, 1, 1); err != nil {
		t.Fatal(err)
	}
	check(t, c, "back to 1 vote", ids(1, 2, 3), want{3, 3, 5, true})
	if err := c.SetVotes(1, 9, 1); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("unknown node: %v", err)
	}
	// 0 votes for node 1: quorum 3 > total 2 (the check is on the
	// validation's quorum, which may fall: (5+2)/2=3 > 2).
	if err := c.SetVotes(1, 1, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("votes 0: %v", err)
	}
}

// two_node: quorum 1 with two nodes; wait_for_all (on by default with
// two_node) keeps a node that starts alone inquorate.
func TestTwoNode(t *testing.T) {
	c := newCluster(t, Config{Nodes: nodes(2), TwoNode: true})
	check(t, c, "both", ids(1, 2), want{1, 2, 2, true})
	if r, _ := c.Info(1, 0); r.Flags&(FlagTwoNode|FlagWaitForAll) != FlagTwoNode|FlagWaitForAll {
		t.Errorf("flags %#x", r.Flags)
	}
	c.Partition(ids(1), ids(2))
	check(t, c, "split: both stay quorate (fence race)", ids(1, 2), want{1, 1, 2, true})
	c.Kill(2)
	c.Start(2)
	check(t, c, "node 2 restarted alone: waits for all", ids(2), want{1, 1, 2, false})
	c.Heal()
	check(t, c, "together again", ids(1, 2), want{1, 2, 2, true})

	n := newCluster(t, Config{Nodes: nodes(2), TwoNode: true, NoWaitForAll: true})
	n.Partition(ids(1), ids(2))
	n.Kill(2)
	n.Start(2)
	check(t, n, "without wait_for_all a lone start is quorate", ids(2), want{1, 1, 2, true})
}

// wait_for_all: no quorum until all votes were seen at once, and again
// after quorum was lost.
func TestWaitForAll(t *testing.T) {
	c, err := NewCluster(Config{Nodes: nodes(3), WaitForAll: true})
	if err != nil {
		t.Fatal(err)
	}
	c.Start(1, 2)
	check(t, c, "two of three", ids(1, 2), want{2, 2, 3, false})
	c.Start(3)
	check(t, c, "all", ids(1, 2, 3), want{2, 3, 3, true})
	c.Kill(3)
	check(t, c, "one lost", ids(1, 2), want{2, 2, 3, true})
	c.Kill(2)
	check(t, c, "alone", ids(1), want{2, 1, 3, false})
	c.Start(2)
	check(t, c, "two again: waiting for all again", ids(1, 2), want{2, 2, 3, false})
}

// auto_tie_breaker: an even split goes to the side with the tie breaker.
func TestAutoTieBreaker(t *testing.T) {
	for _, tc := range []struct {
		node   string
		winner []uint32
		loser  []uint32
	}{
		{"", ids(1, 2), ids(3, 4)},
		{"lowest", ids(1, 2), ids(3, 4)},
		{"highest", ids(3, 4), ids(1, 2)},
		{"3 1", ids(3, 4), ids(1, 2)},
		// 4 is first but not in {1,2}; 1 is in it and no earlier list
		// node (4) was in the previous membership... but it was: denied.
		{"4 1", ids(3, 4), ids(1, 2)},
	} {
		t.Run(tc.node, func(t *testing.T) {
			c := newCluster(t, Config{Nodes: nodes(4), AutoTieBreaker: true, AutoTieBreakerNode: tc.node})
			check(t, c, "all", ids(1, 2, 3, 4), want{3, 4, 4, true})
			c.Partition(ids(1, 2), ids(3, 4))
			check(t, c, "winner", tc.winner, want{3, 2, 4, true})
			check(t, c, "loser", tc.loser, want{3, 2, 4, false})
		})
	}
	// Without auto_tie_breaker neither half is quorate.
	c := newCluster(t, Config{Nodes: nodes(4)})
	c.Partition(ids(1, 2), ids(3, 4))
	check(t, c, "no atb", ids(1, 2, 3, 4), want{3, 2, 4, false})
}

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		err  bool
		chk  func(Effective) bool
	}{
		{"empty", Config{}, true, nil},
		{"two_node+qdevice", Config{Nodes: nodes(2), TwoNode: true, Qdevice: &QdeviceConfig{}}, true, nil},
		{"qdevice auto votes", Config{Nodes: nodes(3), Qdevice: &QdeviceConfig{}}, false,
			func(e Effective) bool { return e.QdeviceVotes == 2 && e.ExpectedVotes == 5 }},
		{"qdevice uneven votes", Config{Nodes: []NodeConfig{{ID: 1, Votes: 2}, {ID: 2}}, Qdevice: &QdeviceConfig{}}, true, nil},
		{"qdevice+expected without votes", Config{Nodes: nodes(3), ExpectedVotes: 5, Qdevice: &QdeviceConfig{}}, true, nil},
		{"qdevice votes too high", Config{Nodes: nodes(3), ExpectedVotes: 4, Qdevice: &QdeviceConfig{Votes: 3}}, true, nil},
		{"qdevice+lms", Config{Nodes: nodes(3), LastManStanding: true, Qdevice: &QdeviceConfig{Votes: 1}}, true, nil},
		{"atb odd without wfa: disabled", Config{Nodes: nodes(3), AutoTieBreaker: true}, false,
			func(e Effective) bool { return e.TieBreaker == TieBreakerNone && len(e.Warnings) == 1 }},
		{"atb odd with wfa", Config{Nodes: nodes(3), AutoTieBreaker: true, WaitForAll: true}, false,
			func(e Effective) bool { return e.TieBreaker == TieBreakerLowest }},
		{"atb odd lms", Config{Nodes: nodes(3), AutoTieBreaker: true, LastManStanding: true}, true, nil},
		{"atb+two_node: two_node off, wfa stays", Config{Nodes: nodes(2), AutoTieBreaker: true, TwoNode: true}, false,
			func(e Effective) bool { return !e.TwoNode && e.WaitForAll && e.TieBreaker == TieBreakerLowest }},
		{"atb list", Config{Nodes: nodes(4), AutoTieBreaker: true, AutoTieBreakerNode: "3 2 x 1"}, false,
			func(e Effective) bool {
				return e.TieBreaker == TieBreakerList && len(e.TieBreakerNodes) == 2 && e.TieBreakerNodes[0] == 3
			}},
		{"atb junk", Config{Nodes: nodes(4), AutoTieBreaker: true, AutoTieBreakerNode: "first"}, false,
			func(e Effective) bool { return e.TieBreaker == TieBreakerNone }},
		{"lms window default", Config{Nodes: nodes(3), LastManStanding: true}, false,
			func(e Effective) bool { return e.LMSWindow == DefaultLastManStandingWindow }},
		{"downscale tracks", Config{Nodes: nodes(3), AllowDownscale: true}, false,
			func(e Effective) bool { return e.EVTracking }},
	} {
		e, err := tc.cfg.Apply()
		if (err != nil) != tc.err || (err != nil && !errors.Is(err, ErrConfig)) {
			t.Errorf("%s: error %v, want error %v", tc.name, err, tc.err)
			continue
		}
		if err == nil && tc.chk != nil && !tc.chk(e) {
			t.Errorf("%s: %+v", tc.name, e)
		}
	}
}

// last_man_standing: after the window, expected votes shrink to the nodes
// left, down to two.
func TestLastManStanding(t *testing.T) {
	c := newCluster(t, Config{Nodes: nodes(5), LastManStanding: true, LastManStandingWindow: time.Second})
	check(t, c, "all", ids(1, 2, 3, 4, 5), want{3, 5, 5, true})
	c.Kill(5)
	c.Kill(4)
	check(t, c, "3 of 5 before the window", ids(1, 2, 3), want{3, 3, 5, true})
	if at, ok := c.NextTimer(); !ok || at != time.Second {
		t.Fatalf("timer %v %v", at, ok)
	}
	c.Advance(time.Second)
	check(t, c, "3 of 5 after the window", ids(1, 2, 3), want{2, 3, 3, true})
	c.Kill(3)
	check(t, c, "2 left", ids(1, 2), want{2, 2, 3, true})
	c.Advance(time.Second)
	check(t, c, "2 left after the window", ids(1, 2), want{2, 2, 2, true})
	c.Kill(2)
	check(t, c, "1 left: no last man", ids(1), want{2, 1, 2, false})
	c.Advance(time.Minute)
	check(t, c, "1 left, later", ids(1), want{2, 1, 2, false})
	// The others come back: expected votes rise with the total.
	c.Start(2, 3, 4, 5)
	check(t, c, "back", ids(1, 2, 3, 4, 5), want{3, 5, 5, true})

	// A node with 2 votes turns last_man_standing off.
	w := newCluster(t, Config{Nodes: []NodeConfig{{ID: 1, Votes: 2}, {ID: 2}, {ID: 3}}, LastManStanding: true})
	if r, _ := w.Info(1, 0); r.Flags&FlagLastManStanding != 0 {
		t.Errorf("flags %#x", r.Flags)
	}
}

// A quorum device's vote counts only on nodes whose device casts it.
func TestQdevice(t *testing.T) {
	c := newCluster(t, Config{Nodes: nodes(2), Qdevice: &QdeviceConfig{Votes: 1}})
	check(t, c, "registered nowhere", ids(1, 2), want{2, 2, 3, true})
	for _, id := range ids(1, 2) {
		if err := c.QdeviceRegister(id); err != nil {
			t.Fatal(err)
		}
		if err := c.QdevicePoll(id, true); err != nil {
			t.Fatal(err)
		}
	}
	check(t, c, "casting", ids(1, 2), want{2, 3, 3, true})
	if r, _ := c.Info(1, 0); r.Flags&(FlagQdevice|FlagQdeviceAlive|FlagQdeviceCastVote) != FlagQdevice|FlagQdeviceAlive|FlagQdeviceCastVote {
		t.Errorf("flags %#x", r.Flags)
	}
	c.Partition(ids(1), ids(2))
	c.QdevicePoll(2, false) // qnetd gives the vote to one side
	check(t, c, "side with the vote", ids(1), want{2, 2, 3, true})
	check(t, c, "side without", ids(2), want{2, 1, 3, false})
	// Master wins: node 2's device is master, and wins without the vote?
	// No: master_wins needs the master to cast its vote.
	c.QdeviceMasterWins(2, true)
	check(t, c, "master not casting", ids(2), want{2, 1, 3, false})
	// qnetd goes away: after the timeout node 1 loses the device's vote.
	c.Advance(DefaultQdeviceTimeout)
	check(t, c, "device lost", ids(1), want{2, 1, 3, false})
	if r, _ := c.Info(1, 0); r.Flags&(FlagQdeviceAlive|FlagQdeviceCastVote) != 0 || r.Flags&FlagQdevice == 0 {
		t.Errorf("flags after loss %#x", r.Flags)
	}
	if err := c.QdeviceUnregister(1); err != nil {
		t.Fatal(err)
	}
	if err := c.QdevicePoll(1, true); !errors.Is(err, ErrNoDevice) {
		t.Errorf("poll after unregister: %v", err)
	}
}

func TestMasterWins(t *testing.T) {
	c := newCluster(t, Config{Nodes: nodes(4), Qdevice: &QdeviceConfig{Votes: 1}})
	for _, id := range c.IDs() {
		c.QdeviceRegister(id)
		c.QdeviceMasterWins(id, true)
		c.QdevicePoll(id, true)
	}
	check(t, c, "all", ids(1, 2, 3, 4), want{3, 5, 5, true})
	c.Partition(ids(1), ids(2, 3, 4))
	c.QdevicePoll(2, false)
	c.QdevicePoll(3, false)
	c.QdevicePoll(4, false)
	// Node 1 alone: 2 votes of 5, but its device is the master.
	check(t, c, "master alone", ids(1), want{3, 2, 5, true})
	check(t, c, "three without the device", ids(2, 3, 4), want{3, 3, 5, true})
}

func TestEvaluateIsPure(t *testing.T) {
	c := newCluster(t, Config{Nodes: nodes(3)})
	s, _ := c.State(1)
	s.Nodes[2].State = Dead
	s.Nodes[1].State = Dead
	before := s.Clone()
	r := Evaluate(c.Effective(), s)
	if r.Quorate || r.TotalVotes != 1 || r.Quorum != 2 {
		t.Errorf("%v", r)
	}
	if s.Quorate != before.Quorate || s.Nodes[0] != before.Nodes[0] {
		t.Errorf("Evaluate changed its input")
	}
}

func TestUnknown(t *testing.T) {
	c := newCluster(t, Config{Nodes: nodes(2)})
	if _, err := c.Info(1, 7); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("%v", err)
	}
	c.Kill(2)
	if _, err := c.Info(2, 0); !errors.Is(err, ErrNotRunning) {
		t.Errorf("%v", err)
	}
	if err := c.Start(9); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("%v", err)
	}
}

// The notifications a daemon sends, in its order (checked against real
// daemons by mock's TestVotequorumMockEqualsReal).
func TestNotifications(t *testing.T) {
	c := newCluster(t, Config{Nodes: nodes(3)})
	for _, id := range c.IDs() {
		c.Notifications(id)
	}
	kinds := func(id uint32) []string {
		var out []string
		for _, n := range c.Notifications(id) {
			s := n.Kind.String()
			if n.Kind == NotifyQuorum {
				s += fmt.Sprintf(" %v sync=%v", n.Quorate, n.InSync)
			}
			if n.Kind == NotifyExpectedVotes {
				s += fmt.Sprint(" ", n.ExpectedVotes)
			}
			out = append(out, s)
		}
		return out
	}
	c.Kill(2)
	c.Kill(3)
	if got := kinds(1); !slices.Equal(got, []string{"nodelist", "quorum true sync=true", "nodelist", "quorum false sync=true"}) {
		t.Errorf("kills: %v", got)
	}
	c.ConfigureExpected(1, 1) // quorum.expected_votes: 1 at runtime
	if got := kinds(1); !slices.Equal(got, []string{"expectedvotes 1", "quorum true sync=false"}) {
		t.Errorf("expected_votes 1: %v", got)
	}
	c.Start(2)
	if got := kinds(1); !slices.Equal(got, []string{"nodelist", "expectedvotes 2", "quorum true sync=true"}) {
		t.Errorf("node 2 back: %v", got)
	}
	if c.Notifications(3) != nil {
		t.Error("a stopped daemon notified")
	}
}
