package cpg_test

import (
	"context"
	"fmt"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cpg"
	"github.com/corosync-go/corosync/mock"
)

// Two members on two nodes of a fake cluster: both deliver the same
// messages in the same order, and see node 2 go when it is cut off.
func Example() {
	ctx := context.Background()
	cluster := mock.NewCluster(3)

	var clients []*cpg.Client
	defer func() {
		for _, c := range clients {
			c.Close() // closes its groups too
		}
	}()
	join := func(node uint32) *cpg.Group {
		c, err := cpg.Dial(ctx, client.WithDialer(cluster.Node(node)))
		if err != nil {
			panic(err)
		}
		clients = append(clients, c)
		// The pid members are known by; os.Getpid() by default.
		g, err := c.Join(ctx, "chat", cpg.WithPID(100*node))
		if err != nil {
			panic(err)
		}
		return g
	}
	a := join(1)
	b := join(2)

	a.Send(ctx, []byte("hello from 1"), cpg.Agreed)
	b.Send(ctx, []byte("hello from 2"), cpg.Agreed)
	cluster.Partition([]uint32{1, 3}, []uint32{2})

	for ev, err := range a.All(ctx) {
		if err != nil {
			panic(err)
		}
		switch ev.Kind {
		case corosync.EventMessage:
			fmt.Printf("node %d says %q\n", ev.Sender.NodeID, ev.Data)
		case corosync.EventConfchg:
			fmt.Println("members", len(ev.Members), "joined", ev.Joined, "left", ev.Left)
		}
		if ev.Kind == corosync.EventConfchg && len(ev.Left) > 0 {
			break
		}
	}
	// Output:
	// members 1 joined [1/100(join)] left []
	// members 2 joined [2/200(join)] left []
	// node 1 says "hello from 1"
	// node 2 says "hello from 2"
	// members 1 joined [] left [2/200(nodedown)]
}
