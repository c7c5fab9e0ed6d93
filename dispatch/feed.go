package dispatch

// Feed is the producer's side of a single stream with no dispatcher
// goroutine: its owner pushes each event to the stream's delivery policy
// on its own goroutine (a cmap track, fed by its client's event pump; a cpg
// group, fed by its connection's pump or inline by its reader) and ends
// the stream through it.
type Feed[E any] struct {
	s        *Subscription[E]
	coalesce func(dropped, next E) E
}

// NewFeed returns a stream of service (the name its errors carry) and the
// Feed that produces it. coalesce, if not nil, records a LatestWins gap
// (see WithCoalesce). The default policy is LatestWins.
func NewFeed[E any](service string, coalesce func(dropped, next E) E, opts ...SubOption) (*Feed[E], *Subscription[E]) {
	cfg := subConfig{policy: policyLatest, size: 1}
	for _, o := range opts {
		o(&cfg)
	}
	s := newSubscription[E](service, cfg)
	return &Feed[E]{s: s, coalesce: coalesce}, s
}

// Push delivers ev under the stream's policy. Only a Block stream waits (for
// room, or the stream's end). A Queue stream whose reader fell behind ends
// with ErrOverflow. Push reports whether the stream is still live.
func (f *Feed[E]) Push(ev E) bool {
	s := f.s
	if s.b != nil {
		if s.b.push(ev) {
			return true
		}
		if s.cause.Load() == nil { // the limit: overflow
			s.skipped.Add(1)
			s.endWith(Overflowed(s.name))
		}
		return false
	}
	switch s.policy {
	case policyBlock:
		s.offerBlock(ev, nil)
	case policyLatest:
		s.mu.Lock()
		if !s.ended {
			s.offerLatest(&ev, f.coalesce)
		}
		s.mu.Unlock()
	case policyQueue:
		s.mu.Lock()
		if !s.ended {
			select {
			case s.ch <- ev:
			default:
				s.skipped.Add(1)
				s.finish(Overflowed(s.name))
			}
		}
		s.mu.Unlock()
	}
	select {
	case <-s.stop:
		return false
	default:
		return true
	}
}

// End ends the stream with err (see the package documentation for the
// causes); nil means closed (Closed). Events already pushed are read
// first, except after ErrClosed. Only the first end counts.
func (f *Feed[E]) End(err error) {
	if err == nil {
		err = Closed(f.s.name)
	}
	f.s.endWith(err)
}

// Done is closed as soon as the stream has ended.
func (f *Feed[E]) Done() <-chan struct{} { return f.s.stop }

// Backlog returns the number of events pushed and not yet read (for an
// Unbounded or Inline stream; the channel's length otherwise).
func (f *Feed[E]) Backlog() int {
	if f.s.b != nil {
		return f.s.b.len()
	}
	return len(f.s.ch)
}

// Cause returns why the stream ended, as soon as it has (Err waits until
// the events before the end are read); nil while it is live.
func (f *Feed[E]) Cause() error {
	if p := f.s.cause.Load(); p != nil {
		return *p
	}
	return nil
}
