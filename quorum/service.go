package quorum

import (
	"context"
	"errors"
	"fmt"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire/quorumwire"
)

// tracker is the quorum service as the session core sees it: the setup of
// a connection and the quorum state that notifications change. The session
// calls it from one goroutine at a time.
type tracker struct {
	c        *Client
	state    QuorumEvent
	nodelist *NodelistEvent
}

var _ session.Service[Event] = (*tracker)(nil)

// Goodbye stops tracking before the connection closes: a notification the
// daemon sent to a closed connection (a membership change at that moment)
// would be an error in its log. libquorum's finalize just disconnects.
func (t *tracker) Goodbye(ctx context.Context, conn *session.Conn) {
	if t.c.tracking.Load() {
		call(ctx, conn, "quorum trackstop", quorumwire.ReqTrackStop, 0)
	}
}

// Setup selects the model, starts tracking and reads the snapshot the
// daemon queues before its trackstart response.
func (t *tracker) Setup(ctx context.Context, conn *session.Conn) (Event, error) {
	var r quorumwire.Response
	var err error
	model := t.c.want
	if t.c.auto && !conn.Supports(quorumwire.ReqModelGetType) {
		model = ModelV0
	}
	t.c.model.Store(uint32(model))
	if model == ModelV1 {
		r, err = call(ctx, conn, "quorum model_gettype", quorumwire.ReqModelGetType, quorumwire.ModelV1)
	} else {
		r, err = call(ctx, conn, "quorum gettype", quorumwire.ReqGetType, 0)
	}
	if err != nil {
		return Event{}, err
	}
	t.c.typ.Store(r.Value)
	t.state, t.nodelist = QuorumEvent{}, nil
	if !t.c.tracking.Load() {
		r, err = call(ctx, conn, "quorum getquorate", quorumwire.ReqGetQuorate, 0)
		if err != nil {
			return Event{}, err
		}
		t.state.Quorate = r.Value == 1
		return Event{Kind: corosync.EventSnapshot, QuorumEvent: t.state}, nil
	}
	if _, err = call(ctx, conn, "quorum trackstart", quorumwire.ReqTrackStart, quorumwire.TrackChanges); err != nil &&
		!errors.Is(err, corosync.ErrExist) { // EXIST still sends the snapshot
		return Event{}, err
	}
	// V1: a nodelist notification, then a quorum notification. V0: one quorum
	// notification. They were queued before the trackstart response.
	for {
		msg, err := conn.ReadEvent(ctx, "quorum snapshot")
		if err != nil {
			return Event{}, err
		}
		ev, ok, err := t.Event(msg)
		if err != nil {
			return Event{}, err
		}
		if !ok {
			return Event{}, corosync.NewError("quorum snapshot", corosync.ErrLibrary, errors.New("unexpected notification before the snapshot"))
		}
		if ev.Kind == corosync.EventQuorum { // the snapshot ends with the quorum notification
			return t.Snapshot(ev), nil
		}
	}
}

// Event folds a notification into the state and returns the event.
func (t *tracker) Event(msg []byte) (Event, bool, error) {
	n, err := quorumwire.DecodeEvent(msg)
	if err != nil {
		return Event{}, false, corosync.NewError("quorum event", corosync.ErrMessageError, err)
	}
	model := t.c.Model()
	switch {
	case model == ModelV0 && n.ID == quorumwire.EvNotification,
		model == ModelV1 && n.ID == quorumwire.EvV1QuorumNotification:
		t.state = QuorumEvent{Quorate: n.Quorate, Ring: ringFrom(n.Ring), Members: n.Members}
		return Event{Kind: corosync.EventQuorum, QuorumEvent: t.state, Nodelist: t.nodelist}, true, nil
	case model == ModelV1 && n.ID == quorumwire.EvV1NodelistNotification:
		ring := ringFrom(n.Ring)
		t.nodelist = &NodelistEvent{Ring: ring, Members: n.Members}
		return Event{Kind: corosync.EventNodelist, QuorumEvent: t.state,
			Nodelist: &NodelistEvent{Ring: ring, Members: n.Members, Joined: n.Joined, Left: n.Left}}, true, nil
	}
	return Event{}, false, corosync.NewError("quorum event", corosync.ErrLibrary, fmt.Errorf("unexpected event id %d for model %s", n.ID, model))
}

// Lost resets the state to fail-safe: not quorate, no ring, no members.
func (t *tracker) Lost(why error) Event {
	t.state, t.nodelist = QuorumEvent{}, nil
	return Event{Kind: corosync.EventDisconnected, Err: why}
}

// Reconnected announces the fresh state; the snapshot follows.
func (t *tracker) Reconnected(snap Event) Event {
	snap.Kind = corosync.EventReconnected
	return snap
}

// Snapshot turns the latest event into the state it leaves behind: a
// corosync.EventSnapshot (or corosync.EventDisconnected during an outage)
// whose nodelist has no joined or left nodes. New subscriptions start with it;
// Latest returns it.
func (*tracker) Snapshot(ev Event) Event {
	ev.Skipped = 0
	if ev.Kind == corosync.EventDisconnected {
		return ev
	}
	ev.Kind = corosync.EventSnapshot
	if n := ev.Nodelist; n != nil && (n.Joined != nil || n.Left != nil) {
		ev.Nodelist = &NodelistEvent{Ring: n.Ring, Members: n.Members}
	}
	return ev
}

// Skip records, on the event a latest-wins subscriber gets, the one it missed.
func (*tracker) Skip(dropped, next Event) Event {
	next.Skipped += dropped.Skipped + 1
	return next
}

// End has nothing to end: every event of this service goes through the
// session's dispatcher, whose subscriptions end with the session.
func (*tracker) End(error) {}
