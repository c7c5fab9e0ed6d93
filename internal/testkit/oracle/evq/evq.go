// Package evq is the event queue the C-library oracles share: their
// callbacks push normalised events, and tests take them, or wait for a
// number of them while the C library dispatches.
package evq

import (
	"context"
	"sync"
	"time"
)

// Queue holds events in arrival order. The zero value is ready; it is safe
// for concurrent use.
type Queue[E any] struct {
	mu     sync.Mutex
	events []E
}

// Push appends e (from a C callback).
func (q *Queue[E]) Push(e E) {
	q.mu.Lock()
	q.events = append(q.events, e)
	q.mu.Unlock()
}

// Take returns and forgets the events received so far.
func (q *Queue[E]) Take() []E {
	q.mu.Lock()
	defer q.mu.Unlock()
	ev := q.events
	q.events = nil
	return ev
}

// Len returns how many events are queued.
func (q *Queue[E]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.events)
}

// Wait calls dispatch (the C library's dispatch, which runs the callbacks)
// until at least n events are queued or ctx ends, then takes them all.
func (q *Queue[E]) Wait(ctx context.Context, n int, dispatch func() error) ([]E, error) {
	for {
		if err := dispatch(); err != nil {
			return q.Take(), err
		}
		if q.Len() >= n {
			return q.Take(), nil
		}
		select {
		case <-ctx.Done():
			return q.Take(), ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
