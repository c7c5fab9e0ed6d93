package quorum

import (
	"context"
	"errors"
	"fmt"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/transport"
)

// establish connects and sets the connection up, retrying with backoff:
// TRY_AGAIN always, and any other failure but ErrAccess when retryAll is set.
// It fails when ctx ends.
func (c *Client) establish(ctx context.Context, retryAll bool) (transport.Conn, Type, Event, error) {
	for attempt := 0; ; attempt++ {
		conn, typ, snap, err := c.setup(ctx)
		if err == nil {
			return conn, typ, snap, nil
		}
		retry := errors.Is(err, corosync.ErrTryAgain) ||
			(retryAll && !errors.Is(err, corosync.ErrAccess) && !errors.Is(err, corosync.ErrInvalidParam))
		if !retry || ctx.Err() != nil {
			return nil, 0, Event{}, err
		}
		delay := c.cfg.backoff.Delay(attempt)
		c.log("connect failed; retrying", "error", err.Error(), "attempt", attempt+1, "delay", delay)
		if werr := sleepCtx(ctx, delay); werr != nil {
			return nil, 0, Event{}, fmt.Errorf("%w (last attempt: %w)", werr, err)
		}
	}
}

// setup dials, selects the model, starts tracking and reads the snapshot the
// daemon queues before its trackstart response.
func (c *Client) setup(ctx context.Context) (conn transport.Conn, typ Type, snap Event, err error) {
	conn, err = c.cfg.dialer.Dial(ctx, ServiceName)
	if err != nil {
		return nil, 0, Event{}, wrapOp("quorum dial", err)
	}
	defer func() {
		if err != nil {
			conn.Close()
		}
	}()
	var r wire.Response
	if c.cfg.model == ModelV1 {
		r, err = c.call(ctx, conn, "quorum model_gettype", wire.ReqModelGetType, wire.ModelV1)
	} else {
		r, err = c.call(ctx, conn, "quorum gettype", wire.ReqGetType, 0)
	}
	if err != nil {
		return nil, 0, Event{}, err
	}
	typ = Type(r.Value)
	c.mu.Lock()
	tracking := c.tracking
	c.mu.Unlock()
	if !tracking {
		r, err = c.call(ctx, conn, "quorum getquorate", wire.ReqGetQuorate, 0)
		if err != nil {
			return nil, 0, Event{}, err
		}
		return conn, typ, Event{Kind: EventSnapshot, QuorumEvent: QuorumEvent{Quorate: r.Value == 1}}, nil
	}
	if _, err = c.call(ctx, conn, "quorum trackstart", wire.ReqTrackStart, wire.TrackChanges); err != nil &&
		!errors.Is(err, corosync.ErrExist) { // EXIST still sends the snapshot
		return nil, 0, Event{}, err
	}
	// V1: a nodelist notification, then a quorum notification. V0: one quorum
	// notification. They were queued before the trackstart response.
	c.state, c.nodelist = QuorumEvent{}, nil
	for {
		var buf []byte
		buf, err = conn.ReadEvent(ctx)
		if err != nil {
			return nil, 0, Event{}, wrapOp("quorum snapshot", err)
		}
		var n wire.Notification
		n, err = wire.DecodeEvent(buf)
		if err != nil {
			return nil, 0, Event{}, corosync.NewError("quorum snapshot", corosync.ErrMessageError, err)
		}
		ev, ok := c.apply(n)
		if !ok {
			err = corosync.NewError("quorum snapshot", corosync.ErrLibrary, fmt.Errorf("unexpected event id %d for model %s", n.ID, c.cfg.model))
			return nil, 0, Event{}, err
		}
		if ev.Kind == EventQuorum { // the snapshot ends with the quorum notification
			return conn, typ, asSnapshot(ev), nil
		}
	}
}

// next is the dispatcher's source: it returns queued lifecycle events first,
// then reads the connection, reconnecting when it is lost.
func (c *Client) next(ctx context.Context) (Event, error) {
	for {
		if len(c.pending) > 0 {
			ev := c.pending[0]
			c.pending[0] = Event{}
			c.pending = c.pending[1:]
			return ev, nil
		}
		if c.lostErr != nil {
			return Event{}, c.lostErr
		}
		c.mu.Lock()
		conn, closed := c.conn, c.closed
		c.mu.Unlock()
		if closed {
			return Event{}, ErrClosed
		}
		if conn == nil {
			if err := c.reconnect(ctx); err != nil {
				return Event{}, err
			}
			continue
		}
		buf, err := conn.ReadEvent(ctx)
		if err == nil {
			var n wire.Notification
			if n, err = wire.DecodeEvent(buf); err == nil {
				if ev, ok := c.apply(n); ok {
					return ev, nil
				}
				err = corosync.NewError("quorum event", corosync.ErrLibrary, fmt.Errorf("unexpected event id %d for model %s", n.ID, c.cfg.model))
			} else {
				err = corosync.NewError("quorum event", corosync.ErrMessageError, err)
			}
		}
		if ctx.Err() != nil {
			return Event{}, ctx.Err()
		}
		return c.lost(conn, err), nil
	}
}

// lost drops conn and returns the fail-safe EventDisconnected.
func (c *Client) lost(conn transport.Conn, err error) Event {
	c.mu.Lock()
	if c.conn == conn {
		c.conn = nil
	}
	c.mu.Unlock()
	conn.Close()
	c.log("connection to corosync lost", "error", err.Error())
	c.state, c.nodelist = QuorumEvent{}, nil
	if !c.cfg.reconnect {
		c.lostErr = err
	}
	return Event{Kind: EventDisconnected, Err: err}
}

func (c *Client) reconnect(ctx context.Context) error {
	conn, typ, snap, err := c.establish(ctx, true)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		conn.Close()
		return ErrClosed
	}
	c.conn, c.typ = conn, typ
	c.mu.Unlock()
	c.log("reconnected to corosync", "quorate", snap.Quorate, "ring", snap.Ring.String())
	rec := snap
	rec.Kind = EventReconnected
	c.pending = append(c.pending, rec, snap)
	return nil
}

// apply folds a notification into the client's state and returns the event.
func (c *Client) apply(n wire.Notification) (Event, bool) {
	switch {
	case c.cfg.model == ModelV0 && n.ID == wire.EvNotification,
		c.cfg.model == ModelV1 && n.ID == wire.EvV1QuorumNotification:
		c.state = QuorumEvent{Quorate: n.Quorate, Ring: ringFrom(n.Ring), Members: n.Members}
		return Event{Kind: EventQuorum, QuorumEvent: c.state, Nodelist: c.nodelist}, true
	case c.cfg.model == ModelV1 && n.ID == wire.EvV1NodelistNotification:
		ring := ringFrom(n.Ring)
		c.nodelist = &NodelistEvent{Ring: ring, Members: n.Members}
		return Event{Kind: EventNodelist, QuorumEvent: c.state,
			Nodelist: &NodelistEvent{Ring: ring, Members: n.Members, Joined: n.Joined, Left: n.Left}}, true
	}
	return Event{}, false
}
