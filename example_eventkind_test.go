package corosync_test

import (
	"context"
	"encoding/json"
	"fmt"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/quorum"
)

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
