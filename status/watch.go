package status

import (
	"context"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/dispatch"
)

// Event is what a subscription delivers: a snapshot of the whole state
// after a change. Every event carries the complete state, so a subscriber
// that only looks at its latest event always knows where it stands,
// whatever it skipped.
type Event struct {
	Snapshot
	// Skipped is how many snapshots this subscription missed just before
	// this one because it was slower than the changes (latest-wins policy).
	Skipped uint64
}

// Subscribe returns a subscription to the cluster's state. Its first event
// is the current state; then it delivers a new snapshot whenever the state
// changes: quorum, membership, votes, the quorum device, the nodelist, a
// link, or a part becoming unreadable or readable again (statistics and
// change counters alone are not a change). Changes are noticed from the
// services' notifications and, for link status, which has none, by reading
// every WithPollInterval. The first Subscribe starts the watch; it runs
// until Close. opts choose the delivery policy (package dispatch):
// dispatch.LatestWins (the default: a slow subscriber skips to the newest
// snapshot and Event.Skipped says how many it missed), dispatch.Queue(n),
// dispatch.Unbounded() or dispatch.Block(n).
func (c *Client) Subscribe(ctx context.Context, opts ...dispatch.SubOption) (*dispatch.Subscription[Event], error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, corosync.NewError("status subscribe", corosync.ErrBadHandle, dispatch.ErrClosed)
	}
	d := c.disp
	c.mu.Unlock()
	if d == nil {
		sctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
		first, _ := c.Snapshot(sctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, corosync.NewError("status subscribe", corosync.ErrBadHandle, dispatch.ErrClosed)
		}
		if c.disp == nil {
			c.disp = dispatch.Start(c.ctx, c.source(first),
				dispatch.WithSeed(Event{Snapshot: first}),
				dispatch.WithInitial(func(e Event) Event { e.Skipped = 0; return e }),
				dispatch.WithCoalesce(func(dropped, next Event) Event {
					next.Skipped = dropped.Skipped + 1
					return next
				}))
		}
		d = c.disp
		c.mu.Unlock()
	}
	return d.Subscribe(opts...)
}

// source reads a snapshot on every notification and every poll interval
// and returns it when the state differs from the last one returned.
func (c *Client) source(prev Snapshot) dispatch.Source[Event] {
	t := time.NewTicker(c.cfg.poll)
	return func(ctx context.Context) (Event, error) {
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				return Event{}, ctx.Err()
			case <-c.changed:
			case <-t.C:
			}
			sctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
			s, _ := c.Snapshot(sctx)
			cancel()
			if ctx.Err() != nil {
				t.Stop()
				return Event{}, ctx.Err()
			}
			if sameState(prev, s) {
				continue
			}
			prev = s
			return Event{Snapshot: s}, nil
		}
	}
}
