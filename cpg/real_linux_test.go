package cpg_test

import (
	"testing"
	"time"

	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cpg"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/transport"
)

func realDialers(c *corotest.Cluster) map[uint32]transport.Dialer {
	m := map[uint32]transport.Dialer{}
	for _, n := range c.Nodes {
		m[n.ID] = n.Dialer()
	}
	return m
}

// TestReal runs the client against a real 3-node cluster of the daemon
// COROSYNC_GO_DAEMON names (cpg sends nothing that 2.4 lacks: every call
// works on every release): the group operations and daemon codes, then
// virtual synchrony across a partition, then across a kill of node 3 (with
// a rejoining member on it).
func TestReal(t *testing.T) {
	corotest.Require(t)
	cl := corotest.Start(t, 3, corotest.Options{})
	if err := cl.WaitFormed(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	dialers := realDialers(cl)
	if v, want := dialT(t, dialers[1]).DaemonVersion(), cl.Daemon().ReleaseLine(); v != want {
		t.Fatalf("DaemonVersion %v on %s, want %v", v, cl.Daemon(), want)
	}
	t.Run("group", func(t *testing.T) { groupOps(t, dialers) })
	t.Run("goodbyes", func(t *testing.T) { goodbyes(t, cl) })
	t.Run("overflow", func(t *testing.T) { overflow(t, dialers) })
	t.Run("backlog", func(t *testing.T) { backlog(t, dialers) })
	t.Run("slow reader", func(t *testing.T) { slowReader(t, cl, 3000, 2048, 500*time.Microsecond) })
	t.Run("partition", func(t *testing.T) {
		synchrony(t, dialers, 3, cpg.ReasonNodeDown, 300, func() {
			if err := cl.Split([]uint32{1, 2}, []uint32{3}); err != nil {
				t.Error(err)
			}
		})
		if err := cl.Heal(); err != nil {
			t.Fatal(err)
		}
		ctx := ctxT(t, 30*time.Second)
		for _, n := range cl.Nodes {
			if err := n.WaitMembers(ctx, 1, 2, 3); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("kill", func(t *testing.T) {
		ctx := ctxT(t, 60*time.Second)
		// A member on node 3 that rejoins after its daemon restarts.
		c3 := dialT(t, dialers[3], client.WithoutReconnect())
		rj, err := c3.Join(ctx, "rejoiner", cpg.WithRejoin())
		if err != nil {
			t.Fatal(err)
		}
		defer rj.Close()
		synchrony(t, dialers, 3, cpg.ReasonNodeDown, 300, func() {
			if err := cl.Node(3).Kill(); err != nil {
				t.Error(err)
			}
		})
		if err := cl.Node(3).Start(); err != nil {
			t.Fatal(err)
		}
		rejoined(t, ctx, rj)
	})
}
