package streamtest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/dispatch/streamtest"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/quorum"
)

// A Fixture is a client and one of its streams, with what the suite needs
// to act on them. Here it is built by hand from a quorum subscription on a
// one-node mock cluster, and its first event read.
func ExampleFixture() {
	ctx := context.Background()
	cl := mock.NewCluster(1)
	q, err := quorum.Dial(ctx, client.WithDialer(cl.Node(1)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close()
	s, err := q.Subscribe(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	restart := func(testing.TB) { cl.Restart(1) }
	f := &streamtest.Fixture[quorum.Event]{
		Stream:      s,
		CloseClient: q.Close,
		Trigger:     restart, // a restart is the event source of a one-node cluster
		Restart:     restart,
		Deny:        func(testing.TB) { cl.Node(1).DenyAccess(true) },
	}
	ev, err := f.Stream.Next(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.Kind, ev.Quorate)
	// Output: snapshot true
}

// quorumHarness is what a service's tests write to run the suite: Open
// gives each case a fresh client and stream as its Config asks, and Kind
// reads an event's kind. This one serves quorum subscriptions from a mock
// cluster of its own per case.
type quorumHarness struct{}

func (quorumHarness) Open(t testing.TB, c streamtest.Config) (*streamtest.Fixture[quorum.Event], bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl := mock.NewCluster(1)
	opts := []client.Option{
		client.WithDialer(cl.Node(1)),
		client.WithBackoff(corosync.Backoff{Initial: 5 * time.Millisecond, Max: 100 * time.Millisecond, Multiplier: 2}),
	}
	if !c.Reconnect {
		opts = append(opts, client.WithoutReconnect())
	}
	q, err := quorum.Dial(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	var subOpts []dispatch.SubOption // none: the service's default policy
	switch c.Policy {
	case streamtest.Latest:
		subOpts = append(subOpts, dispatch.LatestWins())
	case streamtest.Queue:
		subOpts = append(subOpts, dispatch.Queue(c.N))
	case streamtest.Unbounded:
		subOpts = append(subOpts, dispatch.Unbounded())
	}
	s, err := q.Subscribe(ctx, subOpts...)
	if err != nil {
		t.Fatal(err)
	}
	restart := func(testing.TB) { cl.Restart(1) }
	return &streamtest.Fixture[quorum.Event]{
		Stream:      s,
		CloseClient: q.Close,
		Trigger:     restart,
		Restart:     restart,
		Deny:        func(testing.TB) { cl.Node(1).DenyAccess(true) },
	}, true
}

func (quorumHarness) Kind(ev quorum.Event) corosync.EventKind { return ev.Kind }

// TestQuorumOnMock passes the harness to Run: every case of the suite
// against quorum's subscriptions on the mock cluster. Package quorum's own
// tests do the same, and on a real daemon too.
func TestQuorumOnMock(t *testing.T) { streamtest.Run(t, quorumHarness{}) }
