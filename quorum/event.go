package quorum

import (
	"fmt"
	"strings"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire/quorumwire"
)

func ringFrom(r quorumwire.RingID) corosync.RingID {
	return corosync.RingID{NodeID: r.NodeID, Seq: r.Seq}
}

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	// EventSnapshot is the current state: the first event of every
	// subscription, and the fresh state after a reconnect.
	EventSnapshot EventKind = iota + 1
	// EventQuorum is a quorum notification from the daemon: quorate, ring id
	// or member list changed, or a membership change completed. A V1 client
	// can see several with the same ring id; do not treat "same ring" as
	// "same event".
	EventQuorum
	// EventNodelist is a V1 nodelist notification: a membership change with
	// its joined and left nodes. The EventQuorum for the same ring follows.
	EventNodelist
	// EventDisconnected: the connection to the daemon was lost. Quorate is
	// false (fail-safe): a node that cannot reach its daemon must not act as
	// quorate. Err says why.
	EventDisconnected
	// EventReconnected: the connection is back, with model and tracking
	// restored. It carries the fresh state; an EventSnapshot follows.
	EventReconnected
)

var kindNames = [...]string{"", "snapshot", "quorum", "nodelist", "disconnected", "reconnected"}

// String returns the kind's name, e.g. "quorum".
func (k EventKind) String() string { return session.KindName(kindNames[:], uint8(k)) }

// MarshalText implements encoding.TextMarshaler.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

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
// knows where it stands, whatever it skipped.
type Event struct {
	Kind EventKind
	// QuorumEvent is the quorum state after this event. On EventDisconnected
	// it is the zero value: not quorate, no ring, no members.
	QuorumEvent
	// Nodelist is the current nodelist (V1 model; nil in V0 and while
	// disconnected). Joined and Left are set only on EventNodelist.
	Nodelist *NodelistEvent
	// Skipped is how many events this subscription missed just before this
	// one because it was slower than the daemon (latest-wins policy).
	Skipped uint64
	// Err is why the connection was lost, on EventDisconnected.
	Err error
}

// String renders the event on one line, e.g.
// "quorum: quorate ring 1.9 members [1 2]".
func (e Event) String() string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	b.WriteString(": ")
	switch e.Kind {
	case EventDisconnected:
		b.WriteString("not quorate (connection lost")
		if e.Err != nil {
			b.WriteString(": ")
			b.WriteString(e.Err.Error())
		}
		b.WriteString(")")
		return b.String()
	case EventNodelist:
		if n := e.Nodelist; n != nil {
			fmt.Fprintf(&b, "ring %s members %v joined %v left %v", n.Ring, n.Members, n.Joined, n.Left)
		}
	default:
		if e.Quorate {
			b.WriteString("quorate")
		} else {
			b.WriteString("not quorate")
		}
		fmt.Fprintf(&b, " ring %s members %v", e.Ring, e.Members)
	}
	if e.Skipped > 0 {
		fmt.Fprintf(&b, " (skipped %d)", e.Skipped)
	}
	return b.String()
}
