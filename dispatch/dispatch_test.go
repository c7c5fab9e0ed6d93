package dispatch

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	corosync "github.com/corosync-go/corosync"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type ev struct {
	Seq     int
	Skipped uint64
}

func coalesce(old, next ev) ev {
	next.Skipped += old.Skipped + 1
	return next
}

// feed returns a source fed by the returned channel; closing it ends the
// source with io.EOF.
func feed() (Source[ev], chan<- ev) {
	in := make(chan ev)
	return func(ctx context.Context) (ev, error) {
		select {
		case e, ok := <-in:
			if !ok {
				return ev{}, io.EOF
			}
			return e, nil
		case <-ctx.Done():
			return ev{}, ctx.Err()
		}
	}, in
}

func start(t *testing.T) (*Dispatcher[ev], chan<- ev) {
	src, in := feed()
	d := Start(context.Background(), src, WithCoalesce(coalesce))
	t.Cleanup(func() { d.Close() })
	return d, in
}

func subscribe(t *testing.T, d *Dispatcher[ev], opts ...SubOption) *Subscription[ev] {
	t.Helper()
	s, err := d.Subscribe(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitDelivered publishes through in and waits until the dispatcher has
// taken the event, by publishing a no-op barrier through Latest.
func waitLatest(t *testing.T, d *Dispatcher[ev], seq int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if l, ok := d.Latest(); ok && l.Seq == seq {
			// publish holds d.mu across delivery, so once Latest shows seq
			// under the lock, delivery of seq has completed.
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("dispatcher never published %d", seq)
}

func TestNextBlocksUntilEventOrContext(t *testing.T) {
	d, in := start(t)
	s := subscribe(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with nothing pending: %v", err)
	}
	got := make(chan ev)
	go func() {
		e, _ := s.Next(context.Background())
		got <- e
	}()
	select {
	case e := <-got:
		t.Fatalf("Next returned %+v before any event", e)
	case <-time.After(20 * time.Millisecond):
	}
	in <- ev{Seq: 1}
	if e := <-got; e.Seq != 1 {
		t.Fatalf("Next = %+v", e)
	}
}

func TestTryNextAndDrain(t *testing.T) {
	d, in := start(t)
	s := subscribe(t, d, Queue(8))
	if _, err := s.TryNext(); !errors.Is(err, corosync.ErrTryAgain) {
		t.Fatalf("TryNext on empty: %v", err)
	}
	if got := s.Drain(); got != nil {
		t.Fatalf("Drain on empty = %v", got)
	}
	for i := 1; i <= 5; i++ {
		in <- ev{Seq: i}
	}
	waitLatest(t, d, 5)
	e, err := s.TryNext()
	if err != nil || e.Seq != 1 {
		t.Fatalf("TryNext = %+v, %v", e, err)
	}
	got := s.Drain()
	if len(got) != 4 || got[0].Seq != 2 || got[3].Seq != 5 {
		t.Fatalf("Drain = %+v", got)
	}
	if _, err := s.TryNext(); !errors.Is(err, corosync.ErrTryAgain) {
		t.Fatalf("TryNext after Drain: %v", err)
	}
}

func TestRunStops(t *testing.T) {
	d, in := start(t)

	t.Run("ctx", func(t *testing.T) {
		s := subscribe(t, d)
		defer s.Close()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- s.Run(ctx, func(ev) error { return nil }) }()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v", err)
		}
	})
	t.Run("fn error", func(t *testing.T) {
		s := subscribe(t, d, Queue(4))
		defer s.Close()
		boom := errors.New("boom")
		done := make(chan error)
		n := 0
		go func() {
			done <- s.Run(context.Background(), func(e ev) error {
				n++
				if e.Seq == 3 {
					return boom
				}
				return nil
			})
		}()
		for i := 1; i <= 3; i++ {
			in <- ev{Seq: i}
		}
		if err := <-done; err != boom || n != 3 {
			t.Fatalf("Run = %v after %d events", err, n)
		}
	})
	t.Run("Close", func(t *testing.T) {
		s := subscribe(t, d)
		done := make(chan error)
		go func() { done <- s.Run(context.Background(), func(ev) error { return nil }) }()
		time.Sleep(10 * time.Millisecond)
		s.Close()
		if err := <-done; err != nil {
			t.Fatalf("Run after Close = %v, want nil", err)
		}
		if !errors.Is(s.Err(), ErrClosed) || !errors.Is(s.Err(), corosync.ErrBadHandle) {
			t.Fatalf("Err = %v", s.Err())
		}
	})
	t.Run("dispatcher error", func(t *testing.T) {
		src, in2 := feed()
		d2 := Start(context.Background(), src)
		defer d2.Close()
		s := subscribe(t, d2)
		done := make(chan error)
		go func() { done <- s.Run(context.Background(), func(ev) error { return nil }) }()
		close(in2)
		if err := <-done; !errors.Is(err, io.EOF) {
			t.Fatalf("Run = %v, want the source's io.EOF", err)
		}
	})
}

func TestInitialEventIsLatest(t *testing.T) {
	src, in := feed()
	d := Start(context.Background(), src, WithInitial(func(e ev) ev { e.Skipped = 99; return e }))
	defer d.Close()
	in <- ev{Seq: 7}
	waitLatest(t, d, 7)
	s := subscribe(t, d)
	e, err := s.TryNext()
	if err != nil || e.Seq != 7 || e.Skipped != 99 {
		t.Fatalf("first event = %+v, %v", e, err)
	}
}

func TestLatestWinsCountsSkips(t *testing.T) {
	d, in := start(t)
	s := subscribe(t, d)
	for i := 1; i <= 10; i++ {
		in <- ev{Seq: i}
	}
	waitLatest(t, d, 10)
	e, err := s.TryNext()
	if err != nil || e.Seq != 10 || e.Skipped != 9 || s.Skipped() != 9 {
		t.Fatalf("got %+v (sub skipped %d), %v", e, s.Skipped(), err)
	}
}

func TestQueueOverflowReportedOnce(t *testing.T) {
	d, in := start(t)
	s := subscribe(t, d, Queue(3))
	other := subscribe(t, d)
	for i := 1; i <= 5; i++ {
		in <- ev{Seq: i}
	}
	waitLatest(t, d, 5)
	var got []int
	for e := range s.C() {
		got = append(got, e.Seq)
	}
	if len(got) != 3 || got[0] != 1 || got[2] != 3 {
		t.Fatalf("queued events = %v", got)
	}
	if !errors.Is(s.Err(), ErrOverflow) || !errors.Is(s.Err(), corosync.ErrQueueFull) {
		t.Fatalf("Err = %v", s.Err())
	}
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrOverflow) {
		t.Fatalf("Next after overflow = %v", err)
	}
	// The overflow did not disturb the other subscriber.
	if e, _ := other.TryNext(); e.Seq != 5 {
		t.Fatalf("other got %+v", e)
	}
	if d.Len() != 1 {
		t.Fatalf("overflowed subscription still registered: %d", d.Len())
	}
}

