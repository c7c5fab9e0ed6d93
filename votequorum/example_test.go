package votequorum_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/votequorum"
)

// Print this node's votes and the cluster's quorum, as corosync-quorumtool
// -s does. Against a running corosync, dial with votequorum.Dial(ctx); here
// a mock cluster of 3 nodes stands in for it.
func ExampleClient_Info() {
	ctx := context.Background()
	cluster := mock.NewCluster(3)
	c, err := votequorum.Dial(ctx, client.WithDialer(cluster.Node(1)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	info, err := c.Info(ctx, 0) // 0: this node
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("node %d: %d votes, expected %d, total %d, quorum %d, flags %v\n",
		info.NodeID, info.NodeVotes, info.NodeExpectedVotes, info.TotalVotes, info.Quorum, info.Flags)
	_, err = c.Info(ctx, 9)
	fmt.Println(errors.Is(err, corosync.ErrNotExist), err)
	// Output:
	// node 1: 1 votes, expected 3, total 3, quorum 2, flags Quorate
	// true votequorum getinfo node 9: CS_ERR_NOT_EXIST: does not exist
}

// Watch quorum and votes: the first event is the current state; while the
// daemon is unreachable the state is not quorate.
func ExampleClient_Subscribe() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := votequorum.Dial(ctx, client.WithWaitForDaemon())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	sub, err := c.Subscribe(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sub.Close()
	for ev, err := range sub.All(ctx) {
		if err != nil {
			return
		}
		fmt.Println(ev) // e.g. "quorum: quorate ring 1.9 members [1 2] nodes [1:member 2:member] expected 2"
	}
}

// Give a node 2 votes and raise the cluster's expected votes. The target is
// explicit: votequorum.Node(id) or votequorum.QuorumDevice(). The daemon
// refuses expected votes that would make a quorate cluster inquorate.
// (Against a running corosync, dial with votequorum.Dial(ctx).)
func ExampleClient_SetVotes() {
	ctx := context.Background()
	cluster := mock.NewCluster(3)
	c, err := votequorum.Dial(ctx, client.WithDialer(cluster.Node(1)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	if err := c.SetVotes(ctx, votequorum.Node(2), 2); err != nil {
		fmt.Println(err)
	}
	if err := c.SetExpected(ctx, 9); errors.Is(err, corosync.ErrInvalidParam) {
		fmt.Println("the daemon refused 9 expected votes")
	}
	info, _ := c.Info(ctx, 2)
	fmt.Println(info)
	// Output:
	// the daemon refused 9 expected votes
	// node 2 member votes 2 expected 3 highest 4 total 4 quorum 3 flags [Quorate] qdevice 0 ""
}

// A two-node cluster (two_node: 1) stays quorate when one node fails: ask
// WhatIf first, then watch it happen.
func Example_twoNode() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cluster := mock.NewCluster(2, mock.WithTwoNode())
	c, err := votequorum.Dial(ctx, client.WithDialer(cluster.Node(1)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	sub, err := c.Subscribe(ctx, dispatch.Queue(8))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sub.Close()
	ev, _ := sub.Next(ctx)
	fmt.Println(ev)
	out, _ := c.WhatIf(ctx, votequorum.Change{FailNodes: []uint32{2}})
	fmt.Println("if node 2 fails:", out)

	cluster.Kill(2)
	for range 2 { // a nodelist notification, then a quorum notification
		ev, _ := sub.Next(ctx)
		fmt.Println(ev)
	}
	// Output:
	// snapshot: quorate ring 1.4 members [1 2] nodes [2:member 1:member] expected 2
	// if node 2 fails: quorate: node 1 members [1] quorum 1 total 1 expected 2 highest 2 flags [2Node Quorate WaitForAll]
	// nodelist: ring 1.8 members [1]
	// quorum: quorate ring 1.8 members [1] nodes [2:dead 1:member] expected 2
}

// A quorum device in Go: register, then poll with the current ring at least
// every quorum.device.timeout, and at once after every membership change.
// After a daemon restart the client registers the device again by itself;
// the device just keeps polling with the new ring.
func ExampleClient_QdevicePoll() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := votequorum.Dial(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	const name = "my-device"
	if err := c.QdeviceRegister(ctx, name); err != nil {
		fmt.Println(err)
		return
	}
	defer c.QdeviceUnregister(context.Background(), name)
	sub, err := c.Subscribe(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sub.Close()
	castVote := func() bool { return true } // the device's decision
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case ev, ok := <-sub.C():
			if !ok {
				return
			}
			if ev.Kind == corosync.EventReconnected && ev.Err != nil {
				fmt.Println("device not registered again:", ev.Err)
				return
			}
			if ev.Kind != corosync.EventNodelist && ev.Kind != corosync.EventSnapshot {
				continue
			}
		case <-tick.C:
		case <-ctx.Done():
			return
		}
		if err := c.QdevicePoll(ctx, name, castVote(), c.Latest().Ring); err != nil {
			fmt.Println("poll:", err) // e.g. ErrNotConnected while the daemon restarts
		}
	}
}

// A quorum device publishes extra info that every node keeps (corosync's
// main branch only). Here a mock cluster that answers as main stands in
// for the daemon; on a release the calls fail with corosync.ErrNotSupported
// and nothing is sent.
func ExampleClient_SetQdeviceExtraInfo() {
	ctx := context.Background()
	cluster := mock.NewCluster(2, mock.WithDaemonVersion(corosync.VersionMain))
	dev, err := votequorum.Dial(ctx, client.WithDialer(cluster.Node(1)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dev.Close()
	fmt.Println("daemon:", dev.DaemonVersion())
	if err := dev.QdeviceRegister(ctx, "mydevice"); err != nil {
		fmt.Println(err)
		return
	}
	if err := dev.SetQdeviceExtraInfo(ctx, []byte("site=a\x00")); err != nil {
		fmt.Println(err)
		return
	}
	other, err := votequorum.Dial(ctx, client.WithDialer(cluster.Node(2)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer other.Close()
	info, err := other.QdeviceExtraInfo(ctx, 1)
	fmt.Printf("node 1's device: %q %v\n", info, err)
	fmt.Printf("in node 2's state: %q\n", other.Latest().QdeviceExtraInfo[1])

	release := mock.NewCluster(1)
	old, err := votequorum.Dial(ctx, client.WithDialer(release.Node(1)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer old.Close()
	_, err = old.QdeviceExtraInfo(ctx, 1)
	fmt.Println(old.DaemonVersion(), errors.Is(err, corosync.ErrNotSupported))
	// Output:
	// daemon: main
	// node 1's device: "site=a\x00" <nil>
	// in node 2's state: "site=a\x00"
	// 3.1.6 true
}
