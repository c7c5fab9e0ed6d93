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
// reads its events and fans them out to every Subscription; each new
// subscription starts with the cached current state (EventSnapshot), so
// subscribing costs no round trip. When the daemon goes away, subscribers get
// EventDisconnected (not quorate), the client reconnects with backoff, and
// subscribers get EventReconnected and a fresh EventSnapshot.
package quorum

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/transport"
)

// ServiceName is the corosync IPC service this package talks to.
const ServiceName = "quorum"

var (
	// ErrClosed is returned by calls on a closed Client. It carries
	// corosync.ErrBadHandle, as libquorum reports calls after finalize.
	ErrClosed = corosync.NewError("quorum", corosync.ErrBadHandle, errors.New("client closed"))
	// ErrNotConnected is returned by requests made while the client is
	// reconnecting. It carries corosync.ErrLibrary.
	ErrNotConnected = corosync.NewError("quorum", corosync.ErrLibrary, errors.New("not connected to corosync (reconnecting)"))
)

// Client is a connection to the quorum service. Its methods are safe for
// concurrent use.
type Client struct {
	cfg  config
	disp *dispatch.Dispatcher[Event]

	mu       sync.Mutex
	conn     transport.Conn // nil while reconnecting
	typ      Type
	closed   bool
	tracking bool

	// Owned by the dispatcher goroutine (the session source).
	pending  []Event
	state    QuorumEvent
	nodelist *NodelistEvent
	lostErr  error
}

// Dial connects to the local corosync quorum service, selects the
// notification model, starts tracking and reads the current state. ctx bounds
// the whole handshake; TRY_AGAIN answers (daemon starting, sync in progress)
// are retried with backoff until ctx ends.
//
// Errors carry corosync codes: corosync.ErrLibrary when corosync is not
// running, corosync.ErrAccess when this user is not allowed (see the uidgid
// section of corosync.conf), corosync.ErrTryAgain if ctx ended while the
// daemon kept answering TRY_AGAIN.
func Dial(ctx context.Context, opts ...Option) (*Client, error) {
	c := &Client{cfg: config{model: ModelV1, reconnect: true, backoff: DefaultBackoff}, tracking: true}
	for _, o := range opts {
		o(&c.cfg)
	}
	if c.cfg.model != ModelV0 && c.cfg.model != ModelV1 {
		return nil, corosync.NewError("quorum dial", corosync.ErrInvalidParam, errors.New("unknown model"))
	}
	if c.cfg.dialer == nil {
		c.cfg.dialer = transport.NewDialer(transport.Config{Logger: c.cfg.logger})
	}
	conn, typ, snap, err := c.establish(ctx, c.cfg.waitDaemon)
	if err != nil {
		return nil, err
	}
	c.conn, c.typ = conn, typ
	c.disp = dispatch.Start(context.Background(), c.next,
		dispatch.WithSeed(snap),
		dispatch.WithCoalesce(func(dropped, next Event) Event {
			next.Skipped += dropped.Skipped + 1
			return next
		}),
		dispatch.WithInitial(asSnapshot))
	return c, nil
}

// asSnapshot turns the latest event into the state it leaves behind: an
// EventSnapshot (or EventDisconnected during an outage) whose nodelist has
// no joined or left nodes. New subscriptions start with it; Latest returns it.
func asSnapshot(ev Event) Event {
	ev.Skipped = 0
	if ev.Kind == EventDisconnected {
		return ev
	}
	ev.Kind = EventSnapshot
	if n := ev.Nodelist; n != nil && (n.Joined != nil || n.Left != nil) {
		ev.Nodelist = &NodelistEvent{Ring: n.Ring, Members: n.Members}
	}
	return ev
}

func (c *Client) log(msg string, args ...any) {
	if c.cfg.logger != nil {
		c.cfg.logger.LogAttrs(context.Background(), slog.LevelInfo, msg, slog.Group("corosync", args...))
	}
}

// Type returns the daemon's quorum type, read at Dial.
func (c *Client) Type() Type {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.typ
}

// Model returns the notification model in use.
func (c *Client) Model() Model { return c.cfg.model }

