//go:build oracle

package vqoracle

import (
	"context"
	"errors"
	"sort"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire/vqwire"
	"github.com/corosync-go/corosync/votequorum"
)

func dialClient(t testing.TB, n *corotest.Node) *votequorum.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := votequorum.Dial(ctx, client.WithDialer(n.Dialer()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// fromClient normalises a votequorum.Event as libvotequorum's callback
// would report it (context 0, as both trackstarts use). Lifecycle events
// have Kind "".
func fromClient(e votequorum.Event) Event {
	switch e.Kind {
	case corosync.EventQuorum:
		nodes := make([]vqwire.Node, len(e.Nodes))
		for i, n := range e.Nodes {
			nodes[i] = vqwire.Node{NodeID: n.NodeID, State: vqwire.NodeState(n.State)}
		}
		return Event{Kind: "quorum", Quorate: e.Quorate, Nodes: nodes}
	case corosync.EventExpectedVotes:
		return Event{Kind: "expectedvotes", ExpectedVotes: e.ExpectedVotes}
	case corosync.EventNodelist:
		return Event{Kind: "nodelist", Ring: vqwire.RingID{NodeID: e.Ring.NodeID, Seq: e.Ring.Seq}, Members: e.Members}
	}
	return Event{}
}

// compareClientInfo compares votequorum.Client.Info with votequorum_getinfo
// on the same node, field by field, errors included.
func compareClientInfo(t *testing.T, or *Client, c *votequorum.Client, node uint32) {
	t.Helper()
	w, werr := or.GetInfo(node)
	g, gerr := c.Info(context.Background(), node)
	if corosync.Code(werr) != corosync.Code(gerr) {
		t.Errorf("getinfo(%d): libvotequorum %v, ours %v", node, werr, gerr)
		return
	}
	for _, f := range []struct {
		name   string
		g, w   any
		differ bool
	}{
		{"NodeID", g.NodeID, w.NodeID, g.NodeID != w.NodeID},
		{"State", g.State, w.State, uint32(g.State) != uint32(w.State)},
		{"NodeVotes", g.NodeVotes, w.NodeVotes, g.NodeVotes != w.NodeVotes},
		{"NodeExpectedVotes", g.NodeExpectedVotes, w.NodeExpectedVotes, g.NodeExpectedVotes != w.NodeExpectedVotes},
		{"HighestExpected", g.HighestExpected, w.HighestExpected, g.HighestExpected != w.HighestExpected},
		{"TotalVotes", g.TotalVotes, w.TotalVotes, g.TotalVotes != w.TotalVotes},
		{"Quorum", g.Quorum, w.Quorum, g.Quorum != w.Quorum},
		{"Flags", g.Flags, w.Flags, uint32(g.Flags) != uint32(w.Flags)},
		{"QdeviceVotes", g.QdeviceVotes, w.QdeviceVotes, g.QdeviceVotes != w.QdeviceVotes},
		{"QdeviceName", g.QdeviceName, w.QdeviceName, g.QdeviceName != w.QdeviceName},
	} {
		if f.differ {
			t.Errorf("getinfo(%d).%s: ours %v, libvotequorum %v", node, f.name, f.g, f.w)
		}
	}
}

// TestClientMatchesLibvotequorum runs package votequorum's client and C
// libvotequorum side by side on the same nodes of one three-node cluster.
func TestClientMatchesLibvotequorum(t *testing.T) {
	cl := corotest.Start(t, 3, corotest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("Info", func(t *testing.T) {
		for _, id := range cl.IDs() {
			n := cl.Node(id)
			or, c := open(t, n), dialClient(t, n)
			for _, node := range []uint32{0, 1, 2, 3, 4, 99, 0xffffffff} {
				compareClientInfo(t, or, c, node)
			}
			// With a device registered through our client, read by both.
			if id == 1 {
				if err := c.QdeviceRegister(ctx, "oracle-go"); err != nil {
					t.Fatal(err)
				}
				waitQdeviceName(t, or, "oracle-go")
				for _, node := range []uint32{0, 1, 2} {
					compareClientInfo(t, or, c, node)
				}
				if err := c.QdeviceUnregister(ctx, "oracle-go"); err != nil {
					t.Fatal(err)
				}
				waitQdeviceName(t, or, "")
				compareClientInfo(t, or, c, 0)
			}
		}
	})

	t.Run("Events", func(t *testing.T) {
		n1 := cl.Node(1)
		or, c := open(t, n1), dialClient(t, n1)
		sub, err := c.Subscribe(ctx, dispatch.Queue(1024))
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		if err := or.TrackStart(0, vqwire.TrackChanges); err != nil {
			t.Fatal(err)
		}
		// Both snapshots: ours is one EventSnapshot, the C library's a
		// nodelist and a quorum callback.
		if _, err := or.WaitEvents(ctx, 2); err != nil {
			t.Fatal(err)
		}
		if ev, err := sub.Next(ctx); err != nil || ev.Kind != corosync.EventSnapshot {
			t.Fatalf("first event %v, %v", ev, err)
		}
		total := 0
		step := func(what string, want bool, do func() error, members ...uint32) {
			t.Helper()
			if err := do(); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if len(members) > 0 {
				if err := n1.WaitMembers(ctx, members...); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
			time.Sleep(1500 * time.Millisecond) // let every notification land
			if err := or.Dispatch(2); err != nil {
				t.Fatal(err)
			}
			lib := or.Take()
			var ours []Event
			for _, ev := range sub.Drain() {
				ours = append(ours, fromClient(ev))
			}
			if want != (len(lib) > 0) {
				t.Errorf("%s: %d callbacks, want some: %v", what, len(lib), want)
			}
			total += len(lib)
			sameEvents(t, what, ours, lib)
			t.Logf("%s: %d events, the same: %v", what, len(lib), lib)
		}
		n3 := cl.Node(3)
		step("unplug node 3", true, n3.Unplug, 1, 2)
		step("heal", true, cl.Heal, 1, 2, 3)
		step("split [1] [2 3]", true, func() error { return cl.Split([]uint32{1}, []uint32{2, 3}) }, 1)
		step("heal", true, cl.Heal, 1, 2, 3)
		step("kill -9 node 3", true, n3.Kill, 1, 2)
		step("restart node 3", true, n3.Start, 1, 2, 3)
		step("setexpected 3 (C)", true, func() error { return or.SetExpected(3) })
		step("setexpected 3 (Go)", true, func() error { return c.SetExpected(ctx, 3) })
		step("setvotes quorum device 1 (Go)", true, func() error { return c.SetVotes(ctx, votequorum.QuorumDevice(), 1) })
		step("setvotes quorum device 0 (C): expected votes stay raised", false, func() error { return or.SetVotes(0, 0) })
		if err := or.TrackStop(); err != nil {
			t.Error(err)
		}
		t.Logf("%d notifications compared", total)
		if err := c.SetVotes(ctx, votequorum.Node(0), 1); !errors.Is(err, corosync.ErrInvalidParam) {
			t.Errorf("SetVotes(Node(0)): %v", err)
		}
	})
}

// BenchmarkGetInfo measures one getinfo round trip through
// votequorum.Client.Info and through C votequorum_getinfo against the same
// daemon, in one run, and reports the median and 99th percentile.
func BenchmarkGetInfo(b *testing.B) {
	cl := corotest.Start(b, 1, corotest.Options{})
	n := cl.Node(1)
	ctx := context.Background()
	ours := dialClient(b, n)
	or, err := Open(n.NetNSPath())
	if err != nil {
		b.Fatal(err)
	}
	defer or.Finalize()
	run := func(b *testing.B, f func() error) {
		lat := make([]time.Duration, 0, b.N)
		for i := 0; i < 100; i++ { // warm up
			f()
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			if err := f(); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	}
	b.Run("libvotequorum-first", func(b *testing.B) {
		run(b, func() error { _, err := or.GetInfo(0); return err })
	})
	b.Run("go", func(b *testing.B) {
		run(b, func() error { _, err := ours.Info(ctx, 0); return err })
	})
	b.Run("libvotequorum", func(b *testing.B) {
		run(b, func() error { _, err := or.GetInfo(0); return err })
	})
}
