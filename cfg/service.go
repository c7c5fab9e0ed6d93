package cfg

import (
	"context"
	"encoding/binary"
	"errors"
	"strconv"
	"sync"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/internal/wire/cfgwire"
)

// tracker is the cfg service as the session core sees it. The session calls
// Setup, Event, Lost and Reconnected from one goroutine at a time.
type tracker struct {
	c     *Client
	state Event
}

var _ session.Service[Event] = (*tracker)(nil)

// Goodbye stops shutdown tracking before the connection closes, so that a
// shutdown request at that moment is not sent to a closed connection (an
// error in the daemon's log). The daemon counts a client that stops
// tracking as one that closes: an implicit yes. libcfg's finalize just
// disconnects.
func (t *tracker) Goodbye(ctx context.Context, conn *session.Conn) {
	if t.c.tracking && conn.Supports(cfgwire.ReqTrackStop) {
		call(ctx, conn, cfgwire.Request{ID: cfgwire.ReqTrackStop})
	}
}

// Setup reads the local node id and, when asked for, starts shutdown
// tracking.
func (t *tracker) Setup(ctx context.Context, conn *session.Conn) (Event, error) {
	r, err := call(ctx, conn, cfgwire.Request{ID: cfgwire.ReqLocalGet})
	if err != nil {
		return Event{}, err
	}
	st := Event{Kind: corosync.EventSnapshot, Connected: true, LocalNodeID: r.LocalNodeID}
	if t.c.tracking {
		if _, err := call(ctx, conn, cfgwire.Request{ID: cfgwire.ReqTrackStart}); err != nil {
			return Event{}, err
		}
		st.Tracking = true
	}
	t.state = st
	return st, nil
}

// Event turns a TESTSHUTDOWN notification into an event. Unknown event ids
// are ignored.
func (t *tracker) Event(msg []byte) (Event, bool, error) {
	h, err := wire.DecodeResponseHeader(msg)
	if err != nil {
		return Event{}, false, corosync.NewError("cfg event", corosync.ErrMessageError, err)
	}
	if h.ID != cfgwire.EvTestShutdown {
		return Event{}, false, nil
	}
	e, err := cfgwire.DecodeEvent(msg)
	if err != nil {
		return Event{}, false, corosync.NewError("cfg event", corosync.ErrMessageError, err)
	}
	ev := t.state
	ev.Kind = corosync.EventShutdownRequest
	if e.Error == corosync.ErrTimeout {
		ev.Kind = corosync.EventShutdownTimedOut
	}
	ev.Flags = ShutdownFlags(e.Flags)
	return ev, true, nil
}

// Lost resets the state: not connected, not tracking.
func (t *tracker) Lost(why error) Event {
	t.state = Event{}
	return Event{Kind: corosync.EventDisconnected, Err: why}
}

// Reconnected announces the fresh state; the snapshot follows.
func (t *tracker) Reconnected(snap Event) Event {
	snap.Kind = corosync.EventReconnected
	return snap
}

// Snapshot turns the latest event into the state it leaves behind.
func (*tracker) Snapshot(ev Event) Event {
	ev.Skipped = 0
	if ev.Kind == corosync.EventDisconnected {
		return ev
	}
	ev.Kind, ev.Flags = corosync.EventSnapshot, 0
	return ev
}

// Skip records, on the event a latest-wins subscriber gets, the one it missed.
func (*tracker) Skip(dropped, next Event) Event {
	next.Skipped += dropped.Skipped + 1
	return next
}

// call encodes r, sends it on conn and decodes the response.
func call(ctx context.Context, conn *session.Conn, r cfgwire.Request) (cfgwire.Response, error) {
	op := opName(r.ID)
	bufs := getBufs()
	defer bufPool.Put(bufs)
	out, err := send(ctx, conn, op, r, bufs)
	if err != nil {
		return cfgwire.Response{}, annotate(err, r)
	}
	resp, err := cfgwire.DecodeResponse(out, r.ID) // copies what it keeps
	if err != nil {
		conn.Close() // the session reconnects
		return resp, corosync.NewError(op, corosync.ErrMessageError, err)
	}
	if resp.Error != corosync.OK { // Call returns these; kept for safety
		return resp, corosync.NewError(op, resp.Error, errors.New("daemon refused"))
	}
	return resp, nil
}

// annotate names, in a failed call's error, the node the call was about.
// NODESTATUSGET's CS_ERR_FAILED_OPERATION is what corosync answers for a
// node id that is not a knet host of the cluster (and on a cluster not on
// knet), where GET_NODE_ADDRS answers CS_ERR_NOT_EXIST: the error keeps the
// daemon's code (the one libcfg returns, and corosync.Code's answer) and
// matches corosync.ErrNotExist too, so one errors.Is test reads the same
// mistake in both calls.
func annotate(err error, r cfgwire.Request) error {
	switch r.ID {
	case cfgwire.ReqNodeStatusGet:
		if corosync.Code(err) == corosync.ErrFailedOperation {
			var oe *corosync.OpError
			if errors.As(err, &oe) {
				err = &corosync.OpError{Op: oe.Op, Code: oe.Code, Err: noKnetHost(r.NodeID)}
			}
		}
		fallthrough
	case cfgwire.ReqGetNodeAddrs, cfgwire.ReqKillNode:
		return session.Annotate(err, "node "+strconv.FormatUint(uint64(r.NodeID), 10))
	}
	return err
}

