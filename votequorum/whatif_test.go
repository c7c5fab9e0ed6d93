package votequorum

import (
	"testing"

	"github.com/corosync-go/corosync/internal/vqrules"
)

// TestPredict runs predict on hand-made observed states.
func TestPredict(t *testing.T) {
	member := func(id, votes, expected uint32, f vqrules.NodeFlags) vqrules.Node {
		return vqrules.Node{ID: id, State: vqrules.Member, Votes: votes, Expected: expected, Flags: f}
	}
	four := []vqrules.Node{member(1, 1, 4, 0), member(2, 1, 4, 0), member(3, 1, 4, 0), member(4, 1, 4, 0)}
	cast := vqrules.NodeQdeviceRegistered | vqrules.NodeQdeviceAlive | vqrules.NodeQdeviceCastVote
	withDev := []vqrules.Node{member(1, 1, 3, cast), member(2, 1, 3, cast)}
	for _, tc := range []struct {
		name    string
		local   Info
		members []uint32
		table   []vqrules.Node
		ch      Change
		quorate bool
		view    uint32
	}{
		{"atb keeps the lowest half", Info{NodeID: 1, Quorum: 3, HighestExpected: 4, NodeExpectedVotes: 4, Flags: FlagQuorate | FlagAutoTieBreaker},
			[]uint32{1, 2, 3, 4}, four, Change{FailNodes: []uint32{3, 4}}, true, 1},
		{"atb: the highest half loses", Info{NodeID: 3, Quorum: 3, HighestExpected: 4, NodeExpectedVotes: 4, Flags: FlagQuorate | FlagAutoTieBreaker},
			[]uint32{1, 2, 3, 4}, four, Change{FailNodes: []uint32{1, 2}}, false, 3},
		{"no atb", Info{NodeID: 1, Quorum: 3, HighestExpected: 4, NodeExpectedVotes: 4, Flags: FlagQuorate},
			[]uint32{1, 2, 3, 4}, four, Change{StopNodes: []uint32{3, 4}}, false, 1},
		{"device keeps a lone node", Info{NodeID: 1, Quorum: 2, HighestExpected: 3, NodeExpectedVotes: 3, QdeviceVotes: 1, QdeviceName: "Qdevice", Flags: FlagQuorate | FlagQdevice | FlagQdeviceAlive | FlagQdeviceCastVote},
			[]uint32{1, 2}, withDev, Change{StopNodes: []uint32{2}}, true, 1},
		{"without the device", Info{NodeID: 1, Quorum: 2, HighestExpected: 3, NodeExpectedVotes: 3, QdeviceVotes: 1, QdeviceName: "Qdevice", Flags: FlagQuorate | FlagQdevice | FlagQdeviceAlive | FlagQdeviceCastVote},
			[]uint32{1, 2}, withDev, Change{StopNodes: []uint32{2}, RemoveQdevice: true}, false, 1},
		{"device lost, both nodes", Info{NodeID: 1, Quorum: 2, HighestExpected: 3, NodeExpectedVotes: 3, QdeviceVotes: 1, QdeviceName: "Qdevice", Flags: FlagQuorate | FlagQdevice | FlagQdeviceAlive | FlagQdeviceCastVote},
			[]uint32{1, 2}, withDev, Change{RemoveQdevice: true}, true, 1},
		{"this node stops", Info{NodeID: 1, Quorum: 2, HighestExpected: 3, NodeExpectedVotes: 3, Flags: FlagQuorate},
			[]uint32{1, 2, 3}, []vqrules.Node{member(1, 1, 3, 0), member(2, 1, 3, 0), member(3, 1, 3, 0)}, Change{StopNodes: []uint32{1}}, true, 2},
	} {
		o, err := predict(tc.local, tc.members, tc.table, tc.ch)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if o.Quorate != tc.quorate || o.NodeID != tc.view {
			t.Errorf("%s: %v", tc.name, o)
		}
	}
	if o, err := predict(Info{NodeID: 1, Quorum: 1, Flags: FlagQuorate}, []uint32{1}, []vqrules.Node{member(1, 1, 1, 0)}, Change{StopNodes: []uint32{1}}); err != nil || o.NodeID != 0 || o.Quorate {
		t.Errorf("nobody left: %v %v", o, err)
	}
}
