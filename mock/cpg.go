package mock

import (
	"cmp"
	"errors"
	"slices"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire/cpgwire"
	"github.com/corosync-go/corosync/internal/wire/quorumwire"
)

// The cpg service, as corosync 3.1.7's exec/cpg.c behaves (measured: see
// internal/wire/cpgwire/SPEC.md). Each node's processes see the groups of their
// partition. Everything happens under the cluster mutex, so messages and
// configuration changes form one total order per partition: every member
// queues them in the same order, confchgs at the same point.
//
// Group confchgs: join (reason join), leave (leave), a connection closed
// without leaving (procdown), members of nodes that died or were cut off
// (nodedown), members of nodes that merged back (nodeup); then a totem
// confchg to every cpg connection of a node whose membership changed.
// Daemon answers: EXIST for a second join on a connection or a pid already
// in the group on that node, BUSY (or EXIST for the same group and pid) for
// a join after a leave, NOT_EXIST for a leave or partial mcast while not
// joined, NAME_TOO_LONG, an mcast while not joined silently dropped, no
// answer to mcast, a left connection still receiving the group's messages,
// FINALIZE taking the connection off the node's list, iteration wrapping
// after NO_SECTIONS. Not modelled: CS_ERR_INTERRUPT on fragments, flow
// control (see Node.TryAgainRequests), deliveries over 1 MiB (Send fails
// with CS_ERR_TOO_BIG where the daemon breaks every receiver).

type cpgState uint8

const (
	cpgUnjoined cpgState = iota
	cpgJoined
	cpgLeft
)

// cpgConn is the daemon side of a cpg connection.
type cpgConn struct {
	*conn
	state     cpgState
	group     cpgwire.Name
	pid       uint32
	finalized bool              // off the node's list: no deliveries, no EXIST
	view      []cpgwire.Address // the members last reported to it
	ring      quorumwire.RingID // the ring last reported to it
	iters     map[uint64]*cpgIter
	nextIter  uint64
	watching  bool
}

type cpgIter struct {
	entries []cpgwire.IterationEntry
	pos     int
}

func (cc *cpgConn) self() cpgwire.Address {
	return cpgwire.Address{NodeID: cc.n.id, PID: cc.pid}
}

// cpgConns returns the live cpg connections of the nodes in ids, in a stable
// order. Caller holds the cluster mutex.
func (c *Cluster) cpgConns(ids []uint32) []*cpgConn {
	var out []*cpgConn
	for _, id := range ids {
		n := c.nodes[id]
		if n == nil || !n.up {
			continue
		}
		for cn := range n.conns {
			if cc, ok := cn.h.(*cpgConn); ok && cn.state("") == nil {
				out = append(out, cc)
			}
		}
	}
	slices.SortFunc(out, func(a, b *cpgConn) int {
		if r := cmp.Compare(a.n.id, b.n.id); r != 0 {
			return r
		}
		return cmp.Compare(a.pid, b.pid)
	})
	return out
}

// cpgMembers is group's membership as node n sees it, sorted.
func (n *Node) cpgMembers(group cpgwire.Name) []cpgwire.Address {
	out := []cpgwire.Address{}
	if !n.up {
		return out
	}
	for _, cc := range n.c.cpgConns(n.members) {
		if cc.state == cpgJoined && cc.group == group {
			out = append(out, cc.self())
		}
	}
	return out
}

// cpgReceivers are the connections of n's partition that receive group's
// events: joined, or left but not finalized (the daemon's list).
func (n *Node) cpgReceivers(group cpgwire.Name, leftToo bool) []*cpgConn {
	var out []*cpgConn
	for _, cc := range n.c.cpgConns(n.members) {
		if cc.group == group && !cc.finalized && (cc.state == cpgJoined || (leftToo && cc.state == cpgLeft)) {
			out = append(out, cc)
		}
	}
	return out
}

func mustEvent(e cpgwire.Event) []byte {
	b, err := cpgwire.AppendEvent(nil, e)
	if err != nil {
		panic("mock cpg: " + err.Error()) // our own state never exceeds the limits
	}
	return b
}

// confchg sends every joined member of group in n's partition whose view
// differs from the membership now a confchg with the given entries in
// joined and left.
func (n *Node) cpgConfchg(group cpgwire.Name, joined, left []cpgwire.Address, extra *cpgConn) {
	members := n.cpgMembers(group)
	rcv := n.cpgReceivers(group, false)
	if extra != nil && !slices.Contains(rcv, extra) {
		rcv = append(rcv, extra)
	}
	ev := mustEvent(cpgwire.Event{ID: cpgwire.EvConfchg, Group: group, Members: members,
		Joined: nonNil(joined), Left: nonNil(left)})
	for _, cc := range rcv {
		cc.view = members
		cc.push(ev)
	}
}

func nonNil(a []cpgwire.Address) []cpgwire.Address {
	if a == nil {
		return []cpgwire.Address{}
	}
	return a
}

