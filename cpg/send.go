package cpg

import (
	"context"
	"errors"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire/cpgwire"
	"github.com/corosync-go/corosync/transport"
)

// FlowControlled reports whether a Send is waiting because the daemon
// refused it with TRY_AGAIN (flow control: corosync cannot queue more to
// totem). It is what libcpg's cpg_flow_control_state_get tells, as seen by
// this client.
func (g *Group) FlowControlled() bool { return g.fc.Load() }

// Send multicasts msg to the group (cpg_mcast_joined). Every member, this
// one included, delivers it in the same total order. A message up to
// MaxAtomicMessage goes as one mcast; a larger one as fragments, as libcpg
// sends them, reassembled by every receiver (libcpg's included); messages
// of one Group are sent one at a time, so fragments never interleave.
//
// Flow control (TRY_AGAIN) is waited out with backoff until ctx ends, and a
// message is never sent twice: if Send returns an error, no member
// delivers the message, except when the connection broke after the message
// was handed over (the error then carries corosync.ErrLibrary). A
// fragmented message interrupted by a configuration change
// (CS_ERR_INTERRUPT) is sent again from its first fragment: receivers drop
// the incomplete copy, as libcpg does.
//
// The daemon does not answer an mcast: Send returns when the message is in
// the daemon's request ring, not when it is delivered. guarantee is passed
// on and ignored by corosync.
//
// On a group that is gone, Send fails with corosync.ErrBadHandle (ErrLeft,
// ErrClosed) after the caller's own Leave or Close, and otherwise with
// what ended the stream: ErrMembershipLost (corosync.ErrLibrary) when the
// membership went with the daemon, ErrOverflow (corosync.ErrQueueFull).
func (g *Group) Send(ctx context.Context, msg []byte, guarantee Guarantee) error {
	const op = "cpg mcast"
	if guarantee > Safe {
		return opErr(op, corosync.ErrInvalidParam, "guarantee %d; 0..3 exist", guarantee)
	}
	if uint64(len(msg)) > MaxMessage {
		return opErr(op, corosync.ErrTooBig, "message of %d bytes; at most %d", len(msg), uint64(MaxMessage))
	}
	g.sendMu.Lock()
	defer g.sendMu.Unlock()
	if g.gone.Load() {
		return g.goneErr(op)
	}
	conn, err := g.s.Current()
	if err != nil {
		return err
	}
	defer g.fc.Store(false)
	if len(msg) <= MaxAtomicMessage {
		// The transport copies the request into the daemon's ring before
		// Send returns, so one buffer per group serves every message; one
		// over sendBufKeep is not kept.
		req, err := cpgwire.AppendRequest(g.sendBuf[:0], cpgwire.Request{ID: cpgwire.ReqMcast, Guarantee: cpgwire.Guarantee(guarantee), Payload: msg})
		if err != nil {
			return err
		}
		if cap(req) <= sendBufKeep {
			g.sendBuf = req
		}
		for attempt := 0; ; attempt++ {
			err := conn.Send(ctx, op, req)
			if !errors.Is(err, corosync.ErrTryAgain) {
				return err
			}
			if err := g.wait(ctx, op, attempt); err != nil {
				return err
			}
		}
	}
	return g.sendFragments(ctx, conn, msg, guarantee)
}

// sendBufKeep is the largest request buffer a group keeps between sends.
const sendBufKeep = 64 << 10

// flowBackoff is b for a group's connection: flow control (TRY_AGAIN on
// mcast and fragments) lifts within a millisecond or so, as libcpg's own
// retry loop assumes, so retries start at 1ms and are capped at 100ms
// (rejoining after a restart is paced the same way).
func flowBackoff(b corosync.Backoff) corosync.Backoff {
	b.Initial = time.Millisecond
	if b.Max <= 0 || b.Max > 100*time.Millisecond {
		b.Max = 100 * time.Millisecond
	}
	if b.Multiplier < 1 {
		b.Multiplier = 2
	}
	return b
}

// wait sleeps the backoff of a flow-controlled attempt.
func (g *Group) wait(ctx context.Context, op string, attempt int) error {
	g.fc.Store(true)
	t := time.NewTimer(flowBackoff(g.c.cfg.Backoff).Delay(attempt))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return corosync.NewError(op, corosync.ErrTryAgain, ctx.Err())
	case <-g.stop:
		return g.goneErr(op)
	}
}

func (g *Group) sendFragments(ctx context.Context, conn *session.Conn, msg []byte, guarantee Guarantee) error {
	const op = "cpg partial_mcast"
	frags := cpgwire.Fragments(len(msg), 0)
	buf := make([]byte, 0, cpgwire.PartialMcastHeaderSize+cpgwire.MaxFragment)
	var resp [64]byte
	for attempt := 0; ; attempt++ {
		var err error
		for _, f := range frags {
			buf, err = cpgwire.AppendRequest(buf[:0], cpgwire.Request{ID: cpgwire.ReqPartialMcast, Guarantee: cpgwire.Guarantee(guarantee),
				MsgLen: uint32(len(msg)), Type: f.Type, Payload: msg[f.Off : f.Off+f.Len]})
			if err != nil {
				return err
			}
			// Conn.Call waits out TRY_AGAIN itself; fragments, like
			// libcpg's, are held back at both flow-control levels.
			if _, err = conn.Call(ctx, op, buf, cpgwire.ResPartialSend, resp[:0], transport.ThrottledAtLevel2()); err != nil {
				break
			}
		}
		if !errors.Is(err, corosync.ErrInterrupt) {
			return err
		}
		if err := g.wait(ctx, op, attempt); err != nil {
			return err
		}
	}
}
