package session

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Inline reads: a service whose events go to its own readers, not through
// the session's dispatcher (cpg), may let a reader that waits for an event
// read the connection itself, on its own goroutine, as a C client's
// dispatch call does. A pump that reads and hands each event to a parked
// reader costs a goroutine wake-up per event (and, in the Go scheduler, an
// idle P's M spinning on another CPU while the daemons need it): measured
// 20–40 µs of a 200 µs cpg round trip on a 2-core machine (BENCHMARKS.md).
//
// One goroutine at a time reads the connection and runs the service's
// Event: it holds the gate's token. The pump holds it while it reads; a
// reader that wants it preempts the pump (cancels the pump's read, which
// leaves the connection intact) and takes it. The pump takes the token back
// only when no reader has wanted it for the grace period, so that a reader
// calling again and again keeps it, and a reader that stops reading (a slow
// consumer) leaves the daemon's events unread for at most about two grace
// periods (the pump looks once per period): then the pump reads them into
// the service's backlog, as it always did.
type gate[E any] struct {
	grace   time.Duration
	tok     chan struct{} // capacity 1: full while someone holds the token
	readers atomic.Int32  // readers holding or waiting for the token
	last    atomic.Int64  // when the last reader let the token go (UnixNano)
	kick    chan struct{} // capacity 1: wakes a pump waiting for its turn
	// wantKick: the pump waits for the last reader to leave.
	wantKick atomic.Bool
	timer    *time.Timer  // the pump's grace timer (pump only)
	wakes    atomic.Int64 // the pump's wake-ups while waiting for its turn (tests)

	// pumpReading is set while the pump waits in ReadEvent with pctx, the
	// context a reader cancels to preempt it.
	pumpReading atomic.Bool
	pmu         sync.Mutex
	pctx        context.Context
	pcancel     context.CancelFunc

	// urgent is set when a reader leaves work for the pump: a failed
	// connection (failConn, failErr) or events for the dispatcher (held).
	// The pump then takes its turn at once. The fields are written and
	// read by the token's holder.
	urgent   atomic.Bool
	failConn *Conn
	failErr  error
	held     []E
}

func newGate[E any](grace time.Duration) *gate[E] {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &gate[E]{grace: grace, tok: make(chan struct{}, 1), kick: make(chan struct{}, 1), timer: t}
}

// pumpCtx returns the context the pump reads with: ctx, cancellable by a
// reader's preemption.
func (g *gate[E]) pumpCtx(ctx context.Context) context.Context {
	g.pmu.Lock()
	defer g.pmu.Unlock()
	if g.pctx == nil || g.pctx.Err() != nil {
		g.pctx, g.pcancel = context.WithCancel(ctx)
	}
	return g.pctx
}

// preempt interrupts the pump's read, if it is reading.
func (g *gate[E]) preempt() {
	if !g.pumpReading.Load() {
		return
	}
	g.pmu.Lock()
	if g.pcancel != nil {
		g.pcancel()
	}
	g.pmu.Unlock()
}

// stop releases the pump's context (the pump has ended).
func (g *gate[E]) stop() {
	g.pmu.Lock()
	if g.pcancel != nil {
		g.pcancel()
	}
	g.pmu.Unlock()
	g.timer.Stop()
}

