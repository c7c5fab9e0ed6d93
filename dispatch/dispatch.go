// Package dispatch is the one event-stream machinery of this module: every
// stream a client delivers (quorum, votequorum and cfg subscriptions, cmap
// tracks, cpg groups) is a *Subscription, with the same methods, the same
// delivery policies and the same endings (the Stream contract).
//
// A Dispatcher runs one goroutine that reads events from a source and fans
// each out to any number of subscriptions, without letting a slow
// subscriber hold up the others. A Feed is a single stream its owner pushes
// to directly, with no goroutine in between (a cmap track, a cpg group).
// It is generic over the event type and knows nothing of any corosync
// service. Its errors carry corosync.Error codes, so that
// errors.Is(err, corosync.ErrBadHandle) and friends work on streams as on
// every other call of this module; that is its only use of the root
// package. The stream methods map the C libraries' dispatch flags:
//
//	CS_DISPATCH_ONE              Subscription.Next(ctx)
//	CS_DISPATCH_ONE_NONBLOCKING  Subscription.TryNext()   (corosync.ErrTryAgain when nothing is pending)
//	CS_DISPATCH_ALL              Subscription.Drain()
//	CS_DISPATCH_BLOCKING         Subscription.Run(ctx, fn)
//
// and add C() for range/select and All(ctx) for range-over-func.
//
// # Delivery policies
//
// Each stream picks how it copes with being slower than the source:
//
//   - LatestWins (the default of subscriptions): a one-slot mailbox. An
//     undelivered event is replaced by the newer one and counted as skipped
//     (Skipped); the Coalesce hook lets the newer event record the gap.
//     Subscribers always converge on the latest event. Never blocks the
//     source.
//   - Queue(n): up to n undelivered events are kept in order. If the queue is
//     full when an event arrives, the stream ends with ErrOverflow after the
//     queued events have been read: loss is reported once, in-band, and
//     never silent. Never blocks the source.
//   - Unbounded: every event is kept, in order, however far the reader falls
//     behind (the default of cpg groups: virtual synchrony allows no gap).
//     Never blocks the source; a slow reader costs this process memory.
//   - Block(n): the source waits until this subscriber has room. Nothing is
//     lost, but a stuck subscriber stalls every other one; use with care.
//
// A new subscription first receives the dispatcher's cached latest event
// (converted by the Initial hook), so subscribing costs no round trip.
//
// # How a stream ends
//
// A stream ends once, for one of these causes, and Err then says which;
// every error carries a corosync code and the cause as a sentinel of this
// package, identical in every service:
//
//	cause                                    errors.Is                          buffered events
//	Close of the stream, or of its client    ErrClosed, corosync.ErrBadHandle    discarded
//	the reader fell behind Queue(n)          ErrOverflow, corosync.ErrQueueFull  read first
//	the connection is gone for good          ErrLost, and the code of why        read first
//	  (reconnecting refused, e.g. corosync.ErrAccess; or lost without reconnect: corosync.ErrLibrary)
//	a service's own end (cpg: the group was left)   the service's sentinel   read first
//
// Run and All treat ErrClosed as the normal end and return nil; every other
// end is an error.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corosync "github.com/corosync-go/corosync"
)

// The causes a stream ends with (see the package documentation). Streams
// never return them bare: Err wraps them in a *corosync.OpError naming the
// service, with a corosync code.
var (
	// ErrClosed: the stream, or the client it belongs to, was closed by its
	// owner. Carried with corosync.ErrBadHandle, as the C libraries report
	// calls after finalize.
	ErrClosed = errors.New("closed")
	// ErrOverflow: a Queue stream's reader fell more than its queue length
	// behind and events were lost. Carried with corosync.ErrQueueFull.
	ErrOverflow = errors.New("the reader fell behind its queue; events were lost")
	// ErrLost: the connection to corosync is gone for good: reconnecting
	// failed with an error retrying cannot fix (corosync.ErrAccess after
	// the daemon restarted with this user no longer allowed, ...), or it was
	// lost and the client does not reconnect (corosync.ErrLibrary). Carried
	// with the code of why.
	ErrLost = errors.New("the connection to corosync is gone for good")
)