// noKnetHost is NODESTATUSGET's failure for a node knet does not know: it
// matches corosync.ErrNotExist.
type noKnetHost uint32

func (n noKnetHost) Error() string {
	return "node " + strconv.FormatUint(uint64(n), 10) + " is not a knet host of this cluster"
}

func (noKnetHost) Is(target error) bool { return target == corosync.ErrNotExist }

// send encodes r into bufs, sends it on conn and returns the response, in
// bufs.resp's memory.
func send(ctx context.Context, conn *session.Conn, op string, r cfgwire.Request, bufs *callBufs) ([]byte, error) {
	req, err := cfgwire.AppendRequest(bufs.req[:0], r)
	if err != nil {
		return nil, err
	}
	want := cfgwire.ResponseForVersion(r.ID, conn.Version())
	if size := cfgwire.ResponseSize(cfgwire.ResponseFor(r.ID)); cap(bufs.resp) < size {
		bufs.resp = make([]byte, 0, size)
	}
	out, err := conn.Call(ctx, op, req, want, bufs.resp[:0])
	if err == nil && want != cfgwire.ResponseFor(r.ID) {
		// corosync 2.x numbers this response differently; the decoder
		// knows 3.x's ids.
		binary.LittleEndian.PutUint32(out[0:], uint32(cfgwire.ResponseFor(r.ID)))
	}
	if cap(out) > cap(bufs.resp) && cap(out) <= maxPooledResp {
		bufs.resp = out[:0] // a get_node_addrs answer larger than usual
	}
	return out, err
}

// nodeStatus asks for node nodeID's status and decodes it into a pooled
// cfgwire.NodeStatus, whose link address strings carry over from the last
// call that used the same buffers: a steady-state call allocates nothing
// here.
func nodeStatus(ctx context.Context, conn *session.Conn, nodeID uint32, out *NodeStatus) error {
	const op = "cfg node_status_get"
	bufs := getBufs()
	defer bufPool.Put(bufs)
	r := cfgwire.Request{ID: cfgwire.ReqNodeStatusGet, NodeID: nodeID, Version: cfgwire.NodeStatusV1}
	b, err := send(ctx, conn, op, r, bufs)
	if err != nil {
		return annotate(err, r)
	}
	ns := &bufs.status
	code, err := cfgwire.DecodeNodeStatusInto(b, ns)
	if err != nil {
		*ns = cfgwire.NodeStatus{} // may be half written
		conn.Close()               // the session reconnects
		return corosync.NewError(op, corosync.ErrMessageError, err)
	}
	if code != corosync.OK { // Call returns these; kept for safety
		return corosync.NewError(op, code, errors.New("daemon refused"))
	}
	*out = NodeStatus{NodeID: ns.NodeID, Reachable: ns.Reachable, Remote: ns.Remote, External: ns.External,
		OnwireMin: ns.OnwireMin, OnwireMax: ns.OnwireMax, OnwireVer: ns.OnwireVer}
	for i, l := range ns.Links {
		out.Links[i] = LinkStatus(l)
	}
	return nil
}

// callBufs holds one call's request and response, and the last node status
// decoded with them; pooled so that a call allocates (almost) nothing.
type callBufs struct {
	req    [cfgwire.MaxRequestSize]byte
	resp   []byte
	status cfgwire.NodeStatus
}

// maxPooledResp bounds the response buffer kept in the pool (the largest
// regular answer is ringstatusget's 10272 bytes).
const maxPooledResp = 16 << 10

var bufPool = sync.Pool{New: func() any { return new(callBufs) }}

func getBufs() *callBufs { return bufPool.Get().(*callBufs) }

func opName(id int32) string {
	switch id {
	case cfgwire.ReqRingStatusGet:
		return "cfg ring_get"
	case cfgwire.ReqKillNode:
		return "cfg kill_node"
	case cfgwire.ReqTryShutdown:
		return "cfg try_shutdown"
	case cfgwire.ReqReplyToShutdown:
		return "cfg replyto_shutdown"
	case cfgwire.ReqGetNodeAddrs:
		return "cfg get_node_addrs"
	case cfgwire.ReqLocalGet:
		return "cfg local_get"
	case cfgwire.ReqReloadConfig:
		return "cfg reload_config"
	case cfgwire.ReqReopenLogFiles:
		return "cfg reopen_log_files"
	case cfgwire.ReqNodeStatusGet:
		return "cfg node_status_get"
	case cfgwire.ReqTrackStart:
		return "cfg trackstart"
	case cfgwire.ReqTrackStop:
		return "cfg trackstop"
	}
	return "cfg"
}

// End has nothing to end: every event of this service goes through the
// session's dispatcher, whose subscriptions end with the session.
func (*tracker) End(error) {}
