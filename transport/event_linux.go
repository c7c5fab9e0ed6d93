package transport

import (
	"context"
	"errors"
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// This file: the event path. The socket waits in Go's netpoller; per event
// the event semaphore is decremented, the chunk read and reclaimed, and
// exactly one socket byte consumed (libqb's qb_ipcc_event_recv).

// ReadEvent implements Conn.
func (c *IPCConn) ReadEvent(ctx context.Context) (out []byte, err error) {
	op := c.evOp
	if err := c.enter(op); err != nil {
		return nil, err
	}
	defer c.active.Done()
	c.evMu.Lock()
	defer c.evMu.Unlock()
	release := bindCtx(ctx, c.f.SetReadDeadline)
	defer release()
	defer c.killOnRingError(op, &err)
	defer faultGuard(debug.SetPanicOnFault(true), &err)
	for {
		for c.owed > 0 {
			got, err := c.recvByte(true)
			if err != nil {
				return nil, c.readErr(ctx, op, err)
			}
			if got {
				c.owed--
			}
		}
		if c.ev.sem.tryWait() {
			// Any chunk that fits the ring is taken, even one over the
			// negotiated maximum: corosync 3.1.7 writes cpg deliveries of
			// up to the ring's size (internal/cpgwire/SPEC.md), and
			// refusing one would drop the connection of every receiver.
			buf, err := c.ev.read(c.evBuf[:0], len(c.ev.data)-chunkMargin)
			if err != nil {
				return nil, err
			}
			c.evBuf = buf
			c.owed++
			if got, err := c.recvByte(false); err == nil && got {
				c.owed--
			}
			return buf, nil
		}
		if err := c.waitReadable(); err != nil {
			return nil, c.readErr(ctx, op, err)
		}
		if c.ev.sem.value() == 0 {
			// A byte with no event behind it: not libqb's protocol. Consume
			// it rather than spin on a readable socket.
			if got, err := c.recvByte(false); err != nil {
				return nil, c.readErr(ctx, op, err)
			} else if got && c.cfg.Logger != nil {
				c.cfg.Logger.Debug("corosync: notification byte without an event", "service", c.service)
			}
		}
	}
}

func (c *IPCConn) readErr(ctx context.Context, op string, err error) error {
	switch {
	case ctx.Err() != nil:
		return CtxError(op, ctx.Err())
	case errors.Is(err, os.ErrClosed) || c.isClosed():
		return ClosedError(op)
	}
	return c.markDead(op, "the daemon closed the connection", err)
}

var errEOF = errors.New("end of stream")

// waitReadable blocks in the netpoller until a byte (or hang-up) is there.
func (c *IPCConn) waitReadable() error {
	var b [1]byte
	var perr error
	err := c.rc.Read(func(fd uintptr) bool {
		var n int
		n, _, perr = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		if perr == unix.EAGAIN {
			return false
		}
		if perr == nil && n == 0 {
			perr = errEOF
		}
		return true
	})
	if err != nil {
		return err
	}
	return perr
}

// recvByte consumes one socket byte; with wait it blocks until one arrives.
func (c *IPCConn) recvByte(wait bool) (bool, error) {
	var b [1]byte
	got := false
	var rerr error
	err := c.rc.Read(func(fd uintptr) bool {
		var n int
		n, _, rerr = unix.Recvfrom(int(fd), b[:], unix.MSG_DONTWAIT)
		if rerr == unix.EAGAIN {
			rerr = nil
			return !wait
		}
		if rerr == nil && n == 0 {
			rerr = errEOF
		}
		got = rerr == nil
		return true
	})
	if err != nil {
		return false, err
	}
	return got, rerr
}
