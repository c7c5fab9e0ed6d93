package votequorum

import (
	"context"
	"errors"
	"log/slog"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire/vqwire"
)

var errInvalidTarget = errors.New("invalid target: use votequorum.Node(id) with id > 0, or votequorum.QuorumDevice()")

// trackContext is the context the client's trackstart carries.
const trackContext = 0

// tracker is the votequorum service as the session core sees it: the setup
// of a connection and the state that notifications change. The session
// calls it from one goroutine at a time.
type tracker struct {
	c     *Client
	log   *slog.Logger
	state State
	// regErr is why a device could not be registered again at the last
	// reconnect; Reconnected reports it.
	regErr error
}

var _ session.Service[Event] = (*tracker)(nil)

// Goodbye stops tracking before the connection closes: a notification the
// daemon sent to a closed connection (a membership or expected votes
// change at that moment) would be an error in its log. libvotequorum's
// finalize just disconnects.
func (t *tracker) Goodbye(ctx context.Context, conn *session.Conn) {
	call(ctx, conn, vqwire.Request{ID: vqwire.ReqTrackStop})
}

// Setup starts tracking, reads the snapshot the daemon queues before its
// trackstart answer (a nodelist, then a quorum notification), reads this
// node's expected votes, and registers again the device registered through
// this client.
func (t *tracker) Setup(ctx context.Context, conn *session.Conn) (Event, error) {
	t.state, t.regErr = State{}, nil
	if _, err := call(ctx, conn, vqwire.Request{ID: vqwire.ReqTrackStart, Context: trackContext, TrackFlags: vqwire.TrackChanges}); err != nil &&
		!errors.Is(err, corosync.ErrExist) { // EXIST still sends the snapshot
		return Event{}, err
	}
	for {
		msg, err := conn.ReadEvent(ctx, "votequorum snapshot")
		if err != nil {
			return Event{}, err
		}
		ev, ok, err := t.Event(msg)
		if err != nil {
			return Event{}, err
		}
		if ok && ev.Kind == corosync.EventQuorum { // the snapshot ends with the quorum notification
			break
		}
	}
	// corosync main follows it with an extra info notification per node
	// whose device set some, all queued before the trackstart answer: they
	// belong in the snapshot. (A notification of a change made after
	// trackstart may be folded in with them: the snapshot is the state
	// after it.)
	if conn.Version() == corosync.VersionMain {
		for conn.EventPending() {
			msg, err := conn.ReadEvent(ctx, "votequorum snapshot")
			if err != nil {
				return Event{}, err
			}
			if _, _, err := t.Event(msg); err != nil {
				return Event{}, err
			}
		}
	}
	// Expected votes are not in the snapshot. A change after trackstart
	// arrives as a notification after this answer, so the state converges.
	r, err := call(ctx, conn, vqwire.Request{ID: vqwire.ReqGetInfo})
	if err != nil {
		return Event{}, err
	}
	t.state.ExpectedVotes = r.Info.NodeExpectedVotes
	if name := t.c.qdeviceName(); name != "" {
		if err := t.reregister(ctx, conn, name); err != nil {
			return Event{}, err
		}
	}
	return Event{Kind: corosync.EventSnapshot, State: t.state}, nil
}

// reregister registers name again after a reconnect. The daemon's refusal
// (another device registered meanwhile, the device no longer allowed) is
// reported on corosync.EventReconnected and the client forgets the device; a
// connection failure fails the setup, which is retried.
func (t *tracker) reregister(ctx context.Context, conn *session.Conn, name string) error {
	// The answer must be awaited even when ctx ends (Close): see registerWait.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), registerWait)
	defer cancel()
	_, err := call(rctx, conn, vqwire.Request{ID: vqwire.ReqQdeviceRegister, Name: name})
	switch corosync.Code(err) {
	case corosync.OK:
		if t.log != nil {
			t.log.Info("quorum device registered again", slog.String("name", name))
		}
		return t.restoreExtraInfo(rctx, conn)
	case corosync.ErrExist, corosync.ErrAccess, corosync.ErrInvalidParam, corosync.ErrNameTooLong:
		t.c.forgetQdevice(name)
		t.regErr = err
		if t.log != nil {
			t.log.Warn("quorum device not registered again", slog.String("name", name), slog.String("error", err.Error()))
		}
		return nil
	}
	return err
}

