package dispatch

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	corosync "github.com/corosync-go/corosync"
)

// Inline lets the readers of a Feed's stream read the source on their own
// goroutine when nothing is pending, as a C client's dispatch call does:
// no goroutine hand-over between the daemon's event and the reader (cpg).
type Inline interface {
	// ReadInline reads from the source once, on the caller's goroutine,
	// pushing what it reads to the stream; it may instead wait while
	// another goroutine reads. It returns when it has done so (true), when
	// it cannot read inline now (false: the reader then waits for a push),
	// or when ctx ends (ctx's error). It must return, with true or false,
	// when wake or ended fires, and must not read if ready reports that
	// there is something to take already.
	ReadInline(ctx context.Context, ready func() bool, wake, ended <-chan struct{}) (bool, error)
	// Pending reports whether the source already holds the next event: a
	// push then does not yield to a parked reader.
	Pending() bool
}

// WithInline makes a Feed's readers read through in when nothing is
// pending (see Inline). The stream is ordered and lossless: Unbounded, or
// Queue(n) if given (ErrOverflow beyond n).
func WithInline(in Inline) SubOption { return func(c *subConfig) { c.inline = in } }

// backlog is the ordered queue of an Unbounded (or Inline) stream: one
// hand-over from the producer to the reader, no goroutine in between; the
// producer never waits.
type backlog[E any] struct {
	limit  int // 0: unbounded
	inline Inline
	ready  func() bool // readable, made once: a method value passed on would cost an allocation per read

	mu      sync.Mutex
	q       []E // events not yet read: q[qh:]
	qh      int
	err     error         // why the stream ended; nil while live
	ended   chan struct{} // closed when err is set
	closed  chan struct{} // closed when the stream was closed: pending events were dropped
	wake    chan struct{} // capacity 1: q may hold an event for a waiting reader
	waiting atomic.Int32  // readers parked in next

	feedOnce sync.Once // C: a goroutine feeding a channel, started on demand
	feed     chan E
	feedOn   atomic.Bool
	feedDone chan struct{}
}

func newBacklog[E any](limit int, in Inline) *backlog[E] {
	b := &backlog[E]{limit: limit, inline: in, ended: make(chan struct{}), closed: make(chan struct{}),
		wake: make(chan struct{}, 1)}
	b.ready = b.readable
	return b
}

// push appends ev. It reports false, and keeps nothing, if the limit is
// reached (the caller ends the stream with ErrOverflow) or the stream has
// ended.
func (b *backlog[E]) push(ev E) bool {
	b.mu.Lock()
	if b.err != nil || b.limit > 0 && len(b.q)-b.qh >= b.limit {
		b.mu.Unlock()
		return false
	}
	if b.qh > 64 && b.qh >= len(b.q)/2 { // reuse the read half
		n := copy(b.q, b.q[b.qh:])
		clear(b.q[n:])
		b.q, b.qh = b.q[:n], 0
	}
	b.q = append(b.q, ev)
	b.mu.Unlock()
	b.signal()
	if b.inline != nil && b.waiting.Load() > 0 && !b.inline.Pending() {
		// A reader is parked for this event and the source has nothing
		// more: let the reader run on this P now, before the producer goes
		// back to the source (measured with cpg: it otherwise waits out the
		// next read, or a wake on the other P). Not while the source has
		// more: yielding per event costs throughput (BENCHMARKS.md, cpg).
		runtime.Gosched()
	}
	return true
}

func (b *backlog[E]) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// end records err; closing drops what was not read and stops C's feeder.
func (b *backlog[E]) end(err error, closing bool) {
	b.mu.Lock()
	if b.err != nil {
		b.mu.Unlock()
		return
	}
	b.err = err
	close(b.ended)
	if closing {
		close(b.closed)
		clear(b.q)
		b.q, b.qh = nil, 0
	}
	b.mu.Unlock()
	b.signal()
	if closing {
		b.feedOnce.Do(func() { // no feeder can start now; C returns a closed channel
			b.feed = make(chan E)
			close(b.feed)
		})
		if b.feedDone != nil {
			<-b.feedDone
		}
	}
}

// take returns the oldest unread event (ok), or why the stream has ended
// (err), or neither while it is live and empty.
func (b *backlog[E]) take() (ev E, ok bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.qh == len(b.q) {
		return ev, false, b.err
	}
	ev = b.q[b.qh]
	var zero E
	b.q[b.qh] = zero // let its payload go
	b.qh++
	if b.qh == len(b.q) {
		b.q, b.qh = b.q[:0], 0
	} else {
		b.signal() // more for another waiting reader
	}
	return ev, true, nil
}

// readable reports whether take would return an event or the end.
func (b *backlog[E]) readable() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.qh < len(b.q) || b.err != nil
}

// len returns the number of events not yet read.
func (b *backlog[E]) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.q) - b.qh
}

func (b *backlog[E]) next(ctx context.Context) (E, error) {
	var zero E
	for {
		ev, ok, err := b.take()
		if ok || err != nil {
			return ev, err
		}
		if b.inline != nil {
			read, err := b.inline.ReadInline(ctx, b.ready, b.wake, b.ended)
			if err != nil {
				return zero, err
			}
			if read {
				continue
			}
		}
		b.waiting.Add(1)
		select {
		case <-b.wake:
		case <-b.ended:
		case <-ctx.Done():
			b.waiting.Add(-1)
			return zero, ctx.Err()
		}
		b.waiting.Add(-1)
	}
}

func (b *backlog[E]) tryNext() (E, error) {
	ev, ok, err := b.take()
	switch {
	case ok:
		return ev, nil
	case err != nil:
		return ev, err
	}
	return ev, corosync.ErrTryAgain
}

// c starts C's feeder on first use.
func (b *backlog[E]) c() <-chan E {
	b.feedOnce.Do(func() {
		b.feed, b.feedDone = make(chan E), make(chan struct{})
		b.feedOn.Store(true)
		go func() {
			// feedDone first: a reader that sees feed closed finds Err set.
			defer close(b.feed)
			defer close(b.feedDone)
			for {
				ev, err := b.next(context.Background())
				if err != nil {
					return
				}
				select {
				case b.feed <- ev:
				case <-b.closed:
					return
				}
			}
		}()
	})
	return b.feed
}

// errNow is Err: nil until the end is reached by the reader (the feeder
// has handed over everything, once C is in use).
func (b *backlog[E]) errNow() error {
	if b.feedOn.Load() {
		select {
		case <-b.feedDone:
		default:
			return nil
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.qh < len(b.q) && !errors.Is(b.err, ErrClosed) {
		return nil
	}
	return b.err
}
