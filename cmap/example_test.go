package cmap_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/mock"
)

// Connect to the local corosync. (Compiled, not run: it needs a daemon.
// The other examples run against package mock's fake cluster; drop the
// WithDialer option to run them against the local daemon.)
func ExampleDial() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := cmap.Dial(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	name, err := c.GetString(ctx, "totem.cluster_name")
	fmt.Println(name, err)
}

// Read a few keys.
func ExampleClient_Get() {
	ctx := context.Background()
	cluster := mock.NewCluster(3)
	c, err := cmap.Dial(ctx, client.WithDialer(cluster.Node(2)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	name, err := c.GetString(ctx, "totem.cluster_name")
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := c.Get(ctx, "runtime.votequorum.this_node_id")
	if errors.Is(err, corosync.ErrNotExist) {
		fmt.Println("no votequorum")
		return
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	id, err := v.Uint32() // a *cmap.TypeError if the key is not a u32
	fmt.Println(name, id, err)
	_, err = c.Get(ctx, "no.such.key")
	fmt.Println(errors.Is(err, corosync.ErrNotExist))
	// Output:
	// mock 2 <nil>
	// true
}

// Store a value of each kind.
func ExampleClient_Set() {
	ctx := context.Background()
	c, err := cmap.Dial(ctx, client.WithDialer(mock.NewCluster(1).Node(1)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	if err := c.SetUint32(ctx, "myapp.retries", 3); err != nil {
		fmt.Println(err)
	}
	if err := c.Set(ctx, "myapp.mode", cmap.String("active")); err != nil {
		fmt.Println(err)
	}
	if err := c.Inc(ctx, "myapp.retries"); err != nil {
		fmt.Println(err)
	}
	n, _ := c.GetUint32(ctx, "myapp.retries")
	fmt.Println("retries:", n)
	err = c.SetString(ctx, "totem.cluster_name", "other")
	fmt.Println(errors.Is(err, corosync.ErrAccess))
	// Output:
	// retries: 4
	// true
}

// List the keys of a prefix with their types.
func ExampleClient_Iter() {
	ctx := context.Background()
	c, err := cmap.Dial(ctx, client.WithDialer(mock.NewCluster(3).Node(1)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	for e, err := range c.Iter(ctx, "runtime.members.3.") {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(e.Key, e.Type)
	}
	// Output:
	// runtime.members.3.config_version u64
	// runtime.members.3.ip str
	// runtime.members.3.join_count u32
	// runtime.members.3.status str
}

// List the cluster's nodes as corosync-cmapctl nodelist. does.
func ExampleClient_IterValues() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := cmap.Dial(ctx, client.WithDialer(mock.NewCluster(2).Node(1)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	for e, err := range c.IterValues(ctx, "nodelist.") {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s (%s) = %s\n", e.Key, e.Value.Type(), e.Value.String())
	}
	// Output:
	// nodelist.local_node_pos (u32) = 0
	// nodelist.node.0.name (str) = node1
	// nodelist.node.0.nodeid (u32) = 1
	// nodelist.node.0.ring0_addr (str) = 192.0.2.1
	// nodelist.node.1.name (str) = node2
	// nodelist.node.1.nodeid (u32) = 2
	// nodelist.node.1.ring0_addr (str) = 192.0.2.2
}

// Follow membership: every change of runtime.members.*. In the fake
// cluster node 3 crashes and comes back; with a real daemon the same
// changes arrive when a node leaves and joins.
func ExampleClient_Track() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cluster := mock.NewCluster(3)
	c, err := cmap.Dial(ctx, client.WithDialer(cluster.Node(1)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	tr, err := c.Track(ctx, "runtime.members.", cmap.TrackChanges|cmap.TrackPrefix, dispatch.Queue(256))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tr.Close()

	cluster.Kill(3)
	cluster.Start(3)
	for range 3 {
		ev, err := tr.Next(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		switch ev.Kind {
		case corosync.EventReconnected:
			// Changes were missed: read runtime.members. again with IterValues.
		default:
			fmt.Println(ev)
		}
	}
	// Output:
	// modify: runtime.members.3.status str("joined") -> str("left")
	// modify: runtime.members.3.join_count u32(1) -> u32(2)
	// modify: runtime.members.3.status str("left") -> str("joined")
}

// Writes to keys corosync owns (runtime.*, the stats map) are refused
// unless the client opts in with WithDaemonKeyWrites, here to trigger a
// blackbox dump.
func ExampleWithDaemonKeyWrites() {
	ctx := context.Background()
	node := mock.NewCluster(1).Node(1)
	c, err := cmap.Dial(ctx, client.WithDialer(node))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	err = c.SetString(ctx, "runtime.blackbox.dump_flight_data", "yes")
	fmt.Println(errors.Is(err, corosync.ErrAccess), err)

	admin, err := cmap.Dial(ctx, client.WithDialer(node), cmap.WithDaemonKeyWrites())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer admin.Close()
	fmt.Println(admin.SetString(ctx, "runtime.blackbox.dump_flight_data", "yes"))
	// Output:
	// true cmap: refusing to set runtime.blackbox.dump_flight_data: runtime.* keys belong to corosync; dial with cmap.WithDaemonKeyWrites() to write them
	// <nil>
}
