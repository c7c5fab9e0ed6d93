package cpg

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/internal/wire/cpgwire"
)

type sender struct{ node, pid uint32 }

type assembly struct {
	want uint32
	buf  []byte
}

// inlineGrace is how long the pump leaves the connection to readers after
// the last one read it (session.Options.InlineGrace): a reader that keeps
// calling Next keeps reading inline; one that stops leaves the daemon's
// events unread for at most about twice this long before the pump reads
// them into the backlog. At totem's fastest (about 90 MB/s here) that is
// under a fifth of the connection's event ring.
const inlineGrace = time.Millisecond

// groupInline lets a reader waiting in Next with nothing pending read the
// connection itself (session.ReadInline), as libcpg's dispatch does: no
// goroutine hand-over between the daemon's event and the reader
// (BENCHMARKS.md, cpg latency).
type groupInline struct{ g *Group }

func (in groupInline) ReadInline(ctx context.Context, ready func() bool, wake, ended <-chan struct{}) (bool, error) {
	g := in.g
	<-g.sready
	if g.s == nil {
		return false, nil
	}
	r, err := g.s.ReadInline(g.readCtx(ctx), ready, wake, ended, nil)
	if err != nil && ctx.Err() == nil {
		return false, nil // the stream ended (or another reader took over): the caller finds out
	}
	return r != session.InlineUnavailable, err
}

// inlineCtx is the context a reader with a cancellable ctx reads inline
// with: ended by its ctx or by the stream's end (Group.rctx), made once per
// ctx of the caller, so that a reader calling Next with the same ctx again
// and again costs no allocation.
type inlineCtx struct {
	mu     sync.Mutex
	of     context.Context // the caller's ctx merged is made for
	merged context.Context
	cancel context.CancelFunc
	stop   func() bool
}

// readCtx returns the context to read inline with for a reader's ctx:
// g.rctx for one that never ends, else ctx merged with g.rctx.
func (g *Group) readCtx(ctx context.Context) context.Context {
	if ctx.Done() == nil {
		return g.rctx
	}
	ic := &g.ictx
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if ic.of != ctx || ic.merged.Err() != nil {
		if ic.cancel != nil {
			ic.stop()
			ic.cancel()
		}
		ic.of = ctx
		ic.merged, ic.cancel = context.WithCancel(ctx)
		ic.stop = context.AfterFunc(g.rctx, ic.cancel)
	}
	return ic.merged
}

// Pending reports whether the transport already holds the next event; it
// runs on the goroutine reading the connection.
func (in groupInline) Pending() bool { return in.g.conn != nil && in.g.conn.EventPending() }

// groupService is a group's connection as the session core sees it. Setup,
// Event, Lost and Reconnected run on one goroutine at a time.
type groupService struct{ g *Group }

var _ session.Service[Event] = (*groupService)(nil)

// Setup reads the local node id and joins (model v1, initial totem
// configuration), on the first connection and, with WithRejoin, on every
// new one.
func (s *groupService) Setup(ctx context.Context, conn *session.Conn) (Event, error) {
	g := s.g
	g.conn = conn
	var resp [64]byte
	r, err := call(ctx, conn, cpgwire.Request{ID: cpgwire.ReqLocalGet}, resp[:0])
	if err != nil {
		return Event{}, err
	}
	g.nodeID.Store(r.LocalNodeID)
	_, err = call(ctx, conn, cpgwire.Request{ID: cpgwire.ReqJoin, Group: g.name, PID: g.pid,
		Flags: cpgwire.ModelV1DeliverInitialTotemConf}, resp[:0])
	return Event{}, err
}

// Goodbye finalizes the connection before it is closed (libcpg's
// cpg_finalize): the daemon takes it off its list at once, so it sends no
// more events to it (each would be an error in its log once the socket is
// closed), and a new Join of this pid is not refused with EXIST. The
// daemon still tells the other members this process left (reason procdown,
// unless it left with Leave).
func (s *groupService) Goodbye(ctx context.Context, conn *session.Conn) { finalize(ctx, conn) }

