package transport

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	corosync "github.com/corosync-go/corosync"
)

// This file: the request path. See libqb's lib/ipcc.c and lib/ipc_shm.c:
// exactly one socket byte per request, sent right after the semaphore post,
// under one lock with the ring write; the response is read from the
// response ring, in order.

const (
	waitSlice       = 500 * time.Millisecond
	byteSendTimeout = 5 * time.Second
	abandonTimeout  = 30 * time.Second
)

// Request implements Conn.
func (c *IPCConn) Request(ctx context.Context, req, resp []byte, opts ...RequestOption) (out []byte, err error) {
	op := c.reqOp
	if err := c.enter(op); err != nil {
		return resp[:0], err
	}
	handedOff := false
	defer func() {
		if !handedOff {
			c.active.Done()
		}
	}()
	defer c.killOnRingError(op, &err)
	defer faultGuard(debug.SetPanicOnFault(true), &err)
	if err := c.post(ctx, op, req, flowControlMax(opts)); err != nil {
		return resp[:0], err
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
	for {
		if c.resp.sem.timedWait(waitSlice, c.spin, &c.broken, ctx.Done()) {
			return c.resp.read(resp[:0], c.maxMsg)
		}
		if c.broken.Load() {
			return resp[:0], c.stateErr(op)
		}
		if ctx.Err() != nil {
			// Abandoned: a background waiter consumes the response so the
			// next call cannot read it as its own, then releases the lock.
			unlock, handedOff = false, true
			go c.drainAbandoned(op, 1)
			return resp[:0], CtxError(op, ctx.Err())
		}
		if c.hungUp() {
			return resp[:0], c.markDead(op, "the daemon closed the connection", nil)
		}
		if rc := c.req.refCount(); rc != 2 {
			return resp[:0], c.markDead(op, fmt.Sprintf("the daemon closed the connection (ref_count %d)", rc), nil)
		}
	}
}

// Send implements Conn: the request path without a response, refused at
// both flow-control levels.
func (c *IPCConn) Send(ctx context.Context, msg []byte) (err error) {
	op := c.reqOp
	if err := c.enter(op); err != nil {
		return err
	}
	defer c.active.Done()
	defer c.killOnRingError(op, &err)
	defer faultGuard(debug.SetPanicOnFault(true), &err)
	if err := c.post(ctx, op, msg, 2); err != nil {
		return err
	}
	<-c.lock
	return nil
}

// post takes the request lock and writes one message: ring chunk,
// semaphore post and notification byte. On success it returns with the
// lock held; on error the lock is free. The caller is inside an operation
// (enter) and guards against faults.
func (c *IPCConn) post(ctx context.Context, op string, req []byte, fcMax int32) error {
	if len(req) == 0 || len(req) > c.maxMsg {
		return dialErr(op, corosync.ErrTooBig, "request of %d bytes (max %d)", len(req), c.maxMsg)
	}
	if err := ctx.Err(); err != nil {
		return CtxError(op, err) // nothing sent
	}
	select {
	case c.lock <- struct{}{}:
	case <-ctx.Done():
		return CtxError(op, ctx.Err())
	case <-c.closing:
		return c.stateErr(op) // dead before it was closed: still dead
	}
	err := c.write(op, req, fcMax)
	if err != nil {
		<-c.lock
	}
	return err
}

// write is post's work under the lock.
func (c *IPCConn) write(op string, req []byte, fcMax int32) error {
	if err := c.writeChunk(op, req, fcMax); err != nil {
		return err
	}
	// The notification byte. It must follow the post, whatever ctx says: a
	// post without its byte can block corosync's main loop.
	c.notify.buf[0] = byte(len(req))
	if err := c.sendBytes(1); err != nil {
		return c.markDead(op, "send the request notification byte", err)
	}
	return nil
}

// writeChunk is write without the notification byte: liveness, flow
// control, ring chunk and semaphore post. The caller sends the byte.
func (c *IPCConn) writeChunk(op string, req []byte, fcMax int32) error {
	if c.broken.Load() {
		return c.stateErr(op)
	}
	if rc := c.req.refCount(); rc != 2 {
		return c.markDead(op, fmt.Sprintf("the daemon closed the connection (ref_count %d)", rc), nil)
	}
	if fc := c.req.flowControl(); fc > 0 && fc <= fcMax {
		return dialErr(op, corosync.ErrTryAgain, "the daemon applies flow control (%d): %w", fc, syscall.EAGAIN)
	}
	if err := c.req.write(req); err != nil {
		if errors.Is(err, errRingFull) {
			return dialErr(op, corosync.ErrTryAgain, "%w: %w", err, syscall.EAGAIN)
		}
		return err
	}
	return nil
}

// drainAbandoned waits for the responses of the last n requests, whose
// caller gave up, discards them, and releases the request lock.
func (c *IPCConn) drainAbandoned(op string, n int) {
	defer c.active.Done()
	defer func() { <-c.lock }()
	var err error
	defer c.killOnRingError(op, &err)
	defer faultGuard(debug.SetPanicOnFault(true), &err)
	deadline := time.Now().Add(abandonTimeout)
	for time.Now().Before(deadline) {
		if c.resp.sem.timedWait(waitSlice, 0, &c.broken, nil) {
			var buf [64]byte
			if _, err = c.resp.read(buf[:0], c.maxMsg); err != nil {
				return
			}
			if n--; n == 0 {
				return
			}
			continue
		}
		if c.broken.Load() {
			return
		}
		if c.hungUp() {
			c.markDead(op, "the daemon closed the connection", nil)
			return
		}
	}
	c.markDead(op, "no response to an abandoned request within "+abandonTimeout.String(), nil)
}

// sendBytes sends the first n bytes of c.notify.buf, the notification
// bytes of the last n requests, in one write through the netpoller, like
// every other socket write. The socket buffer is almost never full; when
// it is (the daemon is not reading), it waits for room for at most
// byteSendTimeout. It runs under the request lock, which guards c.notify.
func (c *IPCConn) sendBytes(count int) error {
	n := &c.notify
	n.off, n.end, n.err, n.armed = 0, count, nil, false
	err := c.rc.Write(n.try)
	if n.armed {
		c.f.SetWriteDeadline(time.Time{})
	}
	if err == nil {
		err = n.err
	}
	if err != nil {
		return fmt.Errorf("notification byte: %w", err)
	}
	return nil
}

// notifier is the state of one send of notification bytes. It lives in
// the connection, and try is bound once at dial, so that sending
// allocates nothing.
type notifier struct {
	c        *IPCConn
	buf      [MaxBatch]byte
	off, end int
	err      error
	armed    bool
	try      func(fd uintptr) bool
}

func (n *notifier) send(fd uintptr) bool {
	for n.off < n.end {
		var w int
		w, n.err = unix.SendmsgN(int(fd), n.buf[n.off:n.end], nil, nil, unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT)
		if n.err == unix.EAGAIN {
			if !n.armed {
				n.armed = true
				n.c.f.SetWriteDeadline(time.Now().Add(byteSendTimeout))
			}
			return false
		}
		if n.err != nil {
			return true
		}
		n.off += w
	}
	return true
}
