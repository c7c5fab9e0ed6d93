//go:build oracle

package cfgoracle

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire/cfgwire"
	"github.com/corosync-go/corosync/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// ours sends one request through our transport and decodes the answer
// with cfgwire.
type ours struct {
	t *testing.T
	c *transport.IPCConn
}

func (o ours) do(r cfgwire.Request) cfgwire.Response {
	o.t.Helper()
	b, err := cfgwire.AppendRequest(nil, r)
	if err != nil {
		o.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := o.c.Request(ctx, b, nil)
	if err != nil {
		o.t.Fatalf("request %d: %v", r.ID, err)
	}
	resp, err := cfgwire.DecodeResponse(out, r.ID)
	if err != nil {
		o.t.Fatalf("decode reply to %d: %v", r.ID, err)
	}
	return resp
}

func errOf(r cfgwire.Response) error {
	if r.Error == corosync.OK {
		return nil
	}
	return r.Error
}

var ids = []uint32{1, 2, 3}

// compareStatus reads node status for every node through cfgwire, the
// public cfg.Client, libcfg and corosync-cfgtool -s / -n, and the ring
// status through cfgwire, cfg.Client and libcfg, until all agree and check
// accepts them (knet's view moves while a membership settles).
func compareStatus(t *testing.T, phase string, n *corotest.Node, o ours, pub *cfg.Client, or *Client, check func(map[uint32]cfgwire.NodeStatus) error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var diffs []string
	for {
		diffs = diffs[:0]
		got := map[uint32]cfgwire.NodeStatus{}
		for _, id := range ids {
			r := o.do(cfgwire.Request{ID: cfgwire.ReqNodeStatusGet, NodeID: id, Version: cfgwire.NodeStatusV1})
			if r.Error != corosync.OK {
				diffs = append(diffs, fmt.Sprintf("ours node %d: %v", id, r.Error))
				continue
			}
			got[id] = *r.NodeStatus
			if ps, err := publicStatus(pub, id); err != nil || ps != *r.NodeStatus {
				diffs = append(diffs, fmt.Sprintf("node %d: cfgwire %+v, cfg.Client %+v %v", id, *r.NodeStatus, ps, err))
			}
			cs, err := or.NodeStatusGet(id)
			if err != nil {
				diffs = append(diffs, fmt.Sprintf("libcfg node %d: %v", id, err))
			} else if !reflect.DeepEqual(cs, *r.NodeStatus) {
				diffs = append(diffs, fmt.Sprintf("node %d: ours %+v, libcfg %+v", id, *r.NodeStatus, cs))
			}
		}
		rings := o.do(cfgwire.Request{ID: cfgwire.ReqRingStatusGet}).Rings
		if orings, err := or.RingStatusGet(); err != nil || !reflect.DeepEqual(orings, rings) {
			diffs = append(diffs, fmt.Sprintf("rings: cfgwire %+v, libcfg %+v %v", rings, orings, err))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if prings, err := pub.RingStatus(ctx); err != nil || len(prings) != len(rings) {
			diffs = append(diffs, fmt.Sprintf("rings: cfgwire %+v, cfg.Client %+v %v", rings, prings, err))
		} else {
			for i := range prings {
				if prings[i].Name != rings[i].Name || prings[i].Status != rings[i].Status {
					diffs = append(diffs, fmt.Sprintf("ring %d: cfgwire %+v, cfg.Client %+v", i, rings[i], prings[i]))
				}
			}
		}
		outS, errS := n.Exec(ctx, "corosync-cfgtool", "-s")
		outN, errN := n.Exec(ctx, "corosync-cfgtool", "-n")
		cancel()
		if errS != nil || errN != nil {
			diffs = append(diffs, fmt.Sprintf("cfgtool: %v %v", errS, errN))
		} else if len(got) == len(ids) {
			if s, err := ParseToolS(string(outS)); err != nil {
				diffs = append(diffs, fmt.Sprintf("parse -s: %v\n%s", err, outS))
			} else if want := ExpectToolS(n.ID, ids, got); !reflect.DeepEqual(s, want) {
				diffs = append(diffs, fmt.Sprintf("cfgtool -s %+v, from our statuses %+v\n%s", s, want, outS))
			}
			if s, err := ParseToolN(string(outN)); err != nil {
				diffs = append(diffs, fmt.Sprintf("parse -n: %v\n%s", err, outN))
			} else if want := ExpectToolN(n.ID, ids, got); !reflect.DeepEqual(s, want) {
				diffs = append(diffs, fmt.Sprintf("cfgtool -n %+v, from our statuses %+v\n%s", s, want, outN))
			}
			if err := check(got); err != nil {
				diffs = append(diffs, phase+": "+err.Error())
			}
		}
		if len(diffs) == 0 {
			t.Logf("%s: cfgwire, cfg.Client, libcfg and corosync-cfgtool -s/-n agree (rings %q):\n-s:\n%s-n:\n%s", phase, rings, outS, outN)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no agreement within 30 s:\n%v", phase, diffs)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// publicStatus is cfg.Client.NodeStatus in cfgwire's type.
func publicStatus(c *cfg.Client, id uint32) (cfgwire.NodeStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.NodeStatus(ctx, id)
	if err != nil {
		return cfgwire.NodeStatus{}, err
	}
	w := cfgwire.NodeStatus{Version: cfgwire.NodeStatusV1, NodeID: st.NodeID, Reachable: st.Reachable, Remote: st.Remote,
		External: st.External, OnwireMin: st.OnwireMin, OnwireMax: st.OnwireMax, OnwireVer: st.OnwireVer}
	for i, l := range st.Links {
		w.Links[i] = cfgwire.LinkStatus(l)
	}
	return w, nil
}

func reachability(up ...uint32) func(map[uint32]cfgwire.NodeStatus) error {
	return func(st map[uint32]cfgwire.NodeStatus) error {
		for id, s := range st {
			want := slices.Contains(up, id)
			if s.Reachable != want || s.Links[0].Connected != want || !s.Links[0].Enabled {
				return fmt.Errorf("node %d reachable %v connected %v enabled %v, want reachable/connected %v",
					id, s.Reachable, s.Links[0].Connected, s.Links[0].Enabled, want)
			}
		}
		return nil
	}
}

func compareOther(t *testing.T, o ours, or *Client) {
	t.Helper()
	r := o.do(cfgwire.Request{ID: cfgwire.ReqLocalGet})
	if id, err := or.LocalGet(); err != nil || id != r.LocalNodeID {
		t.Errorf("local_get: ours %d, libcfg %d %v", r.LocalNodeID, id, err)
	}
	r = o.do(cfgwire.Request{ID: cfgwire.ReqRingStatusGet})
	if rings, err := or.RingStatusGet(); err != nil || !reflect.DeepEqual(rings, r.Rings) {
		t.Errorf("ring status: ours %+v, libcfg %+v %v", r.Rings, rings, err)
	}
	for _, id := range []uint32{0, 1, 2, 3, 9} {
		r = o.do(cfgwire.Request{ID: cfgwire.ReqGetNodeAddrs, NodeID: id})
		addrs, n, err := or.GetNodeAddrs(id)
		if !errors.Is(err, corosync.Code(errOf(r))) && !(err == nil && r.Error == corosync.OK) {
			t.Errorf("addrs of %d: ours %v, libcfg %v", id, r.Error, err)
			continue
		}
		if r.Error == corosync.OK && (!reflect.DeepEqual(addrs, r.Addrs.Addrs) || n != len(r.Addrs.Addrs)) {
			t.Errorf("addrs of %d: ours %v, libcfg %v (n %d)", id, r.Addrs.Addrs, addrs, n)
		}
	}
	if err := or.ReopenLogFiles(); err != nil || errOf(o.do(cfgwire.Request{ID: cfgwire.ReqReopenLogFiles})) != nil {
		t.Errorf("reopen log files: libcfg %v", err)
	}
	if err := or.KillNode(9, "nobody"); !errors.Is(err, corosync.ErrNotExist) {
		t.Errorf("kill node 9: libcfg %v", err)
	}
	if r := o.do(cfgwire.Request{ID: cfgwire.ReqKillNode, NodeID: 9, Reason: "nobody"}); r.Error != corosync.ErrNotExist {
		t.Errorf("kill node 9: ours %v", r.Error)
	}
	if err := or.ReloadConfig(); err != nil || errOf(o.do(cfgwire.Request{ID: cfgwire.ReqReloadConfig})) != nil {
		t.Errorf("reload: libcfg %v", err)
	}
	// Nothing pending: the daemon answers ACCESS, which libcfg hides.
	if err := or.ReplyToShutdown(cfgwire.ShutdownYes); err != nil {
		t.Errorf("libcfg replyto_shutdown with nothing pending: %v (it ignores the daemon's answer)", err)
	}
	if r := o.do(cfgwire.Request{ID: cfgwire.ReqReplyToShutdown, Reply: cfgwire.ShutdownYes}); r.Error != corosync.ErrAccess {
		t.Errorf("ours replyto_shutdown with nothing pending: %v", r.Error)
	}

	// libcfg as a tracker answers our shutdown request through its callback.
	if err := or.TrackStart(0); err != nil {
		t.Fatal(err)
	}
	if fd, err := or.Fd(); err != nil || fd < 0 {
		t.Errorf("fd: %d %v", fd, err)
	}
	done := make(chan cfgwire.Response, 1)
	go func() { done <- o.do(cfgwire.Request{ID: cfgwire.ReqTryShutdown, Flags: cfgwire.ShutdownRequest}) }()
	var got []cfgwire.ShutdownFlags
	for start := time.Now(); len(got) == 0 && time.Since(start) < 10*time.Second; {
		if err := or.Dispatch(2); err != nil { // CS_DISPATCH_ALL
			t.Fatalf("dispatch: %v", err)
		}
		got = or.Shutdowns()
		time.Sleep(10 * time.Millisecond)
	}
	if !slices.Equal(got, []cfgwire.ShutdownFlags{cfgwire.ShutdownRequest}) {
		t.Fatalf("libcfg shutdown callbacks: %v", got)
	}
	if err := or.ReplyToShutdown(cfgwire.ShutdownNo); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.Error != corosync.ErrBusy {
		t.Errorf("our tryshutdown after libcfg said NO: %v", r.Error)
	}
	if err := or.TrackStop(); err != nil {
		t.Error(err)
	}
}

// TestDifferentialNodeStatus compares, on node 1 of a 3-node cluster, the
// node and ring status read through cfgwire, package cfg, libcfg and
// corosync-cfgtool -s/-n, healthy, with node 3 cut off, healed, and with
// node 3's daemon killed; it also compares the other calls once.
func TestDifferentialNodeStatus(t *testing.T) {
	corotest.Require(t)
	cl := corotest.Start(t, 3, corotest.Options{})
	n1 := cl.Node(1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := transport.Dial(ctx, "cfg", transport.Config{NetNS: n1.NetNSPath()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	or, err := Open(n1.NetNSPath())
	if err != nil {
		t.Fatal(err)
	}
	defer or.Finalize()
	o := ours{t, c}
	pub, err := cfg.Dial(ctx, client.WithDialer(n1.Dialer()))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()

	compareStatus(t, "healthy", n1, o, pub, or, reachability(1, 2, 3))
	compareOther(t, o, or)

	if err := cl.Node(3).Unplug(); err != nil {
		t.Fatal(err)
	}
	if err := n1.WaitMembers(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	compareStatus(t, "node 3 cut off", n1, o, pub, or, reachability(1, 2))

	if err := cl.Heal(); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	if err := n1.WaitMembers(ctx2, 1, 2, 3); err != nil {
		t.Fatal(err)
	}
	compareStatus(t, "healed", n1, o, pub, or, reachability(1, 2, 3))

	if err := cl.Node(3).Kill(); err != nil {
		t.Fatal(err)
	}
	if err := n1.WaitMembers(ctx2, 1, 2); err != nil {
		t.Fatal(err)
	}
	compareStatus(t, "node 3 dead", n1, o, pub, or, reachability(1, 2))
}