// Event decodes a notification and pushes what it means to the reader.
// Nothing goes to the session's own dispatcher (ok is false).
func (s *groupService) Event(msg []byte) (Event, bool, error) {
	g := s.g
	if g.done {
		return Event{}, false, nil
	}
	h, err := wire.DecodeResponseHeader(msg)
	if err != nil {
		return Event{}, false, corosync.NewError("cpg event", corosync.ErrMessageError, err)
	}
	switch h.ID {
	case cpgwire.EvDeliver, cpgwire.EvPartialDeliver, cpgwire.EvConfchg, cpgwire.EvTotemConfchg:
	default:
		return Event{}, false, nil // an id this client does not know
	}
	e, err := cpgwire.DecodeEventIn(msg, g.name)
	if err != nil {
		return Event{}, false, corosync.NewError("cpg event", corosync.ErrMessageError, err)
	}
	if e.ID != cpgwire.EvTotemConfchg && e.Group != g.name {
		return Event{}, false, nil // a connection holds one group: cannot happen
	}
	switch e.ID {
	case cpgwire.EvDeliver:
		g.push(Event{Kind: corosync.EventMessage, Group: string(g.name), Sender: Member{NodeID: e.NodeID, PID: e.PID},
			Data: append([]byte(nil), e.Payload...)})
	case cpgwire.EvPartialDeliver:
		if data, ok := g.reassemble(e); ok {
			g.push(Event{Kind: corosync.EventMessage, Group: string(g.name), Sender: Member{NodeID: e.NodeID, PID: e.PID}, Data: data})
		}
	case cpgwire.EvConfchg:
		ev := Event{Kind: corosync.EventConfchg, Group: string(g.name), Members: members(e.Members),
			Joined: members(e.Joined), Left: members(e.Left)}
		self := false
		for _, l := range e.Left {
			delete(g.parts, sender{l.NodeID, l.PID}) // its incomplete message will not be completed
			if l.NodeID == g.nodeID.Load() && l.PID == g.pid && l.Reason == cpgwire.ReasonLeave {
				self = true
			}
		}
		g.push(ev)
		if self {
			g.done = true
			g.fail(ErrLeft) // before Leave hears of it: its Close must find the stream ended
			g.leftOnce.Do(func() { close(g.left) })
		}
	case cpgwire.EvTotemConfchg:
		g.push(Event{Kind: corosync.EventTotem, Group: string(g.name), Ring: corosync.RingID{NodeID: e.Ring.NodeID, Seq: e.Ring.Seq},
			Nodes: e.TotemMembers})
	}
	return Event{}, false, nil
}

// reassemble adds a fragment to its sender's message and returns the
// message when complete. Like libcpg, it drops fragments whose first one it
// did not see (the message began before this member joined), and a FIRST
// fragment starts a new message (the sender's previous one was interrupted
// and will be sent again).
func (g *Group) reassemble(e cpgwire.Event) ([]byte, bool) {
	k := sender{e.NodeID, e.PID}
	a := g.parts[k]
	if e.Type == cpgwire.PartialFirst {
		a = &assembly{want: e.MsgLen, buf: make([]byte, 0, min(int(e.MsgLen), 4<<20))}
		g.parts[k] = a
	}
	if a == nil {
		return nil, false
	}
	if a.want != e.MsgLen || uint64(len(a.buf))+uint64(len(e.Payload)) > uint64(a.want) {
		delete(g.parts, k) // inconsistent fragments: no message (libcpg would deliver garbage)
		return nil, false
	}
	a.buf = append(a.buf, e.Payload...)
	if e.Type != cpgwire.PartialLast {
		return nil, false
	}
	delete(g.parts, k)
	if uint32(len(a.buf)) != a.want {
		return nil, false
	}
	return a.buf, true
}

// Lost tells the reader that the membership is gone.
func (s *groupService) Lost(why error) Event {
	g := s.g
	clear(g.parts)
	select {
	case <-g.stop: // closing: nothing to tell
		return Event{}
	default:
	}
	g.push(Event{Kind: corosync.EventDisconnected, Group: string(g.name), Err: why})
	return Event{} // without rejoin, the session then ends (End)
}

// Reconnected tells the reader that the group was joined again.
func (s *groupService) Reconnected(Event) Event {
	s.g.push(Event{Kind: corosync.EventReconnected, Group: string(s.g.name)})
	return Event{}
}

// End ends the group's stream: the session has ended, closed
// (dispatch.ErrClosed) or with the connection gone for good
// (dispatch.ErrLost; without rejoin the membership went with it:
// ErrMembershipLost too). Sends then fail with the same cause.
func (s *groupService) End(err error) {
	g := s.g
	if !g.cfg.rejoin && errors.Is(err, dispatch.ErrLost) {
		err = corosync.NewError(ServiceName, corosync.Code(err), fmt.Errorf("%w: %w", ErrMembershipLost, err))
	}
	g.gone.Store(true)
	g.fail(err)
}

func (*groupService) Snapshot(ev Event) Event        { return ev }
func (*groupService) Skip(_ Event, next Event) Event { return next }

// controlService is the client's own connection: no group, so no events it
// delivers (the daemon sends totem confchgs to every cpg connection), and
// no lifecycle events either: nothing can subscribe to them.
type controlService struct{}

// Goodbye finalizes the connection before it is closed, as libcpg does: the
// daemon sends totem confchgs to every cpg connection it lists.
func (controlService) Goodbye(ctx context.Context, conn *session.Conn) { finalize(ctx, conn) }

func (controlService) Setup(context.Context, *session.Conn) (Event, error) { return Event{}, nil }
func (controlService) Event([]byte) (Event, bool, error)                   { return Event{}, false, nil }
func (controlService) Lost(error) Event                                    { return Event{} }
func (controlService) Reconnected(Event) Event                             { return Event{} }
func (controlService) Snapshot(ev Event) Event                             { return ev }
func (controlService) Skip(_ Event, next Event) Event                      { return next }

// End has nothing to end: the control connection delivers no stream.
func (controlService) End(error) {}
