package mock

import (
	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
)

func (n *Node) quorumEvent(model uint32) []byte {
	nt := wire.Notification{ID: wire.EvV1QuorumNotification, Quorate: n.quorate, Ring: n.ring, Members: n.members}
	if n.c.free {
		// No provider: quorate, ring 0.0, empty view (corosync exec/vsf_quorum.c without a provider).
		nt = wire.Notification{ID: wire.EvV1QuorumNotification, Quorate: true, Members: []uint32{}}
	}
	if model == wire.ModelV0 {
		nt.ID = wire.EvNotification
		nt.Ring.NodeID = 0
	}
	b, err := wire.AppendEvent(nil, nt)
	if err != nil {
		panic(err) // our own state never exceeds the limits
	}
	return b
}

func (n *Node) nodelistEvent(joined, left []uint32) []byte {
	b, err := wire.AppendEvent(nil, wire.Notification{ID: wire.EvV1NodelistNotification, Ring: n.ring, Members: n.members, Joined: joined, Left: left})
	if err != nil {
		panic(err)
	}
	return b
}

func (n *Node) notifyQuorum() {
	for cn := range n.conns {
		if q, ok := cn.h.(*quorumConn); ok && q.tracking {
			cn.push(n.quorumEvent(q.model))
		}
	}
}

func (n *Node) notifyNodelist(joined, left []uint32) {
	for cn := range n.conns {
		if q, ok := cn.h.(*quorumConn); ok && q.tracking && q.model == wire.ModelV1 {
			cn.push(n.nodelistEvent(joined, left))
		}
	}
}

// quorumConn is the daemon side of a quorum connection: its model and
// whether it tracks.
type quorumConn struct {
	*conn
	model    uint32
	tracking bool
}

// handle answers a quorum request as exec/vsf_quorum.c does.
func (q *quorumConn) handle(req, out []byte) []byte {
	r, err := wire.DecodeRequest(req)
	if err != nil {
		return wire.AppendReject(out, corosync.ErrInvalidParam)
	}
	n := q.n
	typ := uint32(1)
	if n.c.free {
		typ = 0
	}
	switch r.ID {
	case wire.ReqGetQuorate:
		v := uint32(0)
		if n.quorate || n.c.free {
			v = 1
		}
		return wire.AppendResponse(out, wire.ResGetQuorate, corosync.OK, v)
	case wire.ReqGetType:
		return wire.AppendResponse(out, wire.ResGetType, corosync.OK, typ)
	case wire.ReqModelGetType:
		if r.Arg != wire.ModelV0 && r.Arg != wire.ModelV1 {
			return wire.AppendResponse(out, wire.ResModelGetType, corosync.ErrInvalidParam, typ)
		}
		q.model = r.Arg
		return wire.AppendResponse(out, wire.ResModelGetType, corosync.OK, typ)
	case wire.ReqTrackStart:
		if r.Arg&(wire.TrackCurrent|wire.TrackChanges) != 0 {
			if q.model == wire.ModelV1 {
				q.push(n.nodelistEvent([]uint32{}, []uint32{}))
			}
			q.push(n.quorumEvent(q.model))
		}
		code := corosync.OK
		if q.tracking {
			code = corosync.ErrExist
		} else if r.Arg&(wire.TrackChanges|wire.TrackChangesOnly) != 0 {
			q.tracking = true
		}
		return wire.AppendResponse(out, wire.ResTrackStart, code, 0)
	case wire.ReqTrackStop:
		q.tracking = false
		return wire.AppendResponse(out, wire.ResTrackStop, corosync.OK, 0)
	}
	return wire.AppendReject(out, corosync.ErrInvalidParam)
}
