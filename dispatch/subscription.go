package dispatch

import (
	"context"
	"errors"
	"iter"
	"sync"
	"sync/atomic"

	corosync "github.com/corosync-go/corosync"
)

type policyKind uint8

const (
	policyLatest policyKind = iota
	policyQueue
	policyUnbounded
	policyBlock
)

type subConfig struct {
	policy policyKind
	size   int
	inline Inline
}

// SubOption configures a stream: its delivery policy.
type SubOption func(*subConfig)

// LatestWins selects the latest-wins policy (the default of subscriptions).
func LatestWins() SubOption { return func(c *subConfig) { c.policy, c.size = policyLatest, 1 } }

// Queue selects a bounded queue of n events (n < 1 means 1) that ends the
// stream with ErrOverflow when it overflows.
func Queue(n int) SubOption {
	return func(c *subConfig) { c.policy, c.size = policyQueue, max(n, 1) }
}

// Unbounded selects an unbounded ordered queue: nothing is lost and the
// source never waits; a reader that falls behind costs memory.
func Unbounded() SubOption {
	return func(c *subConfig) { c.policy, c.size = policyUnbounded, 0 }
}

// Block selects blocking delivery with a buffer of n events (n < 1 means 1):
// the source waits for this subscriber, and so does every other one.
func Block(n int) SubOption {
	return func(c *subConfig) { c.policy, c.size = policyBlock, max(n, 1) }
}

// Stream is the contract every event stream of this module meets, whatever
// its service and delivery policy: *Subscription implements it, and so do
// the service types built on it (cmap.Track, cpg.Group). The conformance
// suite dispatch/streamtest checks it against every service.
type Stream[E any] interface {
	// Next blocks until an event is available, the stream ends (Err's
	// error) or ctx ends (ctx's error). CS_DISPATCH_ONE.
	Next(ctx context.Context) (E, error)
	// TryNext returns a pending event without blocking, corosync.ErrTryAgain
	// when none is pending, or Err's error once the stream has ended.
	// CS_DISPATCH_ONE_NONBLOCKING.
	TryNext() (E, error)
	// Drain returns every pending event, oldest first. CS_DISPATCH_ALL.
	Drain() []E
	// Run calls fn for each event until ctx ends (ctx's error), fn fails
	// (its error), or the stream ends: nil after Close, Err's error
	// otherwise. CS_DISPATCH_BLOCKING.
	Run(ctx context.Context, fn func(E) error) error
	// C returns a channel the events arrive on, closed when the stream ends.
	C() <-chan E
	// All iterates over the events; see Subscription.All.
	All(ctx context.Context) iter.Seq2[E, error]
	// Err returns nil while the stream is live, then why it ended, once
	// every event before the end has been read.
	Err() error
	// Skipped returns how many events the reader has lost (LatestWins
	// replacements, the event that overflowed a Queue).
	Skipped() uint64
	// Close ends the stream with ErrClosed. Idempotent.
	Close() error
}

var _ Stream[int] = (*Subscription[int])(nil)

// Subscription is a stream of events: of a Dispatcher (Subscribe) or of a
// Feed (NewFeed). Its methods are safe for concurrent use; each event is
// received by exactly one of the competing receivers.
type Subscription[E any] struct {
	// What a delivery touches comes first, in one cache line: a dispatcher
	// with thousands of subscriptions reads these of each per event. The
	// small fields share a word, to keep the struct in a smaller size class.
	policy   policyKind
	ended    bool        // guarded by d.mu (dispatcher: LatestWins, Queue) or mu
	idx      int32       // position in d.subs; guarded by d.mu
	ch       chan E      // LatestWins, Queue and Block; nil with b
	b        *backlog[E] // Unbounded, or any policy with an Inline reader
	skipped  atomic.Uint64
	d        *Dispatcher[E] // nil for a Feed's stream
	name     string
	stop     chan struct{} // closed first when the stream ends
	stopOnce sync.Once
	mu       sync.Mutex            // Block policy, and every delivery of a Feed: serialises delivery and ending
	cause    atomic.Pointer[error] // the first end claimed, set before stop is closed
	err      atomic.Pointer[error] // the end, set when finished
}

// stopWith claims err as the stream's end unless another end came first,
// then closes stop: whoever sees stop closed finds the cause recorded.
func (s *Subscription[E]) stopWith(err error) {
	s.cause.CompareAndSwap(nil, &err)
	s.stopOnce.Do(func() { close(s.stop) })
}

func newSubscription[E any](name string, cfg subConfig) *Subscription[E] {
	s := &Subscription[E]{name: name, policy: cfg.policy, stop: make(chan struct{}), idx: -1}
	if cfg.policy == policyUnbounded || cfg.inline != nil {
		limit := 0
		if cfg.policy == policyQueue {
			limit = cfg.size // an Inline stream keeps Queue(n) as its backlog's limit
		}
		s.policy = policyUnbounded
		s.b = newBacklog[E](limit, cfg.inline)
	} else {
		s.ch = make(chan E, cfg.size)
	}
	return s
}

// offerLatest delivers ev under the latest-wins policy. The caller holds
// the delivery lock. The common case, an empty mailbox, is the first
// select; a caller on the hot path (Dispatcher.publish) makes that send
// itself and calls replaceLatest only when the mailbox is full.
func (s *Subscription[E]) offerLatest(ev *E, coalesce func(dropped, next E) E) {
	select {
	case s.ch <- *ev:
	default:
		s.replaceLatest(ev, coalesce)
	}
}