func (g *gate[E]) signal() {
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// deepSleepAfter: after this many grace periods without a reader leaving,
// the pump stops looking periodically and sleeps until the last reader
// leaves.
const deepSleepAfter = 20

// pumpAcquire waits for the pump's turn and takes the token: when no reader
// wants it and none has for the grace period, or at once when a reader left
// work for the pump or there is no connection (reconnecting). While readers
// come and go, it looks once per grace period (not woken per event); while
// a reader stays parked for long (an idle group), it sleeps until the last
// reader leaves, so that an idle group costs nothing. It fails when ctx
// ends.
func (g *gate[E]) pumpAcquire(ctx context.Context, s *Session[E]) error {
	for !g.urgent.Load() {
		if c, _ := s.Current(); c == nil {
			break
		}
		idle := time.Duration(time.Now().UnixNano() - g.last.Load())
		if g.readers.Load() > 0 && idle < deepSleepAfter*g.grace {
			// Readers come and go: look again after the grace period. A
			// wake-up at each reader's departure would cost a goroutine
			// wake per event, which inline reads are there to save.
			if err := g.sleep(ctx, g.grace); err != nil {
				return err
			}
			continue
		}
		if g.readers.Load() > 0 {
			// A reader parked for long (an idle group): sleep until the
			// last reader leaves, at no cost meanwhile. It wakes us if it
			// sees wantKick; we set it, then look at readers again: one of
			// the two sees the other.
			g.wantKick.Store(true)
			if g.readers.Load() > 0 {
				select {
				case <-g.kick:
				case <-ctx.Done():
					g.wantKick.Store(false)
					return ctx.Err()
				}
				g.wakes.Add(1)
			}
			g.wantKick.Store(false)
			continue
		}
		rem := g.grace - idle
		if rem <= 0 {
			break
		}
		if err := g.sleep(ctx, rem); err != nil {
			return err
		}
	}
	select {
	case g.tok <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sleep is the pump's wait for d, cut short by a kick (urgent work, or a
// stale wake-up); it fails when ctx ends.
func (g *gate[E]) sleep(ctx context.Context, d time.Duration) error {
	g.timer.Reset(d)
	select {
	case <-g.timer.C:
	case <-g.kick:
		g.timer.Stop()
	case <-ctx.Done():
		g.timer.Stop()
		return ctx.Err()
	}
	g.wakes.Add(1)
	return nil
}

// leave hands work to the pump (token held): a failed connection, or an
// event for the dispatcher; the pump takes its turn at once.
func (g *gate[E]) leave(conn *Conn, err error, ev *E) {
	if conn != nil {
		g.failConn, g.failErr = conn, err
	}
	if ev != nil {
		g.held = append(g.held, *ev)
	}
	g.urgent.Store(true)
	g.signal()
}

func (g *gate[E]) release() { <-g.tok }

// inlineBatch bounds the events one ReadInline takes.
const inlineBatch = 64

// InlineResult says what ReadInline did.
type InlineResult int

const (
	// InlineRead: an event was read and handed to the service's Event.
	InlineRead InlineResult = iota
	// InlineWoken: one of the wake channels fired while waiting for the
	// token (another reader may have read an event).
	InlineWoken
	// InlineUnavailable: there is nothing to read inline now (no
	// connection, reconnecting, or the connection failed and the pump is
	// to handle it); the caller waits for the pump's events instead.
	InlineUnavailable
)

// ReadInline reads one event from the connection on the caller's goroutine
// and passes it to the service's Event, as the pump would, for a session
// dialled with Options.InlineGrace. It waits for the reading token while
// another reader holds it, until ctx ends or wake, failed or closed fires
// (nil channels never fire). Holding the token, it reads nothing if ready
// reports that the caller has something to take already (an event the
// previous holder handed over): every hand-over happens under the token,
// so this check cannot miss one. It returns ctx's error when ctx ends.
//
// An event for the dispatcher (Event's ok) and a failure of the connection
// are left to the pump, which takes its turn at once.
func (s *Session[E]) ReadInline(ctx context.Context, ready func() bool, wake, failed, closed <-chan struct{}) (InlineResult, error) {
	g := s.gate
	if g == nil || g.urgent.Load() {
		return InlineUnavailable, nil
	}
	if err := ctx.Err(); err != nil {
		return InlineUnavailable, err
	}
	g.readers.Add(1)
	defer func() {
		g.last.Store(time.Now().UnixNano())
		if g.readers.Add(-1) == 0 && g.wantKick.Load() {
			g.signal()
		}
	}()
	select {
	case g.tok <- struct{}{}:
	default:
		g.preempt()
		select {
		case g.tok <- struct{}{}:
		case <-wake:
			return InlineWoken, nil
		case <-failed:
			return InlineWoken, nil
		case <-closed:
			return InlineWoken, nil
		case <-ctx.Done():
			return InlineUnavailable, ctx.Err()
		}
	}
	defer g.release()
	if ready() {
		return InlineWoken, nil
	}
	conn, err := s.Current()
	if err != nil || g.urgent.Load() {
		return InlineUnavailable, nil
	}
	// The events the daemon has already posted are all taken (at most
	// inlineBatch): the daemon's ring is emptied whenever a reader reads,
	// as the pump would.
	for n := 0; ; n++ {
		msg, err := conn.t.ReadEvent(ctx)
		if err != nil {
			if n > 0 {
				break // the error comes again to the next read
			}
			if cerr := ctx.Err(); cerr != nil {
				return InlineUnavailable, cerr
			}
			g.leave(conn, err, nil)
			return InlineUnavailable, nil
		}
		ev, ok, err := s.svc.Event(msg)
		switch {
		case err != nil:
			g.leave(conn, err, nil)
			return InlineRead, nil
		case ok:
			g.leave(nil, nil, &ev)
		}
		if n+1 >= inlineBatch || !conn.EventPending() {
			break
		}
	}
	return InlineRead, nil
}
