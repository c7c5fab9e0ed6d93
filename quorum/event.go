package quorum

import (
	"fmt"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire/quorumwire"
)

func ringFrom(r quorumwire.RingID) corosync.RingID {
	return corosync.RingID{NodeID: r.NodeID, Seq: r.Seq}
}

// QuorumEvent is the quorum state: what a quorum notification carries.
type QuorumEvent struct {
	Quorate bool
	Ring    corosync.RingID
	// Members is the view list: the node ids of the current membership.
	// Shared between subscribers: do not modify.
	Members []uint32
}

// NodelistEvent is a V1 nodelist notification: the membership of a ring and,
// on a change, who joined and who left. Its slices are shared between
// subscribers: do not modify them.
type NodelistEvent struct {
	Ring    corosync.RingID
	Members []uint32
	Joined  []uint32
	Left    []uint32
}

// Event is what a subscription delivers. Every event carries the complete
// state after it, so a subscriber that only looks at its latest event always
// knows where it stands, whatever it skipped. Its kinds:
//
//   - corosync.EventSnapshot: the current state, first on every subscription
//     and again after a reconnect.
//   - corosync.EventQuorum: a quorum notification: quorate, ring id or
//     member list changed, or a membership change completed. A V1 client
//     can see several with the same ring id; do not treat "same ring" as
//     "same event".
//   - corosync.EventNodelist: a V1 nodelist notification: a membership change
//     with its joined and left nodes (Nodelist). The corosync.EventQuorum for
//     the same ring follows.
//   - corosync.EventDisconnected: the connection was lost. Quorate is false
//     (fail-safe): a node that cannot reach its daemon must not act as
//     quorate. Err says why.
//   - corosync.EventReconnected: the connection is back, with model and
//     tracking restored. It carries the fresh state; a corosync.EventSnapshot
//     follows.
type Event struct {
	Kind corosync.EventKind
	// QuorumEvent is the quorum state after this event. On
	// corosync.EventDisconnected it is the zero value: not quorate, no ring,
	// no members.
	QuorumEvent
	// Nodelist is the current nodelist (V1 model; nil in V0 and while
	// disconnected). Joined and Left are set only on corosync.EventNodelist.
	Nodelist *NodelistEvent
	// Skipped is how many events this subscription missed just before this
	// one because it was slower than the daemon (latest-wins policy).
	Skipped uint64
	// Err is why the connection was lost, on corosync.EventDisconnected.
	Err error
}

// String renders the event on one line, e.g.
// "quorum: quorate ring 1.9 members [1 2]".
func (e Event) String() string {
	var body string
	switch e.Kind {
	case corosync.EventDisconnected:
		body = "not quorate (" + session.LostLine(e.Err) + ")"
	case corosync.EventNodelist:
		if n := e.Nodelist; n != nil {
			body = fmt.Sprintf("ring %s members %v joined %v left %v", n.Ring, n.Members, n.Joined, n.Left)
		}
	default:
		body = session.QuorumLine(e.Quorate, e.Ring, e.Members)
	}
	return session.EventLine(e.Kind, body, e.Skipped)
}
