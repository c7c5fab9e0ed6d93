package vqrules

import (
	"slices"
	"strconv"
)

// NotificationKind is which votequorum notification a daemon sends its
// trackers.
type NotificationKind uint8

// Notification kinds, in corosync's terms.
const (
	// NotifyExpectedVotes: this node's expected votes were raised to the
	// total votes (recalculate_quorum) or set by a reconfigure message
	// (setexpected, quorum.expected_votes changed).
	NotifyExpectedVotes NotificationKind = iota + 1
	// NotifyNodelist: a new ring was synchronised (sync_process); the
	// membership is the ring's.
	NotifyNodelist
	// NotifyQuorum: quorate flipped outside a synchronisation
	// (are_we_quorate), or a synchronisation ended (sync_activate, InSync
	// set). Both also go to the quorum service (quorum_callback).
	NotifyQuorum
)

// String returns "expectedvotes", "nodelist", "quorum" or "kind(N)".
func (k NotificationKind) String() string {
	switch k {
	case NotifyExpectedVotes:
		return "expectedvotes"
	case NotifyNodelist:
		return "nodelist"
	case NotifyQuorum:
		return "quorum"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Notification is a notification a daemon sent, with the state it carried
// when it was sent.
type Notification struct {
	Kind NotificationKind
	// ExpectedVotes is this node's expected votes (NotifyExpectedVotes).
	ExpectedVotes uint32
	// Members is the ring's membership, sorted (NotifyNodelist).
	Members []uint32
	// Quorate, Nodes (the daemon's table, sorted by id: corosync sends it
	// in its own list order) and QdeviceRegistered (the notification then
	// ends with the device's entry) are NotifyQuorum's.
	Quorate           bool
	Nodes             []Node
	QdeviceRegistered bool
	// InSync is set on the NotifyQuorum that ends a synchronisation.
	InSync bool
}

// note records a notification of kind k with the current state.
func (s *State) note(k NotificationKind) {
	n := Notification{Kind: k}
	switch k {
	case NotifyExpectedVotes:
		n.ExpectedVotes = s.us().Expected
	case NotifyNodelist:
		n.Members = slices.Clone(s.Members)
	case NotifyQuorum:
		n.Quorate, n.Nodes, n.InSync = s.Quorate, slices.Clone(s.Nodes), s.syncing
		n.QdeviceRegistered = s.us().Flags&NodeQdeviceRegistered != 0
	}
	s.notes = append(s.notes, n)
}

// Notifications returns, and forgets, the notifications node id's daemon
// sent since the last call, in order. A stopped daemon sent none.
func (c *Cluster) Notifications(id uint32) []Notification {
	n := c.nodes[id]
	if n == nil || !n.running {
		return nil
	}
	out := n.state.notes
	n.state.notes = nil
	return out
}
