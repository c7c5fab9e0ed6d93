package mock

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire/cfgwire"
)

// The cfg service, as corosync 3.1.7's exec/cfg.c answers it (measured: see
// internal/wire/cfgwire/SPEC.md). Every node has one knet link (link 0) at
// Node.Addr; a link is connected while both nodes run in one partition.

// Addr returns the node's (link 0) address: 192.0.2.<id>, as the test
// clusters of this module number them.
func (n *Node) Addr() netip.Addr {
	return netip.AddrFrom4([4]byte{192, 0, 2, byte(n.id)})
}

// Reachable reports whether node id's daemon, seen from this node, is up
// and in this node's partition (what cfg's node status says).
func (n *Node) reachable(id uint32) bool {
	return n.up && slices.Contains(n.members, id)
}

// cfgConn is the daemon side of a cfg connection.
type cfgConn struct {
	*conn
	tracking bool // a shutdown tracker (trackstart)
	asked    bool // it issued a shutdown request itself
}

// shutdown is a shutdown request being decided on one node.
type shutdown struct {
	flags    cfgwire.ShutdownFlags
	asker    *cfgConn
	reply    chan []byte
	expected int // trackers asked
	yes, no  int
	timer    *time.Timer
}

func cfgResp(out []byte, r cfgwire.Response) []byte {
	if r.Error == 0 {
		r.Error = corosync.OK
	}
	b, err := cfgwire.AppendResponse(out, r)
	if err != nil {
		panic(fmt.Sprintf("mock cfg: %v", err)) // our own answers always fit
	}
	return b
}

func cfgErr(out []byte, id int32, code corosync.Error) []byte {
	return cfgResp(out, cfgwire.Response{ID: id, Error: code})
}

// handle answers a cfg request.
func (c *cfgConn) handle(req, out []byte) []byte {
	r, err := cfgwire.DecodeRequest(req)
	if err != nil {
		return cfgwire.AppendReject(out, corosync.ErrInvalidParam)
	}
	n := c.n
	id := cfgwire.ResponseFor(r.ID)
	switch r.ID {
	case cfgwire.ReqLocalGet:
		return cfgResp(out, cfgwire.Response{ID: id, LocalNodeID: n.id})
	case cfgwire.ReqRingStatusGet:
		status := []byte{}
		for _, other := range n.c.ids {
			switch {
			case other == n.id:
				status = append(status, 'n')
			case n.reachable(other):
				status = append(status, '3') // enabled | connected
			default:
				status = append(status, '1') // enabled
			}
		}
		return cfgResp(out, cfgwire.Response{ID: id, Rings: []cfgwire.RingInterface{{Name: "0 " + n.Addr().String(), Status: string(status)}}})
	case cfgwire.ReqRingReenable:
		return cfgErr(out, id, corosync.ErrNotSupported)
	case cfgwire.ReqNodeStatusGet:
		target := n.c.nodes[r.NodeID]
		switch {
		case target == nil:
			return cfgErr(out, id, corosync.ErrFailedOperation)
		case r.Version != cfgwire.NodeStatusV1:
			return cfgErr(out, id, corosync.ErrNotSupported)
		}
		return cfgResp(out, cfgwire.Response{ID: id, NodeStatus: n.nodeStatus(target)})
	case cfgwire.ReqGetNodeAddrs:
		target := n.c.nodes[r.NodeID]
		if r.NodeID == 0 {
			target = n
		}
		if target == nil {
			return cfgErr(out, id, corosync.ErrNotExist)
		}
		return cfgResp(out, cfgwire.Response{ID: id, Addrs: &cfgwire.NodeAddrs{Family: cfgwire.AFInet, Addrs: []netip.Addr{target.Addr()}}})
	case cfgwire.ReqReloadConfig, cfgwire.ReqReopenLogFiles:
		return cfgErr(out, id, corosync.OK)
	case cfgwire.ReqTrackStart:
		c.tracking = true
		return cfgErr(out, id, corosync.OK)
	case cfgwire.ReqTrackStop:
		c.tracking = false
		return cfgErr(out, id, corosync.OK)
	case cfgwire.ReqKillNode:
		target := n.c.nodes[r.NodeID]
		if target == nil || !n.reachable(r.NodeID) {
			return cfgErr(out, id, corosync.ErrNotExist)
		}
		n.c.downLocked(r.NodeID, "killed by node "+fmt.Sprint(n.id)+": "+r.Reason, false)
		return cfgErr(out, id, corosync.OK)
	case cfgwire.ReqTryShutdown:
		return c.tryShutdown(out, r.Flags)
	case cfgwire.ReqReplyToShutdown:
		p := n.pending
		if p == nil {
			return cfgErr(out, id, corosync.ErrAccess)
		}
		if r.Reply == cfgwire.ShutdownYes {
			p.yes++
		} else {
			p.no++
		}
		if p.yes+p.no >= p.expected {
			n.decideShutdown(false)
		}
		return cfgErr(out, id, corosync.OK)
	}
	return cfgwire.AppendReject(out, corosync.ErrInvalidParam)
}

