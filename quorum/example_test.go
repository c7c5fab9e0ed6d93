package quorum_test

import (
	"context"
	"fmt"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/quorum"
)

// A quorum-gated worker: it works only while its node is quorate, and
// stops at once when quorum is lost or corosync cannot be reached (the
// disconnected event is never quorate). The cluster here is a mock; on a
// real node, drop client.WithDialer.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cluster := mock.NewCluster(3)
	c, err := quorum.Dial(ctx, client.WithDialer(cluster.Node(1)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	sub, err := c.Subscribe(ctx, dispatch.Queue(16))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sub.Close()

	ev, _ := sub.Next(ctx) // the snapshot: where the node stands now
	fmt.Println(ev.Kind, "quorate:", ev.Quorate, "members:", ev.Members)

	cluster.Partition([]uint32{1}, []uint32{2, 3}) // node 1 is cut off
	for ev, err := range sub.All(ctx) {
		if err != nil {
			fmt.Println(err)
			return
		}
		if ev.Kind == corosync.EventQuorum {
			fmt.Println(ev.Kind, "quorate:", ev.Quorate, "members:", ev.Members)
			if !ev.Quorate {
				break // stop working
			}
		}
	}
	// Output:
	// snapshot quorate: true members: [1 2 3]
	// quorum quorate: false members: [1]
}

// Quorate asks once; Subscribe follows the changes.
func ExampleClient_Quorate() {
	ctx := context.Background()
	cluster := mock.NewCluster(3)
	c, err := quorum.Dial(ctx, client.WithDialer(cluster.Node(1)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	cluster.Kill(2)
	cluster.Kill(3)
	q, err := c.Quorate(ctx)
	fmt.Println(q, err, c.Model(), c.DaemonVersion())
	// Output: false <nil> v1 3.1.6
}
