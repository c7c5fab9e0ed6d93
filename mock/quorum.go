package mock

import (
	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/internal/wire/quorumwire"
)

func (n *Node) quorumEvent(model uint32) []byte {
	nt := quorumwire.Notification{ID: quorumwire.EvV1QuorumNotification, Quorate: n.quorate, Ring: n.ring, Members: n.members}
	if n.c.free {
		// No provider: quorate, ring 0.0, empty view (corosync exec/vsf_quorum.c without a provider).
		nt = quorumwire.Notification{ID: quorumwire.EvV1QuorumNotification, Quorate: true, Members: []uint32{}}
	}
	if model == quorumwire.ModelV0 {
		nt.ID = quorumwire.EvNotification
		nt.Ring.NodeID = 0
	}
	b, err := quorumwire.AppendEvent(nil, nt)
	if err != nil {
		panic(err) // our own state never exceeds the limits
	}
	return b
}

func (n *Node) nodelistEvent(joined, left []uint32) []byte {
	b, err := quorumwire.AppendEvent(nil, quorumwire.Notification{ID: quorumwire.EvV1NodelistNotification, Ring: n.ring, Members: n.members, Joined: joined, Left: left})
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
		if q, ok := cn.h.(*quorumConn); ok && q.tracking && q.model == quorumwire.ModelV1 {
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
	r, err := quorumwire.DecodeRequest(req)
	if err != nil {
		return wire.AppendReject(out, corosync.ErrInvalidParam)
	}
	n := q.n
	typ := uint32(1)
	if n.c.free {
		typ = 0
	}
	switch r.ID {
	case quorumwire.ReqGetQuorate:
		v := uint32(0)
		if n.quorate || n.c.free {
			v = 1
		}
		return quorumwire.AppendResponse(out, quorumwire.ResGetQuorate, corosync.OK, v)
	case quorumwire.ReqGetType:
		return quorumwire.AppendResponse(out, quorumwire.ResGetType, corosync.OK, typ)
	case quorumwire.ReqModelGetType:
		if r.Arg != quorumwire.ModelV0 && r.Arg != quorumwire.ModelV1 {
			return quorumwire.AppendResponse(out, quorumwire.ResModelGetType, corosync.ErrInvalidParam, typ)
		}
		q.model = r.Arg
		return quorumwire.AppendResponse(out, quorumwire.ResModelGetType, corosync.OK, typ)
	case quorumwire.ReqTrackStart:
		if r.Arg&(quorumwire.TrackCurrent|quorumwire.TrackChanges) != 0 {
			if q.model == quorumwire.ModelV1 {
				q.push(n.nodelistEvent([]uint32{}, []uint32{}))
			}
			q.push(n.quorumEvent(q.model))
		}
		code := corosync.OK
		if q.tracking {
			code = corosync.ErrExist
		} else if r.Arg&(quorumwire.TrackChanges|quorumwire.TrackChangesOnly) != 0 {
			q.tracking = true
		}
		return quorumwire.AppendResponse(out, quorumwire.ResTrackStart, code, 0)
	case quorumwire.ReqTrackStop:
		q.tracking = false
		return quorumwire.AppendResponse(out, quorumwire.ResTrackStop, corosync.OK, 0)
	}
	return wire.AppendReject(out, corosync.ErrInvalidParam)
}
