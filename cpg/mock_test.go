package cpg_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"

	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cpg"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/transport"
)

func mockDialers(c *mock.Cluster, ids ...uint32) map[uint32]transport.Dialer {
	m := map[uint32]transport.Dialer{}
	for _, id := range ids {
		m[id] = c.Node(id)
	}
	return m
}

func TestMockSynchronyKill(t *testing.T) {
	c := mock.NewCluster(3)
	synchrony(t, mockDialers(c, 1, 2, 3), 3, cpg.ReasonNodeDown, 200, func() { c.Kill(3) })
}

func TestMockSynchronyPartition(t *testing.T) {
	c := mock.NewCluster(3)
	synchrony(t, mockDialers(c, 1, 2, 3), 3, cpg.ReasonNodeDown, 200, func() { c.Partition([]uint32{1, 2}, []uint32{3}) })
}

func TestMockGroup(t *testing.T) {
	c := mock.NewCluster(3)
	groupOps(t, mockDialers(c, 1, 2, 3))
}

func TestMockOverflow(t *testing.T) {
	c := mock.NewCluster(3)
	overflow(t, mockDialers(c, 1, 2, 3))
}

func TestMockBacklog(t *testing.T) {
	c := mock.NewCluster(3)
	backlog(t, mockDialers(c, 1, 2, 3))
}

// The stream's reading methods (CS_DISPATCH_* and the channel) share one
// ordered stream and end as documented.
func TestMockStreamAPI(t *testing.T) {
	c := mock.NewCluster(2)
	ctx := ctxT(t, 10*time.Second)
	a := dialT(t, c.Node(1))
	join := func(name string) *cpg.Group {
		g, err := a.Join(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		waitMembers(t, ctx, g, 1)
		for { // then the totem event of the join: afterwards only messages come
			ev, err := g.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Kind == corosync.EventTotem {
				return g
			}
		}
	}
	send := func(g *cpg.Group, msgs ...string) {
		for _, m := range msgs {
			if err := g.Send(ctx, []byte(m), cpg.Agreed); err != nil {
				t.Fatal(err)
			}
		}
	}
	// sendWait also waits until the messages are in the backlog (not once
	// C's feeder takes them from it).
	sendWait := func(g *cpg.Group, msgs ...string) {
		send(g, msgs...)
		for g.Backlog() < len(msgs) {
			time.Sleep(time.Millisecond)
		}
	}
	data := func(evs []cpg.Event) (out []string) {
		for _, e := range evs {
			if e.Kind == corosync.EventMessage {
				out = append(out, string(e.Data))
			}
		}
		return out
	}

	g := join("api")
	if _, err := g.TryNext(); !errors.Is(err, corosync.ErrTryAgain) {
		t.Fatalf("TryNext with nothing pending: %v, want ErrTryAgain", err)
	}
	sendWait(g, "1", "2", "3")
	if got := data(g.Drain()); !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Fatalf("Drain: %v", got)
	}
	sendWait(g, "4", "5")
	ev, err := g.TryNext()
	if err != nil || string(ev.Data) != "4" {
		t.Fatalf("TryNext: %v %v", ev, err)
	}
	// C takes over, in order; Next reads through it.
	ch := g.C()
	if ev := <-ch; string(ev.Data) != "5" {
		t.Fatalf("C: %q", ev.Data)
	}
	send(g, "6", "7")
	if ev, err := g.Next(ctx); err != nil || string(ev.Data) != "6" {
		t.Fatalf("Next after C: %v %v", ev, err)
	}
	if ev := <-ch; string(ev.Data) != "7" {
		t.Fatalf("C: %q", ev.Data)
	}
	if err := g.Err(); err != nil {
		t.Fatalf("Err on a live stream: %v", err)
	}
	// Leave ends the stream with ErrLeft after its confchg; C is closed.
	if err := g.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	var last cpg.Event
	for ev := range ch {
		last = ev
	}
	if last.Kind != corosync.EventConfchg || len(last.Left) != 1 {
		t.Fatalf("last event before the end: %v", last)
	}
	if err := g.Err(); !errors.Is(err, cpg.ErrLeft) {
		t.Fatalf("Err after the leave: %v", err)
	}
	g.Close()
	if _, err := g.Next(ctx); !errors.Is(err, corosync.ErrBadHandle) {
		t.Fatalf("Next after Close: %v", err)
	}

	// Run returns nil after Close, fn's error otherwise; All yields the end.
	r := join("run")
	sendWait(r, "a")
	stop := errors.New("stop")
	if err := r.Run(ctx, func(ev cpg.Event) error {
		if ev.Kind == corosync.EventMessage {
			return stop
		}
		return nil
	}); err != stop {
		t.Fatalf("Run: %v, want fn's error", err)
	}
	done := make(chan error)
	go func() { done <- r.Run(ctx, func(cpg.Event) error { return nil }) }()
	time.Sleep(10 * time.Millisecond)
	r.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run ended by Close: %v, want nil", err)
	}
	if _, ok := <-r.C(); ok {
		t.Fatal("C after Close is not closed")
	}

	l := join("all")
	sendWait(l, "x")
	go l.Leave(ctx)
	var got []string
	var end error
	for ev, err := range l.All(ctx) {
		if err != nil {
			end = err
			break
		}
		if ev.Kind == corosync.EventMessage {
			got = append(got, string(ev.Data))
		}
	}
	if !slices.Equal(got, []string{"x"}) || !errors.Is(end, cpg.ErrLeft) {
		t.Fatalf("All: %v then %v, want [x] then ErrLeft", got, end)
	}
	l.Close()
}

// Calls on a group that is gone say why: BAD_HANDLE only for the caller's
// own Leave or Close; a membership lost with the daemon is CS_ERR_LIBRARY
// (ErrMembershipLost), never BAD_HANDLE.
func TestMockGoneErrors(t *testing.T) {
	c := mock.NewCluster(2)
	ctx := ctxT(t, 10*time.Second)
	a := dialT(t, c.Node(1), client.WithoutReconnect())
	lost, err := a.Join(ctx, "lost")
	if err != nil {
		t.Fatal(err)
	}
	left, err := a.Join(ctx, "left")
	if err != nil {
		t.Fatal(err)
	}
	closed, err := a.Join(ctx, "closed")
	if err != nil {
		t.Fatal(err)
	}
	if err := left.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	closed.Close()
	c.Kill(1)
	for {
		_, err := lost.Next(ctx)
		if err != nil {
			if !errors.Is(err, cpg.ErrMembershipLost) {
				t.Fatalf("stream of the lost group ended with %v", err)
			}
			break
		}
	}
	for _, tc := range []struct {
		g    *cpg.Group
		code corosync.Error
		why  error
	}{
		{lost, corosync.ErrLibrary, cpg.ErrMembershipLost},
		{left, corosync.ErrBadHandle, cpg.ErrLeft},
		{closed, corosync.ErrBadHandle, cpg.ErrClosed},
	} {
		for what, err := range map[string]error{"Send": tc.g.Send(ctx, []byte("x"), cpg.Agreed), "Leave": tc.g.Leave(ctx)} {
			if corosync.Code(err) != tc.code || !errors.Is(err, tc.why) {
				t.Errorf("%s on group %s: %v (%s), want %s and %v", what, tc.g.Name(), err, corosync.Code(err).Name(), tc.code.Name(), tc.why)
			}
		}
	}
}
