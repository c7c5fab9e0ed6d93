package cmap

import (
	"context"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
)

// Track is one tracker on the daemon (cmap_track_add) and the stream of
// its events: a dispatch.Subscription (Next, TryNext, Drain, Run, C, All,
// Err, Skipped: the stream contract of every service), fed directly by the
// client's event pump under the track's delivery policy, with no goroutine
// in between. A client holds any number of tracks; one event pump per
// client reads the daemon's notifications and routes each to its track.
// Its methods are safe for concurrent use.
//
// The track survives reconnects: the client registers it again on the new
// connection and delivers corosync.EventDisconnected, then
// corosync.EventReconnected (changes in between were not seen), then changes
// again. It ends (Err) as every stream does (see package dispatch): Close or
// the client's Close (dispatch.ErrClosed, corosync.ErrBadHandle), a Queue
// overflow (dispatch.ErrOverflow, corosync.ErrQueueFull), the connection gone
// for good (dispatch.ErrLost with why, e.g. corosync.ErrAccess), or the daemon
// refusing to register it again after a reconnect.
type Track struct {
	*dispatch.Subscription[Event]

	c      *Client
	cookie uint64 // our track_inst_handle: routes notifications to this track
	key    string
	flags  TrackFlags
	feed   *dispatch.Feed[Event]

	// guarded by c.trackMu
	handle uint64        // the daemon's track handle on conn
	conn   *session.Conn // the connection the tracker lives on; nil if none
	closed bool
}

// Track registers a tracker for key (flags without TrackPrefix) or for
// every key starting with key (flags with TrackPrefix; "" then tracks every
// key) and returns it (cmap_track_add). flags need at least one of
// TrackAdd, TrackDelete, TrackModify. opts choose the delivery policy
// (package dispatch): dispatch.LatestWins (the default: a slow reader skips
// to the newest change and Event.Skipped says how many it missed; right for
// an exact key, whose newest value wins), dispatch.Queue(n) to see every
// change of a prefix (the track ends with dispatch.ErrOverflow after the
// queued events when n are unread), dispatch.Unbounded(), or
// dispatch.Block(n) (nothing is lost, but while this track's reader does not
// read, the client's event pump waits, and so does every other track).
//
// Events of changes made after Track returns are delivered; Track does not
// report the current value (read it with Get or IterValues after Track to
// start from a consistent state). The key is checked before anything is
// sent (*KeyError), and exact tracking of a string stats key, which crashes
// corosync 3.1.7, is refused (*DangerError).
func (c *Client) Track(ctx context.Context, key string, flags TrackFlags, opts ...dispatch.SubOption) (*Track, error) {
	if _, err := cmapwire.AppendTrackAdd(nil, key, cmapwire.TrackFlags(flags), 0); err != nil {
		return nil, pubErr(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, corosync.NewError("cmap track_add", corosync.ErrTimeout, err)
	}
	c.trackMu.Lock()
	defer c.trackMu.Unlock()
	c.tmu.Lock()
	endErr := c.endErr
	c.tmu.Unlock()
	if endErr != nil {
		return nil, endErr
	}
	conn, err := c.s.Current()
	if err != nil {
		return nil, err
	}
	c.tmu.Lock()
	if c.closed {
		c.tmu.Unlock()
		return nil, corosync.NewError(ServiceName, corosync.ErrBadHandle, ErrClosed)
	}
	c.nextCookie++
	t := &Track{c: c, cookie: c.nextCookie, key: key, flags: flags}
	t.feed, t.Subscription = dispatch.NewFeed(ServiceName, skip, opts...)
	c.tracks[t.cookie] = t // before TRACK_ADD: its first events may follow at once
	c.tmu.Unlock()
	// The answer is read whatever ctx says: the tracker must be known to be
	// deleted later.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), detachedWait)
	defer cancel()
	h, err := c.trackAdd(dctx, conn, t, true)
	if err != nil {
		c.forget(t)
		t.end()
		return nil, err
	}
	t.handle, t.conn = h, conn
	return t, nil
}

// trackAdd registers t on conn and returns the daemon's handle.
func (c *Client) trackAdd(ctx context.Context, conn *session.Conn, t *Track, lock bool) (uint64, error) {
	var buf [cmapwire.TrackAddRequestSize]byte
	var resp [64]byte
	req, err := cmapwire.AppendTrackAdd(buf[:0], t.key, cmapwire.TrackFlags(t.flags), t.cookie)
	if err != nil {
		return 0, pubErr(err)
	}
	var r cmapwire.Response
	if lock {
		r, err = c.call(ctx, conn, cmapwire.ReqTrackAdd, t.key, req, resp[:0])
	} else {
		r, err = call(ctx, conn, cmapwire.ReqTrackAdd, t.key, req, resp[:0])
	}
	return r.Handle, err
}

func (c *Client) forget(t *Track) {
	c.tmu.Lock()
	if c.tracks[t.cookie] == t {
		delete(c.tracks, t.cookie)
	}
	c.tmu.Unlock()
}

// Key returns the tracked key or prefix.
func (t *Track) Key() string { return t.key }

// Flags returns the track's flags.
func (t *Track) Flags() TrackFlags { return t.flags }

// Close deletes the tracker on the daemon (cmap_track_delete) and ends the
// track's stream: readers see dispatch.ErrClosed (corosync.ErrBadHandle);
// Run and All just return. Events not read are discarded. It is idempotent
// and returns nil.
func (t *Track) Close() error {
	c := t.c
	c.trackMu.Lock()
	if !t.closed {
		t.closed = true
		c.forget(t)
		if t.conn != nil {
			if cur, err := c.s.Current(); err == nil && cur == t.conn {
				ctx, cancel := context.WithTimeout(context.Background(), detachedWait)
				var buf [cmapwire.TrackDeleteRequestSize]byte
				var resp [64]byte
				c.call(ctx, t.conn, cmapwire.ReqTrackDelete, t.key, cmapwire.AppendTrackDelete(buf[:0], t.handle), resp[:0])
				cancel()
			}
			t.conn = nil
		}
	}
	c.trackMu.Unlock()
	t.feed.End(nil)
	return nil
}

// end ends the track's stream as closed (dispatch.ErrClosed).
func (t *Track) end() { t.feed.End(nil) }

// fail ends the track's stream with err once the events already handed
// over have been read.
func (t *Track) fail(err error) { t.feed.End(err) }

// push hands ev to the track's stream; it waits only while a Block reader
// does not read (until the track or the client is closed).
func (t *Track) push(ev Event) { t.feed.Push(ev) }

func skip(dropped, next Event) Event {
	next.Skipped += dropped.Skipped + 1
	return next
}
