package cpg

import (
	"fmt"
	"strings"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire/cpgwire"
)

// Reason says why a process is in a configuration change's Joined or Left
// list (lib_cpg_confchg_reason).
type Reason = cpgwire.Reason

// Reasons.
const (
	ReasonJoin     = cpgwire.ReasonJoin     // it joined (cpg_join)
	ReasonLeave    = cpgwire.ReasonLeave    // it left (cpg_leave, Group.Leave)
	ReasonNodeDown = cpgwire.ReasonNodeDown // its node left the membership (crash, partition)
	ReasonNodeUp   = cpgwire.ReasonNodeUp   // it was in the group on a node that (re)merged
	ReasonProcDown = cpgwire.ReasonProcDown // its connection closed without leaving
)

// Guarantee is a message's delivery guarantee (cpg_guarantee_t). corosync
// ignores it: every message is delivered in agreed (total) order.
type Guarantee = cpgwire.Guarantee

// Guarantees.
const (
	Unordered = cpgwire.GuaranteeUnordered
	FIFO      = cpgwire.GuaranteeFIFO
	Agreed    = cpgwire.GuaranteeAgreed
	Safe      = cpgwire.GuaranteeSafe
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
		out[i] = Member{NodeID: a.NodeID, PID: a.PID, Reason: a.Reason}
	}
	return out
}

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	// EventMessage is a message delivered to the group (cpg_deliver_fn):
	// Sender and Data. Messages sent in fragments are delivered once,
	// reassembled.
	EventMessage EventKind = iota + 1
	// EventConfchg is a change of the group's membership
	// (cpg_confchg_fn): Members after the change, Joined and Left with
	// their reasons. Every member receives it at the same point of the
	// message stream (virtual synchrony). The first one of a group is its
	// own join; after Leave the last one is its own leave.
	EventConfchg
	// EventTotem is a change of the cluster membership (model v1
	// cpg_totem_confchg_fn): Ring and Nodes. One is delivered right after
	// joining, with the current membership.
	EventTotem
	// EventDisconnected: the connection to the daemon was lost, and with it
	// the membership. Err says why. Without WithRejoin the stream then ends
	// with ErrMembershipLost (and dispatch.ErrLost).
	EventDisconnected
	// EventReconnected: with WithRejoin, the group was joined again on a
	// new connection (the name every service gives this lifecycle event).
	// What happened in the group meanwhile was not seen; the daemon's
	// confchg of the new join follows.
	EventReconnected
)

// EventRejoined is the former name of EventReconnected.
//
// Deprecated: use EventReconnected.
const EventRejoined = EventReconnected

var kindNames = [...]string{"", "message", "confchg", "totem", "disconnected", "reconnected"}

// String returns the kind's name, e.g. "message".
func (k EventKind) String() string { return session.KindName(kindNames[:], uint8(k)) }

// MarshalText implements encoding.TextMarshaler: the kind's name, as every
// service's EventKind marshals.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Event is what a group delivers. Kind says which fields are set. Slices
// belong to the receiver.
type Event struct {
	Kind  EventKind
	Group string
	// EventMessage: the sending process and the message.
	Sender Member
	Data   []byte
	// EventConfchg: the group after the change, who joined, who left.
	Members []Member
	Joined  []Member
	Left    []Member
	// EventTotem: the ring and its nodes.
	Ring  corosync.RingID
	Nodes []uint32
	// EventDisconnected: why.
	Err error
}

// String renders the event in one line.
func (e Event) String() string {
	switch e.Kind {
	case EventMessage:
		return fmt.Sprintf("message from %s: %d bytes", e.Sender, len(e.Data))
	case EventConfchg:
		return fmt.Sprintf("confchg members %s joined %s left %s", list(e.Members), list(e.Joined), list(e.Left))
	case EventTotem:
		return fmt.Sprintf("totem ring %s nodes %v", e.Ring, e.Nodes)
	case EventDisconnected:
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
