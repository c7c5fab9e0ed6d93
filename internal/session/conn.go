package session

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/transport"
)

// Conn is one connection of a session, as a service's setup and requests
// see it.
type Conn struct {
	t       transport.Conn
	reqs    *wire.Requests
	ver     corosync.Version
	backoff corosync.Backoff
	owned   atomic.Bool // closed by the session's Close: the caller's own doing
}

// Version returns what the probe learnt of the daemon's release.
func (c *Conn) Version() corosync.Version { return c.ver }

// Supports reports whether the daemon defines request id, as far as the
// probe can tell: whether Call and Send would send it.
func (c *Conn) Supports(id int32) bool { return c.reqs.Check(id, c.ver) == nil }

// check refuses, with corosync.ErrNotSupported, a message whose request id
// the daemon may not define: the one gate every outgoing message passes.
func (c *Conn) check(op string, msg []byte) error {
	if err := c.reqs.Check(wire.RequestID(msg), c.ver); err != nil {
		return corosync.NewError(op, corosync.ErrNotSupported, err)
	}
	return nil
}

// Call sends req (a whole request message) and returns its response,
// appended to resp[:0]. The response must carry id want (or be the daemon's
// generic 24-byte reject); anything else means requests and responses are
// no longer paired, and the connection is dropped (the session reconnects)
// with corosync.ErrMessageError. A response with an error code returns that
// code as an error, with the response. TRY_AGAIN is retried with backoff
// until ctx ends.
//
// opts pass on to the transport (transport.ThrottledAtLevel2).
func (c *Conn) Call(ctx context.Context, op string, req []byte, want int32, resp []byte, opts ...transport.RequestOption) ([]byte, error) {
	if err := c.check(op, req); err != nil {
		return resp[:0], err
	}
	sawTryAgain := false
	for attempt := 0; ; attempt++ {
		out, err := c.t.Request(ctx, req, resp[:0], opts...)
		err = c.fail(op, err)
		if err == nil {
			retry, aerr := c.answer(op, out, want)
			if !retry {
				return out, aerr
			}
			err = corosync.ErrTryAgain
			sawTryAgain = true
		}
		if ctx.Err() != nil {
			code := corosync.Code(err)
			if sawTryAgain {
				// The daemon kept answering TRY_AGAIN until ctx ended,
				// whether it ended in the backoff or in the last attempt.
				code = corosync.ErrTryAgain
			}
			return resp[:0], corosync.NewError(op, code, ctx.Err())
		}
		if !errors.Is(err, corosync.ErrTryAgain) {
			return resp[:0], err
		}
		if werr := sleepCtx(ctx, c.backoff.Delay(attempt)); werr != nil {
			return resp[:0], corosync.NewError(op, corosync.ErrTryAgain, werr)
		}
	}
}

// Send sends msg, a message the daemon does not answer (cpg's mcast), on
// this connection. corosync.ErrTryAgain (flow control) is returned to the
// caller, who decides whether to wait: a message is never sent twice.
func (c *Conn) Send(ctx context.Context, op string, msg []byte) error {
	if err := c.check(op, msg); err != nil {
		return err
	}
	return c.fail(op, c.t.Send(ctx, msg))
}

// ReadEvent reads the next notification (for a setup that reads the
// snapshot the daemon queues).
func (c *Conn) ReadEvent(ctx context.Context, op string) ([]byte, error) {
	msg, err := c.t.ReadEvent(ctx)
	if err != nil {
		return nil, c.fail(op, err)
	}
	return msg, nil
}

// fail is the one place where an error of the transport becomes the error
// callers see. A connection closed under a call (transport.ErrClosed) is
// the caller's own closed client (corosync.ErrBadHandle, ErrClosed) only
// if Session.Close closed it; closed by the session itself because it was
// lost or broke, it is the not-connected class (corosync.ErrLibrary,
// transport.ErrDisconnected), like every other loss of the daemon. The
// transport's own "connection closed" never reaches a caller.
func (c *Conn) fail(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, transport.ErrClosed):
		if c.owned.Load() {
			return corosync.NewError(op, corosync.ErrBadHandle, ErrClosed)
		}
		return corosync.NewError(op, corosync.ErrLibrary, fmt.Errorf("%w: the connection was dropped", transport.ErrDisconnected))
	}
	return wrapOp(op, err)
}

// Close closes the connection.
func (c *Conn) Close() error { return c.t.Close() }

// EventPending reports whether the transport already holds the next event
// (see transport.IPCConn.EventPending); false when it cannot tell.
func (c *Conn) EventPending() bool {
	p, ok := c.t.(interface{ EventPending() bool })
	return ok && p.EventPending()
}

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

// Annotate names the argument a failed call was about in its operation:
// "cfg get_node_addrs" becomes "cfg get_node_addrs node 99". It is called
// on the error path only, so a call that succeeds allocates nothing for
// it. An error that is not a *corosync.OpError, or an empty what, is
// returned as it is.
func Annotate(err error, what string) error {
	var oe *corosync.OpError
	if what == "" || !errors.As(err, &oe) {
		return err
	}
	return &corosync.OpError{Op: oe.Op + " " + what, Code: oe.Code, Err: oe.Err}
}
