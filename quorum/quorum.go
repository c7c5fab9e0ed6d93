// Package quorum is a client of corosync's quorum service: is this node
// quorate, which nodes are members, and what changed.
//
//	c, err := quorum.Dial(ctx)
//	...
//	defer c.Close()
//	sub, err := c.Subscribe(ctx)
//	for ev := range sub.C() {
//		if !ev.Quorate { stopWork() }
//	}
//
// A Client holds one connection with tracking on. One dispatcher goroutine
// reads its events and fans them out to every subscription (a
// *dispatch.Subscription); each new subscription starts with the cached
// current state (corosync.EventSnapshot), so subscribing costs no round trip.
// When the daemon goes away, subscribers get corosync.EventDisconnected (not
// quorate), the client reconnects with backoff, and subscribers get
// corosync.EventReconnected and a fresh corosync.EventSnapshot.
package quorum

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire/quorumwire"
)

// ServiceName is the corosync IPC service this package talks to.
const ServiceName = "quorum"

var (
	// ErrClosed is the cause of errors from calls on a closed Client; they
	// carry corosync.ErrBadHandle, as libquorum reports calls after finalize.
	ErrClosed = dispatch.ErrClosed
	// ErrNotConnected is the cause of errors from requests made while the
	// client is reconnecting; they carry corosync.ErrLibrary. It is
	// client.ErrNotConnected, in every service.
	ErrNotConnected = client.ErrNotConnected
)

// Client is a connection to the quorum service. Its methods are safe for
// concurrent use.
type Client struct {
	s        *session.Session[Event]
	want     Model         // the model asked for; with auto, the preferred one
	auto     bool          // no WithModel: V1 where the daemon has it, else V0
	model    atomic.Uint32 // Model in use, chosen at each (re)connect
	typ      atomic.Uint32 // Type, read at each (re)connect
	tracking atomic.Bool
}

// Dial connects to the local corosync quorum service, selects the
// notification model, starts tracking and reads the current state. ctx bounds
// the whole handshake; TRY_AGAIN answers (daemon starting, sync in progress)
// are retried with backoff until ctx ends.
//
// Errors carry corosync codes: corosync.ErrLibrary when corosync is not
// running, corosync.ErrAccess when this user is not allowed (see the uidgid
// section of corosync.conf), corosync.ErrTryAgain if ctx ended while the
// daemon kept answering TRY_AGAIN, corosync.ErrTimeout if ctx ended during
// the handshake.
func Dial(ctx context.Context, opts ...client.Option) (*Client, error) {
	cfg := config{model: ModelV1}
	set, err := client.Apply("quorum.Dial", &cfg, opts)
	if err != nil {
		return nil, err
	}
	cfg.Options = session.OptionsFrom(set)
	if cfg.model != ModelV0 && cfg.model != ModelV1 {
		return nil, corosync.NewError("quorum dial", corosync.ErrInvalidParam, fmt.Errorf("unknown model %d (want ModelV0 or ModelV1)", uint32(cfg.model)))
	}
	c := &Client{want: cfg.model, auto: !cfg.modelSet}
	c.tracking.Store(true)
	s, err := session.Dial(ctx, quorumwire.Requests, &tracker{c: c}, cfg.Options)
	if err != nil {
		return nil, err
	}
	c.s = s
	return c, nil
}

// Type returns the daemon's quorum type, read at Dial and at each reconnect.
func (c *Client) Type() Type { return Type(c.typ.Load()) }

// Model returns the notification model in use: the one WithModel asked
// for, or without it the one the daemon offers (ModelV1 on corosync 3.1,
// ModelV0 before), chosen at Dial and at each reconnect.
func (c *Client) Model() Model { return Model(c.model.Load()) }

// DaemonVersion returns what the client learnt of the daemon's release
// when it last connected: a lower bound (see corosync.Version).
func (c *Client) DaemonVersion() corosync.Version { return c.s.DaemonVersion() }

// Quorate asks the daemon whether this node is quorate (quorum_getquorate).
// While the client is reconnecting it fails at once with ErrNotConnected
// (corosync.ErrLibrary): a caller that cannot reach the daemon must assume
// it is not quorate.
func (c *Client) Quorate(ctx context.Context) (bool, error) {
	conn, err := c.s.Current()
	if err != nil {
		return false, err
	}
	r, err := call(ctx, conn, "quorum getquorate", quorumwire.ReqGetQuorate, 0)
	if err != nil {
		return false, err
	}
	return r.Value == 1, nil
}

// Subscribe returns a new subscription. Its first event is the current state
// (corosync.EventSnapshot), taken from the client's cache without a round trip.
// opts choose the delivery policy (package dispatch): dispatch.LatestWins
// (the default: a slow subscriber skips to the newest event and
// Event.Skipped says how many it missed), dispatch.Queue(n) (every event, in
// order; the subscription ends with dispatch.ErrOverflow when n are
// unread), dispatch.Unbounded() or dispatch.Block(n). The subscription is a
// *dispatch.Subscription: read it with Next, TryNext, Drain, Run, C or All.
func (c *Client) Subscribe(ctx context.Context, opts ...dispatch.SubOption) (*dispatch.Subscription[Event], error) {
	return c.s.Subscribe(ctx, opts...)
}

// Latest returns the client's current state: the last event delivered to
// subscribers, as a snapshot.
func (c *Client) Latest() Event { return c.s.Latest() }

// StopTracking asks the daemon to stop sending change notifications
// (quorum_trackstop). Subscriptions stay open but receive nothing further
// from the daemon; they still see connection lifecycle events. After a
// reconnect, tracking stays off.
func (c *Client) StopTracking(ctx context.Context) error {
	conn, err := c.s.Current()
	if err != nil {
		return err
	}
	c.tracking.Store(false)
	_, err = call(ctx, conn, "quorum trackstop", quorumwire.ReqTrackStop, 0)
	return err
}

// Close ends every subscription, stops tracking (so that the daemon sends
// nothing to a closing connection, an error in its log), closes the
// connection and waits for the dispatcher goroutine to exit. It never waits
// on a dead daemon, and on a live but stalled one for at most 2 s. It is
// idempotent.
func (c *Client) Close() error { return c.s.Close() }

// call sends one request on conn and decodes its response.
func call(ctx context.Context, conn *session.Conn, op string, id int32, arg uint32) (quorumwire.Response, error) {
	bufs := bufPool.Get().(*callBufs)
	defer bufPool.Put(bufs)
	req := quorumwire.AppendRequest(bufs.req[:0], id, arg)
	out, err := conn.Call(ctx, op, req, quorumwire.ResponseFor(id), bufs.resp[:0])
	if err != nil {
		return quorumwire.Response{}, err
	}
	r, err := quorumwire.DecodeResponse(out, id)
	if err != nil {
		conn.Close() // the session reconnects
		return r, corosync.NewError(op, corosync.ErrMessageError, err)
	}
	if r.Value > 1 && id == quorumwire.ReqGetQuorate {
		return r, corosync.NewError(op, corosync.ErrMessageError, errors.New("quorate value out of range"))
	}
	return r, nil
}

// callBufs holds one call's request and response; pooled so that a call
// allocates nothing.
type callBufs struct {
	req  [quorumwire.RequestSizeWithArg]byte
	resp [64]byte
}

var bufPool = sync.Pool{New: func() any { return new(callBufs) }}
