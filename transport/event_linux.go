package transport

import (
	"context"
	"errors"
	"os"
	"runtime/debug"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// This file: the event path. The socket waits in Go's netpoller; per event
// the event semaphore is decremented, the chunk read and reclaimed, and
// exactly one socket byte consumed (libqb's qb_ipcc_event_recv).

// ReadEvent implements Conn. owed counts the events read minus the
// notification bytes taken: positive while bytes of events already read are
// still to come, -1 while a byte taken as a wake-up is ahead of its event.
func (c *IPCConn) ReadEvent(ctx context.Context) (out []byte, err error) {
	op := c.evOp
	if err := c.enter(op); err != nil {
		return nil, err
	}
	defer c.active.Done()
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, CtxError(op, err)
	}
	c.evCtx.bind(ctx, c.setRD)
	defer c.killOnRingError(op, &err)
	defer faultGuard(debug.SetPanicOnFault(true), &err)
	for {
		// Bytes of events already read, if they have arrived.
		for c.owed > 0 {
			got, err := c.recvByte(false)
			if err != nil {
				return nil, c.readErr(ctx, op, err)
			}
			if !got {
				break
			}
			c.owed--
		}
		if c.ev.sem.tryWait() {
			// Any chunk that fits the ring is taken, even one over the
			// negotiated maximum: corosync 3.1.7 writes cpg deliveries of
			// up to the ring's size (internal/wire/cpgwire/SPEC.md), and
			// refusing one would drop the connection of every receiver.
			buf, err := c.ev.read(c.evBuf[:0], len(c.ev.data)-chunkMargin)
			if err != nil {
				return nil, err
			}
			c.evBuf = buf
			c.more = c.ev.sem.value() > 0
			if c.more {
				c.backlogAt.Store(time.Now().UnixNano())
			}
			c.owed++
			if c.owed > 0 {
				if got, err := c.recvByte(false); err == nil && got {
					c.owed--
				}
			}
			return buf, nil
		}
		if c.owed < 0 {
			// The byte taken as a wake-up had no event behind it (the
			// daemon posts the semaphore before it sends the byte): not
			// libqb's protocol. Forget it rather than count on it.
			c.owed = 0
			if c.cfg.Logger != nil {
				c.cfg.Logger.Debug("corosync: notification byte without an event", "service", c.service)
			}
		}
		// Wait in the netpoller for the next byte and take it as the
		// wake-up: one system call on the way from the daemon's byte to
		// its event (the event is then read with a byte credit).
		got, err := c.recvByte(true)
		if err != nil {
			return nil, c.readErr(ctx, op, err)
		}
		if got {
			c.owed--
		}
	}
}

// EventPending reports whether the daemon had already posted another event
// when the last ReadEvent returned one: the reader will not wait for it.
// It touches no shared memory.
func (c *IPCConn) EventPending() bool {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	return c.more
}

// settleWindow is how recently the event ring must have held a backlog
// for Settle to expect events the daemon holds back.
const settleWindow = 250 * time.Millisecond

// Settle reads and discards the events the daemon still delivers to a
// connection about to close, until none has arrived for quiet (or ctx
// ends), if the daemon may be holding some back: libqb's server queues an
// event that does not fit the event ring and sends it once the reader
// frees room, and corosync logs an error ("qb_ipcs_event_send: ...") for
// each queued event of a connection that closed meanwhile. It waits only
// when the ring holds events now or held a backlog within the last
// settleWindow; otherwise it returns at once. Call it after telling the
// daemon to send nothing more (cpg finalize, trackers stopped), with no
// other reader: the events it reads are lost.
func (c *IPCConn) Settle(ctx context.Context, quiet time.Duration) {
	if err := c.enter(c.evOp); err != nil {
		return
	}
	pending := c.ev.sem.value() > 0
	c.active.Done()
	if !pending && time.Since(time.Unix(0, c.backlogAt.Load())) > settleWindow {
		return
	}
	for ctx.Err() == nil {
		qctx, cancel := context.WithTimeout(ctx, quiet)
		_, err := c.ReadEvent(qctx)
		cancel()
		if err != nil {
			return // quiet for that long, or ctx ended, or the connection broke
		}
	}
}

func (c *IPCConn) readErr(ctx context.Context, op string, err error) error {
	switch {
	case ctx.Err() != nil:
		return CtxError(op, ctx.Err())
	case errors.Is(err, os.ErrClosed) || c.isClosed():
		return c.stateErr(op) // dead before it was closed: still dead
	}
	return c.markDead(op, "the daemon closed the connection", err)
}

var errEOF = errors.New("end of stream")

// byteReader reads notification bytes without allocating: its state lives
// in the connection (guarded by evMu) and its callbacks are bound once.
type byteReader struct {
	b    [1]byte
	n    int
	err  error
	wait bool
	take func(fd uintptr) bool
}

func (r *byteReader) init() {
	r.take = r.takeOnce
}

// takeOnce consumes one byte; on EAGAIN it waits only if r.wait.
func (r *byteReader) takeOnce(fd uintptr) bool {
	n, _, e := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&r.b[0])), 1, unix.MSG_DONTWAIT, 0, 0)
	r.n, r.err = int(n), nil
	if e != 0 {
		r.err = e
	}
	switch {
	case r.err == unix.EAGAIN:
		r.n, r.err = 0, nil
		return !r.wait
	case r.err == nil && r.n == 0:
		r.err = errEOF // the daemon closed its end
	}
	return true
}

// recvByte consumes one socket byte; with wait it blocks until one arrives.
func (c *IPCConn) recvByte(wait bool) (bool, error) {
	r := &c.bytes
	r.wait, r.err, r.n = wait, nil, 0
	if err := c.rc.Read(r.take); err != nil {
		return false, err
	}
	if r.err != nil {
		return false, r.err
	}
	return r.n == 1, nil
}