// Closed returns the error a stream of service ends with when it or its
// client is closed: ErrClosed with corosync.ErrBadHandle.
func Closed(service string) error {
	return corosync.NewError(service, corosync.ErrBadHandle, ErrClosed)
}

// Overflowed returns the error a Queue stream of service ends with when its
// reader fell behind: ErrOverflow with corosync.ErrQueueFull.
func Overflowed(service string) error {
	return corosync.NewError(service, corosync.ErrQueueFull, ErrOverflow)
}

// Lost returns the error a stream of service ends with when its connection
// is gone for good because of why: ErrLost with why's code, wrapping why.
func Lost(service string, why error) error {
	if errors.Is(why, ErrLost) {
		return why
	}
	return corosync.NewError(service, corosync.Code(why), fmt.Errorf("%w: %w", ErrLost, why))
}

// Source produces the next event. It should block until one is available or
// ctx ends. A non-nil error ends the dispatcher: every subscription ends with
// that error (ctx's own error, after Close, is reported as Closed).
type Source[E any] func(ctx context.Context) (E, error)

type config[E any] struct {
	name     string
	coalesce func(dropped, next E) E
	initial  func(latest E) E
	seed     *E
}

// Option configures a Dispatcher.
type Option[E any] func(*config[E])

// WithName sets the name the dispatcher's errors carry (the service, e.g.
// "quorum"); the default is "stream".
func WithName[E any](name string) Option[E] {
	return func(c *config[E]) { c.name = name }
}

// WithCoalesce sets the function a Latest subscription uses when an
// undelivered event is replaced by a newer one. It returns the event to
// deliver instead, typically next with a skip counter raised. It runs on the
// dispatcher goroutine and must not block.
func WithCoalesce[E any](f func(dropped, next E) E) Option[E] {
	return func(c *config[E]) { c.coalesce = f }
}

// WithInitial sets the function that turns the cached latest event into the
// first event of a new subscription (for example to mark it as a snapshot).
func WithInitial[E any](f func(latest E) E) Option[E] {
	return func(c *config[E]) { c.initial = f }
}

// WithSeed sets the cached latest event before the dispatcher starts, so that
// subscriptions made right after Start begin with it.
func WithSeed[E any](ev E) Option[E] {
	return func(c *config[E]) { c.seed = &ev }
}

// Dispatcher runs one goroutine that reads a Source and fans its events out.
type Dispatcher[E any] struct {
	cfg       config[E]
	cancel    context.CancelFunc
	quit      chan struct{} // closed by Close: unblocks Block deliveries
	done      chan struct{} // closed when the goroutine has ended every subscription
	closeOnce sync.Once

	mu     sync.Mutex // guards everything below, and every non-Block delivery
	subs   []*Subscription[E]
	latest E
	has    bool
	ended  bool
	err    error

	scratch []*Subscription[E] // Block subscriptions of the current event; dispatcher goroutine only
}

// Start starts the dispatcher goroutine reading src. It runs until src
// returns an error or Close is called; ctx is passed to src.
func Start[E any](ctx context.Context, src Source[E], opts ...Option[E]) *Dispatcher[E] {
	d := &Dispatcher[E]{quit: make(chan struct{}), done: make(chan struct{})}
	d.cfg.name = "stream"
	for _, o := range opts {
		o(&d.cfg)
	}
	if d.cfg.seed != nil {
		d.latest, d.has = *d.cfg.seed, true
	}
	ctx, d.cancel = context.WithCancel(ctx)
	go func() {
		defer close(d.done)
		var err error
		for {
			var ev E
			ev, err = src(ctx)
			if err != nil {
				break
			}
			d.publish(ev)
		}
		if ctx.Err() != nil {
			err = Closed(d.cfg.name)
		}
		d.shutdown(err)
	}()
	return d
}