// restoreExtraInfo sets again the extra info set through this client,
// after its device registered again. A refusal is reported like the
// registration's, and the client forgets the info.
func (t *tracker) restoreExtraInfo(ctx context.Context, conn *session.Conn) error {
	info := t.c.qdeviceExtraInfo()
	if len(info) == 0 {
		return nil
	}
	_, err := call(ctx, conn, vqwire.Request{ID: vqwire.ReqQdeviceSetExtraInfo, ExtraInfo: info})
	switch corosync.Code(err) {
	case corosync.OK:
		return nil
	case corosync.ErrNotSupported, corosync.ErrNotExist, corosync.ErrAccess, corosync.ErrInvalidParam:
		// ErrNotSupported: the daemon came back as a release.
		t.c.forgetExtraInfo()
		t.regErr = err
		if t.log != nil {
			t.log.Warn("quorum device extra info not set again", slog.String("error", err.Error()))
		}
		return nil
	}
	return err
}

// Event folds a notification into the state and returns the event. Ids
// this client does not know are ignored (ok false): newer daemons add some.
func (t *tracker) Event(msg []byte) (Event, bool, error) {
	n, err := vqwire.DecodeEvent(msg)
	if err != nil {
		return Event{}, false, corosync.NewError("votequorum event", corosync.ErrMessageError, err)
	}
	var kind corosync.EventKind
	switch n.ID {
	case vqwire.EvQuorum:
		kind = corosync.EventQuorum
		t.state.Quorate = n.Quorate
		nodes := make([]NodeStatus, len(n.Nodes))
		for i, x := range n.Nodes {
			nodes[i] = NodeStatus{NodeID: x.NodeID, State: NodeState(x.State)}
		}
		t.state.Nodes = nodes
	case vqwire.EvExpectedVotes:
		kind = corosync.EventExpectedVotes
		t.state.ExpectedVotes = n.ExpectedVotes
	case vqwire.EvNodelist:
		kind = corosync.EventNodelist
		t.state.Ring = corosync.RingID{NodeID: n.Ring.NodeID, Seq: n.Ring.Seq}
		t.state.Members = n.Members
	case vqwire.EvExtraInfo:
		// Copy on write: earlier events share the old map.
		m := make(map[uint32][]byte, len(t.state.QdeviceExtraInfo)+1)
		for id, info := range t.state.QdeviceExtraInfo {
			m[id] = info
		}
		if len(n.ExtraInfo) == 0 {
			delete(m, n.NodeID)
		} else {
			m[n.NodeID] = n.ExtraInfo
		}
		if len(m) == 0 {
			m = nil
		}
		t.state.QdeviceExtraInfo = m
		return Event{Kind: corosync.EventQdeviceExtraInfo, State: t.state, NodeID: n.NodeID}, true, nil
	default:
		return Event{}, false, nil
	}
	return Event{Kind: kind, State: t.state}, true, nil
}

// Lost resets the state to fail-safe: not quorate, no ring, no nodes.
func (t *tracker) Lost(why error) Event {
	t.state = State{}
	return Event{Kind: corosync.EventDisconnected, Err: why}
}

// Reconnected announces the fresh state, with the re-registration error if
// any; the snapshot follows.
func (t *tracker) Reconnected(snap Event) Event {
	snap.Kind = corosync.EventReconnected
	snap.Err, t.regErr = t.regErr, nil
	return snap
}

// Snapshot turns the latest event into the state it leaves behind: a
// corosync.EventSnapshot (or corosync.EventDisconnected during an outage). New
// subscriptions start with it; Latest returns it.
func (*tracker) Snapshot(ev Event) Event {
	ev.Skipped, ev.NodeID = 0, 0
	if ev.Kind == corosync.EventDisconnected {
		return ev
	}
	ev.Kind, ev.Err = corosync.EventSnapshot, nil
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
