package votequorum_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/votequorum"
)

func TestTarget(t *testing.T) {
	for _, c := range []struct {
		t      votequorum.Target
		s      string
		id     uint32
		device bool
	}{
		{votequorum.Node(3), "node 3", 3, false},
		{votequorum.QuorumDevice(), "quorum device", 0, true},
		{votequorum.Node(0), "invalid target", 0, false},
		{votequorum.Target{}, "invalid target", 0, false},
	} {
		if c.t.String() != c.s || c.t.NodeID() != c.id || c.t.IsQuorumDevice() != c.device {
			t.Errorf("%v: id %d device %v; want %s %d %v", c.t, c.t.NodeID(), c.t.IsQuorumDevice(), c.s, c.id, c.device)
		}
	}
}

func TestFlags(t *testing.T) {
	f := votequorum.FlagTwoNode | votequorum.FlagQuorate | votequorum.FlagWaitForAll | votequorum.FlagQdeviceCastVote | 1<<20
	if got, want := f.String(), "2Node Quorate WaitForAll QdeviceCastVote 0x100000"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !f.Has(votequorum.FlagQuorate|votequorum.FlagTwoNode) || f.Has(votequorum.FlagQdevice) {
		t.Error("Has")
	}
	if votequorum.Flags(0).String() != "" {
		t.Error("no flags")
	}
	i := votequorum.Info{NodeID: 1, State: votequorum.NodeStateMember, Flags: votequorum.FlagQuorate}
	if !i.Quorate() || i.String() != `node 1 member votes 0 expected 0 highest 0 total 0 quorum 0 flags [Quorate] qdevice 0 ""` {
		t.Errorf("%v", i)
	}
}

func TestEventString(t *testing.T) {
	for _, c := range []struct {
		e    votequorum.Event
		want string
	}{
		{votequorum.Event{Kind: corosync.EventQuorum, State: votequorum.State{Quorate: true, Ring: corosync.RingID{NodeID: 1, Seq: 9},
			Members: []uint32{1, 2}, Nodes: []votequorum.NodeStatus{{NodeID: 1, State: votequorum.NodeStateMember}, {NodeID: 2, State: votequorum.NodeStateDead}},
			ExpectedVotes: 2}},
			"quorum: quorate ring 1.9 members [1 2] nodes [1:member 2:dead] expected 2"},
		{votequorum.Event{Kind: corosync.EventExpectedVotes, State: votequorum.State{ExpectedVotes: 3}, Skipped: 2}, "expectedvotes: expected 3 (skipped 2)"},
		{votequorum.Event{Kind: corosync.EventNodelist, State: votequorum.State{Ring: corosync.RingID{NodeID: 2, Seq: 0x10}, Members: []uint32{2}}}, "nodelist: ring 2.10 members [2]"},
		{votequorum.Event{Kind: corosync.EventDisconnected, Err: errors.New("gone")}, "disconnected: not quorate (connection lost: gone)"},
		{votequorum.Event{Kind: 99}, "EventKind(99): not quorate ring 0.0 members [] nodes [] expected 0"},
	} {
		if got := c.e.String(); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}

// SetVotes refuses a change that would bring the cluster's votes above
// votequorum.MaxVotes (the daemon's quorum would wrap to 0: internal/testkit/matrix's
// TestSafetyEveryDaemon measured it on every release) and allows one that
// stays at it.
func TestSetVotesRefusesQuorumWrap(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := votequorum.Dial(ctx, client.WithDialer(mock.NewCluster(2).Node(1)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.SetVotes(ctx, votequorum.Node(2), votequorum.MaxVotes)
	if !errors.Is(err, corosync.ErrInvalidParam) || !strings.Contains(err.Error(), "would bring the cluster's votes to 510") {
		t.Fatalf("SetVotes(2, %d) on two nodes = %v, want ErrInvalidParam naming the total 510", votequorum.MaxVotes, err)
	}
	if err := c.SetVotes(ctx, votequorum.Node(2), votequorum.MaxVotes-1); err != nil {
		t.Fatalf("SetVotes(2, %d) (total %d): %v", votequorum.MaxVotes-1, votequorum.MaxVotes, err)
	}
	if err := c.SetVotes(ctx, votequorum.QuorumDevice(), 1); !errors.Is(err, corosync.ErrInvalidParam) {
		t.Fatalf("a quorum device vote on top of %d = %v, want ErrInvalidParam", votequorum.MaxVotes, err)
	}
	i, err := c.Info(ctx, 0)
	if err != nil || i.Quorum == 0 || !i.Quorate() {
		t.Fatalf("after the allowed change: %v, %v", i, err)
	}
}
