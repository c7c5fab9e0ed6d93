//go:build oracle

package cfgoracle

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire/cfgwire"
)

// TestPublicClient checks package cfg against libcfg and corosync-cfgtool
// -s/-n on every node of a healthy 3-node cluster: local node id, node
// status and node addresses of every node, ring status.
func TestPublicClient(t *testing.T) {
	corotest.Require(t)
	cl := corotest.Start(t, 3, corotest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := cl.Node(1).WaitMembers(ctx, 1, 2, 3); err != nil {
		t.Fatal(err)
	}
	for _, n := range cl.Nodes {
		c, err := cfg.Dial(ctx, client.WithDialer(n.Dialer()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		or, err := Open(n.NetNSPath())
		if err != nil {
			t.Fatal(err)
		}
		defer or.Finalize()

		local, err := c.LocalNodeID(ctx)
		if olocal, oerr := or.LocalGet(); err != nil || oerr != nil || local != olocal || local != n.ID {
			t.Errorf("node %d: local id ours %d %v, libcfg %d %v", n.ID, local, err, olocal, oerr)
		}
		rings, err := c.RingStatus(ctx)
		orings, oerr := or.RingStatusGet()
		if err != nil || oerr != nil || len(rings) != len(orings) {
			t.Errorf("node %d: rings ours %v %v, libcfg %v %v", n.ID, rings, err, orings, oerr)
		}
		for i := range min(len(rings), len(orings)) {
			if rings[i].Name != orings[i].Name || rings[i].Status != orings[i].Status {
				t.Errorf("node %d ring %d: ours %+v, libcfg %+v", n.ID, i, rings[i], orings[i])
			}
		}
		for _, id := range append([]uint32{0}, ids...) {
			addrs, err := c.NodeAddrs(ctx, id)
			oaddrs, _, oerr := or.GetNodeAddrs(id)
			if err != nil || oerr != nil || !slices.Equal(addrs, oaddrs) {
				t.Errorf("node %d addrs of %d: ours %v %v, libcfg %v %v", n.ID, id, addrs, err, oaddrs, oerr)
			}
		}

		deadline := time.Now().Add(30 * time.Second)
		for {
			var diffs []string
			got := map[uint32]cfgwire.NodeStatus{}
			for _, id := range ids {
				st, err := c.NodeStatus(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				w := cfgwire.NodeStatus{Version: cfgwire.NodeStatusV1, NodeID: st.NodeID, Reachable: st.Reachable, Remote: st.Remote,
					External: st.External, OnwireMin: st.OnwireMin, OnwireMax: st.OnwireMax, OnwireVer: st.OnwireVer}
				for i, l := range st.Links {
					w.Links[i] = cfgwire.LinkStatus(l)
				}
				got[id] = w
				if cs, err := or.NodeStatusGet(id); err != nil || !reflect.DeepEqual(cs, w) {
					diffs = append(diffs, fmt.Sprintf("node %d: ours %+v, libcfg %+v %v", id, w, cs, err))
				}
			}
			outS, errS := n.Exec(ctx, "corosync-cfgtool", "-s")
			outN, errN := n.Exec(ctx, "corosync-cfgtool", "-n")
			if errS != nil || errN != nil {
				diffs = append(diffs, fmt.Sprintf("cfgtool: %v %v", errS, errN))
			} else {
				if s, err := ParseToolS(string(outS)); err != nil || !reflect.DeepEqual(s, ExpectToolS(n.ID, ids, got)) {
					diffs = append(diffs, fmt.Sprintf("cfgtool -s %+v %v, from cfg %+v", s, err, ExpectToolS(n.ID, ids, got)))
				}
				if s, err := ParseToolN(string(outN)); err != nil || !reflect.DeepEqual(s, ExpectToolN(n.ID, ids, got)) {
					diffs = append(diffs, fmt.Sprintf("cfgtool -n %+v %v, from cfg %+v", s, err, ExpectToolN(n.ID, ids, got)))
				}
			}
			if len(diffs) == 0 {
				t.Logf("node %d: cfg, libcfg and corosync-cfgtool -s/-n agree", n.ID)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d: no agreement within 30 s:\n%v", n.ID, diffs)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
}
