package cpg

import (
	"fmt"
	"strings"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire/cpgwire"
)

// Reason says why a process is in a configuration change's Joined or Left
// list (lib_cpg_confchg_reason).
type Reason uint32

// Reasons.
const (
	ReasonJoin     Reason = 1 // it joined (cpg_join; CPG_REASON_JOIN)
	ReasonLeave    Reason = 2 // it left (cpg_leave, Group.Leave; CPG_REASON_LEAVE)
	ReasonNodeDown Reason = 3 // its node left the membership: crash, partition (CPG_REASON_NODEDOWN)
	ReasonNodeUp   Reason = 4 // it was in the group on a node that (re)merged (CPG_REASON_NODEUP)
	ReasonProcDown Reason = 5 // its connection closed without leaving (CPG_REASON_PROCDOWN)
)

// String returns the reason's name: "join", "leave", "nodedown", "nodeup",
// "procdown" ("undefined" for 0), or "reason(N)".
func (r Reason) String() string { return cpgwire.Reason(r).String() }

// Guarantee is a message's delivery guarantee (cpg_guarantee_t). corosync
// ignores it: every message is delivered in agreed (total) order.
type Guarantee uint32

// Guarantees.
const (
	Unordered Guarantee = 0 // CPG_TYPE_UNORDERED
	FIFO      Guarantee = 1 // CPG_TYPE_FIFO
	Agreed    Guarantee = 2 // CPG_TYPE_AGREED
	Safe      Guarantee = 3 // CPG_TYPE_SAFE
)

// Member is a process in a group: its node, the pid it joined with, and in a
// configuration change's Joined and Left lists why it is there (0 in member
// lists).
type Member struct {
	NodeID uint32
	PID    uint32
	Reason Reason
}

// String formats the member as "nodeid/pid", with the reason if any.
func (m Member) String() string {
	if m.Reason == 0 {
		return fmt.Sprintf("%d/%d", m.NodeID, m.PID)
	}
	return fmt.Sprintf("%d/%d(%s)", m.NodeID, m.PID, m.Reason)
}

func members(as []cpgwire.Address) []Member {
	out := make([]Member, len(as))
	for i, a := range as {
		out[i] = Member{NodeID: a.NodeID, PID: a.PID, Reason: Reason(a.Reason)}
	}
	return out
}

// Event is what a group delivers. Kind says which fields are set:
//
//   - corosync.EventMessage: a message delivered to the group
//     (cpg_deliver_fn): Sender and Data. Messages sent in fragments are
//     delivered once, reassembled.
//   - corosync.EventConfchg: a change of the group's membership
//     (cpg_confchg_fn): Members after the change, Joined and Left with their
//     reasons. Every member receives it at the same point of the message
//     stream (virtual synchrony). The first one of a group is its own join;
//     after Leave the last one is its own leave.
//   - corosync.EventTotem: a change of the cluster membership (model v1
//     cpg_totem_confchg_fn): Ring and Nodes. One is delivered right after
//     joining, with the current membership.
//   - corosync.EventDisconnected: the connection was lost, and with it the
//     membership. Err says why. Without WithRejoin the stream then ends
//     with ErrMembershipLost (and dispatch.ErrLost).
//   - corosync.EventReconnected: with WithRejoin, the group was joined again
//     on a new connection. What happened in the group meanwhile was not
//     seen; the daemon's confchg of the new join follows.
//
// A group has no snapshot: its first event is the confchg of its own join.
// Slices belong to the receiver.
type Event struct {
	Kind  corosync.EventKind
	Group string
	// corosync.EventMessage: the sending process and the message.
	Sender Member
	Data   []byte
	// corosync.EventConfchg: the group after the change, who joined, who left.
	Members []Member
	Joined  []Member
	Left    []Member
	// corosync.EventTotem: the ring and its nodes.
	Ring  corosync.RingID
	Nodes []uint32
	// corosync.EventDisconnected: why.
	Err error
}

// String renders the event in one line.
func (e Event) String() string {
	switch e.Kind {
	case corosync.EventMessage:
		return fmt.Sprintf("message from %s: %d bytes", e.Sender, len(e.Data))
	case corosync.EventConfchg:
		return fmt.Sprintf("confchg members %s joined %s left %s", list(e.Members), list(e.Joined), list(e.Left))
	case corosync.EventTotem:
		return fmt.Sprintf("totem ring %s nodes %v", e.Ring, e.Nodes)
	case corosync.EventDisconnected:
		return fmt.Sprintf("disconnected: %v", e.Err)
	}
	return e.Kind.String()
}

func list(ms []Member) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = m.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}