// nodeStatus is what node n's daemon reports about target.
func (n *Node) nodeStatus(target *Node) *cfgwire.NodeStatus {
	st := &cfgwire.NodeStatus{Version: cfgwire.NodeStatusV1, NodeID: target.id}
	if target == n {
		st.Reachable = true
		st.Links[0] = cfgwire.LinkStatus{Enabled: true, Connected: true, MTU: 65535, Src: n.Addr().String(), Dst: n.Addr().String()}
		return st
	}
	up := n.reachable(target.id)
	st.Reachable = up // knet reports remote 0 on 3.1.7 (measured)
	st.Links[0] = cfgwire.LinkStatus{Enabled: true, Connected: up, MTU: 1446, Src: n.Addr().String(), Dst: target.Addr().String()}
	return st
}

// tryShutdown starts a shutdown of c's node: at once with IMMEDIATE or
// without trackers, else after the trackers' answers or the timeout. The
// reply is held back until then.
func (c *cfgConn) tryShutdown(out []byte, flags cfgwire.ShutdownFlags) []byte {
	n := c.n
	id := cfgwire.ResTryShutdown
	if n.pending != nil {
		return cfgErr(out, id, corosync.ErrExist)
	}
	c.asked = true
	trackers := 0
	for cn := range n.conns {
		if t, ok := cn.h.(*cfgConn); ok && t.tracking {
			trackers++
		}
	}
	if flags == cfgwire.ShutdownImmediate || trackers == 0 {
		n.pending = &shutdown{flags: cfgwire.ShutdownImmediate, asker: c, reply: c.hold()}
		n.decideShutdown(false)
		return out
	}
	p := &shutdown{flags: flags, asker: c, reply: c.hold(), expected: trackers}
	n.pending = p
	ev := cfgwire.AppendEvent(nil, cfgwire.Event{ID: cfgwire.EvTestShutdown, Error: corosync.OK, Flags: flags})
	for cn := range n.conns {
		if t, ok := cn.h.(*cfgConn); ok && t.tracking {
			cn.push(ev)
		}
	}
	cl := n.c
	p.timer = time.AfterFunc(cl.shutdownTimeout, func() {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		if n.pending == p {
			n.decideShutdown(true)
		}
	})
	return out
}

// decideShutdown ends the pending shutdown: refused (BUSY) when a tracker
// said no (or, for a plain request, when the timeout passed), otherwise
// the requester is answered OK and the node's daemon stops. The caller
// holds the cluster mutex.
func (n *Node) decideShutdown(timedOut bool) {
	p := n.pending
	n.pending = nil
	if p.timer != nil {
		p.timer.Stop()
	}
	if timedOut {
		ev := cfgwire.AppendEvent(nil, cfgwire.Event{ID: cfgwire.EvTestShutdown, Error: corosync.ErrTimeout, Flags: p.flags})
		for cn := range n.conns {
			if t, ok := cn.h.(*cfgConn); ok && t.tracking && t.asked {
				cn.push(ev)
			}
		}
	}
	refused := p.flags == cfgwire.ShutdownRequest && (p.no > 0 || timedOut)
	if refused {
		p.reply <- cfgErr(nil, cfgwire.ResTryShutdown, corosync.ErrBusy)
		return
	}
	p.reply <- cfgErr(nil, cfgwire.ResTryShutdown, corosync.OK)
	n.c.downLocked(n.id, "shut down by cfg", true)
}