func (cc *cpgConn) totem() {
	n := cc.n
	cc.ring = n.ring
	cc.push(mustEvent(cpgwire.Event{ID: cpgwire.EvTotemConfchg, Ring: cpgwire.RingID{NodeID: n.ring.NodeID, Seq: n.ring.Seq},
		TotemMembers: slices.Clone(n.members)}))
}

// cpgMembershipChanged reports nodedown and nodeup to every joined member
// whose view changed with the cluster membership, then the new ring to
// every cpg connection of a node whose ring changed. Called by recompute,
// with the cluster mutex held.
func (c *Cluster) cpgMembershipChanged() {
	for _, cc := range c.cpgConns(c.ids) {
		if cc.state != cpgJoined || cc.finalized {
			continue
		}
		now := cc.n.cpgMembers(cc.group)
		var joined, left []cpgwire.Address
		for _, a := range now {
			if !slices.Contains(cc.view, a) && a.NodeID != cc.n.id {
				a.Reason = cpgwire.ReasonNodeUp
				joined = append(joined, a)
			}
		}
		for _, a := range cc.view {
			if !slices.Contains(now, a) && a.NodeID != cc.n.id {
				a.Reason = cpgwire.ReasonNodeDown
				left = append(left, a)
			}
		}
		if len(joined)+len(left) > 0 {
			cc.view = now
			cc.push(mustEvent(cpgwire.Event{ID: cpgwire.EvConfchg, Group: cc.group, Members: now,
				Joined: nonNil(joined), Left: nonNil(left)}))
		}
	}
	for _, cc := range c.cpgConns(c.ids) {
		if !cc.finalized && cc.state != cpgUnjoined && cc.ring != cc.n.ring {
			cc.totem()
		}
	}
}

// watch reports the connection's end: closed without leaving is procdown
// for the others; a killed node's members were reported as nodedown by
// cpgMembershipChanged.
func (cc *cpgConn) watch() {
	<-cc.done
	c := cc.n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	cc.qmu.Lock()
	killed := cc.dead != nil
	cc.qmu.Unlock()
	if killed || cc.state != cpgJoined || !cc.n.up {
		return
	}
	cc.state = cpgUnjoined
	gone := cc.self()
	gone.Reason = cpgwire.ReasonProcDown
	cc.n.cpgConfchg(cc.group, nil, []cpgwire.Address{gone}, nil)
}

func cpgStatus(out []byte, req int32, code corosync.Error) []byte {
	b, err := cpgwire.AppendResponse(out, req, cpgwire.Response{Error: code})
	if err != nil {
		panic("mock cpg: " + err.Error())
	}
	return b
}

func cpgResp(out []byte, req int32, r cpgwire.Response) []byte {
	if r.Error == 0 {
		r.Error = corosync.OK
	}
	b, err := cpgwire.AppendResponse(out, req, r)
	if err != nil {
		panic("mock cpg: " + err.Error())
	}
	return b
}

// handle answers a cpg request.
func (cc *cpgConn) handle(req, out []byte) []byte {
	if !cc.watching {
		cc.watching = true
		go cc.watch()
	}
	r, err := cpgwire.DecodeRequest(req)
	if err != nil || cpgwire.RequestSize(r.ID) == 0 {
		return cpgwire.AppendReject(out, corosync.ErrInvalidParam)
	}
	n := cc.n
	switch r.ID {
	case cpgwire.ReqJoin:
		return cc.join(out, r)
	case cpgwire.ReqLeave:
		if cc.state != cpgJoined {
			return cpgStatus(out, r.ID, corosync.ErrNotExist)
		}
		cc.state = cpgLeft
		gone := cc.self()
		gone.Reason = cpgwire.ReasonLeave
		n.cpgConfchg(cc.group, nil, []cpgwire.Address{gone}, cc)
		return cpgStatus(out, r.ID, corosync.OK)
	case cpgwire.ReqPartialMcast:
		if cc.state != cpgJoined {
			return cpgStatus(out, r.ID, corosync.ErrNotExist)
		}
		ev := mustEvent(cpgwire.Event{ID: cpgwire.EvPartialDeliver, Group: cc.group, NodeID: n.id, PID: cc.pid,
			MsgLen: r.MsgLen, Type: r.Type, Payload: r.Payload})
		for _, rc := range n.cpgReceivers(cc.group, true) {
			rc.push(ev)
		}
		return cpgStatus(out, r.ID, corosync.OK)
	case cpgwire.ReqMembership:
		if r.NameLength > cpgwire.MaxNameLen {
			return cpgStatus(out, r.ID, corosync.ErrNameTooLong)
		}
		return cpgResp(out, r.ID, cpgwire.Response{Members: n.cpgMembers(r.Group)})
	case cpgwire.ReqLocalGet:
		return cpgResp(out, r.ID, cpgwire.Response{LocalNodeID: n.id})
	case cpgwire.ReqIterInitialize:
		return cc.iterInit(out, r)
	case cpgwire.ReqIterNext:
		it := cc.iters[r.Handle]
		if it == nil {
			return cpgStatus(out, r.ID, corosync.ErrLibrary)
		}
		if it.pos >= len(it.entries) {
			it.pos = 0 // the daemon wraps around
			return cpgStatus(out, r.ID, corosync.ErrNoSections)
		}
		e := it.entries[it.pos]
		it.pos++
		return cpgResp(out, r.ID, cpgwire.Response{Entry: e})
	case cpgwire.ReqIterFinalize:
		if cc.iters[r.Handle] == nil {
			return cpgStatus(out, r.ID, corosync.ErrLibrary)
		}
		delete(cc.iters, r.Handle)
		return cpgStatus(out, r.ID, corosync.OK)
	case cpgwire.ReqFinalize:
		cc.finalized = true
		return cpgStatus(out, r.ID, corosync.OK)
	case cpgwire.ReqZCFree:
		// A release frees nothing (this connection mapped no buffer) and
		// answers a bare header with id 0 and an error it never sets
		// (zero here); main answers RES_CPG_NULL, NOT_SUPPORTED.
		return cpgwire.AppendMainProbeAnswer(out, n.c.version == corosync.VersionMain, 0)
	}
	return cpgwire.AppendReject(out, corosync.ErrInvalidParam)
}

