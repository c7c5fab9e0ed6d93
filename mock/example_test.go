package mock_test

import (
	"context"
	"fmt"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/quorum"
)

// A service that must stop when its node loses quorum, tested against a
// fake cluster: cut node 1 off and check that it stops.
func Example() {
	ctx := context.Background()
	cluster := mock.NewCluster(3)
	c, err := quorum.Dial(ctx, client.WithDialer(cluster.Node(1)))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	sub, _ := c.Subscribe(ctx, dispatch.Queue(8))
	defer sub.Close()

	running := false
	apply := func(ev quorum.Event) { running = ev.Quorate } // the code under test

	ev, _ := sub.Next(ctx)
	apply(ev)
	fmt.Println("running:", running)

	cluster.Partition([]uint32{1}, []uint32{2, 3})
	for ev.Kind != corosync.EventQuorum {
		ev, _ = sub.Next(ctx)
	}
	apply(ev)
	fmt.Println("running after partition:", running)
	// Output:
	// running: true
	// running after partition: false
}
