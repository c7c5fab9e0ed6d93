// Package dispatch is a generic fan-out engine: one goroutine reads events
// from a source and delivers each to any number of subscriptions, without
// letting a slow subscriber hold up the others.
//
// It is generic over the event type and knows nothing of any corosync
// service; every service client (quorum, ...) builds on it. Its errors carry
// corosync.Error codes, so that errors.Is(err, corosync.ErrBadHandle) and
// friends work on subscriptions as on every other call of this module; that
// is its only use of the root package. The subscription methods map the C
// libraries' dispatch flags:
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
// Each subscription picks how it copes with being slower than the source:
//
//   - LatestWins (the default): a one-slot mailbox. An undelivered event is
//     replaced by the newer one and counted as skipped; the dispatcher's
//     Coalesce hook lets the newer event record the gap. Subscribers always
//     converge on the latest event. Never blocks the dispatcher.
//   - Queue(n): up to n undelivered events are kept in order. If the queue is
//     full when an event arrives, the subscription ends with ErrOverflow after
//     the queued events have been read: loss is reported once, in-band, and
//     never silent. Never blocks the dispatcher.
//   - Block(n): the dispatcher waits until this subscriber has room. Nothing is
//     lost, but a stuck subscriber stalls every other one; use with care.
//
// A new subscription first receives the dispatcher's cached latest event
// (converted by the Initial hook), so subscribing costs no round trip.
package dispatch

import (
	"context"
	"errors"
	"iter"
	"sync"
	"sync/atomic"

	corosync "github.com/corosync-go/corosync"
)

// Errors that end a subscription. errors.Is also matches the corosync code
// each one carries.
var (
	// ErrClosed: the subscription was closed by its owner (CS_ERR_BAD_HANDLE).
	ErrClosed = corosync.NewError("dispatch", corosync.ErrBadHandle, errors.New("subscription closed"))
	// ErrDispatcherClosed: the dispatcher was closed (CS_ERR_BAD_HANDLE).
	ErrDispatcherClosed = corosync.NewError("dispatch", corosync.ErrBadHandle, errors.New("dispatcher closed"))
	// ErrOverflow: a Queue subscription fell more than its queue length behind
	// and events were lost (CS_ERR_QUEUE_FULL).
	ErrOverflow = corosync.NewError("dispatch", corosync.ErrQueueFull, errors.New("subscriber queue overflowed; events were lost"))
)

// Source produces the next event. It should block until one is available or
// ctx ends. A non-nil error ends the dispatcher: every subscription ends with
// that error (ctx's own error is reported as ErrDispatcherClosed).
type Source[E any] func(ctx context.Context) (E, error)

type config[E any] struct {
	coalesce func(dropped, next E) E
	initial  func(latest E) E
	seed     *E
}

// Option configures a Dispatcher.
type Option[E any] func(*config[E])

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
			err = ErrDispatcherClosed
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
	// Backwards, so that an overflowing Queue subscription can be swap-removed
	// in place: the element moved into its slot has already been served.
	for i := len(d.subs) - 1; i >= 0; i-- {
		s := d.subs[i]
		switch s.policy {
		case policyLatest:
			select {
			case s.ch <- ev:
			default:
				next := ev
				select {
				case old := <-s.ch:
					s.skipped.Add(1)
					if d.cfg.coalesce != nil {
						next = d.cfg.coalesce(old, ev)
					}
				default: // the subscriber took it meanwhile
				}
				select {
				case s.ch <- next:
				default: // unreachable: we are the only sender and just made room
					s.skipped.Add(1)
				}
			}
		case policyQueue:
			select {
			case s.ch <- ev:
			default:
				s.skipped.Add(1)
				d.removeLocked(s)
				s.stopOnce.Do(func() { close(s.stop) })
				s.finish(ErrOverflow)
			}
		case policyBlock:
			blocking = append(blocking, s)
		}
	}
	d.mu.Unlock()
	for _, s := range blocking {
		s.mu.Lock()
		if !s.ended {
			select {
			case s.ch <- ev:
			case <-s.stop:
			case <-d.quit:
			}
		}
		s.mu.Unlock()
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
		s.stopOnce.Do(func() { close(s.stop) })
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
	i := s.idx
	if i < 0 || i >= len(d.subs) || d.subs[i] != s {
		return
	}
	last := len(d.subs) - 1
	d.subs[i] = d.subs[last]
	d.subs[i].idx = i
	d.subs[last] = nil
	d.subs = d.subs[:last]
	s.idx = -1
}

// Close stops the source, ends every subscription with ErrDispatcherClosed
// (or the source's error if it failed first) and waits for the dispatcher
// goroutine to exit. It is idempotent and returns nil.
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

type policyKind uint8

const (
	policyLatest policyKind = iota
	policyQueue
	policyBlock
)

type subConfig struct {
	policy policyKind
	size   int
}

// SubOption configures a subscription.
type SubOption func(*subConfig)

// LatestWins selects the latest-wins policy (the default).
func LatestWins() SubOption { return func(c *subConfig) { c.policy, c.size = policyLatest, 1 } }

// Queue selects a bounded queue of n events (n < 1 means 1) that ends the
// subscription with ErrOverflow when it overflows.
func Queue(n int) SubOption {
	return func(c *subConfig) { c.policy, c.size = policyQueue, max(n, 1) }
}

// Block selects blocking delivery with a buffer of n events (n < 1 means 1):
// the dispatcher waits for this subscriber, and so does every other one.
func Block(n int) SubOption {
	return func(c *subConfig) { c.policy, c.size = policyBlock, max(n, 1) }
}

