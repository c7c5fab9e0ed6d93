package votequorum_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/votequorum"
)

// Print this node's votes and the cluster's quorum, as corosync-quorumtool
// -s does. These examples need a running corosync; they are compiled, not
// run, by go test.
func ExampleClient_Info() {
	ctx := context.Background()
	c, err := votequorum.Dial(ctx)
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
}

// Watch quorum and votes: the first event is the current state; while the
// daemon is unreachable the state is not quorate.
func ExampleClient_Subscribe() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := votequorum.Dial(ctx, votequorum.WithWaitForDaemon())
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

// Give the quorum device 2 votes and raise the cluster's expected votes.
// The target is explicit: votequorum.Node(id) or votequorum.QuorumDevice().
func ExampleClient_SetVotes() {
	ctx := context.Background()
	c, err := votequorum.Dial(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	if err := c.SetVotes(ctx, votequorum.QuorumDevice(), 2); err != nil {
		fmt.Println(err)
	}
	if err := c.SetExpected(ctx, 5); errors.Is(err, corosync.ErrInvalidParam) {
		fmt.Println("the daemon refused 5 expected votes:", err)
	}
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
			if ev.Kind == votequorum.EventReconnected && ev.Err != nil {
				fmt.Println("device not registered again:", ev.Err)
				return
			}
			if ev.Kind != votequorum.EventNodelist && ev.Kind != votequorum.EventSnapshot {
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
