package votequorum

import (
	"fmt"
	"strings"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/session"
)

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	// EventSnapshot is the current state: the first event of every
	// subscription, and the fresh state after a reconnect.
	EventSnapshot EventKind = iota + 1
	// EventQuorum is a quorum notification: quorate or a node's state
	// changed (also sent after every membership change and when a quorum
	// device registers).
	EventQuorum
	// EventExpectedVotes is an expected-votes notification: the local
	// node's expected votes were set (SetExpected sends one even when the
	// value does not change).
	EventExpectedVotes
	// EventNodelist is a nodelist notification: a new ring formed, with
	// its members. The EventQuorum for it follows. A quorum device polls
	// with this ring id.
	EventNodelist
	// EventDisconnected: the connection to the daemon was lost. The state is
	// the zero value, so Quorate is false (fail-safe): a node that cannot
	// reach its daemon must not act as quorate. Err says why.
	EventDisconnected
	// EventReconnected: the connection is back, tracking restored, and a
	// quorum device registered through this client registered again. It
	// carries the fresh state; an EventSnapshot follows. Err is set if the
	// device could not be registered again.
	EventReconnected
)

var kindNames = [...]string{"", "snapshot", "quorum", "expectedvotes", "nodelist", "disconnected", "reconnected"}

// String returns the kind's name, e.g. "quorum".
func (k EventKind) String() string { return session.KindName(kindNames[:], uint8(k)) }

// MarshalText implements encoding.TextMarshaler.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// State is the votequorum state as the notifications describe it. Its
// slices are shared between subscribers: do not modify them.
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
}

// Event is what a subscription delivers. Every event carries the complete
// state after it, so a subscriber that only looks at its latest event always
// knows where it stands, whatever it skipped.
type Event struct {
	Kind EventKind
	// State is the state after this event; the zero value (not quorate) on
	// EventDisconnected.
	State
	// Skipped is how many events this subscription missed just before this
	// one because it was slower than the daemon (latest-wins policy).
	Skipped uint64
	// Err is why the connection was lost (EventDisconnected), or why a
	// quorum device could not be registered again (EventReconnected).
	Err error
}

// String renders the event on one line, e.g.
// "quorum: quorate ring 1.9 members [1 2] nodes [1:member 2:member] expected 2".
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
	case EventExpectedVotes:
		fmt.Fprintf(&b, "expected %d", e.ExpectedVotes)
	case EventNodelist:
		fmt.Fprintf(&b, "ring %s members %v", e.Ring, e.Members)
	default:
		if e.Quorate {
			b.WriteString("quorate")
		} else {
			b.WriteString("not quorate")
		}
		fmt.Fprintf(&b, " ring %s members %v nodes %v expected %d", e.Ring, e.Members, e.Nodes, e.ExpectedVotes)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, " (error: %v)", e.Err)
	}
	if e.Skipped > 0 {
		fmt.Fprintf(&b, " (skipped %d)", e.Skipped)
	}
	return b.String()
}
