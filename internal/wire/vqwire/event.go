package vqwire

import (
	"fmt"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
)

// Event is a decoded notification. ID selects which fields are used:
//
//	EvQuorum          Context, Quorate, Nodes
//	EvExpectedVotes   Context, ExpectedVotes
//	EvNodelist        Context, Ring, Members
//	EvExtraInfo       Context, NodeID, ExtraInfo (corosync main)
//
// Any other ID is an event this package does not know (Known reports false):
// a client should skip it.
type Event struct {
	ID            int32
	Context       uint64 // the tracker's context from trackstart
	Quorate       bool
	Nodes         []Node // every node the daemon has seen, dead ones too; unsorted
	ExpectedVotes uint32
	Ring          RingID
	Members       []uint32 // the membership of Ring
	NodeID        uint32   // the node whose device's extra info changed
	ExtraInfo     []byte   // its extra info; empty: cleared
}

// Known reports whether e is one of the notifications this package
// decodes: the three of every release and main's extra info notification.
func (e Event) Known() bool {
	return e.ID == EvQuorum || e.ID == EvExpectedVotes || e.ID == EvNodelist || e.ID == EvExtraInfo
}

// EventName returns the name of event id.
func EventName(id int32) string {
	switch id {
	case EvQuorum:
		return "quorum notification"
	case EvExpectedVotes:
		return "expectedvotes notification"
	case EvNodelist:
		return "nodelist notification"
	case EvExtraInfo:
		return "qdevice extra info notification"
	}
	return fmt.Sprintf("unknown event %d", id)
}

// DecodeEvent decodes a message from the event channel. An unknown id with a
// consistent header decodes to an Event with only ID set and no error. The
// lists may be longer than corosync sends if they fit in the message; a
// message longer than its lists is accepted (the extra bytes are ignored).
func DecodeEvent(b []byte) (Event, error) {
	h, err := wire.DecodeResponseHeader(b)
	e := Event{ID: h.ID}
	if err != nil {
		return e, err
	}
	msg := "votequorum " + EventName(h.ID)
	switch h.ID {
	case EvQuorum:
		if err := need(b, QuorumEventSize, msg, "node_list_entries"); err != nil {
			return e, err
		}
		e.Quorate = le.Uint32(b[24:]) != 0
		e.Context = le.Uint64(b[32:])
		n := le.Uint32(b[40:])
		if end := uint64(QuorumEventSize) + 8*uint64(n); end > uint64(len(b)) {
			return e, wire.Errorf(msg, "node_list_entries", "%d entries need %d bytes, message has %d", n, end, len(b))
		}
		e.Nodes = make([]Node, n)
		for i := range e.Nodes {
			off := QuorumEventSize + 8*i
			e.Nodes[i] = Node{NodeID: le.Uint32(b[off:]), State: NodeState(le.Uint32(b[off+4:]))}
		}
	case EvExpectedVotes:
		if err := need(b, ExpectedVotesEventSize, msg, "expected_votes"); err != nil {
			return e, err
		}
		e.Context = le.Uint64(b[24:])
		e.ExpectedVotes = le.Uint32(b[32:])
	case EvNodelist:
		if err := need(b, NodelistEventSize, msg, "node_list_entries"); err != nil {
			return e, err
		}
		e.Context = le.Uint64(b[24:])
		e.Ring = RingID{NodeID: le.Uint32(b[32:]), Seq: le.Uint64(b[40:])}
		n := le.Uint32(b[48:])
		if end := uint64(NodelistEventSize) + 4*uint64(n); end > uint64(len(b)) {
			return e, wire.Errorf(msg, "node_list_entries", "%d entries need %d bytes, message has %d", n, end, len(b))
		}
		e.Members = make([]uint32, n)
		for i := range e.Members {
			e.Members[i] = le.Uint32(b[NodelistEventSize+4*i:])
		}
	case EvExtraInfo:
		if err := need(b, ExtraInfoEventSize, msg, "ei_size"); err != nil {
			return e, err
		}
		e.Context = le.Uint64(b[24:])
		e.NodeID = le.Uint32(b[32:])
		n := le.Uint32(b[40:])
		if n > MaxExtraInfo {
			return e, wire.Errorf(msg, "ei_size", "%d bytes; at most %d", n, MaxExtraInfo)
		}
		if end := uint64(ExtraInfoEventSize) + uint64(n); end > uint64(len(b)) {
			return e, wire.Errorf(msg, "ei_size", "%d bytes need %d, message has %d", n, end, len(b))
		}
		e.ExtraInfo = append([]byte{}, b[ExtraInfoEventSize:ExtraInfoEventSize+n]...)
	}
	return e, nil
}

// AppendEvent appends the wire form of e, sized as corosync sizes it, to
// dst. It refuses unknown ids and lists longer than corosync can send.
func AppendEvent(dst []byte, e Event) ([]byte, error) {
	var b []byte
	switch e.ID {
	case EvQuorum:
		if len(e.Nodes) > MaxQuorumNodes {
			return dst, fmt.Errorf("encode votequorum quorum notification: %d nodes exceed the maximum of %d", len(e.Nodes), MaxQuorumNodes)
		}
		dst, b = wire.Grow(dst, QuorumEventSize+8*len(e.Nodes))
		le.PutUint32(b[24:], b2u(e.Quorate))
		le.PutUint64(b[32:], e.Context)
		le.PutUint32(b[40:], uint32(len(e.Nodes)))
		for i, n := range e.Nodes {
			le.PutUint32(b[QuorumEventSize+8*i:], n.NodeID)
			le.PutUint32(b[QuorumEventSize+8*i+4:], uint32(n.State))
		}
	case EvExpectedVotes:
		dst, b = wire.Grow(dst, ExpectedVotesEventSize)
		le.PutUint64(b[24:], e.Context)
		le.PutUint32(b[32:], e.ExpectedVotes)
	case EvNodelist:
		if len(e.Members) > MaxNodelistNodes {
			return dst, fmt.Errorf("encode votequorum nodelist notification: %d nodes exceed the maximum of %d", len(e.Members), MaxNodelistNodes)
		}
		dst, b = wire.Grow(dst, NodelistEventSize+4*len(e.Members))
		le.PutUint64(b[24:], e.Context)
		le.PutUint32(b[32:], e.Ring.NodeID)
		le.PutUint64(b[40:], e.Ring.Seq)
		le.PutUint32(b[48:], uint32(len(e.Members)))
		for i, m := range e.Members {
			le.PutUint32(b[NodelistEventSize+4*i:], m)
		}
	case EvExtraInfo:
		if len(e.ExtraInfo) > MaxExtraInfo {
			return dst, fmt.Errorf("encode votequorum qdevice extra info notification: %d bytes exceed the maximum of %d", len(e.ExtraInfo), MaxExtraInfo)
		}
		dst, b = wire.Grow(dst, ExtraInfoEventSize+len(e.ExtraInfo))
		le.PutUint64(b[24:], e.Context)
		le.PutUint32(b[32:], e.NodeID)
		le.PutUint32(b[40:], uint32(len(e.ExtraInfo)))
		copy(b[ExtraInfoEventSize:], e.ExtraInfo)
	default:
		return dst, fmt.Errorf("encode votequorum event: unknown event id %d", e.ID)
	}
	wire.PutResponseHeader(b, e.ID, corosync.OK)
	return dst, nil
}
