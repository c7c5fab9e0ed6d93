package cfg

import (
	"context"
	"errors"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/cfgwire"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire"
)

// tracker is the cfg service as the session core sees it. The session calls
// Setup, Event, Lost and Reconnected from one goroutine at a time.
type tracker struct {
	c     *Client
	state Event
}

var _ session.Service[Event] = (*tracker)(nil)

// Setup reads the local node id and, when asked for, starts shutdown
// tracking.
func (t *tracker) Setup(ctx context.Context, conn *session.Conn) (Event, error) {
	r, err := call(ctx, conn, cfgwire.Request{ID: cfgwire.ReqLocalGet})
	if err != nil {
		return Event{}, err
	}
	st := Event{Kind: EventSnapshot, Connected: true, LocalNodeID: r.LocalNodeID}
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
	ev.Kind = EventShutdownRequest
	if e.Error == corosync.ErrTimeout {
		ev.Kind = EventShutdownTimedOut
	}
	ev.Flags = ShutdownFlags(e.Flags)
	return ev, true, nil
}

// Lost resets the state: not connected, not tracking.
func (t *tracker) Lost(why error) Event {
	t.state = Event{}
	return Event{Kind: EventDisconnected, Err: why}
}

// Reconnected announces the fresh state; the snapshot follows.
func (t *tracker) Reconnected(snap Event) Event {
	snap.Kind = EventReconnected
	return snap
}

// Snapshot turns the latest event into the state it leaves behind.
func (*tracker) Snapshot(ev Event) Event {
	ev.Skipped = 0
	if ev.Kind == EventDisconnected {
		return ev
	}
	ev.Kind, ev.Flags = EventSnapshot, 0
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
	req, err := cfgwire.AppendRequest(make([]byte, 0, cfgwire.RequestSize(r.ID)), r)
	if err != nil {
		return cfgwire.Response{}, err
	}
	size := cfgwire.ResponseSize(cfgwire.ResponseFor(r.ID))
	out, err := conn.Call(ctx, op, req, cfgwire.ResponseFor(r.ID), make([]byte, 0, size))
	if err != nil {
		return cfgwire.Response{}, err
	}
	resp, err := cfgwire.DecodeResponse(out, r.ID)
	if err != nil {
		conn.Close() // the session reconnects
		return resp, corosync.NewError(op, corosync.ErrMessageError, err)
	}
	if resp.Error != corosync.OK { // Call returns these; kept for safety
		return resp, corosync.NewError(op, resp.Error, errors.New("daemon refused"))
	}
	return resp, nil
}

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