func TestBlockDeliversEverything(t *testing.T) {
	d, in := start(t)
	s := subscribe(t, d, Block(1))
	const n = 200
	go func() {
		for i := 1; i <= n; i++ {
			in <- ev{Seq: i}
		}
	}()
	for i := 1; i <= n; i++ {
		e, err := s.Next(context.Background())
		if err != nil || e.Seq != i {
			t.Fatalf("event %d = %+v, %v", i, e, err)
		}
	}
	if s.Skipped() != 0 {
		t.Fatal("Block skipped events")
	}
}

// A stuck Block subscriber stalls the dispatcher until it is closed; closing
// it releases the dispatcher.
func TestCloseReleasesBlockedDispatcher(t *testing.T) {
	d, in := start(t)
	stuck := subscribe(t, d, Block(1))
	fast := subscribe(t, d)
	in <- ev{Seq: 1} // fills stuck's buffer
	in <- ev{Seq: 2} // dispatcher now waits on stuck
	sent := make(chan struct{})
	go func() { in <- ev{Seq: 3}; close(sent) }()
	select {
	case <-sent:
		t.Fatal("dispatcher did not block on the Block subscriber")
	case <-time.After(20 * time.Millisecond):
	}
	stuck.Close()
	<-sent
	waitLatest(t, d, 3)
	if e, _ := fast.TryNext(); e.Seq != 3 {
		t.Fatalf("fast got %+v", e)
	}
}

// 1,000 subscribers, random slow and fast consumers: no deadlock, every one
// reaches the last event, and received + skipped == published, exactly.
func TestManySubscribersConverge(t *testing.T) {
	const subs, events = 1000, 300
	d, in := start(t)
	type result struct {
		received int
		skipSum  uint64
		skipped  uint64
		last     int
		ordered  bool
	}
	results := make([]result, subs)
	var wg sync.WaitGroup
	for i := range subs {
		s := subscribe(t, d)
		slow := i%2 == 0
		wg.Add(1)
		go func(i int, s *Subscription[ev]) {
			defer wg.Done()
			defer s.Close()
			r := result{ordered: true}
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for e := range s.C() {
				if e.Seq <= r.last {
					r.ordered = false
				}
				r.received++
				r.skipSum += e.Skipped
				r.last = e.Seq
				if e.Seq == events {
					break
				}
				if slow && rng.IntN(4) == 0 {
					time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
				}
			}
			r.skipped = s.Skipped()
			results[i] = r
		}(i, s)
	}
	for i := 1; i <= events; i++ {
		in <- ev{Seq: i}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("subscribers did not all reach the last event: deadlock?")
	}
	slowSkipped := 0
	for i, r := range results {
		if r.last != events || !r.ordered {
			t.Fatalf("subscriber %d: last %d ordered %v", i, r.last, r.ordered)
		}
		if uint64(r.received)+r.skipped != events {
			t.Fatalf("subscriber %d: received %d + skipped %d != %d", i, r.received, r.skipped, events)
		}
		if r.skipSum != r.skipped {
			t.Fatalf("subscriber %d: per-event skips %d != subscription count %d", i, r.skipSum, r.skipped)
		}
		if r.skipped > 0 {
			slowSkipped++
		}
	}
	t.Logf("%d of %d subscribers skipped events", slowSkipped, subs)
}