// Subscribe adds a subscription. If the dispatcher has seen an event, the
// subscription's first event is the latest one (through the Initial hook).
// It fails with the dispatcher's terminal error once the dispatcher stopped.
func (d *Dispatcher[E]) Subscribe(opts ...SubOption) (*Subscription[E], error) {
	cfg := subConfig{policy: policyLatest, size: 1}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Subscription[E]{d: d, policy: cfg.policy, ch: make(chan E, cfg.size), stop: make(chan struct{}), idx: -1}
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
		s.ch <- ev // a fresh channel has room
	}
	s.idx = len(d.subs)
	d.subs = append(d.subs, s)
	return s, nil
}

// Subscription receives the events of a Dispatcher. Its methods are safe for
// concurrent use; each event is received by exactly one of the competing
// receivers.
type Subscription[E any] struct {
	d        *Dispatcher[E]
	policy   policyKind
	ch       chan E
	stop     chan struct{} // closed first when the subscription ends
	stopOnce sync.Once
	idx      int        // position in d.subs; guarded by d.mu
	mu       sync.Mutex // Block policy: serialises delivery and ending
	ended    bool       // guarded by d.mu (Latest, Queue) or mu (Block)
	err      atomic.Pointer[error]
	skipped  atomic.Uint64
}

// finish ends the subscription: records err and closes the channel exactly
// once. The caller holds the lock that guards deliveries to s.
func (s *Subscription[E]) finish(err error) {
	if s.ended {
		return
	}
	s.ended = true
	s.err.Store(&err)
	close(s.ch)
}

// C returns the channel events arrive on. It is closed when the subscription
// ends; Err then says why. The channel belongs to the subscription.
func (s *Subscription[E]) C() <-chan E { return s.ch }

// Next blocks until an event is available, the subscription ends (its
// terminal error is returned) or ctx ends (ctx's error is returned).
// It is CS_DISPATCH_ONE.
func (s *Subscription[E]) Next(ctx context.Context) (E, error) {
	select {
	case ev, ok := <-s.ch:
		if !ok {
			var zero E
			return zero, s.Err()
		}
		return ev, nil
	case <-ctx.Done():
		var zero E
		return zero, ctx.Err()
	}
}

// TryNext returns a pending event without blocking. With nothing pending it
// returns corosync.ErrTryAgain, or the terminal error once the subscription
// has ended and been drained. It is CS_DISPATCH_ONE_NONBLOCKING.
func (s *Subscription[E]) TryNext() (E, error) {
	select {
	case ev, ok := <-s.ch:
		if !ok {
			var zero E
			return zero, s.Err()
		}
		return ev, nil
	default:
		var zero E
		return zero, corosync.ErrTryAgain
	}
}

// Drain returns every pending event, oldest first, without blocking; nil if
// none. It is CS_DISPATCH_ALL.
func (s *Subscription[E]) Drain() []E {
	var out []E
	for {
		select {
		case ev, ok := <-s.ch:
			if !ok {
				return out
			}
			out = append(out, ev)
		default:
			return out
		}
	}
}

// Run calls fn for each event until ctx ends (ctx's error), fn returns an
// error (that error), or the subscription ends (nil if it was closed with
// Close, its terminal error otherwise). It is CS_DISPATCH_BLOCKING.
func (s *Subscription[E]) Run(ctx context.Context, fn func(E) error) error {
	return Run(ctx, s.Next, fn)
}

// All returns an iterator over the events, each with a nil error. When ctx
// ends or the subscription ends other than by Close, it yields one final
// pair: the zero event and why (ctx's error, or the terminal error such as
// ErrOverflow or a source error); then the iteration stops. After Close it
// just stops, like Run.
//
//	for ev, err := range sub.All(ctx) {
//		if err != nil {
//			return err
//		}
//		...
//	}
func (s *Subscription[E]) All(ctx context.Context) iter.Seq2[E, error] {
	return All(ctx, s.Next)
}

// Run is Subscription.Run for any stream read by next (a Next method with
// the same contract: ErrClosed once its owner closed it): it calls fn for
// each event until ctx ends, fn fails or the stream ends (nil after Close).
func Run[E any](ctx context.Context, next func(context.Context) (E, error), fn func(E) error) error {
	for {
		ev, err := next(ctx)
		if err != nil {
			if errors.Is(err, ErrClosed) && ctx.Err() == nil {
				return nil
			}
			return err
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
}

// All is Subscription.All for any stream read by next (see Run).
func All[E any](ctx context.Context, next func(context.Context) (E, error)) iter.Seq2[E, error] {
	return func(yield func(E, error) bool) {
		for {
			ev, err := next(ctx)
			if err != nil {
				if !errors.Is(err, ErrClosed) || ctx.Err() != nil {
					var zero E
					yield(zero, err)
				}
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
	}
}

// Err returns nil while the subscription is live, then the reason it ended:
// ErrClosed, ErrOverflow, ErrDispatcherClosed or the source's error.
func (s *Subscription[E]) Err() error {
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Skipped returns how many events this subscription has lost so far:
// replaced under the Latest policy, or the one that overflowed a Queue.
func (s *Subscription[E]) Skipped() uint64 { return s.skipped.Load() }

// Close ends the subscription with ErrClosed and unblocks every waiter. It is
// idempotent and returns nil. Events still buffered can be read until C is
// drained.
func (s *Subscription[E]) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	d := s.d
	d.mu.Lock()
	d.removeLocked(s)
	if s.policy != policyBlock {
		s.finish(ErrClosed)
	}
	d.mu.Unlock()
	if s.policy == policyBlock {
		s.mu.Lock()
		s.finish(ErrClosed)
		s.mu.Unlock()
	}
	return nil
}
