package cpgwire

import (
	"fmt"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
)

// Event is a decoded message of the event channel. ID selects which fields
// are used:
//
//	EvDeliver          Group, NodeID, PID, Payload
//	EvPartialDeliver   Group, NodeID, PID, MsgLen, Type, Payload (the fragment)
//	EvConfchg          Group, Members, Left, Joined
//	EvTotemConfchg     Ring, TotemMembers
//
// Any other ID is an event this package does not know (Known reports false):
// a client should skip it. Payload aliases the decoded buffer.
type Event struct {
	ID           int32
	Group        Name
	NodeID       uint32 // the sending node
	PID          uint32 // the pid the sender gave at join
	Payload      []byte
	MsgLen       uint32
	Type         PartialType
	Members      []Address // the group after the change, sorted by (nodeid, pid)
	Left         []Address
	Joined       []Address
	Ring         RingID
	TotemMembers []uint32
}

// Known reports whether e is one of the four events corosync 3.1.7 sends.
func (e Event) Known() bool {
	switch e.ID {
	case EvDeliver, EvPartialDeliver, EvConfchg, EvTotemConfchg:
		return true
	}
	return false
}

// EventName returns the name of event id.
func EventName(id int32) string {
	switch id {
	case EvDeliver:
		return "deliver"
	case EvPartialDeliver:
		return "partial deliver"
	case EvConfchg:
		return "confchg"
	case EvTotemConfchg:
		return "totem confchg"
	}
	return fmt.Sprintf("unknown event %d", id)
}

// eventMsg is "cpg " + EventName(id), without allocating for the known ids.
func eventMsg(id int32) string {
	switch id {
	case EvDeliver:
		return "cpg deliver"
	case EvPartialDeliver:
		return "cpg partial deliver"
	case EvConfchg:
		return "cpg confchg"
	case EvTotemConfchg:
		return "cpg totem confchg"
	}
	return "cpg " + EventName(id)
}

// String renders the event in one line, for logs and test failures.
func (e Event) String() string {
	switch e.ID {
	case EvDeliver:
		return fmt.Sprintf("deliver %q from %d/%d: %d bytes", e.Group.String(), e.NodeID, e.PID, len(e.Payload))
	case EvPartialDeliver:
		return fmt.Sprintf("partial deliver %q from %d/%d: type %d, %d of %d bytes", e.Group.String(), e.NodeID, e.PID, e.Type, len(e.Payload), e.MsgLen)
	case EvConfchg:
		return fmt.Sprintf("confchg %q members %v left %v joined %v", e.Group.String(), e.Members, e.Left, e.Joined)
	case EvTotemConfchg:
		return fmt.Sprintf("totem confchg ring %x.%x members %v", e.Ring.NodeID, e.Ring.Seq, e.TotemMembers)
	}
	return EventName(e.ID)
}

// DecodeEvent decodes a message from the event channel. An unknown id with
// a consistent header decodes to an Event with only ID set and no error.
// Lists may be longer than libcpg could take if they fit in the message; a
// message longer than its lists is accepted (the extra bytes are ignored),
// but a payload must fill the message exactly.
func DecodeEvent(b []byte) (Event, error) { return DecodeEventIn(b, "") }

// DecodeEventIn is DecodeEvent for a reader of group: a group name equal
// to group is returned as group itself, without allocating a copy (the
// receive path of a member decodes thousands of events per second).
func DecodeEventIn(b []byte, group Name) (Event, error) {
	h, err := wire.DecodeResponseHeader(b)
	e := Event{ID: h.ID}
	if err != nil {
		return e, err
	}
	msg := eventMsg(h.ID)
	switch h.ID {
	case EvDeliver:
		if err := need(b, DeliverEventSize, msg, "size"); err != nil {
			return e, err
		}
		if e.Group, err = getNameAs(b[24:], msg, "group_name", group); err != nil {
			return e, err
		}
		l := le.Uint32(b[160:])
		e.NodeID = le.Uint32(b[168:])
		e.PID = le.Uint32(b[176:])
		if uint64(l) != uint64(len(b)-DeliverEventSize) {
			return e, wire.Errorf(msg, "msglen", "%d, but the message carries %d bytes", l, len(b)-DeliverEventSize)
		}
		e.Payload = b[DeliverEventSize:]
	case EvPartialDeliver:
		if err := need(b, PartialDeliverEventSize, msg, "size"); err != nil {
			return e, err
		}
		if e.Group, err = getNameAs(b[24:], msg, "group_name", group); err != nil {
			return e, err
		}
		e.MsgLen = le.Uint32(b[160:])
		l := le.Uint32(b[168:])
		e.NodeID = le.Uint32(b[176:])
		e.PID = le.Uint32(b[184:])
		e.Type = PartialType(le.Uint32(b[192:]))
		if uint64(l) != uint64(len(b)-PartialDeliverEventSize) {
			return e, wire.Errorf(msg, "fraglen", "%d, but the message carries %d bytes", l, len(b)-PartialDeliverEventSize)
		}
		e.Payload = b[PartialDeliverEventSize:]
	case EvConfchg:
		if err := need(b, ConfchgEventSize, msg, "size"); err != nil {
			return e, err
		}
		if e.Group, err = getNameAs(b[24:], msg, "group_name", group); err != nil {
			return e, err
		}
		m, j, l := le.Uint32(b[160:]), le.Uint32(b[168:]), le.Uint32(b[176:])
		total := uint64(m) + uint64(j) + uint64(l)
		if end := ConfchgEventSize + AddressSize*total; end > uint64(len(b)) {
			return e, wire.Errorf(msg, "list_entries", "%d members, %d left, %d joined need %d bytes, message has %d", m, l, j, end, len(b))
		}
		// The arrays are member, left, joined; the counts member, joined, left.
		off := ConfchgEventSize
		e.Members, off = getAddrs(b, off, m)
		e.Left, off = getAddrs(b, off, l)
		e.Joined, _ = getAddrs(b, off, j)
	case EvTotemConfchg:
		if err := need(b, TotemConfchgEventSize, msg, "size"); err != nil {
			return e, err
		}
		e.Ring = RingID{NodeID: le.Uint32(b[24:]), Seq: le.Uint64(b[32:])}
		n := le.Uint32(b[40:])
		if end := totemListOff + 4*uint64(n); end > uint64(len(b)) {
			return e, wire.Errorf(msg, "member_list_entries", "%d entries need %d bytes, message has %d", n, end, len(b))
		}
		e.TotemMembers = make([]uint32, n)
		for i := range e.TotemMembers {
			e.TotemMembers[i] = le.Uint32(b[totemListOff+4*i:])
		}
	}
	return e, nil
}

