package cfg_test

import (
	"context"
	"fmt"
	"log"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/dispatch"
)

// A tracker that refuses shutdowns while work is running.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := cfg.Dial(ctx, cfg.WithShutdownTracking())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	st, err := c.NodeStatus(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("node 2 reachable:", st.Reachable, "link 0 MTU:", st.Links[0].MTU)

	sub, err := c.Subscribe(context.Background(), dispatch.Queue(16))
	if err != nil {
		log.Fatal(err)
	}
	busy := func() bool { return true }
	for ev := range sub.C() {
		if ev.Kind != corosync.EventShutdownRequest {
			continue
		}
		reply := cfg.ShutdownYes
		if busy() {
			reply = cfg.ShutdownNo
		}
		if err := c.ReplyShutdown(context.Background(), reply); err != nil {
			log.Print(err)
		}
	}
}