func (cc *cpgConn) join(out []byte, r cpgwire.Request) []byte {
	n := cc.n
	switch {
	case r.NameLength > cpgwire.MaxNameLen:
		return cpgStatus(out, r.ID, corosync.ErrNameTooLong)
	case cc.state == cpgJoined:
		return cpgStatus(out, r.ID, corosync.ErrExist)
	}
	for cn := range n.conns {
		if o, ok := cn.h.(*cpgConn); ok && !o.finalized && o.state != cpgUnjoined && o.pid == r.PID && o.group == r.Group {
			return cpgStatus(out, r.ID, corosync.ErrExist)
		}
	}
	if cc.state == cpgLeft {
		return cpgStatus(out, r.ID, corosync.ErrBusy)
	}
	cc.state, cc.group, cc.pid = cpgJoined, r.Group, r.PID
	self := cc.self()
	self.Reason = cpgwire.ReasonJoin
	n.cpgConfchg(cc.group, []cpgwire.Address{self}, nil, nil)
	if r.Flags&cpgwire.ModelV1DeliverInitialTotemConf != 0 {
		cc.totem()
	} else {
		cc.ring = n.ring
	}
	return cpgStatus(out, r.ID, corosync.OK)
}

func (cc *cpgConn) iterInit(out []byte, r cpgwire.Request) []byte {
	n := cc.n
	it := &cpgIter{}
	seen := map[cpgwire.Name]bool{}
	var groups []cpgwire.Name
	byGroup := map[cpgwire.Name][]cpgwire.IterationEntry{}
	for _, o := range n.c.cpgConns(n.members) {
		if o.state != cpgJoined {
			continue
		}
		if !seen[o.group] {
			seen[o.group] = true
			groups = append(groups, o.group)
		}
		byGroup[o.group] = append(byGroup[o.group], cpgwire.IterationEntry{Group: o.group, NodeID: o.n.id, PID: o.pid})
	}
	switch r.IterType {
	case cpgwire.IterNameOnly:
		for _, g := range groups {
			it.entries = append(it.entries, cpgwire.IterationEntry{Group: g})
		}
	case cpgwire.IterAll:
		for _, g := range groups {
			it.entries = append(it.entries, byGroup[g]...)
		}
	case cpgwire.IterOneGroup:
		if r.NameLength > cpgwire.MaxNameLen {
			return cpgStatus(out, r.ID, corosync.ErrNameTooLong)
		}
		it.entries = byGroup[r.Group]
	default:
		return cpgStatus(out, r.ID, corosync.ErrInvalidParam)
	}
	if cc.iters == nil {
		cc.iters = map[uint64]*cpgIter{}
	}
	cc.nextIter++
	h := cc.nextIter<<32 | uint64(n.id)
	cc.iters[h] = it
	return cpgResp(out, r.ID, cpgwire.Response{Handle: h})
}

// send takes an mcast: delivered to every member of the group in the
// partition (the sender too) and to left connections not finalized; dropped
// while not joined. No answer.
func (cc *cpgConn) send(msg []byte) error {
	if !cc.watching {
		cc.watching = true
		go cc.watch()
	}
	r, err := cpgwire.DecodeRequest(msg)
	if err != nil || r.ID != cpgwire.ReqMcast {
		return corosync.NewError("cpg mcast", corosync.ErrInvalidParam, errors.New("not an mcast"))
	}
	if cc.state != cpgJoined {
		return nil // the daemon logs "can't mcast to group" and drops it
	}
	n := cc.n
	ev, err := cpgwire.AppendEvent(nil, cpgwire.Event{ID: cpgwire.EvDeliver, Group: cc.group, NodeID: n.id, PID: cc.pid, Payload: r.Payload})
	if err != nil {
		return corosync.NewError("cpg mcast", corosync.ErrTooBig, err)
	}
	for _, rc := range n.cpgReceivers(cc.group, true) {
		rc.push(ev)
	}
	return nil
}