// current returns the live connection or why there is none.
func (c *Client) current() (transport.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.conn == nil {
		return nil, ErrNotConnected
	}
	return c.conn, nil
}

// Quorate asks the daemon whether this node is quorate (quorum_getquorate).
// While the client is reconnecting it fails at once with ErrNotConnected
// (corosync.ErrLibrary): a caller that cannot reach the daemon must assume
// it is not quorate.
func (c *Client) Quorate(ctx context.Context) (bool, error) {
	const op = "quorum getquorate"
	conn, err := c.current()
	if err != nil {
		return false, err
	}
	r, err := c.call(ctx, conn, op, wire.ReqGetQuorate, 0)
	if err != nil {
		return false, err
	}
	if r.Value > 1 {
		return false, corosync.NewError(op, corosync.ErrMessageError, errors.New("quorate value out of range"))
	}
	return r.Value == 1, nil
}

// Subscribe returns a new subscription. Its first event is the current state
// (EventSnapshot), taken from the client's cache without a round trip.
func (c *Client) Subscribe(ctx context.Context, opts ...SubscribeOption) (*Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	s, err := c.disp.Subscribe(opts...)
	if err != nil {
		return nil, corosync.NewError("quorum subscribe", corosync.Code(err), err)
	}
	return s, nil
}

// Latest returns the client's current state: the last event delivered to
// subscribers, as a snapshot.
func (c *Client) Latest() Event {
	ev, _ := c.disp.Latest()
	return asSnapshot(ev)
}

// StopTracking asks the daemon to stop sending change notifications
// (quorum_trackstop). Subscriptions stay open but receive nothing further
// from the daemon; they still see connection lifecycle events. After a
// reconnect, tracking stays off.
func (c *Client) StopTracking(ctx context.Context) error {
	conn, err := c.current()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.tracking = false
	c.mu.Unlock()
	_, err = c.call(ctx, conn, "quorum trackstop", wire.ReqTrackStop, 0)
	return err
}

// Close ends every subscription, closes the connection and waits for the
// dispatcher goroutine to exit. It is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	conn := c.conn
	c.conn = nil
	c.mu.Unlock()
	c.disp.Close() // cancels the session and waits for it
	if conn != nil {
		conn.Close()
	}
	return nil
}

// call sends one request on conn and decodes its response, retrying
// TRY_AGAIN answers with backoff until ctx ends.
func (c *Client) call(ctx context.Context, conn transport.Conn, op string, id int32, arg uint32) (wire.Response, error) {
	bufs := bufPool.Get().(*callBufs)
	defer bufPool.Put(bufs)
	req := wire.AppendRequest(bufs.req[:0], id, arg)
	for attempt := 0; ; attempt++ {
		resp, err := conn.Request(ctx, req, bufs.resp[:0])
		if err == nil {
			var r wire.Response
			r, err = wire.DecodeResponse(resp, id)
			if err != nil {
				// The pairing of requests and responses can no longer be
				// trusted: drop the connection (the session reconnects).
				conn.Close()
				return r, corosync.NewError(op, corosync.ErrMessageError, err)
			}
			switch r.Error {
			case corosync.OK:
				return r, nil
			case corosync.ErrTryAgain:
				err = r.Error
			default:
				return r, corosync.NewError(op, r.Error, nil)
			}
		}
		if ctx.Err() != nil {
			return wire.Response{}, corosync.NewError(op, corosync.Code(err), ctx.Err())
		}
		if !errors.Is(err, corosync.ErrTryAgain) {
			return wire.Response{}, wrapOp(op, err)
		}
		if werr := sleepCtx(ctx, c.cfg.backoff.Delay(attempt)); werr != nil {
			return wire.Response{}, corosync.NewError(op, corosync.ErrTryAgain, werr)
		}
	}
}

// callBufs holds one call's request and response; pooled so that a call
// allocates nothing.
type callBufs struct {
	req  [wire.RequestSizeWithArg]byte
	resp [64]byte
}

var bufPool = sync.Pool{New: func() any { return new(callBufs) }}

func wrapOp(op string, err error) error {
	var oe *corosync.OpError
	if errors.As(err, &oe) {
		return err
	}
	return corosync.NewError(op, corosync.Code(err), err)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
