package session

import (
	"context"
	"errors"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/transport"
)

// BatchCall is one request of a Batch.
type BatchCall struct {
	Op   string
	Req  []byte // the whole request message
	Want int32  // the response id
	// Resp is the response buffer; its capacity bounds the response (a
	// longer one drops the connection).
	Resp []byte
	// Out and Err are the result, as Call returns them.
	Out []byte
	Err error
}

// maxBatch is the most calls one Batch pipelines.
const maxBatch = transport.MaxBatch

// Batch makes calls as Call would, one after the other, but pipelined
// where the transport can (transport.Batcher): every request is sent
// before the first response is read, which saves a wait per call. Each
// call's result is in its Out and Err, as Call would have returned them;
// a call after one whose connection failed gets that failure.
//
// The calls must not depend on each other's order beyond what the daemon
// sees: a call the daemon answers TRY_AGAIN is made again, with Call,
// after the others were answered.
func (c *Conn) Batch(ctx context.Context, calls []BatchCall) {
	for i := range calls {
		if err := c.check(calls[i].Op, calls[i].Req); err != nil {
			for j := range calls {
				calls[j].Out, calls[j].Err = calls[j].Resp[:0], err
			}
			return
		}
	}
	bt, ok := c.t.(transport.Batcher)
	if !ok || len(calls) < 2 || len(calls) > maxBatch {
		c.sequential(ctx, calls)
		return
	}
	var reqArr, respArr [maxBatch][]byte
	reqs, resps := reqArr[:len(calls)], respArr[:len(calls)]
	for i := range calls {
		reqs[i], resps[i] = calls[i].Req, calls[i].Resp[:0]
	}
	var retry [maxBatch]bool
	op := calls[0].Op
	done := 0
	for attempt := 0; done < len(calls); attempt++ {
		n, terr := bt.RequestBatch(ctx, reqs[done:], resps[done:])
		for i := done; i < done+n; i++ {
			calls[i].Out = resps[i]
			retry[i], calls[i].Err = c.answer(calls[i].Op, resps[i], calls[i].Want)
			if corosync.Code(calls[i].Err) == corosync.ErrMessageError {
				c.fill(calls[i+1:], calls[i].Err)
				return
			}
		}
		done += n
		if terr == nil {
			continue
		}
		if done == 0 && corosync.Code(terr) == corosync.ErrTooBig {
			c.sequential(ctx, calls) // does not fit in the response ring
			return
		}
		terr = c.fail(op, terr)
		if ctx.Err() == nil && errors.Is(terr, corosync.ErrTryAgain) {
			if werr := sleepCtx(ctx, c.backoff.Delay(attempt)); werr == nil {
				continue
			}
			terr = corosync.NewError(op, corosync.ErrTryAgain, ctx.Err())
		}
		c.fill(calls[done:], terr)
		return
	}
	for i := range calls {
		if !retry[i] {
			continue
		}
		// As Call does after a TRY_AGAIN: back off, then ask again.
		werr := ctx.Err()
		if werr == nil {
			werr = sleepCtx(ctx, c.backoff.Delay(0))
		}
		if werr != nil {
			calls[i].Out, calls[i].Err = calls[i].Resp[:0], corosync.NewError(calls[i].Op, corosync.ErrTryAgain, werr)
			continue
		}
		calls[i].Out, calls[i].Err = c.Call(ctx, calls[i].Op, calls[i].Req, calls[i].Want, calls[i].Resp)
	}
}

// answer checks a response to a request of Call or Batch; retry reports
// TRY_AGAIN. A response that does not pair with its request drops the
// connection.
func (c *Conn) answer(op string, out []byte, want int32) (retry bool, err error) {
	h, err := wire.DecodeResponseHeader(out)
	switch {
	case err != nil:
		c.t.Close()
		return false, corosync.NewError(op, corosync.ErrMessageError, err)
	case h.ID != want && !(h.Error != corosync.OK && len(out) == wire.ResponseHeaderSize):
		c.t.Close()
		return false, corosync.NewError(op, corosync.ErrMessageError,
			wire.Errorf(op+" response", "id", "got %d, want %d", h.ID, want))
	case h.Error == corosync.OK:
		return false, nil
	case h.Error == corosync.ErrTryAgain:
		return true, nil
	}
	return false, corosync.NewError(op, h.Error, nil)
}

func (c *Conn) fill(calls []BatchCall, err error) {
	for i := range calls {
		calls[i].Out, calls[i].Err = calls[i].Resp[:0], err
	}
}

func (c *Conn) sequential(ctx context.Context, calls []BatchCall) {
	for i := range calls {
		calls[i].Out, calls[i].Err = c.Call(ctx, calls[i].Op, calls[i].Req, calls[i].Want, calls[i].Resp)
	}
}
