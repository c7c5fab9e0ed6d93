package session

import (
	"context"
	"errors"
	"log/slog"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/dispatch"
)

// pump is the dispatcher's source. It and the service's state belong to the
// dispatcher goroutine: nothing else touches them after Dial.
type pump[E any] struct {
	s       *Session[E]
	pending []E       // lifecycle events to deliver before reading again
	lostErr error     // set when the connection is lost for good (no reconnect)
	lostAt  time.Time // when the connection was last lost
}

// source is the dispatcher's source: next, and the one place where the
// session ends for good. A terminal error other than the client's own
// Close becomes dispatch.Lost (the same cause in every service) and is
// given to the service's End before the subscriptions end with it.
func (p *pump[E]) source(ctx context.Context) (E, error) {
	ev, err := p.next(ctx)
	if err != nil && ctx.Err() == nil && !errors.Is(err, ErrClosed) {
		err = dispatch.Lost(p.s.name, err)
		p.s.end(err)
	}
	return ev, err
}

// next returns queued lifecycle events first, then reads the connection,
// reconnecting when it is lost. With inline reads, it does so holding the
// gate's token, in its turn.
func (p *pump[E]) next(ctx context.Context) (E, error) {
	var zero E
	g := p.s.gate
	for {
		if len(p.pending) > 0 {
			ev := p.pending[0]
			p.pending[0] = zero
			p.pending = p.pending[1:]
			return ev, nil
		}
		if p.lostErr != nil {
			return zero, p.lostErr
		}
		if g == nil {
			if ev, ok, err := p.step(ctx, ctx); ok || err != nil {
				return ev, err
			}
			continue
		}
		if err := g.pumpAcquire(ctx, p.s); err != nil {
			g.stop()
			return zero, err
		}
		ev, ok, err := p.stepGated(ctx, g)
		g.release()
		if err != nil {
			g.stop()
		}
		if ok || err != nil {
			return ev, err
		}
	}
}

// stepGated is step holding the token: first the work a reader left.
func (p *pump[E]) stepGated(ctx context.Context, g *gate[E]) (E, bool, error) {
	if g.urgent.Load() {
		g.urgent.Store(false)
		p.pending = append(p.pending, g.held...)
		clear(g.held)
		g.held = g.held[:0]
		conn, err := g.failConn, g.failErr
		g.failConn, g.failErr = nil, nil
		if conn != nil {
			if cur, _ := p.s.Current(); cur == conn {
				return p.lost(conn, conn.fail(p.s.name+" event", err)), true, nil
			}
		}
		var zero E
		return zero, false, nil
	}
	return p.step(ctx, g.pumpCtx(ctx))
}

// step reconnects if there is no connection, or reads one event with rctx
// (ctx, or a context a reader may cancel to take the reading over). ok
// says whether ev is to be delivered.
func (p *pump[E]) step(ctx, rctx context.Context) (ev E, ok bool, err error) {
	var zero E
	conn, err := p.s.Current()
	if errors.Is(err, ErrClosed) {
		return zero, false, err
	}
	if conn == nil {
		if err := p.reconnect(ctx); err != nil {
			return zero, false, err // the end (source)
		}
		return zero, false, nil
	}
	g := p.s.gate
	if g != nil {
		// A reader counts itself in readers, then preempts the pump if it
		// sees it reading: one of the two sees the other.
		g.pumpReading.Store(true)
		if g.readers.Load() > 0 {
			g.pumpReading.Store(false)
			return zero, false, nil
		}
	}
	msg, err := conn.t.ReadEvent(rctx)
	if g != nil {
		g.pumpReading.Store(false)
	}
	if err == nil {
		if ev, ok, err = p.s.svc.Event(msg); err == nil {
			return ev, ok, nil
		}
	} else if ctx.Err() == nil && rctx.Err() != nil {
		return zero, false, nil // a reader takes the reading over
	}
	if ctx.Err() != nil {
		return zero, false, ctx.Err()
	}
	return p.lost(conn, conn.fail(p.s.name+" event", err)), true, nil
}

// lost drops conn and returns the fail-safe event.
func (p *pump[E]) lost(conn *Conn, err error) E {
	p.s.mu.Lock()
	if p.s.conn == conn {
		p.s.conn = nil
	}
	p.s.mu.Unlock()
	conn.Close()
	p.lostAt = time.Now()
	p.s.log(slog.LevelInfo, "connection to corosync lost", "error", err.Error())
	if !p.s.opts.Reconnect {
		p.lostErr = err
	}
	return p.s.svc.Lost(err)
}

func (p *pump[E]) reconnect(ctx context.Context) error {
	conn, snap, err := p.s.establish(ctx, p.s.svc, true, p.lostAt)
	if err != nil {
		return err
	}
	p.s.mu.Lock()
	if p.s.closed {
		p.s.mu.Unlock()
		conn.owned.Store(true)
		p.s.goodbye(conn)
		conn.Close()
		return corosync.NewError(p.s.name, corosync.ErrBadHandle, ErrClosed)
	}
	p.s.conn, p.s.ver = conn, conn.ver
	p.s.mu.Unlock()
	p.pending = append(p.pending, p.s.svc.Reconnected(snap), snap)
	return nil
}
