package transport

import (
	"context"
	"fmt"
	"runtime/debug"

	corosync "github.com/corosync-go/corosync"
)

// This file: pipelined requests. Several request chunks are written and
// posted, then their notification bytes go out in one write, then the
// responses are read in order. libqb pairs requests and responses by
// order alone; the server reads one byte per request it processes (up to
// 5 per wakeup at corosync's priority), and drops a response that does
// not fit in the response ring, so a batch is bounded by the room its
// responses may take there.

// RequestBatch implements Batcher.
func (c *IPCConn) RequestBatch(ctx context.Context, reqs, resps [][]byte, opts ...RequestOption) (n int, err error) {
	op := c.reqOp
	if err := c.enter(op); err != nil {
		return 0, err
	}
	handedOff := false
	defer func() {
		if !handedOff {
			c.active.Done()
		}
	}()
	if err := c.checkBatch(op, reqs, resps); err != nil {
		return 0, err
	}
	defer c.killOnRingError(op, &err)
	defer faultGuard(debug.SetPanicOnFault(true), &err)
	sent, rest, err := c.postBatch(ctx, op, reqs, flowControlMax(opts))
	if err != nil {
		return 0, err
	}
	unlock := true
	defer func() {
		if unlock {
			<-c.lock
		}
	}()
	if ctx.Done() != nil {
		stopWake := context.AfterFunc(ctx, c.resp.sem.wake)
		defer stopWake()
	}
	for n < sent {
		if c.resp.sem.timedWait(waitSlice, c.spin, &c.broken, ctx.Done()) {
			out, err := c.resp.read(resps[n][:0], cap(resps[n]))
			if err != nil {
				return n, err
			}
			resps[n] = out
			n++
			continue
		}
		if c.broken.Load() {
			return n, c.stateErr(op)
		}
		if ctx.Err() != nil {
			unlock, handedOff = false, true
			go c.drainAbandoned(op, sent-n)
			return n, CtxError(op, ctx.Err())
		}
		if c.hungUp() {
			return n, c.markDead(op, "the daemon closed the connection", nil)
		}
		if rc := c.req.refCount(); rc != 2 {
			return n, c.markDead(op, fmt.Sprintf("the daemon closed the connection (ref_count %d)", rc), nil)
		}
	}
	return n, rest
}

// checkBatch refuses a batch whose responses might not fit in the
// response ring together: the server would drop the one that does not
// fit, and the requests after it would read the wrong answers.
func (c *IPCConn) checkBatch(op string, reqs, resps [][]byte) error {
	if len(reqs) == 0 || len(reqs) > MaxBatch || len(resps) != len(reqs) {
		return dialErr(op, corosync.ErrInvalidParam, "batch of %d requests and %d response buffers (1 to %d)", len(reqs), len(resps), MaxBatch)
	}
	room := uint64(len(c.resp.data)) - 4 // libqb keeps one word free
	var need uint64
	for i, r := range reqs {
		if len(r) == 0 || len(r) > c.maxMsg {
			return dialErr(op, corosync.ErrTooBig, "request of %d bytes (max %d)", len(r), c.maxMsg)
		}
		m := cap(resps[i])
		if m < 24 || m > c.maxMsg {
			return dialErr(op, corosync.ErrInvalidParam, "response buffer %d of %d bytes (24 to %d)", i, m, c.maxMsg)
		}
		need += uint64(m+3)&^3 + chunkMargin - 4
	}
	if need > room {
		return dialErr(op, corosync.ErrTooBig, "responses of up to %d bytes, response ring %d", need, room)
	}
	return nil
}

// postBatch takes the request lock and writes the requests' chunks, then
// their notification bytes in one write. It stops at the first request
// flow control or a full ring refuses (rest, corosync.ErrTryAgain) and
// sends the bytes of those before it. With sent > 0 it returns with the
// lock held; on error (nothing sent, or the connection is dead) the lock
// is free.
//
// Why the bytes go last: the server counts the queued requests (the
// semaphore) when the socket wakes it, processes that many, and then
// reads as many bytes with no timeout. Posting all chunks before any byte
// means that when a byte wakes it, every counted request has its byte
// already sent; a byte after each post would leave it waiting, inside
// corosync's main loop, for a byte this process has not sent yet.
func (c *IPCConn) postBatch(ctx context.Context, op string, reqs [][]byte, fcMax int32) (sent int, rest, err error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, CtxError(op, err) // nothing sent
	}
	select {
	case c.lock <- struct{}{}:
	case <-ctx.Done():
		return 0, nil, CtxError(op, ctx.Err())
	case <-c.closing:
		return 0, nil, c.stateErr(op)
	}
	for _, r := range reqs {
		if err = c.writeChunk(op, r, fcMax); err != nil {
			break
		}
		c.notify.buf[sent] = byte(len(r))
		sent++
	}
	if sent == 0 || (err != nil && corosync.Code(err) != corosync.ErrTryAgain) {
		// Nothing sent, or the connection died (then its chunks need no
		// bytes: the socket is shut down).
		<-c.lock
		return 0, nil, err
	}
	if berr := c.sendBytes(sent); berr != nil {
		err = c.markDead(op, "send the request notification bytes", berr)
		<-c.lock
		return 0, nil, err
	}
	return sent, err, nil
}