// replaceLatest replaces the undelivered event in a full latest-wins
// mailbox with ev (coalesced), counting the skip.
func (s *Subscription[E]) replaceLatest(ev *E, coalesce func(dropped, next E) E) {
	next := *ev
	select {
	case old := <-s.ch:
		s.skipped.Add(1)
		if coalesce != nil {
			next = coalesce(old, *ev)
		}
	default: // the subscriber took it meanwhile
	}
	select {
	case s.ch <- next:
	default: // unreachable: we are the only sender and just made room
		s.skipped.Add(1)
	}
}

// offerBlock delivers ev under the Block policy, waiting for room until
// the stream ends or quit is closed.
func (s *Subscription[E]) offerBlock(ev E, quit <-chan struct{}) {
	s.mu.Lock()
	if !s.ended {
		select {
		case s.ch <- ev:
		case <-s.stop:
		case <-quit:
		}
	}
	s.mu.Unlock()
}

// finish ends the stream with err, exactly once: the one place a stream
// ends. After ErrClosed what was not read is discarded; after any other
// cause it is read first. The caller holds the lock that guards
// deliveries to s.
func (s *Subscription[E]) finish(err error) {
	s.stopWith(err)
	err = *s.cause.Load() // the first end claimed wins
	if s.ended {
		return
	}
	s.ended = true
	s.err.Store(&err)
	closing := errors.Is(err, ErrClosed)
	if s.b != nil {
		s.b.end(err, closing)
		return
	}
	close(s.ch)
	if closing {
		for range s.ch {
		}
	}
}

// C returns the channel events arrive on. It is closed when the stream
// ends; Err then says why. The channel belongs to the stream. On an
// Unbounded stream, the first call starts a goroutine that feeds it (ended
// with the stream); Next, TryNext and Drain then read through it too, so
// that the events stay in order.
func (s *Subscription[E]) C() <-chan E {
	if s.b != nil {
		return s.b.c()
	}
	return s.ch
}

// Next blocks until an event is available, the stream ends (its terminal
// error is returned) or ctx ends (ctx's error is returned).
// It is CS_DISPATCH_ONE.
func (s *Subscription[E]) Next(ctx context.Context) (E, error) {
	if s.b != nil && !s.b.feedOn.Load() {
		return s.b.next(ctx)
	}
	select {
	case ev, ok := <-s.C():
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
// returns corosync.ErrTryAgain, or the terminal error once the stream
// has ended and been drained. It is CS_DISPATCH_ONE_NONBLOCKING.
func (s *Subscription[E]) TryNext() (E, error) {
	if s.b != nil && !s.b.feedOn.Load() {
		return s.b.tryNext()
	}
	select {
	case ev, ok := <-s.C():
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
		ev, err := s.TryNext()
		if err != nil {
			return out
		}
		out = append(out, ev)
	}
}

// Run calls fn for each event until ctx ends (ctx's error), fn returns an
// error (that error), or the stream ends (nil if it was closed, by Close
// or its client's Close; its terminal error otherwise). It is
// CS_DISPATCH_BLOCKING.
func (s *Subscription[E]) Run(ctx context.Context, fn func(E) error) error {
	return Run(ctx, s.Next, fn)
}

// All returns an iterator over the events, each with a nil error. When ctx
// ends or the stream ends other than by Close, it yields one final pair:
// the zero event and why (ctx's error, or the terminal error such as
// ErrOverflow or ErrLost); then the iteration stops. After Close it just
// stops, like Run.
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

// Err returns nil while the stream is live, then the reason it ended, once
// every event before the end has been read (at once after Close): an error
// carrying ErrClosed, ErrOverflow, ErrLost or a service's own cause (see
// the package documentation).
func (s *Subscription[E]) Err() error {
	if s.b != nil {
		return s.b.errNow()
	}
	p := s.err.Load()
	if p == nil {
		return nil
	}
	if len(s.ch) > 0 && !errors.Is(*p, ErrClosed) {
		return nil // events before the end are still to be read
	}
	return *p
}

// Done is closed as soon as the stream has ended (events before the end
// may still be pending).
func (s *Subscription[E]) Done() <-chan struct{} { return s.stop }

// Skipped returns how many events this stream has lost so far: replaced
// under the LatestWins policy, or the one that overflowed a Queue.
func (s *Subscription[E]) Skipped() uint64 { return s.skipped.Load() }

// Close ends the stream with ErrClosed (corosync.ErrBadHandle) and
// unblocks every waiter; events not yet read are discarded. It is
// idempotent and returns nil.
func (s *Subscription[E]) Close() error {
	s.endWith(Closed(s.name))
	return nil
}

// endWith ends the stream with err, taking the locks it needs.
func (s *Subscription[E]) endWith(err error) {
	s.stopWith(err)
	if d := s.d; d != nil {
		d.mu.Lock()
		d.removeLocked(s)
		if s.policy != policyBlock {
			s.finish(err)
		}
		d.mu.Unlock()
		if s.policy != policyBlock {
			return
		}
	}
	s.mu.Lock()
	s.finish(err)
	s.mu.Unlock()
}