// Subscribe, Close, Next and TryNext race from many goroutines while the
// source publishes as fast as it can.
func TestConcurrentSubscribeCloseNext(t *testing.T) {
	d, in := start(t)
	stop := make(chan struct{})
	var pub sync.WaitGroup
	pub.Add(1)
	go func() {
		defer pub.Done()
		for i := 1; ; i++ {
			select {
			case in <- ev{Seq: i}:
			case <-stop:
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				var opt SubOption
				switch g % 3 {
				case 0:
					opt = LatestWins()
				case 1:
					opt = Queue(2)
				default:
					opt = Block(1)
				}
				s, err := d.Subscribe(opt)
				if err != nil {
					t.Error(err)
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
				s.Next(ctx)
				cancel()
				s.TryNext()
				var inner sync.WaitGroup
				inner.Add(2)
				go func() { defer inner.Done(); s.Next(context.Background()) }()
				go func() { defer inner.Done(); s.Close() }()
				inner.Wait()
				s.Close()
				if _, err := s.Next(context.Background()); err == nil {
					// a buffered event may remain; after it the channel is closed
					if _, err := s.Next(context.Background()); err == nil {
						s.Next(context.Background())
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	pub.Wait()
	if d.Len() != 0 {
		t.Fatalf("%d subscriptions left registered", d.Len())
	}
}

// Closing the dispatcher while it delivers ends every subscription exactly
// once with ErrClosed, Block subscribers included.
func TestShutdownDuringDelivery(t *testing.T) {
	for round := range 20 {
		src, in := feed()
		d := Start(context.Background(), src, WithCoalesce(coalesce))
		var subs []*Subscription[ev]
		for i := range 50 {
			opt := []SubOption{LatestWins(), Queue(4), Block(1)}[i%3]
			s, err := d.Subscribe(opt)
			if err != nil {
				t.Fatal(err)
			}
			subs = append(subs, s)
		}
		go func() {
			for i := 1; ; i++ {
				select {
				case in <- ev{Seq: i}:
				case <-d.Done():
					return
				}
			}
		}()
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		d.Close()
		for i, s := range subs {
			for range s.C() {
			}
			if err := s.Err(); !errors.Is(err, ErrClosed) && !errors.Is(err, ErrOverflow) {
				t.Fatalf("sub %d: Err = %v", i, err)
			}
			s.Close() // after the dispatcher ended it: no double close
		}
		if _, err := d.Subscribe(); !errors.Is(err, ErrClosed) {
			t.Fatalf("Subscribe after Close = %v", err)
		}
		d.Close()
	}
}

func TestAllIterator(t *testing.T) {
	d, in := start(t)
	s := subscribe(t, d, Queue(8))
	for i := 1; i <= 3; i++ {
		in <- ev{Seq: i}
	}
	waitLatest(t, d, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []int
	var last error
	for e, err := range s.All(ctx) {
		if err != nil {
			last = err
			continue
		}
		got = append(got, e.Seq)
		if e.Seq == 3 {
			cancel()
		}
	}
	if len(got) != 3 || !errors.Is(last, context.Canceled) {
		t.Fatalf("All = %v, final error %v; want [1 2 3] and context.Canceled", got, last)
	}
}

// All says why it ended: the terminal error of the subscription, and
// nothing after Close (like Run).
func TestAllIteratorEnds(t *testing.T) {
	d, in := start(t)
	s := subscribe(t, d, Queue(1))
	in <- ev{Seq: 1}
	in <- ev{Seq: 2} // overflows the queue of one
	waitLatest(t, d, 2)
	var errs []error
	for _, err := range s.All(context.Background()) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) != 1 || !errors.Is(errs[0], ErrOverflow) {
		t.Fatalf("final errors %v; want one ErrOverflow", errs)
	}
	c := subscribe(t, d, Queue(4))
	c.Close()
	n := 0
	for _, err := range c.All(context.Background()) {
		if err != nil {
			n++
		}
	}
	if n != 0 {
		t.Fatalf("All after Close yielded %d errors; want none", n)
	}
	// Breaking out of the loop early stops the iterator without a final pair.
	b := subscribe(t, d, Queue(4))
	in <- ev{Seq: 3}
	for range b.All(context.Background()) {
		break
	}
}
