package votequorum_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/votequorum"
)

// waitInfo polls Info(0) until ok holds (qdevice changes land when totem
// delivers them).
func waitInfo(t *testing.T, c *votequorum.Client, what string, ok func(votequorum.Info) bool) votequorum.Info {
	t.Helper()
	ctx := ctxT(t, 15*time.Second)
	for {
		i, err := c.Info(ctx, 0)
		if err == nil && ok(i) {
			return i
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: last Info %v, %v", what, i, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestQdevice makes this test program the quorum device of a two-node
// cluster (device votes 1: 3 expected votes, quorum 2) and flips the
// quorum of a node left alone by casting and withdrawing its vote.
func TestQdevice(t *testing.T) {
	cl := corotest.Start(t, 2, corotest.Options{Votequorum: corotest.Votequorum{Device: &corotest.Device{Votes: 1}}})
	n1 := cl.Node(1)
	c := dial(t, n1)
	s := subscribe(t, c)
	snap := waitEvent(t, s, corosync.EventSnapshot, nil)
	ctx := ctxT(t, 60*time.Second)
	const name = "go-qdevice"

	// Refused before any IPC.
	for _, bad := range []string{"", "a\x00b", strings.Repeat("n", votequorum.MaxQdeviceNameLen+1)} {
		if err := c.QdeviceRegister(ctx, bad); !errors.Is(err, corosync.ErrInvalidParam) && !errors.Is(err, corosync.ErrNameTooLong) {
			t.Errorf("QdeviceRegister(%q): %v", bad, err)
		}
	}
	if err := c.QdevicePoll(ctx, name, true, snap.Ring); !errors.Is(err, corosync.ErrNotExist) {
		t.Errorf("poll before register: %v", err)
	}

	if err := c.QdeviceRegister(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := c.QdeviceRegister(ctx, name); err != nil {
		t.Fatalf("registering the same name again: %v", err)
	}
	if err := c.QdeviceRegister(ctx, "other"); !errors.Is(err, corosync.ErrExist) {
		t.Fatalf("registering another name: %v", err)
	}
	i := waitInfo(t, c, "registered", func(i votequorum.Info) bool { return i.Flags.Has(votequorum.FlagQdevice) && i.QdeviceName == name })
	if i.QdeviceVotes != 1 || i.NodeExpectedVotes != 3 || i.Quorum != 2 || i.TotalVotes != 2 {
		t.Fatalf("registered: %v", i)
	}
	checkInfo(t, c, n1)

	if err := c.QdevicePoll(ctx, name, true, corosync.RingID{NodeID: 1, Seq: 1}); !errors.Is(err, corosync.ErrMessageError) {
		t.Errorf("poll with a stale ring: %v", err)
	}
	if err := c.QdevicePoll(ctx, name, true, c.Latest().Ring); err != nil {
		t.Fatal(err)
	}
	waitInfo(t, c, "cast vote", func(i votequorum.Info) bool {
		return i.Flags.Has(votequorum.FlagQdeviceAlive|votequorum.FlagQdeviceCastVote) && i.TotalVotes == 3
	})

	// Node 1 alone: its vote and the device's make quorum.
	if err := cl.Node(2).Unplug(); err != nil {
		t.Fatal(err)
	}
	nl := waitEvent(t, s, corosync.EventNodelist, func(e votequorum.Event) bool { return slices.Equal(e.Members, []uint32{1}) })
	// corosync's sync waits for a poll with the new ring.
	if err := c.QdevicePoll(ctx, name, true, nl.Ring); err != nil {
		t.Fatal(err)
	}
	q := waitEvent(t, s, corosync.EventQuorum, nil)
	// The quorum notification lists the device as node 0.
	if !q.Quorate || !slices.Contains(q.Nodes, votequorum.NodeStatus{NodeID: 0}) {
		t.Fatalf("alone with the device's vote: %v", q)
	}
	checkInfo(t, c, n1)

	// Withdraw the vote: not quorate. Cast it again: quorate.
	for _, cast := range []bool{false, true, false, true} {
		if err := c.QdevicePoll(ctx, name, cast, c.Latest().Ring); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, s, corosync.EventQuorum, func(e votequorum.Event) bool { return e.Quorate == cast })
		i := checkInfo(t, c, n1)
		if i.Quorate() != cast || i.Flags.Has(votequorum.FlagQdeviceCastVote) != cast {
			t.Fatalf("cast %v: %v", cast, i)
		}
	}

	if err := c.QdeviceMasterWins(ctx, "wrong", true); !errors.Is(err, corosync.ErrInvalidParam) {
		t.Errorf("master wins with a wrong name: %v", err)
	}
	if err := c.QdeviceMasterWins(ctx, name, true); err != nil {
		t.Fatal(err)
	}
	waitInfo(t, c, "master wins", func(i votequorum.Info) bool { return i.Flags.Has(votequorum.FlagQdeviceMasterWins) })
	if err := c.QdeviceMasterWins(ctx, name, false); err != nil {
		t.Fatal(err)
	}

	// The daemon restarts: the client registers the device again.
	if err := n1.Kill(); err != nil {
		t.Fatal(err)
	}
	if d := waitEvent(t, s, corosync.EventDisconnected, nil); d.Quorate {
		t.Fatalf("disconnected: %v", d)
	}
	if err := n1.Start(); err != nil {
		t.Fatal(err)
	}
	r := waitEvent(t, s, corosync.EventReconnected, nil)
	if r.Err != nil {
		t.Fatalf("re-registration: %v", r.Err)
	}
	snap = waitEvent(t, s, corosync.EventSnapshot, nil)
	i = waitInfo(t, c, "registered again", func(i votequorum.Info) bool { return i.Flags.Has(votequorum.FlagQdevice) && i.QdeviceName == name })
	if i.Flags.Has(votequorum.FlagQdeviceAlive) || i.Quorate() {
		t.Fatalf("before the first poll after the restart: %v", i)
	}
	// Keep polling, with the current ring: quorate again.
	ring := c.Latest().Ring
	if err := c.QdevicePoll(ctx, name, true, ring); err != nil {
		t.Fatalf("poll with ring %v (snapshot ring %v): %v", ring, snap.Ring, err)
	}
	waitInfo(t, c, "quorate after the restart", func(i votequorum.Info) bool { return i.Quorate() })
	checkInfo(t, c, n1)

	// Rename and unregister.
	if err := c.QdeviceUpdate(ctx, "wrong", "x"); !errors.Is(err, corosync.ErrInvalidParam) {
		t.Errorf("update with a wrong name: %v", err)
	}
	if err := c.QdeviceUpdate(ctx, name, name+"2"); err != nil {
		t.Fatal(err)
	}
	waitInfo(t, c, "renamed", func(i votequorum.Info) bool { return i.QdeviceName == name+"2" })
	if err := c.QdeviceUnregister(ctx, name); !errors.Is(err, corosync.ErrInvalidParam) {
		t.Errorf("unregister the old name: %v", err)
	}
	if err := c.QdeviceUnregister(ctx, name+"2"); err != nil {
		t.Fatal(err)
	}
	i = waitInfo(t, c, "unregistered", func(i votequorum.Info) bool { return !i.Flags.Has(votequorum.FlagQdevice) && i.QdeviceName == "" })
	if i.Quorate() {
		t.Fatalf("alone without the device: %v", i)
	}
	if err := c.QdeviceUnregister(ctx, name+"2"); !errors.Is(err, corosync.ErrNotExist) || !strings.Contains(err.Error(), strconv.Quote(name+"2")) {
		t.Errorf("second unregister: %v", err)
	}
}
