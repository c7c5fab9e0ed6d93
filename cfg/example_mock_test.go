package cfg_test

import (
	"context"
	"fmt"
	"sync/atomic"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/mock"
)

// Testing your own shutdown tracker against a fake cluster: the tracker
// refuses while busy, so corosync stays up; then it agrees and the
// daemon stops.
func Example_mock() {
	ctx := context.Background()
	cluster := mock.NewCluster(3)
	node := cluster.Node(1)

	tracker, err := cfg.Dial(ctx, client.WithDialer(node), cfg.WithShutdownTracking())
	if err != nil {
		panic(err)
	}
	defer tracker.Close()
	sub, _ := tracker.Subscribe(ctx, dispatch.Queue(8))
	defer sub.Close()
	var busy atomic.Bool
	busy.Store(true)
	go func() { // the code under test
		for ev := range sub.C() {
			if ev.Kind == corosync.EventShutdownRequest {
				reply := cfg.ShutdownYes
				if busy.Load() {
					reply = cfg.ShutdownNo
				}
				tracker.ReplyShutdown(ctx, reply)
			}
		}
	}()

	admin, err := cfg.Dial(ctx, client.WithDialer(node), client.WithoutReconnect())
	if err != nil {
		panic(err)
	}
	defer admin.Close()
	st, _ := admin.NodeStatus(ctx, 2)
	fmt.Println("node 2 reachable:", st.Reachable)
	fmt.Println("shutdown while busy:", admin.Shutdown(ctx, cfg.ShutdownRequest) != nil)
	busy.Store(false)
	fmt.Println("shutdown when idle:", admin.Shutdown(ctx, cfg.ShutdownRequest) == nil)
	// Output:
	// node 2 reachable: true
	// shutdown while busy: true
	// shutdown when idle: true
}