// publish records ev as the latest event and delivers it to every subscription.
func (d *Dispatcher[E]) publish(ev E) {
	d.mu.Lock()
	d.latest, d.has = ev, true
	blocking := d.scratch[:0]
	coalesce := d.cfg.coalesce
	// Backwards, so that an overflowing Queue subscription can be swap-removed
	// in place: the element moved into its slot has already been served.
	for i := len(d.subs) - 1; i >= 0; i-- {
		s := d.subs[i]
		if s.policy == policyLatest { // offerLatest, inline: this loop is the hot path
			select {
			case s.ch <- ev:
			default:
				next := ev
				select {
				case old := <-s.ch:
					s.skipped.Add(1)
					if coalesce != nil {
						next = coalesce(old, ev)
					}
				default: // the subscriber took it meanwhile
				}
				select {
				case s.ch <- next:
				default: // unreachable: we are the only sender and just made room
					s.skipped.Add(1)
				}
			}
			continue
		}
		switch s.policy {
		case policyQueue:
			select {
			case s.ch <- ev:
			default:
				s.skipped.Add(1)
				d.removeLocked(s)
				s.finish(Overflowed(s.name))
			}
		case policyUnbounded:
			s.b.push(ev)
		case policyBlock:
			blocking = append(blocking, s)
		}
	}
	d.mu.Unlock()
	for _, s := range blocking {
		s.offerBlock(ev, d.quit)
	}
	clear(blocking)
	d.scratch = blocking[:0]
}

// shutdown ends every subscription with err.
func (d *Dispatcher[E]) shutdown(err error) {
	d.mu.Lock()
	d.ended, d.err = true, err
	subs := d.subs
	d.subs = nil
	for _, s := range subs {
		s.stopWith(err)
		if s.policy != policyBlock {
			s.finish(err)
		}
	}
	d.mu.Unlock()
	for _, s := range subs {
		if s.policy == policyBlock {
			s.mu.Lock()
			s.finish(err)
			s.mu.Unlock()
		}
	}
}

func (d *Dispatcher[E]) removeLocked(s *Subscription[E]) {
	i := int(s.idx)
	if i < 0 || i >= len(d.subs) || d.subs[i] != s {
		return
	}
	last := len(d.subs) - 1
	d.subs[i] = d.subs[last]
	d.subs[i].idx = int32(i)
	d.subs[last] = nil
	d.subs = d.subs[:last]
	s.idx = -1
}

// Close stops the source, ends every subscription with Closed (or the
// source's error if it failed first) and waits for the dispatcher goroutine
// to exit. It is idempotent and returns nil.
func (d *Dispatcher[E]) Close() error {
	d.closeOnce.Do(func() {
		close(d.quit)
		d.cancel()
	})
	<-d.done
	return nil
}

// Done is closed once the dispatcher has stopped and ended every subscription.
func (d *Dispatcher[E]) Done() <-chan struct{} { return d.done }

// Latest returns the most recent event and whether there has been one.
func (d *Dispatcher[E]) Latest() (E, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.latest, d.has
}

// Len returns the number of live subscriptions.
func (d *Dispatcher[E]) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.subs)
}

// Subscribe adds a subscription. If the dispatcher has seen an event, the
// subscription's first event is the latest one (through the Initial hook).
// It fails with the dispatcher's terminal error once the dispatcher stopped.
func (d *Dispatcher[E]) Subscribe(opts ...SubOption) (*Subscription[E], error) {
	cfg := subConfig{policy: policyLatest, size: 1}
	for _, o := range opts {
		o(&cfg)
	}
	s := newSubscription[E](d.cfg.name, cfg)
	s.d = d
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ended {
		return nil, d.err
	}
	if d.has {
		ev := d.latest
		if d.cfg.initial != nil {
			ev = d.cfg.initial(ev)
		}
		if s.b != nil {
			s.b.push(ev)
		} else {
			s.ch <- ev // a fresh channel has room
		}
	}
	s.idx = int32(len(d.subs))
	d.subs = append(d.subs, s)
	return s, nil
}
