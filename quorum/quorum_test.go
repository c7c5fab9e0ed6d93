package quorum_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/quorum"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var fast = client.WithBackoff(corosync.Backoff{Initial: time.Millisecond, Max: 10 * time.Millisecond, Multiplier: 2})

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, n *mock.Node, opts ...client.Option) *quorum.Client {
	t.Helper()
	c, err := quorum.Dial(ctxT(t), append([]client.Option{client.WithDialer(n), fast}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func subscribe(t *testing.T, c *quorum.Client, opts ...dispatch.SubOption) *dispatch.Subscription[quorum.Event] {
	t.Helper()
	s, err := c.Subscribe(ctxT(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func next(t *testing.T, s *dispatch.Subscription[quorum.Event]) quorum.Event {
	t.Helper()
	ev, err := s.Next(ctxT(t))
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return ev
}

func expect(t *testing.T, s *dispatch.Subscription[quorum.Event], kind corosync.EventKind, quorate bool, members ...uint32) quorum.Event {
	t.Helper()
	ev := next(t, s)
	if ev.Kind != kind || ev.Quorate != quorate || !slices.Equal(ev.Members, members) {
		t.Fatalf("got %v, want %v quorate=%v members=%v", ev, kind, quorate, members)
	}
	return ev
}

func TestSnapshotAndEventsV1(t *testing.T) {
	cl := mock.NewCluster(3)
	c := dial(t, cl.Node(1))
	if c.Type() != quorum.QuorumSet || c.Model() != quorum.ModelV1 {
		t.Fatalf("type %v model %v", c.Type(), c.Model())
	}
	if q, err := c.Quorate(ctxT(t)); err != nil || !q {
		t.Fatalf("Quorate = %v, %v", q, err)
	}
	s := subscribe(t, c, dispatch.Queue(16))
	snap := expect(t, s, corosync.EventSnapshot, true, 1, 2, 3)
	if snap.Nodelist == nil || !slices.Equal(snap.Nodelist.Members, []uint32{1, 2, 3}) || snap.Ring.NodeID != 1 {
		t.Fatalf("snapshot %+v", snap)
	}

	cl.Partition([]uint32{1}, []uint32{2, 3})
	nl := next(t, s)
	if nl.Kind != corosync.EventNodelist || !slices.Equal(nl.Nodelist.Left, []uint32{2, 3}) || len(nl.Nodelist.Joined) != 0 {
		t.Fatalf("nodelist %v", nl)
	}
	q := expect(t, s, corosync.EventQuorum, false, 1)
	if q.Ring != nl.Nodelist.Ring || q.Ring.Seq <= snap.Ring.Seq {
		t.Fatalf("ring %v after %v", q.Ring, snap.Ring)
	}

	cl.Heal()
	nl = next(t, s)
	if nl.Kind != corosync.EventNodelist || !slices.Equal(nl.Nodelist.Joined, []uint32{2, 3}) {
		t.Fatalf("nodelist %v", nl)
	}
	// The cached state is a snapshot: it never repeats joined or left.
	if l := c.Latest(); l.Kind != corosync.EventSnapshot || l.Nodelist == nil || l.Nodelist.Joined != nil || l.Nodelist.Left != nil {
		t.Fatalf("Latest after a nodelist event: %+v", l)
	}
	expect(t, s, corosync.EventQuorum, true, 1, 2, 3)

	// A quorum-only change: one quorum event, same ring.
	ring := q.Ring
	cl.SetExpectedVotes(7)
	ev := expect(t, s, corosync.EventQuorum, false, 1, 2, 3)
	if ev.Ring == ring || ev.Ring != nl.Nodelist.Ring {
		t.Fatalf("quorum-only change moved the ring: %v", ev.Ring)
	}
	if _, err := s.TryNext(); !errors.Is(err, corosync.ErrTryAgain) {
		t.Fatalf("extra event: %v", err)
	}
	// A late subscriber starts from the cached state.
	late := subscribe(t, c)
	expect(t, late, corosync.EventSnapshot, false, 1, 2, 3)
}

func TestModelV0(t *testing.T) {
	cl := mock.NewCluster(2)
	c := dial(t, cl.Node(1), quorum.WithModel(quorum.ModelV0))
	s := subscribe(t, c, dispatch.Queue(8))
	snap := expect(t, s, corosync.EventSnapshot, true, 1, 2)
	if snap.Nodelist != nil || snap.Ring.NodeID != 0 || snap.Ring.Seq == 0 {
		t.Fatalf("V0 snapshot %+v", snap)
	}
	cl.Stop(2)
	ev := expect(t, s, corosync.EventQuorum, false, 1)
	if ev.Ring.NodeID != 0 || ev.Ring.Seq <= snap.Ring.Seq {
		t.Fatalf("V0 event ring %v", ev.Ring)
	}
}

func TestQuorumFree(t *testing.T) {
	cl := mock.NewCluster(2, mock.WithoutProvider())
	c := dial(t, cl.Node(1))
	if c.Type() != quorum.QuorumFree {
		t.Fatalf("type %v", c.Type())
	}
	s := subscribe(t, c, dispatch.Queue(8))
	snap := expect(t, s, corosync.EventSnapshot, true)
	if snap.Ring != (corosync.RingID{}) || snap.Nodelist == nil || len(snap.Nodelist.Members) != 2 {
		t.Fatalf("free snapshot %+v", snap)
	}
	cl.Stop(2)
	ev := next(t, s)
	if ev.Kind != corosync.EventNodelist || !slices.Equal(ev.Nodelist.Left, []uint32{2}) {
		t.Fatalf("got %v", ev)
	}
	if _, err := s.TryNext(); !errors.Is(err, corosync.ErrTryAgain) {
		t.Fatalf("QUORUM_FREE sent a quorum notification: %v", err)
	}
}

func TestReconnectAfterRestart(t *testing.T) {
	cl := mock.NewCluster(1)
	c := dial(t, cl.Node(1))
	s := subscribe(t, c, dispatch.Queue(16))
	expect(t, s, corosync.EventSnapshot, true, 1)
	cl.Stop(1)
	d := next(t, s)
	if d.Kind != corosync.EventDisconnected || d.Quorate || d.Err == nil || !errors.Is(d.Err, corosync.ErrLibrary) {
		t.Fatalf("got %v", d)
	}
	if _, err := c.Quorate(ctxT(t)); !errors.Is(err, quorum.ErrNotConnected) || !errors.Is(err, corosync.ErrLibrary) {
		t.Fatalf("Quorate during outage: %v", err)
	}
	late := subscribe(t, c)
	if ev := next(t, late); ev.Kind != corosync.EventDisconnected || ev.Quorate {
		t.Fatalf("late subscriber during outage got %v", ev)
	}
	cl.Start(1)
	expect(t, s, corosync.EventReconnected, true, 1)
	expect(t, s, corosync.EventSnapshot, true, 1)
	if q, err := c.Quorate(ctxT(t)); err != nil || !q {
		t.Fatalf("Quorate after reconnect: %v %v", q, err)
	}
	// Tracking was restored: changes arrive again.
	cl.SetExpectedVotes(3)
	expect(t, s, corosync.EventQuorum, false, 1)
	if cl.Node(1).Connections() != 1 {
		t.Fatalf("daemon holds %d connections", cl.Node(1).Connections())
	}
}

func TestNoReconnect(t *testing.T) {
	cl := mock.NewCluster(1)
	c := dial(t, cl.Node(1), client.WithoutReconnect())
	s := subscribe(t, c, dispatch.Queue(8))
	next(t, s)
	cl.Kill(1)
	if ev := next(t, s); ev.Kind != corosync.EventDisconnected {
		t.Fatalf("got %v", ev)
	}
	_, err := s.Next(ctxT(t))
	if !errors.Is(err, corosync.ErrLibrary) {
		t.Fatalf("terminal error %v", err)
	}
	if !errors.Is(s.Err(), corosync.ErrLibrary) {
		t.Fatalf("Err %v", s.Err())
	}
}

func TestTryAgain(t *testing.T) {
	cl := mock.NewCluster(1)
	n := cl.Node(1)
	n.SetReady(false)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := quorum.Dial(ctx, client.WithDialer(n), fast)
	if !errors.Is(err, corosync.ErrTryAgain) {
		t.Fatalf("Dial while not ready: %v", err)
	}
	go func() { time.Sleep(30 * time.Millisecond); n.SetReady(true) }()
	c := dial(t, n)
	n.TryAgainRequests(3)
	if q, err := c.Quorate(ctxT(t)); err != nil || !q {
		t.Fatalf("Quorate through TRY_AGAIN: %v %v", q, err)
	}
	n.TryAgainRequests(1000)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel2()
	if _, err := c.Quorate(ctx2); !errors.Is(err, corosync.ErrTryAgain) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Quorate under a TRY_AGAIN storm: %v", err)
	}
	n.TryAgainRequests(0)
}

func TestDialErrors(t *testing.T) {
	cl := mock.NewCluster(1)
	n := cl.Node(1)
	n.DenyAccess(true)
	if _, err := quorum.Dial(ctxT(t), client.WithDialer(n), client.WithWaitForDaemon(), fast); !errors.Is(err, corosync.ErrAccess) {
		t.Fatalf("denied: %v", err)
	}
	n.DenyAccess(false)
	cl.Stop(1)
	if _, err := quorum.Dial(ctxT(t), client.WithDialer(n), fast); !errors.Is(err, corosync.ErrLibrary) {
		t.Fatalf("not running: %v", err)
	}
	go func() { time.Sleep(30 * time.Millisecond); cl.Start(1) }()
	c := dial(t, n, client.WithWaitForDaemon())
	if q, err := c.Quorate(ctxT(t)); err != nil || !q {
		t.Fatalf("after waiting: %v %v", q, err)
	}
	if _, err := quorum.Dial(ctxT(t), client.WithDialer(n), quorum.WithModel(7)); !errors.Is(err, corosync.ErrInvalidParam) {
		t.Fatalf("bad model: %v", err)
	}
}

func TestCloseEndsEverything(t *testing.T) {
	cl := mock.NewCluster(3)
	c, err := quorum.Dial(ctxT(t), client.WithDialer(cl.Node(1)))
	if err != nil {
		t.Fatal(err)
	}
	var subs []*dispatch.Subscription[quorum.Event]
	for range 10 {
		s, err := c.Subscribe(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	blocked := make(chan error)
	go func() {
		s := subs[0]
		s.Next(ctxT(t)) // snapshot
		_, err := s.Next(context.Background())
		blocked <- err
	}()
	time.Sleep(10 * time.Millisecond)
	c.Close()
	c.Close()
	if err := <-blocked; !errors.Is(err, corosync.ErrBadHandle) {
		t.Fatalf("blocked Next after Close: %v", err)
	}
	for _, s := range subs {
		for range s.C() {
		}
		if !errors.Is(s.Err(), corosync.ErrBadHandle) {
			t.Fatalf("Err %v", s.Err())
		}
	}
	if _, err := c.Quorate(ctxT(t)); !errors.Is(err, quorum.ErrClosed) {
		t.Fatalf("Quorate after Close: %v", err)
	}
	if _, err := c.Subscribe(ctxT(t)); !errors.Is(err, quorum.ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
	if n := cl.Node(1).Connections(); n != 0 {
		t.Fatalf("daemon still holds %d connections", n)
	}
}

func TestStopTracking(t *testing.T) {
	cl := mock.NewCluster(3)
	c := dial(t, cl.Node(1))
	s := subscribe(t, c, dispatch.Queue(8))
	next(t, s)
	if err := c.StopTracking(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	cl.Stop(3)
	time.Sleep(20 * time.Millisecond)
	if ev, err := s.TryNext(); !errors.Is(err, corosync.ErrTryAgain) {
		t.Fatalf("event after trackstop: %v %v", ev, err)
	}
}

func TestSlowSubscriberSeesSkips(t *testing.T) {
	cl := mock.NewCluster(1)
	c := dial(t, cl.Node(1))
	s := subscribe(t, c)
	for i := range 20 {
		cl.SetExpectedVotes(uint32(1 + i%2)) // flips quorate each time
	}
	// Wait until the client has seen the last flip, then read once.
	deadline := time.Now().Add(5 * time.Second)
	for c.Latest().Quorate != false && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	ev := next(t, s)
	if ev.Quorate || ev.Skipped == 0 || ev.Skipped != s.Skipped() {
		t.Fatalf("latest %v, sub skipped %d", ev, s.Skipped())
	}
	_ = dispatch.ErrOverflow
}
