package dispatch

import (
	"context"
	"errors"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
)

func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Every policy of a Feed: what a reader that fell behind gets.
func TestFeedPolicies(t *testing.T) {
	t.Run("latest", func(t *testing.T) {
		f, s := NewFeed[ev]("svc", coalesce)
		for i := range 5 {
			f.Push(ev{Seq: i})
		}
		e, err := s.Next(ctx5(t))
		if err != nil || e.Seq != 4 || e.Skipped != 4 || s.Skipped() != 4 {
			t.Fatalf("%+v %v skipped %d", e, err, s.Skipped())
		}
	})
	t.Run("queue", func(t *testing.T) {
		f, s := NewFeed[ev]("svc", nil, Queue(2))
		if !f.Push(ev{Seq: 1}) || !f.Push(ev{Seq: 2}) || f.Push(ev{Seq: 3}) {
			t.Fatal("Push reports the overflow, and only it")
		}
		if !errors.Is(f.Cause(), ErrOverflow) || s.Err() != nil {
			t.Fatalf("Cause %v at once, Err %v only after the queued events", f.Cause(), s.Err())
		}
		for want := 1; want <= 2; want++ {
			if e, err := s.Next(ctx5(t)); err != nil || e.Seq != want {
				t.Fatalf("%+v %v", e, err)
			}
		}
		_, err := s.Next(ctx5(t))
		if !errors.Is(err, ErrOverflow) || !errors.Is(err, corosync.ErrQueueFull) || err.Error() != "svc: "+ErrOverflow.Error()+" (CS_ERR_QUEUE_FULL)" {
			t.Fatalf("end %v", err)
		}
	})
	t.Run("unbounded", func(t *testing.T) {
		f, s := NewFeed[ev]("svc", nil, Unbounded())
		for i := range 1000 {
			f.Push(ev{Seq: i})
		}
		if f.Backlog() != 1000 {
			t.Fatalf("backlog %d", f.Backlog())
		}
		f.End(errors.New("source gone"))
		i := 0
		for e := range s.C() { // through C's feeder, in order, then closed
			if e.Seq != i {
				t.Fatalf("event %d is %d", i, e.Seq)
			}
			i++
		}
		if i != 1000 || s.Err() == nil || s.Err().Error() != "source gone" {
			t.Fatalf("%d events, Err %v", i, s.Err())
		}
	})
	t.Run("block", func(t *testing.T) {
		f, s := NewFeed[ev]("svc", nil, Block(1))
		f.Push(ev{Seq: 1})
		pushed := make(chan bool)
		go func() { pushed <- f.Push(ev{Seq: 2}) }()
		select {
		case <-pushed:
			t.Fatal("a Block push did not wait for room")
		case <-time.After(50 * time.Millisecond):
		}
		if e, _ := s.Next(ctx5(t)); e.Seq != 1 {
			t.Fatalf("%+v", e)
		}
		if !<-pushed {
			t.Fatal("push after room was made")
		}
		go func() { pushed <- f.Push(ev{Seq: 3}) }()
		time.Sleep(20 * time.Millisecond)
		s.Close() // releases the waiting producer
		if <-pushed {
			t.Fatal("a push released by Close reports a live stream")
		}
	})
}

// Close discards what was not read, on every kind of stream; any other end
// comes after the events before it.
func TestCloseDiscardsOtherEndsDoNot(t *testing.T) {
	d, in := start(t)
	sub := subscribe(t, d, Queue(8))
	ub := subscribe(t, d, Unbounded())
	in <- ev{Seq: 1}
	for d.Len() == 2 && len(sub.ch) == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	sub.Close()
	ub.Close()
	for _, s := range []*Subscription[ev]{sub, ub} {
		if _, err := s.TryNext(); !errors.Is(err, ErrClosed) || !errors.Is(s.Err(), corosync.ErrBadHandle) {
			t.Fatalf("after Close: %v, Err %v", err, s.Err())
		}
	}
	f, s := NewFeed[ev]("svc", nil, Queue(8))
	f.Push(ev{Seq: 1})
	f.End(Lost("svc", corosync.NewError("dial", corosync.ErrAccess, errors.New("denied"))))
	if s.Err() != nil {
		t.Fatal("Err before the pending event was read")
	}
	if e, err := s.Next(ctx5(t)); err != nil || e.Seq != 1 {
		t.Fatalf("%+v %v", e, err)
	}
	if _, err := s.Next(ctx5(t)); !errors.Is(err, ErrLost) || !errors.Is(err, corosync.ErrAccess) {
		t.Fatalf("end %v", err)
	}
	f.End(nil) // a later end changes nothing
	if !errors.Is(s.Err(), ErrLost) {
		t.Fatalf("Err %v after a later End", s.Err())
	}
}

// inlineSrc is an Inline source: ReadInline pushes the next event itself.
type inlineSrc struct {
	f    *Feed[ev]
	n    int
	read int
}

func (in *inlineSrc) ReadInline(ctx context.Context, ready func() bool, wake, ended <-chan struct{}) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if ready() || in.read == in.n {
		return false, nil
	}
	in.read++
	in.f.Push(ev{Seq: in.read})
	return true, nil
}

func (in *inlineSrc) Pending() bool { return false }

// A reader of an Inline stream with nothing pending reads the source
// itself.
func TestInlineReader(t *testing.T) {
	src := &inlineSrc{n: 3}
	f, s := NewFeed[ev]("svc", nil, WithInline(src))
	src.f = f
	for want := 1; want <= 3; want++ {
		if e, err := s.Next(ctx5(t)); err != nil || e.Seq != want {
			t.Fatalf("%+v %v", e, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with the source dry: %v", err)
	}
	f.End(nil)
	if _, err := s.Next(ctx5(t)); !errors.Is(err, ErrClosed) {
		t.Fatalf("after End(nil): %v", err)
	}
}
