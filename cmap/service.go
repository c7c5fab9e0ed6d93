package cmap

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
)

// service is the cmap service as the session core sees it. Setup, Event,
// Lost and Reconnected run on one goroutine at a time: Dial's caller, then
// the client's event pump.
type service struct {
	c *Client
}

var _ session.Service[Event] = (*service)(nil)

// Goodbye deletes the trackers registered on conn before it closes: a
// change of a tracked key while the connection closes would otherwise be
// sent to a closed connection, an error in the daemon's log ("event_send
// retuned -32"). libcmap's finalize just disconnects.
func (s *service) Goodbye(ctx context.Context, conn *session.Conn) {
	c := s.c
	c.trackMu.Lock()
	defer c.trackMu.Unlock()
	c.tmu.Lock()
	ts := make([]*Track, 0, len(c.tracks))
	for _, t := range c.tracks {
		ts = append(ts, t)
	}
	c.tmu.Unlock()
	var buf [cmapwire.TrackDeleteRequestSize]byte
	var resp [64]byte
	for _, t := range ts {
		if t.conn == conn && ctx.Err() == nil {
			call(ctx, conn, cmapwire.ReqTrackDelete, t.key, cmapwire.AppendTrackDelete(buf[:0], t.handle), resp[:0])
		}
	}
}

// errTrackLost is why a track ends when the daemon refuses to register it
// again after a reconnect.
var errTrackLost = errors.New("the daemon refused to register the track again after a reconnect")

// Setup selects the client's map and registers every track on the new
// connection. A track the daemon now refuses ends with that error; a
// connection failure fails the setup, which is retried.
func (s *service) Setup(ctx context.Context, conn *session.Conn) (Event, error) {
	c := s.c
	if c.m != MapICMap {
		var buf [cmapwire.SetMapRequestSize]byte
		var resp [64]byte
		req, err := cmapwire.AppendSetCurrentMap(buf[:0], cmapwire.Map(c.m))
		if err != nil {
			return Event{}, err
		}
		if _, err := call(ctx, conn, cmapwire.ReqSetCurrentMap, "", req, resp[:0]); err != nil {
			return Event{}, err
		}
	}
	c.trackMu.Lock()
	defer c.trackMu.Unlock()
	c.tmu.Lock()
	ts := make([]*Track, 0, len(c.tracks))
	for _, t := range c.tracks {
		ts = append(ts, t)
	}
	c.tmu.Unlock()
	slices.SortFunc(ts, func(a, b *Track) int { return cmp.Compare(a.cookie, b.cookie) })
	for _, t := range ts {
		h, err := c.trackAdd(ctx, conn, t, false)
		switch corosync.Code(err) {
		case corosync.OK:
			t.handle, t.conn = h, conn
		case corosync.ErrInvalidParam, corosync.ErrNotExist, corosync.ErrAccess, corosync.ErrNotSupported,
			corosync.ErrNameTooLong, corosync.ErrBusy, corosync.ErrNoResources:
			t.conn = nil
			c.forget(t)
			t.fail(corosync.NewError("cmap track "+t.key, corosync.Code(err), fmt.Errorf("%w: %w", errTrackLost, err)))
		default:
			return Event{}, err
		}
	}
	return Event{}, nil
}

// Event routes a notification to its track. Nothing goes to the session's
// own dispatcher (ok is false).
func (s *service) Event(msg []byte) (Event, bool, error) {
	h, err := wire.DecodeResponseHeader(msg)
	if err != nil {
		return Event{}, false, corosync.NewError("cmap event", corosync.ErrMessageError, err)
	}
	if h.ID != cmapwire.EvNotify {
		return Event{}, false, nil // an id this client does not know
	}
	n, err := cmapwire.DecodeEvent(msg)
	if err != nil {
		return Event{}, false, corosync.NewError("cmap event", corosync.ErrMessageError, err)
	}
	kind, ok := kindOf(n.Event)
	if !ok {
		return Event{}, false, nil
	}
	c := s.c
	c.tmu.Lock()
	t := c.tracks[n.Cookie]
	c.tmu.Unlock()
	if t != nil {
		t.push(Event{Kind: kind, Key: n.Key, New: Value{n.New}, Old: Value{n.Old}})
	}
	return Event{}, false, nil
}

func (s *service) each(f func(*Track)) {
	c := s.c
	c.tmu.Lock()
	ts := make([]*Track, 0, len(c.tracks))
	for _, t := range c.tracks {
		ts = append(ts, t)
	}
	c.tmu.Unlock()
	slices.SortFunc(ts, func(a, b *Track) int { return cmp.Compare(a.cookie, b.cookie) })
	for _, t := range ts {
		f(t)
	}
}

// Lost tells every track that the connection is gone; without reconnection
// the tracks then end with why.
func (s *service) Lost(why error) Event {
	ev := Event{Kind: corosync.EventDisconnected, Err: why}
	s.each(func(t *Track) { t.push(ev) })
	return ev // without reconnection, the session then ends (End)
}

// End ends every track with err and makes later Track calls fail with it:
// the session has ended, closed (dispatch.ErrClosed: unread events are
// discarded) or gone for good (dispatch.ErrLost, e.g. a reconnect the
// daemon refused with corosync.ErrAccess: the events already handed over
// are read first). The tracks stay listed: Goodbye still deletes them on
// the daemon.
func (s *service) End(err error) {
	c := s.c
	c.tmu.Lock()
	if c.endErr == nil {
		c.endErr = err
	}
	c.tmu.Unlock()
	s.each(func(t *Track) { t.fail(err) })
}

// Reconnected tells every track that it is registered again and that
// changes may have been missed.
func (s *service) Reconnected(Event) Event {
	ev := Event{Kind: corosync.EventReconnected}
	s.each(func(t *Track) { t.push(ev) })
	return ev
}

// Snapshot returns the latest event as it is (nothing subscribes to the
// session's own dispatcher).
func (*service) Snapshot(ev Event) Event { return ev }

// Skip records a skipped event.
func (*service) Skip(dropped, next Event) Event { return skip(dropped, next) }