func getAddrs(b []byte, off int, n uint32) ([]Address, int) {
	out := make([]Address, n)
	for i := range out {
		out[i] = getAddr(b[off:])
		off += AddressSize
	}
	return out, off
}

// AppendEvent appends the wire form of e, sized as corosync sizes it, to
// dst. It refuses unknown ids, bad group names, lists longer than
// MaxListEntries (libcpg's stack arrays), a payload over MaxMcastPayload
// (deliver) or MaxFragment (partial deliver), a fragment longer than its
// MsgLen, and a fragment type outside 1..3.
func AppendEvent(dst []byte, e Event) ([]byte, error) {
	op := "encode cpg " + EventName(e.ID)
	fail := func(format string, args ...any) ([]byte, error) {
		return dst, fmt.Errorf(op+": "+format, args...)
	}
	if e.ID == EvDeliver || e.ID == EvPartialDeliver || e.ID == EvConfchg {
		if checkName(e.Group) != nil {
			return dst, e.Group.Check(op)
		}
	}
	var b []byte
	switch e.ID {
	case EvDeliver:
		if len(e.Payload) > MaxMcastPayload {
			return fail("message of %d bytes exceeds %d", len(e.Payload), MaxMcastPayload)
		}
		dst, b = wire.Grow(dst, DeliverEventSize+len(e.Payload))
		putName(b[24:], e.Group)
		le.PutUint32(b[160:], uint32(len(e.Payload)))
		le.PutUint32(b[168:], e.NodeID)
		le.PutUint32(b[176:], e.PID)
		copy(b[DeliverEventSize:], e.Payload)
	case EvPartialDeliver:
		switch {
		case len(e.Payload) > MaxFragment:
			return fail("fragment of %d bytes exceeds %d", len(e.Payload), MaxFragment)
		case uint64(len(e.Payload)) > uint64(e.MsgLen):
			return fail("fragment of %d bytes in a message of %d", len(e.Payload), e.MsgLen)
		case e.Type < PartialFirst || e.Type > PartialLast:
			return fail("fragment type %d; 1..3 exist", e.Type)
		}
		dst, b = wire.Grow(dst, PartialDeliverEventSize+len(e.Payload))
		putName(b[24:], e.Group)
		le.PutUint32(b[160:], e.MsgLen)
		le.PutUint32(b[168:], uint32(len(e.Payload)))
		le.PutUint32(b[176:], e.NodeID)
		le.PutUint32(b[184:], e.PID)
		le.PutUint32(b[192:], uint32(e.Type))
		copy(b[PartialDeliverEventSize:], e.Payload)
	case EvConfchg:
		if len(e.Members) > MaxListEntries || len(e.Left) > MaxListEntries || len(e.Joined) > MaxListEntries {
			return fail("lists of %d/%d/%d entries; libcpg takes at most %d each", len(e.Members), len(e.Left), len(e.Joined), MaxListEntries)
		}
		dst, b = wire.Grow(dst, ConfchgEventSize+AddressSize*(len(e.Members)+len(e.Left)+len(e.Joined)))
		putName(b[24:], e.Group)
		le.PutUint32(b[160:], uint32(len(e.Members)))
		le.PutUint32(b[168:], uint32(len(e.Joined)))
		le.PutUint32(b[176:], uint32(len(e.Left)))
		off := ConfchgEventSize
		for _, l := range [][]Address{e.Members, e.Left, e.Joined} {
			for _, a := range l {
				putAddr(b[off:], a)
				off += AddressSize
			}
		}
	case EvTotemConfchg:
		if len(e.TotemMembers) > MaxListEntries {
			return fail("%d members; libcpg takes at most %d", len(e.TotemMembers), MaxListEntries)
		}
		dst, b = wire.Grow(dst, TotemConfchgEventSize+4*len(e.TotemMembers))
		le.PutUint32(b[24:], e.Ring.NodeID)
		le.PutUint64(b[32:], e.Ring.Seq)
		le.PutUint32(b[40:], uint32(len(e.TotemMembers)))
		for i, m := range e.TotemMembers {
			le.PutUint32(b[totemListOff+4*i:], m)
		}
	default:
		return fail("unknown event id %d", e.ID)
	}
	wire.PutResponseHeader(b, e.ID, corosync.OK)
	return dst, nil
}
