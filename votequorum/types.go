package votequorum

import (
	"fmt"

	"github.com/corosync-go/corosync/internal/wire/vqwire"
)

// Flags is the flags word of Info (VOTEQUORUM_INFO_*).
type Flags uint32

// The Info flag bits. FlagTwoNode..FlagAllowDownscale describe the cluster's
// configuration and FlagQuorate the local node's view; the FlagQdevice* bits
// are the queried node's quorum device state.
const (
	FlagTwoNode           Flags = 1   // VOTEQUORUM_INFO_TWONODE
	FlagQuorate           Flags = 2   // VOTEQUORUM_INFO_QUORATE
	FlagWaitForAll        Flags = 4   // VOTEQUORUM_INFO_WAIT_FOR_ALL
	FlagLastManStanding   Flags = 8   // VOTEQUORUM_INFO_LAST_MAN_STANDING
	FlagAutoTieBreaker    Flags = 16  // VOTEQUORUM_INFO_AUTO_TIE_BREAKER
	FlagAllowDownscale    Flags = 32  // VOTEQUORUM_INFO_ALLOW_DOWNSCALE
	FlagQdevice           Flags = 64  // VOTEQUORUM_INFO_QDEVICE_REGISTERED
	FlagQdeviceAlive      Flags = 128 // VOTEQUORUM_INFO_QDEVICE_ALIVE
	FlagQdeviceCastVote   Flags = 256 // VOTEQUORUM_INFO_QDEVICE_CAST_VOTE
	FlagQdeviceMasterWins Flags = 512 // VOTEQUORUM_INFO_QDEVICE_MASTER_WINS
	// FlagQdeviceHasExtraInfo (corosync main only): the queried node's
	// device set extra info (see Client.QdeviceExtraInfo).
	FlagQdeviceHasExtraInfo Flags = 1024 // VOTEQUORUM_INFO_QDEVICE_HAS_EXTRA_INFO
)

// Has reports whether every bit of g is set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

// String lists the set flags in bit order, separated by spaces, with the
// names corosync-quorumtool prints on its "Flags:" line ("2Node Quorate
// WaitForAll LastManStanding AutoTieBreaker AllowDownscale Qdevice"),
// followed by QdeviceAlive, QdeviceCastVote, QdeviceMasterWins and
// QdeviceHasExtraInfo. Unknown
// bits are printed in hex; no flag at all prints as "".
func (f Flags) String() string { return vqwire.Flags(f).String() }

// NodeState is a node's state (VOTEQUORUM_NODESTATE_*).
type NodeState uint32

// Node states. The quorum device's entry (node id 0) of a quorum
// notification has state 0 in corosync 3.1.7.
const (
	NodeStateMember  NodeState = 1 // in the current membership
	NodeStateDead    NodeState = 2 // known but not a member
	NodeStateLeaving NodeState = 3 // shutting down with allow_downscale
)

// String returns "member", "dead", "leaving", or "state(N)".
func (s NodeState) String() string { return vqwire.NodeState(s).String() }

// Info is what the daemon knows about one node (votequorum_getinfo).
type Info struct {
	NodeID uint32
	State  NodeState
	// NodeVotes is the node's votes (nodelist.node.quorum_votes).
	NodeVotes uint32
	// NodeExpectedVotes is the expected votes the node holds.
	NodeExpectedVotes uint32
	// HighestExpected is the highest expected votes of any member.
	HighestExpected uint32
	// TotalVotes counts the votes of member nodes, plus the quorum
	// device's if the queried node has FlagQdeviceCastVote.
	TotalVotes uint32
	// Quorum is the number of votes needed to be quorate.
	Quorum uint32
	Flags  Flags
	// QdeviceVotes is the quorum device's votes (cluster-wide).
	QdeviceVotes uint32
	// QdeviceName is the cluster-wide quorum device name, "" if none is
	// registered. Whether the queried node has it registered is FlagQdevice.
	QdeviceName string
}

func infoFrom(i vqwire.Info) Info {
	return Info{
		NodeID: i.NodeID, State: NodeState(i.State), NodeVotes: i.NodeVotes,
		NodeExpectedVotes: i.NodeExpectedVotes, HighestExpected: i.HighestExpected,
		TotalVotes: i.TotalVotes, Quorum: i.Quorum, Flags: Flags(i.Flags),
		QdeviceVotes: i.QdeviceVotes, QdeviceName: i.QdeviceName,
	}
}

// Quorate reports whether FlagQuorate is set: the local node is quorate.
func (i Info) Quorate() bool { return i.Flags.Has(FlagQuorate) }

// String renders the info on one line, e.g. "node 1 member votes 1
// expected 3 highest 3 total 3 quorum 2 flags [Quorate] qdevice 0 """.
func (i Info) String() string {
	return fmt.Sprintf("node %d %v votes %d expected %d highest %d total %d quorum %d flags [%v] qdevice %d %q",
		i.NodeID, i.State, i.NodeVotes, i.NodeExpectedVotes, i.HighestExpected, i.TotalVotes, i.Quorum, i.Flags, i.QdeviceVotes, i.QdeviceName)
}

// NodeStatus is a node in a quorum notification: its id and state. The
// quorum device appears as node id 0 while one is registered.
type NodeStatus struct {
	NodeID uint32
	State  NodeState
}

// String renders the entry as "1:member".
func (n NodeStatus) String() string { return fmt.Sprintf("%d:%v", n.NodeID, n.State) }

// Target is whose votes SetVotes changes: a node (Node) or the quorum
// device (QuorumDevice). In the C API both are a node id, 0 meaning the
// quorum device, while in getinfo 0 means "this node"; Target keeps the two
// apart. The zero Target is invalid.
type Target struct {
	id    uint32
	valid bool
}

// Node targets the node with this id; id 0 is invalid (SetVotes refuses it
// with corosync.ErrInvalidParam): use Client.Info(ctx, 0).NodeID for this
// node, QuorumDevice for the quorum device.
func Node(id uint32) Target { return Target{id: id, valid: id != vqwire.QdeviceNodeID} }

// QuorumDevice targets the quorum device (VOTEQUORUM_QDEVICE_NODEID).
func QuorumDevice() Target { return Target{id: vqwire.QdeviceNodeID, valid: true} }

// IsQuorumDevice reports whether t targets the quorum device.
func (t Target) IsQuorumDevice() bool { return t.valid && t.id == vqwire.QdeviceNodeID }

// NodeID returns the node id sent on the wire: the node's, or 0 for the
// quorum device.
func (t Target) NodeID() uint32 { return t.id }

// String returns "node N", "quorum device" or "invalid target".
func (t Target) String() string {
	switch {
	case !t.valid:
		return "invalid target"
	case t.id == vqwire.QdeviceNodeID:
		return "quorum device"
	}
	return fmt.Sprintf("node %d", t.id)
}
