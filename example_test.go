package corosync_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/quorum"
)

// Watch whether this node is quorate. The examples run against a fake
// three-node cluster; on a real node, drop client.WithDialer.
func Example_quorate() {
	ctx := context.Background()
	cluster := mock.NewCluster(3)
	c, err := quorum.Dial(ctx, client.WithDialer(cluster.Node(1)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	q, err := c.Quorate(ctx)
	fmt.Println("quorate:", q, err)
	// Output: quorate: true <nil>
}

// Range over the event channel: the first event is the current state.
func Example_range() {
	ctx := context.Background()
	cluster := mock.NewCluster(3)
	c, _ := quorum.Dial(ctx, client.WithDialer(cluster.Node(1)))
	defer c.Close()
	sub, _ := c.Subscribe(ctx, dispatch.Queue(16))
	defer sub.Close()

	cluster.Partition([]uint32{1}, []uint32{2, 3}) // node 1 is cut off
	cluster.Heal()

	for ev := range sub.C() {
		fmt.Println(ev)
		if ev.Kind == corosync.EventQuorum && ev.Quorate {
			break
		}
	}
	// Output:
	// snapshot: quorate ring 1.4 members [1 2 3]
	// nodelist: ring 1.8 members [1] joined [] left [2 3]
	// quorum: not quorate ring 1.8 members [1]
	// nodelist: ring 1.c members [1 2 3] joined [2 3] left []
	// quorum: quorate ring 1.c members [1 2 3]
}

// Select on the channel together with a context: stop watching when ctx ends.
func Example_select() {
	cluster := mock.NewCluster(1)
	c, _ := quorum.Dial(context.Background(), client.WithDialer(cluster.Node(1)))
	defer c.Close()
	sub, _ := c.Subscribe(context.Background())
	defer sub.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	for {
		select {
		case ev := <-sub.C():
			fmt.Println("state:", ev.Quorate)
		case <-ctx.Done():
			fmt.Println("stopped:", ctx.Err())
			return
		}
	}
	// Output:
	// state: true
	// stopped: context deadline exceeded
}

// Poll without blocking, as with CS_DISPATCH_ONE_NONBLOCKING and
// CS_DISPATCH_ALL from an existing event loop.
func Example_poll() {
	ctx := context.Background()
	cluster := mock.NewCluster(1)
	c, _ := quorum.Dial(ctx, client.WithDialer(cluster.Node(1)))
	defer c.Close()
	sub, _ := c.Subscribe(ctx, dispatch.Queue(8))
	defer sub.Close()

	ev, err := sub.TryNext()
	fmt.Println(ev.Kind, ev.Quorate, err)
	_, err = sub.TryNext()
	fmt.Println(errors.Is(err, corosync.ErrTryAgain))

	cluster.SetExpectedVotes(2) // lose quorum
	cluster.SetExpectedVotes(1) // regain it
	for len(sub.C()) < 2 {      // wait until both changes are pending
		time.Sleep(time.Millisecond)
	}
	for _, ev := range sub.Drain() {
		fmt.Println(ev.Kind, ev.Quorate)
	}
	// Output:
	// snapshot true <nil>
	// true
	// quorum false
	// quorum true
}

// Run a callback for each event until it returns an error, as with
// CS_DISPATCH_BLOCKING.
func Example_run() {
	ctx := context.Background()
	cluster := mock.NewCluster(2)
	c, _ := quorum.Dial(ctx, client.WithDialer(cluster.Node(1)))
	defer c.Close()
	sub, _ := c.Subscribe(ctx, dispatch.Queue(8))
	defer sub.Close()

	errLost := errors.New("quorum lost")
	go cluster.Kill(2)
	err := sub.Run(ctx, func(ev quorum.Event) error {
		fmt.Println(ev)
		if !ev.Quorate {
			return errLost
		}
		return nil
	})
	fmt.Println("run:", err)
	// Output:
	// snapshot: quorate ring 1.4 members [1 2]
	// nodelist: ring 1.8 members [1] joined [] left [2]
	// quorum: not quorate ring 1.8 members [1]
	// run: quorum lost
}

// Every service's events share one EventKind: the lifecycle kinds read the
// same in every stream, and a kind marshals as its name. Here a quorum
// subscription sees its local daemon killed and restarted.
func ExampleEventKind() {
	ctx := context.Background()
	cluster := mock.NewCluster(3)
	c, err := quorum.Dial(ctx, client.WithDialer(cluster.Node(1)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	sub, _ := c.Subscribe(ctx, dispatch.Queue(16))
	defer sub.Close()

	cluster.Kill(1)
	cluster.Restart(1)
	snapshots := 0
	for ev, err := range sub.All(ctx) {
		if err != nil {
			fmt.Println(err)
			return
		}
		switch ev.Kind {
		case corosync.EventDisconnected:
			fmt.Println(ev.Kind, "quorate:", ev.Quorate) // fail-safe
		case corosync.EventReconnected:
			fmt.Println(ev.Kind)
		case corosync.EventSnapshot:
			j, _ := json.Marshal(struct {
				Kind    corosync.EventKind
				Quorate bool
			}{ev.Kind, ev.Quorate})
			fmt.Println(string(j))
			if snapshots++; snapshots == 2 {
				var k corosync.EventKind
				err := k.UnmarshalText([]byte("confchg"))
				fmt.Println(k == corosync.EventConfchg, err)
				return
			}
		}
	}
	// Output:
	// {"Kind":"snapshot","Quorate":true}
	// disconnected quorate: false
	// reconnected
	// {"Kind":"snapshot","Quorate":true}
	// true <nil>
}
