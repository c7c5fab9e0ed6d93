package cmap_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cmap"
)

// Read a few keys. These examples need a running corosync; they are
// compiled, not run, by go test.
func ExampleClient_Get() {
	ctx := context.Background()
	c, err := cmap.Dial(ctx)
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
}

// Store a value of each kind.
func ExampleClient_Set() {
	ctx := context.Background()
	c, err := cmap.Dial(ctx)
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
}

// List the cluster's nodes as corosync-cmapctl nodelist. does.
func ExampleClient_IterValues() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := cmap.Dial(ctx)
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
		fmt.Printf("%s (%s) = %s\n", e.Key, e.Value.Type(), e.Value.Text())
	}
}

// Follow membership: every change of runtime.members.*, and a resync after
// the daemon restarted.
func ExampleClient_Track() {
	ctx := context.Background()
	c, err := cmap.Dial(ctx, cmap.WithWaitForDaemon())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	tr, err := c.Track(ctx, "runtime.members.", cmap.TrackChanges|cmap.TrackPrefix, cmap.Queue(256))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tr.Close()
	err = tr.Run(ctx, func(ev cmap.Event) error {
		switch ev.Kind {
		case cmap.EventReconnected:
			// Changes were missed: read runtime.members. again with IterValues.
		case cmap.EventModify:
			if s, err := ev.New.String(); err == nil && s == "left" {
				fmt.Println(ev.Key, "left")
			}
		}
		return nil
	})
	fmt.Println(err)
}
