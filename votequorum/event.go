package votequorum

import (
	"fmt"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/session"
)

// State is the votequorum state as the notifications describe it. Its
// slices and map are shared between subscribers: do not modify them.
type State struct {
	// Quorate is whether the local node is quorate (quorum notification).
	Quorate bool
	// Nodes is every node the daemon has seen, dead ones included, with
	// its state, in the daemon's order (not sorted), and the quorum device
	// as node id 0 while one is registered (quorum notification).
	Nodes []NodeStatus
	// Ring is the current ring and Members its membership (nodelist
	// notification; zero on a daemon without nodelist notifications).
	Ring    corosync.RingID
	Members []uint32
	// ExpectedVotes is the local node's expected votes (getinfo at
	// connect, then expected-votes notifications).
	ExpectedVotes uint32
	// QdeviceExtraInfo is the extra info each node's quorum device set, by
	// node id (corosync main only: nil on every release). The daemon sends
	// it with the snapshot and on every change; a node whose device
	// cleared it, or unregistered, has no entry.
	QdeviceExtraInfo map[uint32][]byte
}

// Event is what a subscription delivers. Every event carries the complete
// state after it, so a subscriber that only looks at its latest event always
// knows where it stands, whatever it skipped. Its kinds:
//
//   - corosync.EventSnapshot: the current state, first on every subscription
//     and again after a reconnect.
//   - corosync.EventQuorum: a quorum notification: quorate or a node's state
//     changed (also sent after every membership change and when a quorum
//     device registers).
//   - corosync.EventExpectedVotes: an expected-votes notification: the local
//     node's expected votes were set (SetExpected sends one even when the
//     value does not change).
//   - corosync.EventNodelist: a nodelist notification: a new ring formed, with
//     its members. The corosync.EventQuorum for it follows. A quorum device
//     polls with this ring id.
//   - corosync.EventQdeviceExtraInfo (corosync main only): node NodeID's
//     quorum device set or cleared its extra info; State.QdeviceExtraInfo
//     has the new value. The daemon also sends one per node that has some
//     after every membership change (between the corosync.EventNodelist and
//     the corosync.EventQuorum), usually unchanged.
//   - corosync.EventDisconnected: the connection was lost. The state is the
//     zero value, so Quorate is false (fail-safe): a node that cannot reach
//     its daemon must not act as quorate. Err says why.
//   - corosync.EventReconnected: the connection is back, tracking restored,
//     and a quorum device registered through this client registered again. It
//     carries the fresh state; a corosync.EventSnapshot follows. Err is set if
//     the device could not be registered again.
type Event struct {
	Kind corosync.EventKind
	// State is the state after this event; the zero value (not quorate) on
	// corosync.EventDisconnected.
	State
	// NodeID is the node whose device's extra info changed
	// (corosync.EventQdeviceExtraInfo only).
	NodeID uint32
	// Skipped is how many events this subscription missed just before this
	// one because it was slower than the daemon (latest-wins policy).
	Skipped uint64
	// Err is why the connection was lost (corosync.EventDisconnected), or why a
	// quorum device could not be registered again (corosync.EventReconnected).
	Err error
}

// String renders the event on one line, e.g. "quorum: quorate ring 1.9 members
// [1 2] nodes [1:member 2:member] expected 2".
func (e Event) String() string {
	var body string
	switch e.Kind {
	case corosync.EventDisconnected:
		return session.EventLine(e.Kind, "not quorate ("+session.LostLine(e.Err)+")", e.Skipped)
	case corosync.EventExpectedVotes:
		body = fmt.Sprintf("expected %d", e.ExpectedVotes)
	case corosync.EventNodelist:
		body = fmt.Sprintf("ring %s members %v", e.Ring, e.Members)
	case corosync.EventQdeviceExtraInfo:
		if info, ok := e.QdeviceExtraInfo[e.NodeID]; ok {
			body = fmt.Sprintf("node %d set %d bytes", e.NodeID, len(info))
		} else {
			body = fmt.Sprintf("node %d cleared", e.NodeID)
		}
	default:
		body = fmt.Sprintf("%s nodes %v expected %d", session.QuorumLine(e.Quorate, e.Ring, e.Members), e.Nodes, e.ExpectedVotes)
	}
	if e.Err != nil {
		body += fmt.Sprintf(" (error: %v)", e.Err)
	}
	return session.EventLine(e.Kind, body, e.Skipped)
}
